"""The accuracy benchmark (`make accuracy`): accuracy per CPU-minute, and how far the shipped model
carries to shapes drawn differently. A benchmark, not a test: it takes as long as its budgets
(about 35 minutes with the defaults, twice that with ULTRALYTICS=1) and fails only when a
program fails.

1. For each data set and each budget, trains with the CLI (`train-detector`, both cores) under
   that wall-clock budget, into runs/accuracy/DATASET-BUDGET (--exist-ok), then evaluates the
   final weights (last.safetensors) and the best-on-val epoch (best.safetensors: chosen on the
   val split itself, so optimistic) with `train-detector evaluate --json`; and scores the final
   weights' predictions (`detect --json`) with pycocotools too, when it is installed.
   - trees: NEON aerial tree crowns (data/dev-trees, from ../shared/data/dev_trees.py: 78 crops
     for training, 20 from an area of the scene never seen in training as val), one class;
     config runs/accuracy/tiny-dsc-trees.json = TREES_CONFIG (models/tiny-dsc-s16.json, the
     family's best at equal compute in the ablation) with classes ["tree"], the head resized to
     match and anchors from `train-detector anchors 5` on its training split.
   - shapes: the synthetic shapes (data/shapes, `train-detector generate`: 2000 train + 200 val,
     seed 1), config models/tiny-dsc-shapes.json (the shipped model's: stride 16, BCE
     objectness). Each shapes run's final weights are also evaluated on the second generator's
     val split.
   The budget is `--time MINUTES` when `train-detector --help` lists it (the schedule fitted to
   the budget, validation included); else `--time-limit SECONDS` with an --epochs estimated at
   200 images/s, which runs out of time before its schedule ends (figures then pessimistic).
   Learning rate 0.003 and weight decay 0.05 (`make model`'s recipe: RECIPE), seed 1.
2. With ULTRALYTICS=1, after each of our runs, the same data and budget with
   scripts/ultralytics_baseline.py (yolo26n from scratch, all cores), scored by pycocotools
   on its final weights: the two programs run one after the other, never at once.
3. The shipped model (models/tiny-dsc-shapes.safetensors) on the second generator's val split
   (data/other-shapes: `train-detector generate --style other`, 400 train + 200 val, seed 1)
   and on data/shapes' val split; and pycocotools against `evaluate` on the same model and
   data (the difference is printed), which is what makes the two scorers comparable.

Prints a table at the end and writes runs/accuracy/results.json. The machine's load average is
recorded beside every run: on a shared machine wall-clock budgets buy less CPU time, so the
CPU seconds each run got are reported too.

Environment: BUDGETS="2.5 5 10" (minutes), DATASETS=trees,shapes, ULTRALYTICS=1, OTHER=0 (skip
step 3), BIN=.build/release, OUT=runs/accuracy, LR=0.003, RECIPE="--weight-decay 0.05" (more
train-detector options), TREES_CONFIG=models/tiny-dsc-s16.json, SHARED=../shared,
ULTRALYTICS_MODEL=yolo26n.yaml.
"""
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(root)
sys.path.insert(0, os.path.join(root, "scripts"))

BIN = os.environ.get("BIN", ".build/release")
OUT = os.environ.get("OUT", "runs/accuracy")
SHARED = os.environ.get("SHARED", "../shared")
LR = os.environ.get("LR", "0.003")
RECIPE = os.environ.get("RECIPE", "--weight-decay 0.05").split()
TREES_CONFIG = os.environ.get("TREES_CONFIG", "models/tiny-dsc-s16.json")
ULTRALYTICS = os.environ.get("ULTRALYTICS", "") not in ("", "0")
ULTRALYTICS_MODEL = os.environ.get("ULTRALYTICS_MODEL", "yolo26n.yaml")
OTHER = os.environ.get("OTHER", "1") not in ("", "0")
BUDGETS = [float(b) for b in re.split(r"[\s,]+", os.environ.get("BUDGETS", "2.5 5 10").strip()) if b]
DATASETS = [d for d in re.split(r"[\s,]+", os.environ.get("DATASETS", "trees,shapes").strip()) if d]
TRAIN = os.path.join(BIN, "train-detector")
DETECT = os.path.join(BIN, "detect")
SHIPPED = "models/tiny-dsc-shapes.safetensors"
DATA = {"trees": "data/dev-trees", "shapes": "data/shapes", "other": "data/other-shapes"}


def log(message):
    print(message, flush=True)


def load():
    return round(os.getloadavg()[0], 2)


def run(cmd, capture=True, log_path=None):
    """Runs cmd; returns (stdout, wall seconds, CPU seconds of it and its children). stderr goes
    to log_path (or through). Exits with the command's output on failure."""
    log("+ " + " ".join(cmd if len(cmd) <= 20 else cmd[:12] + [f"... ({len(cmd) - 12} more)"]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    err = open(log_path, "w") if log_path else None
    p = subprocess.run(cmd, stdout=subprocess.PIPE if capture else None, stderr=err, text=True)
    if err:
        err.close()
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        if capture and p.stdout:
            sys.stdout.write(p.stdout)
        if log_path:
            sys.stdout.write("".join(open(log_path).readlines()[-20:]))
        sys.exit(f"accuracy: failed (exit {p.returncode}): {' '.join(cmd[:8])}{' ...' if len(cmd) > 8 else ''}")
    return p.stdout or "", wall, cpu


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in: " + text[-500:])


def pycocotools_available():
    try:
        import pycocotools  # noqa: F401
        return True
    except ImportError:
        return False


# MARK: data and configs

def count_images(folder):
    path = os.path.join(folder, "images")
    return len([f for f in os.listdir(path) if f.lower().endswith(".png")]) if os.path.isdir(path) else 0


def ensure_data(name):
    folder = DATA[name]
    if os.path.exists(os.path.join(folder, "classes.txt")):
        return folder
    if name == "shapes":
        log(f"{folder} is missing: generating it (2000 train + 200 val, seed 1)")
        run([TRAIN, "generate", "--out", folder], capture=False)
    elif name == "other":
        log(f"{folder} is missing: generating it with the second generator (400 train + 200 val, seed 1)")
        run([TRAIN, "generate", "--style", "other", "--out", folder, "--train", "400", "--val", "200"], capture=False)
    elif name == "trees":
        script = os.path.join(SHARED, "data", "dev_trees.py")
        log(f"{folder} is missing: making it with {script} (needs `pip install --no-deps deepforest==2.1.0 pillow`)")
        if not os.path.exists(script):
            sys.exit(f"accuracy: {script} not found (set SHARED to the shared folder)")
        import importlib.util
        if importlib.util.find_spec("deepforest") is None:  # the script reads the package's data files
            sys.exit("accuracy: the tree crowns come from the deepforest package: pip install --no-deps deepforest==2.1.0 pillow")
        run([sys.executable, script, folder], capture=False)
    return folder


def trees_config(data):
    """TREES_CONFIG with the data set's classes, the head resized to anchors x (5 + classes) and
    anchors from the data (`train-detector anchors 5`, in that config's grid)."""
    config = json.load(open(TREES_CONFIG))
    classes = [line.strip() for line in open(os.path.join(data, "classes.txt")) if line.strip()]
    out, _, _ = run([TRAIN, "anchors", "5", "--data", data, "--config", TREES_CONFIG])
    match = re.search(r'"anchors": (\[.*\])', out)
    if match:
        config["anchors"] = json.loads(match.group(1))
    config["name"] = config["name"] + "-trees"
    config["classes"] = classes
    config["layers"][-1]["filters"] = len(config["anchors"]) * (5 + len(classes))
    path = os.path.join(OUT, "tiny-dsc-trees.json")
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    log(f"config {path}: classes {classes}, anchors {config['anchors']}")
    return path


def has_time_option():
    out, _, _ = run([TRAIN, "train", "--help"])  # the training options are the train command's
    return re.search(r"--time\b(?!-)", out) is not None


# MARK: one run

def evaluate(model, data):
    out, _, _ = run([TRAIN, "evaluate", model, "--data", data, "--json"])
    r = last_json(out)
    def rounded(v):
        return None if v is None else round(v, 4)
    return {"mAP50": rounded(r["mAP50"]), "mAP50to95": rounded(r["mAP50_95"]),
            "perClassAP50": [c["AP50"] for c in r["classes"]], "precision": rounded(r["precision"]),
            "recall": rounded(r["recall"])}


def val_images(data):
    folder = os.path.join(data, "val", "images")
    if not os.path.isdir(folder):
        folder = os.path.join(data, "images")
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith((".png", ".jpg", ".jpeg")))


def score_with_pycocotools(model, data, name):
    """Our predictions as `evaluate` makes them (score ≥ 0.005, NMS 0.45, at most 100 per image),
    through `detect --json`, scored by pycocotools."""
    import coco_map
    predictions = os.path.join(OUT, f"{name}.predictions.jsonl")
    out, _, _ = run([DETECT, "--model", model, "--json", "--no-render", "--conf", "0.005", "--iou", "0.45",
                     "--max-det", "100", "--"] + val_images(data))
    with open(predictions, "w") as f:
        f.write(out)
    r = coco_map.score(predictions, data)
    return {"mAP50": round(r["mAP50"], 4), "mAP50to95": round(r["mAP50to95"], 4), "perClassAP50": r["perClassAP50"],
            "byArea": r["byArea"]}


def train_ours(dataset, data, config, budget, use_time, use_coco):
    name = f"{dataset}-{budget:g}"
    folder = os.path.join(OUT, name)
    train_count = count_images(os.path.join(data, "train"))
    cmd = [TRAIN, "--data", data, "--config", config, "--lr", LR] + RECIPE + ["--seed", "1", "--out", folder, "--exist-ok"]
    if use_time:
        cmd += ["--time", f"{budget:g}"]
    else:
        epochs = max(1, math.ceil(budget * 60 * 200 / train_count))
        cmd += ["--time-limit", f"{budget * 60:g}", "--epochs", str(epochs)]
    load_before = load()
    stdout, wall, cpu = run(cmd, log_path=os.path.join(OUT, f"{name}.log"))
    load_after = load()
    # Complete epochs only (a run stopped in its first epoch has none; its last.safetensors holds
    # the partial epoch).
    log_file = os.path.join(folder, "results.jsonl")
    epochs = [json.loads(line) for line in open(log_file) if line.strip()] if os.path.exists(log_file) else []
    rates = [e["images_per_s"] for e in epochs if e.get("images_per_s")]
    stopped = re.search(r"stopped in epoch (\d+) after batch (\d+)", stdout)
    result = {
        "dataset": dataset, "data": data, "budget_min": budget, "config": config,
        "budget_option": "--time" if use_time else "--time-limit (with --epochs estimated at 200 images/s)",
        "command": " ".join(cmd), "summary": stdout.strip().splitlines()[-1] if stdout.strip() else "",
        "epochs": len(epochs), "images_per_s": round(sum(rates) / len(rates), 1) if rates else None,
        "stopped_in_epoch": {"epoch": int(stopped.group(1)), "batch": int(stopped.group(2))} if stopped else None,
        "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_before": load_before, "load_after": load_after,
        "last": evaluate(os.path.join(folder, "last.safetensors"), data),
        "best_on_val": evaluate(os.path.join(folder, "best.safetensors"), data)
        if os.path.exists(os.path.join(folder, "best.safetensors")) else None,
    }
    if use_coco:
        result["last_pycocotools"] = score_with_pycocotools(os.path.join(folder, "last.safetensors"), data, name)
    if dataset == "shapes" and OTHER:
        result["last_on_other_shapes"] = evaluate(os.path.join(folder, "last.safetensors"), DATA["other"])
    log(f"ours {name}: {result['epochs']} epochs, last mAP@0.5 {result['last']['mAP50']:.3f} "
        f"mAP@[.5:.95] {result['last']['mAP50to95']:.3f}, {wall:.0f} s wall, {cpu:.0f} s CPU, load {load_before}-{load_after}")
    return result


def train_ultralytics(dataset, data, budget):
    name = f"{dataset}-{budget:g}"
    load_before = load()
    out, _, _ = run([sys.executable, "scripts/ultralytics_baseline.py", f"{budget:g}", data, os.path.join(OUT, "ultralytics"),
                     "--name", name, "--model", ULTRALYTICS_MODEL, "--threads", str(os.cpu_count())])
    result = None
    for line in out.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
    if result is None:
        sys.exit("accuracy: scripts/ultralytics_baseline.py printed no RESULT line")
    result["load_before"], result["load_after"] = load_before, load()
    return result


# MARK: report

def fmt(m):
    return f"{m['mAP50']:.3f} / {m['mAP50to95']:.3f}" if m else "-"


def table(results):
    header = ["dataset", "budget", "ours last mAP@0.5 / @[.5:.95]", "ours best-on-val*", "epochs", "img/s", "wall s", "CPU s", "load"]
    if ULTRALYTICS:
        header += ["Ultralytics last (pycocotools)", "Ultra best-on-val* (own val)", "epochs", "img/s", "wall s", "CPU s"]
    rows = []
    for r in results["runs"]:
        o = r["ours"]
        epochs = str(o["epochs"]) + ("+" if o.get("stopped_in_epoch") else "")
        row = [r["dataset"], f"{r['budget_min']:g} min", fmt(o["last"]), fmt(o["best_on_val"]), epochs,
               f"{o['images_per_s']:.0f}" if o["images_per_s"] else "-", f"{o['wall_s']:.0f}", f"{o['cpu_s']:.0f}",
               f"{o['load_before']:.1f}-{o['load_after']:.1f}"]
        if ULTRALYTICS:
            u = r.get("ultralytics")
            if u:
                best = u["best_ultralytics_val"]
                row += [fmt(u["last"]), fmt(best) if best.get("mAP50") is not None else "-", str(u["epochs"]),
                        f"{u['train_images_per_s']:.0f}" if u.get("train_images_per_s") else "-", f"{u['wall_s']:.0f}", f"{u['cpu_s']:.0f}"]
            else:
                row += ["-"] * 6
        rows.append(row)
    widths = [max(len(h), *(len(row[k]) for row in rows)) if rows else len(h) for k, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def main():
    for tool in (TRAIN, DETECT):
        if not os.access(tool, os.X_OK):
            sys.exit(f"accuracy: {tool} not found: run `swift build -c release` (or `make build`) first, or set BIN")
    unknown = [d for d in DATASETS if d not in ("trees", "shapes")]
    if unknown or not BUDGETS or any(not (b > 0) for b in BUDGETS):
        sys.exit(f"accuracy: DATASETS must name trees and/or shapes (got {DATASETS}); BUDGETS minutes above 0 (got {BUDGETS})")
    os.makedirs(OUT, exist_ok=True)
    use_coco = pycocotools_available()
    if not use_coco:
        log("pycocotools is not installed (pip install pycocotools): ours is scored by `evaluate` only"
            + ("; ULTRALYTICS=1 needs it" if ULTRALYTICS else ""))
        if ULTRALYTICS:
            sys.exit("accuracy: ULTRALYTICS=1 needs pycocotools and ultralytics (pip install ultralytics pycocotools)")
    if ULTRALYTICS:
        import importlib.util
        if importlib.util.find_spec("ultralytics") is None:  # not imported here: it writes settings on import
            sys.exit("accuracy: ULTRALYTICS=1 needs `pip install ultralytics` (it installs a CPU-capable torch when none is there)")
    use_time = has_time_option()
    log(f"budget option: {'--time MINUTES' if use_time else '--time-limit SECONDS (this train-detector has no --time)'}")

    results = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": os.cpu_count(), "load_at_start": load(),
               "budgets_min": BUDGETS, "datasets": DATASETS, "lr": float(LR), "recipe": RECIPE, "trees_config": TREES_CONFIG, "budget_option": "--time" if use_time else "--time-limit",
               "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE, text=True).stdout.strip(),
               "runs": []}
    data = {d: ensure_data(d) for d in DATASETS}
    if OTHER:
        data["other"] = ensure_data("other")
    configs = {}
    if "trees" in DATASETS:
        configs["trees"] = trees_config(data["trees"])
    if "shapes" in DATASETS:
        configs["shapes"] = "models/tiny-dsc-shapes.json"

    # The shipped model first: it needs no training.
    if OTHER:
        shipped = {"model": SHIPPED, "other_shapes_val": evaluate(SHIPPED, data["other"])}
        if os.path.exists(os.path.join(DATA["shapes"], "classes.txt")):
            shipped["shapes_val"] = evaluate(SHIPPED, DATA["shapes"])
            if use_coco:
                shipped["shapes_val_pycocotools"] = score_with_pycocotools(SHIPPED, DATA["shapes"], "shipped-shapes")
        if use_coco:
            shipped["other_shapes_val_pycocotools"] = score_with_pycocotools(SHIPPED, data["other"], "shipped-other")
        results["shipped"] = shipped
        log(f"shipped model on other-shapes val: mAP@0.5 {shipped['other_shapes_val']['mAP50']:.3f}, "
            f"mAP@[.5:.95] {shipped['other_shapes_val']['mAP50to95']:.3f}")

    for dataset in DATASETS:
        for budget in BUDGETS:
            entry = {"dataset": dataset, "budget_min": budget,
                     "ours": train_ours(dataset, data[dataset], configs[dataset], budget, use_time, use_coco)}
            if ULTRALYTICS:
                entry["ultralytics"] = train_ultralytics(dataset, data[dataset], budget)
            results["runs"].append(entry)
            with open(os.path.join(OUT, "results.json"), "w") as f:  # after every run: partial results survive
                json.dump(results, f, indent=1)

    # How far pycocotools and `evaluate` differ on the same predictions of ours.
    deltas = []
    pairs = [(r["ours"]["last"], r["ours"].get("last_pycocotools")) for r in results["runs"]]
    if "shipped" in results:
        s = results["shipped"]
        pairs += [(s.get("shapes_val"), s.get("shapes_val_pycocotools")), (s["other_shapes_val"], s.get("other_shapes_val_pycocotools"))]
    for ours, coco in pairs:
        if ours and coco:
            deltas += [abs(ours["mAP50"] - coco["mAP50"]), abs(ours["mAP50to95"] - coco["mAP50to95"])]
    results["evaluate_vs_pycocotools_max_abs_difference"] = round(max(deltas), 4) if deltas else None
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    results["load_at_end"] = load()
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1)

    log("")
    log(f"accuracy per budget (wall clock on {os.cpu_count()} cores; {results['budget_option']}; load average "
        f"{results['load_at_start']} at start, {results['load_at_end']} at end)")
    log(table(results))
    log("* best-on-val: the epoch with the best val mAP@0.5, chosen on the val split itself (optimistic).")
    log("  epochs: complete epochs; '+' when the budget ran out in the next one (last.safetensors holds that partial epoch).")
    log("  img/s: training images per second, the mean over complete epochs; wall and CPU seconds of the whole run;"
        " load: the 1-minute load average before and after.")
    if ULTRALYTICS:
        log(f"  Ultralytics: {ULTRALYTICS_MODEL} from scratch; 'last' = final weights scored by pycocotools on the same val split;"
            " its best-on-val is Ultralytics' own final validation of best.pt.")
    if "shipped" in results:
        s = results["shipped"]
        log("")
        log(f"shipped model {SHIPPED}:")
        log(f"  on other-shapes val (second generator, {count_images(os.path.join(data['other'], 'val'))} images): "
            f"mAP@0.5 {s['other_shapes_val']['mAP50']:.3f}, mAP@[.5:.95] {s['other_shapes_val']['mAP50to95']:.3f}, "
            f"AP@0.5 per class {', '.join(f'{n} {v:.3f}' for n, v in zip(['circle', 'square', 'triangle'], s['other_shapes_val']['perClassAP50']) if v is not None)}")
        if "shapes_val" in s:
            log(f"  on shapes val (the training generator): mAP@0.5 {s['shapes_val']['mAP50']:.3f}, mAP@[.5:.95] {s['shapes_val']['mAP50to95']:.3f}")
        for r in results["runs"]:
            if "last_on_other_shapes" in r["ours"]:
                m = r["ours"]["last_on_other_shapes"]
                log(f"  (shapes run {r['budget_min']:g} min, last weights, on other-shapes val: {m['mAP50']:.3f} / {m['mAP50to95']:.3f})")
    if results["evaluate_vs_pycocotools_max_abs_difference"] is not None:
        log(f"evaluate vs pycocotools on the same models and data: largest difference {results['evaluate_vs_pycocotools_max_abs_difference']:.4f} "
            "(detect --json rounds boxes to 0.1 px and scores to 4 decimals)")
    log(f"results: {os.path.join(OUT, 'results.json')}")


if __name__ == "__main__":
    main()
