"""Ratios of ours to the peers from scripts/bench_peers.sh's JSON lines (one file per program
per round). Usage: python3 scripts/bench_ratios.py runs/bench-peers ROUNDS

Each round's ratios are printed; the summary takes each program's best round (highest
throughput, lowest latency and memory): on a shared machine interference only ever slows a
program down, so its best round is the closest to its own speed, and a mean of two rounds
would let one disturbed round decide a ratio."""
import json
import sys

folder, rounds = sys.argv[1], int(sys.argv[2])
rows = []
for r in range(1, rounds + 1):
    ours = json.load(open(f"{folder}/ours-{r}.json"))
    torch = json.load(open(f"{folder}/torch-{r}.json"))
    ort = json.load(open(f"{folder}/ort-{r}.json"))
    t = {(x["kind"], x["batch"]): x for x in torch["results"] if "error" not in x}
    row = {
        "train16_ours": ours["train_images_per_s"]["16"],
        "train16_torch": t[("train", 16)]["images_per_s"]["median"],
        "infer1_ms_ours": ours["infer_ms_batch1"],
        "infer1_ms_torch": 1e3 / t[("infer", 1)]["images_per_s"]["median"],
        "infer1_ms_ort": ort["latency_ms"]["median"],
        "infer16_ours": ours["infer_images_per_s_batch16"],
        "infer16_torch": t[("infer", 16)]["images_per_s"]["median"],
        "infer16_ort": ort["throughput_images_per_s"]["median"],
        "rss_train16_ours": ours["peak_rss_mib"],
        "rss_train16_torch": t[("train", 16)]["peak_rss_mib"],
    }
    rows.append(row)
    print(f"round {r}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
    print(f"  ratios: training b16 {row['train16_ours'] / row['train16_torch']:.2f}x PyTorch; "
          f"latency b1 ours/ORT {row['infer1_ms_ours'] / row['infer1_ms_ort']:.2f}; "
          f"inference b16 {row['infer16_ours'] / row['infer16_ort']:.2f}x ORT")
lower_is_better = ("infer1_ms", "rss")
med = {k: (min if k.startswith(lower_is_better) else max)(r[k] for r in rows) for k in rows[0]}
print(f"best of {rounds} rounds each:")
print(f"training b16: ours {med['train16_ours']:.1f} img/s vs PyTorch best {med['train16_torch']:.1f}: "
      f"{med['train16_ours'] / med['train16_torch']:.2f}x (target 1.5x)")
print(f"inference latency b1: ours {med['infer1_ms_ours']:.2f} ms vs ORT {med['infer1_ms_ort']:.2f} ms "
      f"(ours/ORT {med['infer1_ms_ours'] / med['infer1_ms_ort']:.2f}; target <= 1), PyTorch {med['infer1_ms_torch']:.2f} ms")
print(f"inference b16: ours {med['infer16_ours']:.0f} img/s vs ORT {med['infer16_ort']:.0f} "
      f"({med['infer16_ours'] / med['infer16_ort']:.2f}x), PyTorch {med['infer16_torch']:.0f} "
      f"({med['infer16_ours'] / med['infer16_torch']:.2f}x)")
print(f"peak RSS training b16: ours {med['rss_train16_ours']:.0f} MiB vs PyTorch {med['rss_train16_torch']:.0f} MiB "
      f"({med['rss_train16_ours'] / med['rss_train16_torch']:.2f}; target <= 0.5)")
print(json.dumps(med))
