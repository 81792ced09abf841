"""Reference values for the mAP code (Sources/Detector/Detection/Metrics.swift), computed by
pycocotools' COCOeval, an independent implementation.

Writes Tests/DetectorTests/Fixtures/cocoeval_case.json with two cases:

- "random": 5 seeded images of 200 x 160 pixels, 4 classes (class 3 has detections but no
  ground truth, so COCO leaves it out of the mean), jittered detections, some of the wrong
  class, duplicates, false positives, and scores rounded to 2 decimals so that ties are common;
- "boundary": integer pixel boxes whose IoU with their ground truth is exactly 0.50, 0.55, ...,
  0.95 (on the COCO thresholds; 0.9 is above the threshold 0.8999999999999999), a detection
  equally close to two ground truths (pycocotools gives it the later one), and an image with
  ground truth and no detections.

Every coordinate and score is rounded to float32 first, so pycocotools sees exactly the numbers
the Swift test reads as Float, and IoUs agree to the last bit. Boxes are written as
[class, x1, y1, x2, y2] and detections as [class, score, x1, y1, x2, y2] in pixels; COCOeval gets
[x, y, w, h] (w = x2 - x1, exact in double for float32 corners). COCOeval runs with area range
"all" and maxDets 100 (more than any image has). Results per case: mAP@[.5:.95] (stats[0]),
mAP@0.5, mAP at each IoU threshold, per-class AP@0.5 and AP@[.5:.95] (None for a class without
ground truth), per class the 101 interpolated precisions at IoU 0.5 (the precision-recall curve
of `evaluate --plots`), and per class the detections and the matched ones at IoU 0.5, over all
detections and (at_threshold) over those scoring at least 0.5, whence precision and recall at
an operating threshold.

Run: python3 scripts/cocoeval_fixture.py   (numpy, pycocotools)
"""
import contextlib
import io
import json
import os
import random

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def f32(x):
    return float(np.float32(x))


def random_case():
    rng = random.Random(2024)
    width, height, classes = 200, 160, 4
    images = []
    for _ in range(5):
        gts, dets = [], []
        for _ in range(rng.randint(5, 9)):
            k = rng.randrange(3)  # class 3: never in the ground truth
            w, h = rng.uniform(12, 70), rng.uniform(12, 60)
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            gts.append([k, x, y, x + w, y + h])
            for _ in range(rng.choice([0, 1, 1, 1, 2, 2])):
                j = rng.uniform(0, 0.35)
                dx, dy = rng.uniform(-j, j) * w, rng.uniform(-j, j) * h
                dk = k if rng.random() < 0.85 else rng.randrange(classes)
                s = round(rng.uniform(0.05, 1.0), 2)
                box = [x + dx, y + dy, x + dx + w * rng.uniform(0.8, 1.2), y + dy + h * rng.uniform(0.8, 1.2)]
                dets.append([dk, s] + box)
                if rng.random() < 0.1:  # a duplicate with a lower score
                    dets.append([dk, round(s * 0.5, 2)] + box)
        for _ in range(rng.randint(1, 3)):  # false positives
            k = rng.randrange(classes)
            w, h = rng.uniform(10, 50), rng.uniform(10, 50)
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            dets.append([k, round(rng.uniform(0.05, 0.9), 2), x, y, x + w, y + h])
        images.append({"ground_truth": [[g[0]] + [f32(v) for v in g[1:]] for g in gts],
                       "detections": [[d[0]] + [f32(v) for v in d[1:]] for d in dets]})
    return "random", classes, width, height, images


def boundary_case():
    classes, width, height = 2, 400, 400
    images = []
    # Image 1: ten class-0 objects 100 px square, each found by a box of the same width and
    # height 50, 55, ..., 95 px from its top: IoU h / 100, exactly on a COCO threshold.
    gts, dets = [], []
    for n, h in enumerate(range(50, 100, 5)):
        x, y = (n % 4) * 100, (n // 4) * 100  # side by side: touching boxes have IoU 0
        gts.append([0, x, y, x + 100, y + 100])
        dets.append([0, 0.9 - n * 0.05, x, y, x + 100, y + h])
    images.append({"ground_truth": gts, "detections": dets})
    # Image 2: two class-1 objects; the first detection is equally close to both (IoU 90/110),
    # the second matches the first object exactly. pycocotools gives the tie to the later object.
    images.append({"ground_truth": [[1, 0, 0, 100, 100], [1, 0, 20, 100, 120]],
                   "detections": [[1, 0.9, 0, 10, 100, 110], [1, 0.8, 0, 0, 100, 100],
                                  [0, 0.7, 200, 200, 300, 300]]})
    # Image 3: ground truth, no detections; image 4: a false positive only.
    images.append({"ground_truth": [[1, 10, 10, 60, 60]], "detections": []})
    images.append({"ground_truth": [], "detections": [[1, 0.95, 10, 10, 60, 60]]})
    for image in images:
        image["ground_truth"] = [[g[0]] + [f32(v) for v in g[1:]] for g in image["ground_truth"]]
        image["detections"] = [[d[0]] + [f32(v) for v in d[1:]] for d in image["detections"]]
    return "boundary", classes, width, height, images


def cocoeval(classes, width, height, images, min_score=None):
    coco_images, annotations, results = [], [], []
    for i, image in enumerate(images):
        coco_images.append({"id": i + 1, "width": width, "height": height})
        for k, x1, y1, x2, y2 in image["ground_truth"]:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": k + 1,
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
        for k, s, x1, y1, x2, y2 in image["detections"]:
            if min_score is not None and s < min_score:
                continue
            results.append({"image_id": i + 1, "category_id": k + 1, "score": s, "bbox": [x1, y1, x2 - x1, y2 - y1]})
    gt = COCO()
    gt.dataset = {"images": coco_images, "annotations": annotations,
                  "categories": [{"id": k + 1, "name": str(k)} for k in range(classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.areaRng = [[0, 1e10]]
        ev.params.areaRngLbl = ["all"]
        ev.params.maxDets = [100]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][:, :, :, 0, 0]  # [T, R, K], -1 for a class without ground truth

    def mean(p):
        return float(np.mean(p[p > -1])) if (p > -1).any() else None

    # Per class at IoU 0.5: the detections evaluated and those matched (evalImgs' dtMatches at
    # the first threshold), over every image.
    true_positives, detections = [0] * classes, [0] * classes
    for e in ev.evalImgs:
        if e is None:
            continue
        k = e["category_id"] - 1
        detections[k] += len(e["dtIds"])
        true_positives[k] += int(np.count_nonzero(e["dtMatches"][0]))
    return {"map50_95": mean(precision), "map50": mean(precision[0]),
            "map_by_threshold": [mean(precision[t]) for t in range(precision.shape[0])],
            "per_class_ap50": [mean(precision[0, :, k]) for k in range(classes)],
            "per_class_ap50_95": [mean(precision[:, :, k]) for k in range(classes)],
            # The 101 interpolated precisions at IoU 0.5 whose mean is the AP (None: no ground truth).
            "per_class_pr_curve50": [precision[0, :, k].tolist() if (precision[0, :, k] > -1).all() else None
                                     for k in range(classes)],
            "per_class_true_positives50": true_positives, "per_class_detections": detections,
            "ground_truths": len(annotations), "detections": len(results)}


def at_threshold(classes, width, height, images, score):
    """Precision and recall at an operating threshold, as pycocotools sees them: COCOeval on
    the detections scoring at least `score` alone (greedy matching visits them first anyway)."""
    stats = cocoeval(classes, width, height, images, min_score=score)
    return {"score": score, "true_positives": stats["per_class_true_positives50"],
            "detections": stats["per_class_detections"]}


cases = []
for name, classes, width, height, images in [random_case(), boundary_case()]:
    stats = cocoeval(classes, width, height, images)
    stats["at_threshold"] = at_threshold(classes, width, height, images, f32(0.5))
    cases.append({"name": name, "classes": classes, **stats, "images": images})
    print(name, {k: v for k, v in stats.items()})
path = os.path.join(os.path.dirname(__file__), "..", "Tests", "DetectorTests", "Fixtures", "cocoeval_case.json")
with open(path, "w") as f:
    json.dump({"cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print("wrote", os.path.normpath(path))
