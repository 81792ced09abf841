"""One table of ours against the peers from scripts/bench_peers.sh's JSON lines (one file per
program per round, PROGRAM-ROUND.json, and the load average at its start in PROGRAM-ROUND.load).
Usage: python3 scripts/bench_ratios.py runs/bench-peers ROUNDS [PROGRAMS...]
(programs: ours torch ort openvino; default all four).

Interference on a shared machine only ever slows a program down, so every figure is the best
one measured: within a round, a program's best throughput block and its lowest latencies (min,
10th percentile; the median beside them is the typical call); across rounds, its best round.
Ratios are ours against the peer: throughput ours/peer (above 1: ours is faster), latency
ours/peer time (below 1: ours is faster). The per-round ratios compare rounds run next to each
other; the best-round ratio compares each program's best round, whichever it was."""
import json
import os
import sys

NAMES = {"ours": "ours", "torch": "PyTorch", "ort": "ONNX Runtime", "openvino": "OpenVINO"}


def figures(program: str, data: dict) -> dict:
    """A program's figures of one round: train16, infer16 (images/s, the round's best block),
    lat_min, lat_p10, lat_median (ms, batch 1), rss (MiB, training at batch 16)."""
    if program == "ours":
        return {"train16": data["train_images_per_s"]["16"], "infer16": data["infer_images_per_s_batch16"],
                "lat_min": data["infer_ms_batch1_min"], "lat_p10": data["infer_ms_batch1_p10"],
                "lat_median": data["infer_ms_batch1"], "rss": data["peak_rss_mib"]}
    if program == "torch":
        t = {(x["kind"], x["batch"]): x for x in data["results"] if "error" not in x}
        lat = t[("infer", 1)]["latency_ms"]
        return {"train16": t[("train", 16)]["images_per_s"]["max"], "infer16": t[("infer", 16)]["images_per_s"]["max"],
                "lat_min": lat["min"], "lat_p10": lat["p10"], "lat_median": lat["median"],
                "rss": t[("train", 16)]["peak_rss_mib"]}
    # bench_ort.py and bench_openvino.py write the same keys.
    lat = data["latency_ms"]
    return {"train16": None, "infer16": data["throughput_images_per_s"]["max"],
            "lat_min": lat["min"], "lat_p10": lat["p10"], "lat_median": lat["median"], "rss": None}


ROWS = [  # key, label, lower is better
    ("train16", "training, batch 16, images/s", False),
    ("infer16", "inference, batch 16, images/s", False),
    ("lat_min", "latency, batch 1, min ms", True),
    ("lat_p10", "latency, batch 1, p10 ms", True),
    ("lat_median", "latency, batch 1, median ms", True),
    ("rss", "peak RSS training b16, MiB", True),
]


def main() -> None:
    folder, rounds = sys.argv[1], int(sys.argv[2])
    programs = sys.argv[3:] or ["ours", "torch", "ort", "openvino"]
    if programs[0] != "ours":
        sys.exit("the first program must be ours (the ratios are against it)")
    runs = {p: [] for p in programs}
    loads = {p: [] for p in programs}
    for r in range(1, rounds + 1):
        for p in programs:
            with open(f"{folder}/{p}-{r}.json") as f:
                runs[p].append(figures(p, json.loads(f.read())))
            path = f"{folder}/{p}-{r}.load"
            loads[p].append(float(open(path).read()) if os.path.exists(path) else float("nan"))

    def best(p, key, lower):
        values = [x[key] for x in runs[p] if x[key] is not None]
        return (min if lower else max)(values) if values else None

    summary = {}
    print(f"{rounds} rounds, programs alternated ({', '.join(NAMES[p] for p in programs)}); "
          f"best round of each program, [per round]; ratios ours/peer, best rounds then [per round]")
    header = ["figure"] + [NAMES[p] for p in programs]
    table = [header, ["---"] * len(header)]
    for key, label, lower in ROWS:
        ours_best = best("ours", key, lower)
        if ours_best is None:
            continue
        row = [label]
        for p in programs:
            b = best(p, key, lower)
            if b is None:
                row.append("–")
                continue
            per = " ".join(f"{x[key]:.3g}" for x in runs[p])
            cell = f"**{b:.4g}** [{per}]"
            if p != "ours":
                ratios = " ".join(f"{o[key] / x[key]:.2f}" for o, x in zip(runs["ours"], runs[p]))
                cell += f"; ours/{NAMES[p]} {ours_best / b:.2f} [{ratios}]"
            row.append(cell)
            summary[f"{key}_{p}"] = b
        table.append(row)
    table.append(["load average at start"] + [" ".join(f"{x:.1f}" for x in loads[p]) for p in programs])
    for row in table:
        print("| " + " | ".join(row) + " |")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
