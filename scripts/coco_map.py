"""COCO-style mAP of predictions in `detect --json` format, by pycocotools: the one evaluator the
accuracy benchmark scores both programs with (ours and Ultralytics'), so that neither side is
favoured by its own evaluator's conventions.

Predictions: JSON lines, one per image, as `detect --json` prints them (and as
../shared/bench/ultralytics_eval.py writes them):
  {"image": PATH, "width": W, "height": H,
   "detections": [{"class": NAME, "class_id": K, "score": S, "box": [x1, y1, x2, y2]}, ...]}
Boxes in the image's pixels. Ground truth: the YOLO labels of the data set's split
(DIR/SPLIT/labels/NAME.txt beside DIR/SPLIT/images/NAME.png), scaled by the image's width and
height from the prediction line. Images are matched by file name (stem).

COCOeval runs as COCO does (bbox, area range "all", maxDets 100: at most the 100 best-scoring
detections of each image count), boxes given as [x, y, w, h]. Returns mAP@[.5:.95] (stats[0]),
mAP@0.5 (stats[1]), per-class AP@0.5, and mAP@0.5 and mAP@[.5:.95] by COCO's object sizes
(small < 32² px, medium < 96² px, large: the area of the box in the original image).

usage (also a module): python3 scripts/coco_map.py PREDICTIONS.jsonl DATA_DIR [--split val]
"""
import argparse
import contextlib
import io
import json
import os


def read_classes(data_dir):
    return [line.strip() for line in open(os.path.join(data_dir, "classes.txt")) if line.strip()]


def split_folder(data_dir, split):
    """DIR/SPLIT when it exists, else DIR (the one-split layout)."""
    path = os.path.join(data_dir, split)
    return path if os.path.isdir(os.path.join(path, "images")) else data_dir


def score(predictions_path, data_dir, split="val"):
    import numpy as np
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    classes = read_classes(data_dir)
    folder = split_folder(data_dir, split)
    lines = [json.loads(line) for line in open(predictions_path) if line.strip()]
    images, annotations, results = [], [], []
    for image_id, line in enumerate(lines, start=1):
        w, h = line["width"], line["height"]
        stem = os.path.splitext(os.path.basename(line["image"]))[0]
        images.append({"id": image_id, "width": w, "height": h, "file_name": stem})
        label = os.path.join(folder, "labels", stem + ".txt")
        if os.path.exists(label):
            for row in open(label):
                fields = row.split()
                if len(fields) != 5:
                    continue
                k, cx, cy, bw, bh = int(fields[0]), *map(float, fields[1:])
                x, y, ww, hh = (cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": k,
                                    "bbox": [x, y, ww, hh], "area": ww * hh, "iscrowd": 0})
        for d in line["detections"]:
            x1, y1, x2, y2 = d["box"]
            results.append({"image_id": image_id, "category_id": int(d["class_id"]), "score": float(d["score"]),
                            "bbox": [x1, y1, x2 - x1, y2 - y1]})
    n_images_in_split = len([f for f in os.listdir(os.path.join(folder, "images")) if f.lower().endswith(".png")])
    if n_images_in_split != len(lines):
        raise SystemExit(f"{predictions_path}: {len(lines)} images predicted, {folder}/images holds {n_images_in_split}")
    gt = COCO()
    gt.dataset = {"images": images, "annotations": annotations,
                  "categories": [{"id": k, "name": n} for k, n in enumerate(classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(results) if results else COCO()
        if not results:  # pycocotools cannot load an empty result list: nothing found scores 0
            return {"mAP50": 0.0, "mAP50to95": 0.0, "perClassAP50": [0.0] * len(classes),
                    "images": len(lines), "groundTruth": len(annotations), "detections": 0}
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    # precision[T, R, K, A, M]: IoU 0.5 is T = 0, area "all" A = 0, maxDets 100 is M = 2.
    precision = ev.eval["precision"]

    def mean(p):
        return float(np.mean(p[p > -1])) if (p > -1).any() else None

    per_class = [mean(precision[0, :, k, 0, 2]) for k in range(len(classes))]
    # COCO's object sizes, in the original image's pixels: small < 32², medium < 96², large.
    by_area = {name: {"mAP50": mean(precision[0, :, :, a, 2]), "mAP50to95": mean(precision[:, :, :, a, 2]),
                      "groundTruth": sum(1 for g in annotations if lo <= g["area"] < hi)}
               for a, (name, (lo, hi)) in enumerate(zip(ev.params.areaRngLbl, ev.params.areaRng)) if name != "all"}
    return {"mAP50": float(ev.stats[1]), "mAP50to95": float(ev.stats[0]), "perClassAP50": per_class, "byArea": by_area,
            "images": len(lines), "groundTruth": len(annotations), "detections": len(results)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("predictions")
    ap.add_argument("data")
    ap.add_argument("--split", default="val")
    a = ap.parse_args()
    print(json.dumps(score(a.predictions, a.data, a.split)))


if __name__ == "__main__":
    main()
