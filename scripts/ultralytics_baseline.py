"""Ultralytics' smallest detector (yolo26n, from scratch: no pretrained weights) trained on our
synthetic shapes for a fixed wall-clock budget on this machine's CPU, for the yardstick
"accuracy per CPU-minute". Ultralytics' `time=` option fits its learning-rate schedule into
the budget (validation included), as our `--epochs` does for ours.

Usage: python3 scripts/ultralytics_baseline.py MINUTES [DATA=data/shapes] [OUT=runs/ultralytics]
Needs: pip install ultralytics (not needed by the build or the tests).
Prints the final validation mAP@0.5 and mAP@0.5:0.95 (Ultralytics' own evaluator)."""
import os
import sys
import time

minutes = float(sys.argv[1])
data = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "data/shapes")
out = os.path.abspath(sys.argv[3] if len(sys.argv) > 3 else "runs/ultralytics")
os.makedirs(out, exist_ok=True)
names = [line.strip() for line in open(os.path.join(data, "classes.txt")) if line.strip()]
yaml_path = os.path.join(out, "shapes.yaml")
with open(yaml_path, "w") as f:
    f.write(f"path: {data}\ntrain: train/images\nval: val/images\nnames:\n")
    for i, n in enumerate(names):
        f.write(f"  {i}: {n}\n")

from ultralytics import YOLO  # noqa: E402

model = YOLO("yolo26n.yaml")  # architecture only: trained from scratch
start = time.time()
model.train(data=yaml_path, imgsz=256, batch=16, time=minutes / 60, device="cpu", workers=2,
            pretrained=False, amp=False, plots=False, project=out, name=f"{minutes:g}min", exist_ok=True,
            seed=1, deterministic=True, verbose=False)
elapsed = time.time() - start
metrics = model.val(data=yaml_path, imgsz=256, batch=16, device="cpu", plots=False, verbose=False)
print(f"ultralytics yolo26n from scratch, {minutes:g} min budget ({elapsed:.0f} s wall): "
      f"val mAP@0.5 {metrics.box.map50:.3f}, mAP@0.5:0.95 {metrics.box.map:.3f}")
