"""Independent PyTorch implementation of the YOLOv2 region loss (darknet semantics, as
specified in issue 4 and documented in Sources/Detector/Loss/RegionLoss.swift), evaluated on a
small fixed case. Writes Tests/DetectorTests/Fixtures/region_loss_case.json with the inputs,
every component's value and the gradient of the batch-mean total (by autograd).

Run: python3 scripts/region_loss_fixture.py
"""
import json
import math
import os

import torch

torch.manual_seed(0)
GW, GH = 3, 2                      # grid columns, rows
ANCHORS = [(0.8, 0.6), (2.0, 1.5)]  # grid-cell units
C = 3
A = len(ANCHORS)
S = dict(coord=1.0, object=5.0, noobject=1.0, cls=1.0, thresh=0.6)

# Two images; boxes (class, cx, cy, w, h) normalised. Image 1 has two boxes on one cell and
# anchor (the later wins) and a box at x = 1.0.
BOXES = [
    [(0, 0.20, 0.30, 0.25, 0.40), (2, 0.70, 0.70, 0.50, 0.45), (1, 0.95, 0.20, 0.10, 0.12)],
    [(1, 0.40, 0.60, 0.20, 0.30), (2, 0.45, 0.65, 0.22, 0.28), (0, 1.00, 0.99, 0.30, 0.25)],
]
out = (torch.randn(2, GH, GW, A * (5 + C), dtype=torch.float64) * 0.8)
out.requires_grad_(True)
WARMUP, SEEN = 100, 0  # prior on


def box_iou(a, b):
    ax1, ay1, ax2, ay2 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx1, by1, bx2, by2 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    iw = min(ax2, bx2) - max(ax1, bx1)
    ih = min(ay2, by2) - max(ay1, by1)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def best_anchor(w, h):
    w, h = w * GW, h * GH
    best, bi = -1, 0
    for k, (pw, ph) in enumerate(ANCHORS):
        inter = min(w, pw) * min(h, ph)
        iou = inter / (w * h + pw * ph - inter)
        if iou > best:
            best, bi = iou, k
    return bi


comp = dict(coordinates=0.0, objectness=0.0, noObject=0.0, classification=0.0, prior=0.0)
terms = []
for n in range(2):
    v = out[n].view(GH, GW, A, 5 + C)
    # Assignment, later box replaces earlier.
    assigned = {}
    for (k, x, y, w, h) in BOXES[n]:
        i = min(max(int(math.floor(x * GW)), 0), GW - 1)
        j = min(max(int(math.floor(y * GH)), 0), GH - 1)
        a = best_anchor(w, h)
        assigned.pop((i, j, a), None)
        assigned[(i, j, a)] = (k, x, y, w, h)
    with torch.no_grad():
        dec = {}
        for j in range(GH):
            for i in range(GW):
                for a in range(A):
                    t = v[j, i, a]
                    dec[(i, j, a)] = ((i + torch.sigmoid(t[0]).item()) / GW, (j + torch.sigmoid(t[1]).item()) / GH,
                                      ANCHORS[a][0] * math.exp(t[2].item()) / GW, ANCHORS[a][1] * math.exp(t[3].item()) / GH)
    lc = lo = ln = lk = lp = torch.zeros((), dtype=torch.float64)
    for (i, j, a), (k, x, y, w, h) in assigned.items():
        t = v[j, i, a]
        scale = S["coord"] * (2 - w * h)
        tx, ty = x * GW - i, y * GH - j
        tw, th = math.log(w * GW / ANCHORS[a][0]), math.log(h * GH / ANCHORS[a][1])
        lc = lc + 0.5 * scale * ((torch.sigmoid(t[0]) - tx) ** 2 + (torch.sigmoid(t[1]) - ty) ** 2
                                 + (t[2] - tw) ** 2 + (t[3] - th) ** 2)
        iou_star = box_iou(dec[(i, j, a)], (x, y, w, h))
        lo = lo + 0.5 * S["object"] * (torch.sigmoid(t[4]) - iou_star) ** 2
        lk = lk + S["cls"] * -torch.log_softmax(t[5:], dim=0)[k]
    for j in range(GH):
        for i in range(GW):
            for a in range(A):
                t = v[j, i, a]
                if (i, j, a) not in assigned:
                    best = max(box_iou(dec[(i, j, a)], b[1:]) for b in BOXES[n])
                    if best <= S["thresh"]:
                        ln = ln + 0.5 * S["noobject"] * torch.sigmoid(t[4]) ** 2
                if SEEN < WARMUP:
                    lp = lp + 0.5 * 0.01 * ((torch.sigmoid(t[0]) - 0.5) ** 2 + (torch.sigmoid(t[1]) - 0.5) ** 2
                                            + t[2] ** 2 + t[3] ** 2)
    terms.append(lc + lo + ln + lk + lp)
    for name, val in zip(comp, (lc, lo, ln, lk, lp)):
        comp[name] += val.item() / 2

total = (terms[0] + terms[1]) / 2
total.backward()
fixture = dict(
    grid=[GW, GH], anchors=ANCHORS, classes=C, warmup_images=WARMUP, images_seen=SEEN,
    settings=S, boxes=BOXES, output=out.detach().flatten().tolist(),
    components=comp, total=total.item(), gradient=out.grad.flatten().tolist(),
)
path = os.path.join(os.path.dirname(__file__), "..", "Tests", "DetectorTests", "Fixtures", "region_loss_case.json")
with open(path, "w") as f:
    json.dump(fixture, f, indent=1)
print("wrote", os.path.normpath(path), "total", total.item(), comp)
