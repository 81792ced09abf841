"""Ultralytics' smallest detector (yolo26n by default, from scratch: no pretrained weights)
trained on a YOLO-layout data set for a fixed wall-clock budget on this machine's CPU, for the
yardstick "accuracy per CPU-minute" (`make accuracy ULTRALYTICS=1` runs it beside ours).

It runs the shared peer scripts, ../shared/bench/ultralytics_train.py (offline, on a copy of
the data, Ultralytics' own `time=` budget, which refits its schedule after every epoch,
validation included) and ultralytics_eval.py (predictions of the final weights, last.pt, with
Ultralytics' validation settings conf 0.001, iou 0.7), then scores the predictions with
scripts/coco_map.py (pycocotools), the evaluator that scores ours in the same benchmark.

Threads: on the CPU Ultralytics sets torch to min(8, cores - 1) threads, 1 on 2 cores; this
passes --threads (default: all cores) so that both programs use the same cores.

usage: python3 scripts/ultralytics_baseline.py MINUTES [DATA=data/shapes] [OUT=runs/ultralytics]
           [--name NAME] [--model yolo26n.yaml] [--threads N] [--seed 1] [--bench ../shared/bench]
Needs: pip install ultralytics pycocotools (not needed by the build or the tests).
The last line is `RESULT {json}`: mAP@0.5 and mAP@[.5:.95] of last.pt by pycocotools, the
same by Ultralytics' own validator, and of best.pt (Ultralytics' final validation), epochs,
training images/s, wall and CPU seconds.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import coco_map  # noqa: E402


def run(cmd, log):
    """Runs cmd with its output to `log` (and the lines that matter echoed); raises on failure."""
    print("+ " + " ".join(cmd), flush=True)
    with open(log, "w") as f:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail = []
        for line in p.stdout:
            f.write(line)
            tail = (tail + [line])[-30:]
            if line.startswith(("EPOCH", "SUMMARY", "ULTRA")):
                print("  " + line.rstrip()[:300], flush=True)
        if p.wait() != 0:
            sys.stdout.write("".join(tail))
            raise SystemExit(f"failed (exit {p.returncode}): {' '.join(cmd)}; log: {log}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("minutes", type=float)
    ap.add_argument("data", nargs="?", default="data/shapes")
    ap.add_argument("out", nargs="?", default="runs/ultralytics")
    ap.add_argument("--name", help="run name (default: DATA's folder name and the budget)")
    ap.add_argument("--model", default="yolo26n.yaml")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bench", default=os.path.join(here, "..", "..", "shared", "bench"),
                    help="folder of ultralytics_train.py and ultralytics_eval.py")
    a = ap.parse_args()

    data, out = os.path.abspath(a.data), os.path.abspath(a.out)
    name = a.name or f"{os.path.basename(data.rstrip('/'))}-{a.minutes:g}min"
    bench = os.path.abspath(a.bench)
    for script in ("ultralytics_train.py", "ultralytics_eval.py"):
        if not os.path.exists(os.path.join(bench, script)):
            raise SystemExit(f"{bench}/{script} not found: pass --bench FOLDER (../shared/bench of the repository)")
    os.makedirs(out, exist_ok=True)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    run([sys.executable, os.path.join(bench, "ultralytics_train.py"), "--data", data, "--work", out, "--name", name,
         "--model", a.model, "--minutes", str(a.minutes), "--threads", str(a.threads), "--seed", str(a.seed)],
        os.path.join(out, f"{name}.train.log"))
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = json.load(open(os.path.join(out, f"{name}.summary.json")))

    predictions = os.path.join(out, f"{name}.predictions.jsonl")
    run([sys.executable, os.path.join(bench, "ultralytics_eval.py"), "--weights", summary["weights_last"],
         "--data-yaml", summary["data_yaml"], "--images", os.path.join(coco_map.split_folder(data, "val"), "images"),
         "--out", predictions, "--work", out],
        os.path.join(out, f"{name}.eval.log"))
    own = {}
    for line in open(os.path.join(out, f"{name}.eval.log")):
        if line.startswith("ULTRA "):
            own = json.loads(line[len("ULTRA "):])
    scored = coco_map.score(predictions, data)
    best = summary.get("final_eval_best_pt", {})
    result = {
        "name": name, "model": a.model, "minutes": a.minutes, "threads": summary.get("torch_threads"),
        "versions": summary.get("versions"),
        "last": {"mAP50": round(scored["mAP50"], 4), "mAP50to95": round(scored["mAP50to95"], 4),
                 "perClassAP50": scored["perClassAP50"], "byArea": scored["byArea"], "scorer": "pycocotools"},
        "last_ultralytics_val": {"mAP50": own.get("mAP50"), "mAP50to95": own.get("mAP50_95")},
        "best_ultralytics_val": {"mAP50": best.get("metrics/mAP50(B)"), "mAP50to95": best.get("metrics/mAP50-95(B)")},
        "epochs": summary.get("epochs_done"), "train_images_per_s": summary.get("train_img_per_s"),
        "wall_images_per_s": summary.get("wall_img_per_s"),
        "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "predictions": predictions,
    }
    with open(os.path.join(out, f"{name}.result.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"ultralytics {a.model} from scratch, {a.minutes:g} min budget on {os.path.basename(data)}, "
          f"{result['threads']} threads: {result['epochs']} epochs, {wall:.0f} s wall, {cpu:.0f} s CPU; "
          f"last.pt mAP@0.5 {scored['mAP50']:.3f}, mAP@[.5:.95] {scored['mAP50to95']:.3f} (pycocotools)")
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
