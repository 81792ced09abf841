"""Reference values for the mAP code from pycocotools' COCOeval on a small fixed case.

Writes Tests/DetectorTests/Fixtures/cocoeval_case.json: the images' ground truth and
detections (pixel boxes as [x1, y1, x2, y2]) and COCOeval's mAP@[.5:.95], mAP@0.5 and
per-class AP (area "all", maxDets 100). Run: python3 scripts/cocoeval_fixture.py
"""
import contextlib
import io
import json
import os
import random

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

rng = random.Random(7)
W, H, CLASSES = 200, 160, 3
images, annotations, detections = [], [], []
case = []
ann_id = 1
for img in range(6):
    images.append({"id": img + 1, "width": W, "height": H})
    gts, dets = [], []
    for _ in range(rng.randint(2, 7)):
        k = rng.randrange(CLASSES)
        w, h = rng.uniform(12, 70), rng.uniform(12, 60)
        x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
        gts.append([k, x, y, x + w, y + h])
        annotations.append({"id": ann_id, "image_id": img + 1, "category_id": k + 1, "bbox": [x, y, w, h],
                            "area": w * h, "iscrowd": 0})
        ann_id += 1
        # Detections: jittered copies (some good, some poor), sometimes the wrong class.
        for _ in range(rng.randint(0, 2)):
            j = rng.uniform(0, 0.35)
            dx, dy = rng.uniform(-j, j) * w, rng.uniform(-j, j) * h
            dk = k if rng.random() < 0.85 else rng.randrange(CLASSES)
            s = round(rng.uniform(0.05, 1.0), 3)
            dets.append([dk, s, x + dx, y + dy, x + dx + w * rng.uniform(0.8, 1.2), y + dy + h * rng.uniform(0.8, 1.2)])
    for _ in range(rng.randint(0, 3)):  # false positives
        k = rng.randrange(CLASSES)
        w, h = rng.uniform(10, 50), rng.uniform(10, 50)
        x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
        dets.append([k, round(rng.uniform(0.05, 0.9), 3), x, y, x + w, y + h])
    for d in dets:
        detections.append({"image_id": img + 1, "category_id": d[0] + 1, "score": d[1],
                           "bbox": [d[2], d[3], d[4] - d[2], d[5] - d[3]]})
    case.append({"ground_truth": gts, "detections": dets})

gt = COCO()
gt.dataset = {"images": images, "annotations": annotations,
              "categories": [{"id": k + 1, "name": str(k)} for k in range(CLASSES)]}
with contextlib.redirect_stdout(io.StringIO()):
    gt.createIndex()
    dt = gt.loadRes(detections)
    ev = COCOeval(gt, dt, "bbox")
    ev.params.areaRng = [[0, 1e10]]
    ev.params.areaRngLbl = ["all"]
    ev.params.maxDets = [100]
    ev.evaluate()
    ev.accumulate()
precision = ev.eval["precision"][:, :, :, 0, 0]  # [T, R, K]
per_class = []
for k in range(CLASSES):
    p = precision[:, :, k]
    per_class.append(float(np.mean(p[p > -1])) if (p > -1).any() else None)
p50 = precision[0]
ap50 = [float(np.mean(p50[:, k][p50[:, k] > -1])) if (p50[:, k] > -1).any() else None for k in range(CLASSES)]
out = {"classes": CLASSES, "images": case,
       "map50_95": float(np.mean(precision[precision > -1])),
       "map50": float(np.mean(p50[p50 > -1])),
       "per_class_ap50": ap50, "per_class_ap50_95": per_class}
path = os.path.join(os.path.dirname(__file__), "..", "Tests", "DetectorTests", "Fixtures", "cocoeval_case.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path), "mAP@[.5:.95]", out["map50_95"], "mAP@.5", out["map50"])
