"""The recipe and model ablation (`make ablation`): each variant trained from scratch on each data
set with the same compute, then scored on the val split, into one table (README, "Choosing the
recipe and the model"). A benchmark, not a test.

Equal compute. With MODE=time (the default on a quiet machine) every run gets `--time BUDGET`
minutes of wall clock on all cores, the schedule fitted to it. A shared machine gives wall-clock
budgets unequal CPU time, so MODE=epochs runs each variant for a fixed number of epochs instead:
the epochs that BUDGET minutes buy at the config's training throughput (RATES below, images/s
measured alone on 2 cores with `train-detector` on data/shapes at batch 16, best of three
rounds), epochs = ceil(BUDGET · 60 · rate / training images). Training is seeded and its
batches do not depend on timing, so a MODE=epochs figure is the same on a quiet or a busy
machine; its wall time is not.

Each run: `train-detector --data D --config C --lr LR --seed 1 --epochs E` (or `--time`), then
`train-detector evaluate --json` on its last weights (last.safetensors) and its best-on-val epoch
(best.safetensors, chosen on the val split itself, so optimistic), on the val split.

Environment: MODE=epochs|time, BUDGET=2.5 (minutes), DATASETS=trees,shapes,
VARIANTS=name,name (default: all of VARIANTS below), LR=0.003, BIN=.build/release,
OUT=runs/ablation. Results: OUT/results.jsonl (one line a run, appended; a run already there with
the same variant, data set, mode and budget is not repeated) and the table printed at the end.
"""
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accuracy  # noqa: E402  (changes to the repository's root)
from accuracy import log, run, last_json, count_images, ensure_data  # noqa: E402

MODE = os.environ.get("MODE", "time")
BUDGET = float(os.environ.get("BUDGET", "2.5"))
DATASETS = [d for d in re.split(r"[\s,]+", os.environ.get("DATASETS", "trees,shapes").strip()) if d]
LR = os.environ.get("LR", "0.003")
OUT = os.environ.get("OUT", "runs/ablation")
TRAIN = accuracy.TRAIN

# Training images/s of each model config (detector-bench --train-batches 16 --quick, best of two
# alternating rounds, on this 2-core machine on 2026-12-01 while its host was slow: about a
# quarter of its speed on a quiet day; only the ratios matter for equal compute).
RATES = {"models/tiny-dsc.json": 65.5, "models/tiny-dsc-s16.json": 50.2, "models/tiny-dsc-wide.json": 21.9}

# name: (config, loss keys merged into the config's "loss", extra train-detector options)
BCE = {"objectness_loss": "bce"}
VARIANTS = {
    # The configs' loss sections say "objectness_loss": "bce" (this ablation's finding); the
    # baseline is darknet's squared error.
    "baseline":        ("models/tiny-dsc.json", {"objectness_loss": "mse"}, []),
    "bce":             ("models/tiny-dsc.json", BCE, []),
    "bce+multi":       ("models/tiny-dsc.json", {**BCE, "assign": "multi"}, []),
    "bce+ema":         ("models/tiny-dsc.json", BCE, ["--ema"]),
    "bce+wd":          ("models/tiny-dsc.json", BCE, ["--weight-decay", "0.05"]),
    "bce+mosaic":      ("models/tiny-dsc.json", BCE, ["--mosaic"]),
    "bce+lr2x":        ("models/tiny-dsc.json", BCE, ["--lr", str(2 * float(LR))]),
    "s16+bce":         ("models/tiny-dsc-s16.json", BCE, []),
    "wide+bce":        ("models/tiny-dsc-wide.json", BCE, []),
    "s16+bce+wd":      ("models/tiny-dsc-s16.json", BCE, ["--weight-decay", "0.05"]),
}


def variant_config(name, config, loss):
    """The config file a variant trains: `config` with `loss` merged into its loss section."""
    if not loss:
        return config
    c = json.load(open(config))
    c["loss"] = {**c.get("loss", {}), **loss}
    c["name"] = c["name"] + "-" + name.replace("+", "-")
    path = os.path.join(OUT, "configs", f"{name}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(c, f, indent=1)
    return path


def evaluate(model, data):
    out, _, _ = run([TRAIN, "evaluate", model, "--data", data, "--json"])
    r = last_json(out)
    return {"mAP50": r["mAP50"], "mAP50to95": r["mAP50_95"]}


def train(variant, dataset):
    config, loss, options = VARIANTS[variant]
    data = ensure_data(dataset)
    path = variant_config(variant, config, loss)
    folder = os.path.join(OUT, f"{dataset}-{variant}-{MODE}{BUDGET:g}")
    cmd = [TRAIN, "--data", data, "--config", path, "--lr", LR, "--seed", "1", "--out", folder, "--exist-ok"]
    if MODE == "time":
        cmd += ["--time", f"{BUDGET:g}"]
    else:
        images = count_images(os.path.join(data, "train"))
        epochs = max(1, math.ceil(BUDGET * 60 * RATES[config] / images))
        cmd += ["--epochs", str(epochs)]
    cmd += options  # a later --lr wins
    stdout, wall, cpu = run(cmd, log_path=folder + ".log")
    epochs = [json.loads(line) for line in open(os.path.join(folder, "results.jsonl")) if line.strip()]
    best = os.path.join(folder, "best.safetensors")
    return {"variant": variant, "dataset": dataset, "mode": MODE, "budget_min": BUDGET, "config": path,
            "command": " ".join(cmd), "epochs": len(epochs), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "load": accuracy.load(),
            "last": evaluate(os.path.join(folder, "last.safetensors"), data),
            "best_on_val": evaluate(best, data) if os.path.exists(best) else None}


def table(rows):
    def f(m):
        return "-" if not m or m["mAP50"] is None else f"{m['mAP50']:.3f} / {m['mAP50to95']:.3f}"
    header = ["variant", "data", "budget", "epochs", "last mAP@0.5 / @[.5:.95]", "best-on-val*", "wall s"]
    lines = [[r["variant"], r["dataset"], f"{r['mode']} {r['budget_min']:g} min", str(r["epochs"]), f(r["last"]),
              f(r["best_on_val"]), f"{r['wall_s']:.0f}"] for r in rows]
    widths = [max(len(h), *(len(x[k]) for x in lines)) for k, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    return "\n".join(out + ["  ".join(c.ljust(w) for c, w in zip(x, widths)) for x in lines])


def main():
    if MODE not in ("time", "epochs") or not BUDGET > 0:
        sys.exit(f"ablation: MODE must be time or epochs (got {MODE}), BUDGET minutes above 0 (got {BUDGET})")
    names = [v for v in re.split(r"[\s,]+", os.environ.get("VARIANTS", "").strip()) if v] or list(VARIANTS)
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        sys.exit(f"ablation: unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    os.makedirs(OUT, exist_ok=True)
    results_path = os.path.join(OUT, "results.jsonl")
    done = [json.loads(line) for line in open(results_path)] if os.path.exists(results_path) else []
    for dataset in DATASETS:
        for variant in names:
            key = (variant, dataset, MODE, BUDGET)
            if any((r["variant"], r["dataset"], r["mode"], r["budget_min"]) == key for r in done):
                continue
            r = train(variant, dataset)
            log(f"{variant} on {dataset}: last {r['last']}, best {r['best_on_val']}, {r['epochs']} epochs, {r['wall_s']:.0f} s")
            with open(results_path, "a") as f:
                f.write(json.dumps(r) + "\n")
            done.append(r)
    rows = [r for r in done if r["mode"] == MODE and r["budget_min"] == BUDGET and r["variant"] in names and r["dataset"] in DATASETS]
    log(table(rows))


if __name__ == "__main__":
    main()
