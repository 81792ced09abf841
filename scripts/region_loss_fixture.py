"""Independent PyTorch implementation of the YOLOv2 region loss (darknet semantics, as issue 4
specifies it), evaluated on small fixed cases. Writes
Tests/DetectorTests/Fixtures/region_loss_cases.json: for each case the settings, the inputs,
every component's value, the total, the gradient of the total by autograd, and darknet's
statistics. RegionLossTests.matchesIndependentPyTorchImplementation compares the Swift loss
with it.

Written from the issue's formulas, not from the Swift code:
  decoded box  b = ((i + σ(t_x))/W, (j + σ(t_y))/H, p_w e^{t_w}/W, p_h e^{t_h}/H)
  assignment   cell (⌊xW⌋, ⌊yH⌋) clamped to the grid, anchor = argmax IoU of centred shapes
               (first on ties), a later box on the same cell and anchor replaces the earlier
  L_coord  = ½ λ_coord (2 − wh) [(σ(t_x) − (xW − i))² + (σ(t_y) − (yH − j))²
                                 + (t_w − ln(wW/p_w))² + (t_h − ln(hH/p_h))²]   responsible
  L_obj    = ½ λ_obj (σ(t_o) − IoU*)²  (IoU* detached; 1 without rescore)      responsible
  L_noobj  = ½ λ_noobj σ(t_o)²  over the others with best IoU ≤ threshold
  L_cls    = λ_cls · CE(softmax(z), k)                                          responsible
  L_prior  = ½ · 0.01 · [(σ(t_x) − ½)² + (σ(t_y) − ½)² + t_w² + t_h²]  all anchors, warm-up
  total    = mean over images of the per-image sums

Training-recipe options (issue 9), in the later cases:
  "assign": "multi"   the responsible anchors of a box are the best one and then, in anchor
                      order, every other with shape IoU > "multi_anchor_threshold"; each is an
                      assignment of its own (later ones replace earlier on the same cell and
                      anchor, best or not), with its own prior's targets
  "objectness_loss": "bce"   L_obj = λ_obj · BCEwithLogits(t_o, target) and
                      L_noobj = λ_noobj · BCEwithLogits(t_o, 0) (torch's own function, no ½)

The IoU* targets and the ignore mask are computed under no_grad: constants, as in darknet.
The script checks that no best IoU lies within 1e-3 of the threshold, no shape IoU within 1e-3
of the multi-anchor threshold and no box centre within 1e-4 of a cell boundary, so float32
rounding in Swift cannot flip a decision.

Run: python3 scripts/region_loss_fixture.py   (deterministic: torch.manual_seed(0))
"""
import json
import math
import os

import torch

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)


def iou_centre(a, b):
    """IoU of two centre-format boxes (x, y, w, h)."""
    ax1, ay1, ax2, ay2 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx1, by1, bx2, by2 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    iw = min(ax2, bx2) - max(ax1, bx1)
    ih = min(ay2, by2) - max(ay1, by1)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def logit(p):
    return math.log(p / (1 - p))


def make_case(name, grid, anchors, classes, settings, images_seen, boxes, plants):
    """boxes[n] = [(class, x, y, w, h)]; plants[n] = [(i, j, a, (x, y, w, h))]: set anchor a of
    cell (i, j) of image n to decode exactly to that box (to exercise the ignore threshold)."""
    W, H = grid
    A = len(anchors)
    C = classes
    N = len(boxes)
    out = torch.randn(N, H, W, A * (5 + C)) * 0.8
    for n, plant in enumerate(plants):
        for (i, j, a, (x, y, w, h)) in plant:
            base = a * (5 + C)
            out[n, j, i, base + 0] = logit(x * W - i)
            out[n, j, i, base + 1] = logit(y * H - j)
            out[n, j, i, base + 2] = math.log(w * W / anchors[a][0])
            out[n, j, i, base + 3] = math.log(h * H / anchors[a][1])
    out.requires_grad_(True)

    def shape_ious(w, h):
        w, h = w * W, h * H
        return [min(w, pw) * min(h, ph) / (w * h + pw * ph - min(w, pw) * min(h, ph)) for (pw, ph) in anchors]

    def responsible(w, h):
        ious = shape_ious(w, h)
        best, index = -1.0, 0
        for k, iou in enumerate(ious):
            if iou > best:
                best, index = iou, k
        if settings.get("assign", "best") != "multi":
            return [index]
        threshold = settings["multi_anchor_threshold"]
        for iou in ious:
            assert abs(iou - threshold) > 1e-3, f"{name}: shape IoU {iou} at the multi-anchor threshold"
        return [index] + [k for k, iou in enumerate(ious) if k != index and iou > threshold]

    bce = settings.get("objectness_loss", "mse") == "bce"

    per_image = []
    comps = dict(coordinates=0.0, objectness=0.0, noObject=0.0, classification=0.0, prior=0.0)
    stats = dict(averageIoU=0.0, recall50=0.0, averageObjectness=0.0, averageAnyObjectness=0.0,
                 averageClassProbability=0.0, count=0)
    ignored = 0
    for n in range(N):
        v = out[n].view(H, W, A, 5 + C)
        assigned = {}  # insertion-ordered; pop + insert = the later box replaces the earlier
        for (k, x, y, w, h) in boxes[n]:
            fx, fy = x * W, y * H
            if x < 1.0:
                assert abs(fx - round(fx)) > 1e-4, f"{name}: box centre {x} on a cell boundary"
            if y < 1.0:
                assert abs(fy - round(fy)) > 1e-4, f"{name}: box centre {y} on a cell boundary"
            i = min(max(math.floor(fx), 0), W - 1)
            j = min(max(math.floor(fy), 0), H - 1)
            for a in responsible(w, h):
                assigned.pop((i, j, a), None)
                assigned[(i, j, a)] = (k, x, y, w, h)
        with torch.no_grad():
            s = torch.sigmoid(v)
            decoded = {}
            for j in range(H):
                for i in range(W):
                    for a in range(A):
                        decoded[(i, j, a)] = ((i + s[j, i, a, 0].item()) / W, (j + s[j, i, a, 1].item()) / H,
                                              anchors[a][0] * math.exp(v[j, i, a, 2].item()) / W,
                                              anchors[a][1] * math.exp(v[j, i, a, 3].item()) / H)
        zero = torch.zeros(())
        lc, lo, ln, lk, lp = zero, zero, zero, zero, zero
        for (i, j, a), (k, x, y, w, h) in assigned.items():
            t = v[j, i, a]
            weight = settings["coord"] * (2 - w * h)
            tx, ty = x * W - i, y * H - j
            tw, th = math.log(w * W / anchors[a][0]), math.log(h * H / anchors[a][1])
            lc = lc + 0.5 * weight * ((torch.sigmoid(t[0]) - tx) ** 2 + (torch.sigmoid(t[1]) - ty) ** 2
                                      + (t[2] - tw) ** 2 + (t[3] - th) ** 2)
            iou_star = iou_centre(decoded[(i, j, a)], (x, y, w, h))
            target = iou_star if settings["rescore"] else 1.0
            if bce:
                lo = lo + settings["object"] * torch.nn.functional.binary_cross_entropy_with_logits(t[4], torch.tensor(target))
            else:
                lo = lo + 0.5 * settings["object"] * (torch.sigmoid(t[4]) - target) ** 2
            lk = lk + settings["class"] * torch.nn.functional.cross_entropy(t[5:].unsqueeze(0), torch.tensor([k]))
            with torch.no_grad():
                stats["averageIoU"] += iou_star
                stats["recall50"] += 1.0 if iou_star > 0.5 else 0.0
                stats["averageObjectness"] += torch.sigmoid(t[4]).item()
                stats["averageClassProbability"] += torch.softmax(t[5:], 0)[k].item()
                stats["count"] += 1
        for j in range(H):
            for i in range(W):
                for a in range(A):
                    t = v[j, i, a]
                    stats["averageAnyObjectness"] += torch.sigmoid(t[4]).item()
                    if (i, j, a) not in assigned:
                        best = max([iou_centre(decoded[(i, j, a)], b[1:]) for b in boxes[n]], default=0.0)
                        assert abs(best - settings["ignore_threshold"]) > 1e-3, f"{name}: IoU {best} at the threshold"
                        if best <= settings["ignore_threshold"]:
                            if bce:
                                ln = ln + settings["noobject"] * torch.nn.functional.binary_cross_entropy_with_logits(t[4], torch.tensor(0.0))
                            else:
                                ln = ln + 0.5 * settings["noobject"] * torch.sigmoid(t[4]) ** 2
                        else:
                            ignored += 1
                    if images_seen < settings["warmup_images"]:
                        lp = lp + 0.5 * 0.01 * ((torch.sigmoid(t[0]) - 0.5) ** 2 + (torch.sigmoid(t[1]) - 0.5) ** 2
                                                + t[2] ** 2 + t[3] ** 2)
        per_image.append(lc + lo + ln + lk + lp)
        for key, value in zip(comps, (lc, lo, ln, lk, lp)):
            comps[key] += value.item() / N

    total = sum(per_image) / N
    total.backward()
    count = max(stats["count"], 1)
    for key in ("averageIoU", "recall50", "averageObjectness", "averageClassProbability"):
        stats[key] /= count
    stats["averageAnyObjectness"] /= N * H * W * A
    return dict(name=name, grid=[W, H], anchors=anchors, classes=C, settings=settings, images_seen=images_seen,
                boxes=boxes, shape=list(out.shape), output=out.detach().flatten().tolist(),
                components=comps, total=total.item(), gradient=out.grad.flatten().tolist(),
                statistics=stats, ignored_anchors=ignored, assigned_anchors=stats["count"])


DEFAULTS = {"coord": 1.0, "object": 5.0, "noobject": 1.0, "class": 1.0, "ignore_threshold": 0.6,
            "warmup_images": 100, "rescore": True}

cases = [
    # Default weights, warm-up on. Image 0: three boxes, one in the last column; anchor 1 of
    # cell (0, 0) planted near box 0 (ignored). Image 1: two boxes on one cell and anchor (the
    # second wins) and a box at x = 1.0, y = 0.99 (clamped to the last column) whose responsible
    # anchor is planted close to it (IoU > 0.5: recall).
    make_case("defaults, warm-up on", [3, 2], [[0.8, 0.6], [2.0, 1.5]], 3, dict(DEFAULTS), 0,
              [[(0, 0.20, 0.30, 0.25, 0.40), (2, 0.70, 0.70, 0.50, 0.45), (1, 0.95, 0.20, 0.10, 0.12)],
               [(1, 0.40, 0.60, 0.20, 0.30), (2, 0.45, 0.65, 0.22, 0.28), (0, 1.00, 0.99, 0.30, 0.25)]],
              [[(0, 0, 1, (0.21, 0.31, 0.24, 0.38))], [(2, 1, 0, (0.97, 0.97, 0.28, 0.27))]]),
    # Other weights, rescore off (objectness target 1), threshold 0.5, warm-up over
    # (images_seen = warmup_images). Two anchors planted near boxes (ignored), the responsible
    # anchor of the last box planted close to it. Image 1 has no boxes: only no-object terms.
    make_case("custom weights, rescore off, warm-up over", [4, 3], [[0.6, 0.9], [1.5, 1.2], [3.0, 2.5]], 2,
              {"coord": 1.5, "object": 3.0, "noobject": 0.7, "class": 1.3, "ignore_threshold": 0.5,
               "warmup_images": 64, "rescore": False}, 64,
              [[(1, 0.10, 0.15, 0.12, 0.30), (0, 0.55, 0.48, 0.40, 0.35), (1, 0.80, 0.85, 0.70, 0.60)], []],
              [[(2, 1, 0, (0.57, 0.47, 0.42, 0.33)), (3, 2, 1, (0.80, 0.86, 0.66, 0.62)),
                (3, 2, 2, (0.79, 0.84, 0.72, 0.58))], []]),
    # Multi-anchor assignment (threshold 0.4), darknet's objectness. Image 0: box A (shape IoU
    # 0.79 with anchor 1, 0.70 with anchor 0: both), then box B in the same cell (0.81 with
    # anchor 0, 0.45 with anchor 1): B's best replaces A's extra anchor and B's extra replaces
    # A's best, so A is gone; box C (anchor 2 only), anchor 1 of C's cell planted near C
    # (ignored); box D (anchors 1 and 0). Image 1: box E (anchors 0 and 1).
    make_case("multi-anchor assignment", [4, 3], [[1.0, 1.0], [1.5, 1.2], [3.0, 2.5]], 2,
              dict(DEFAULTS, assign="multi", multi_anchor_threshold=0.4), 0,
              [[(0, 0.30, 0.40, 0.325, 1.1 / 3), (1, 0.33, 0.45, 0.225, 0.30), (1, 0.70, 0.60, 0.80, 2.2 / 3),
                (0, 0.15, 0.85, 0.40, 1.4 / 3)],
               [(1, 0.62, 0.20, 0.30, 0.30)]],
              [[(2, 1, 1, (0.71, 0.60, 0.78, 0.70))], []]),
    # Cross-entropy objectness with IoU targets (rescore), best-anchor assignment, warm-up over;
    # the boxes of the first case.
    make_case("cross-entropy objectness, rescore", [3, 2], [[0.8, 0.6], [2.0, 1.5]], 3,
              dict(DEFAULTS, objectness_loss="bce"), 100,
              [[(0, 0.20, 0.30, 0.25, 0.40), (2, 0.70, 0.70, 0.50, 0.45), (1, 0.95, 0.20, 0.10, 0.12)],
               [(1, 0.40, 0.60, 0.20, 0.30), (2, 0.45, 0.65, 0.22, 0.28), (0, 1.00, 0.99, 0.30, 0.25)]],
              [[(0, 0, 1, (0.21, 0.31, 0.24, 0.38))], [(2, 1, 0, (0.97, 0.97, 0.28, 0.27))]]),
    # Both options, rescore off (objectness target 1), other weights, threshold 0.3.
    make_case("multi-anchor assignment, cross-entropy objectness, rescore off", [4, 3], [[1.0, 1.0], [1.5, 1.2], [3.0, 2.5]], 2,
              {"coord": 1.5, "object": 3.0, "noobject": 0.7, "class": 1.3, "ignore_threshold": 0.5,
               "warmup_images": 64, "rescore": False, "assign": "multi", "multi_anchor_threshold": 0.3,
               "objectness_loss": "bce"}, 10,
              [[(0, 0.30, 0.40, 0.325, 1.1 / 3), (1, 0.70, 0.60, 0.80, 2.2 / 3)], []],
              [[(2, 1, 1, (0.71, 0.60, 0.78, 0.70))], []]),
]
for c in cases:
    assert c["ignored_anchors"] > 0, f"{c['name']}: the ignore threshold is not exercised"

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "DetectorTests", "Fixtures", "region_loss_cases.json")
with open(path, "w") as f:
    json.dump({"cases": cases}, f)
    f.write("\n")
for c in cases:
    print(c["name"], "total", round(c["total"], 6), "ignored", c["ignored_anchors"], "assigned", c["assigned_anchors"],
          c["components"], c["statistics"])
print("wrote", os.path.normpath(path))
