#!/usr/bin/env bash
# Ours and the peers on the same network, alternately (ours, PyTorch, ONNX Runtime, OpenVINO,
# ours, ...), ROUNDS rounds, so that the ratios come from the same stretch of a noisy shared
# machine; then one table (scripts/bench_ratios.py): per program its best round, latency min and
# p10, and the per-round ratios against ours.
# Needs: pip install torch onnxruntime onnx openvino; apt-get install libjemalloc2 (for
# PyTorch's best configuration: channels_last + jemalloc). Every program runs with 2 threads,
# given explicitly (the peers' defaults: bench_torch.py, bench_ort.py and bench_openvino.py
# default to 2 as well; OpenVINO with one stream, PERFORMANCE_HINT=LATENCY, f32).
# Environment: CONFIG, ROUNDS (3), THREADS (2), PROGRAMS ("ours torch ort openvino"),
# PEERS (../shared/bench), OUT (runs/bench-peers).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
PROGRAMS=${PROGRAMS:-ours torch ort openvino}
PEERS=${PEERS:-../shared/bench}
OUT=${OUT:-runs/bench-peers}
mkdir -p "$OUT"
# The peers read the classes and the head's filters from the config: models/tiny-dsc.json takes
# them from the data set, so the default is the same network with three classes written out
# ($OUT/config/tiny-dsc-3.json: the head's 40 filters, as the shapes' model would have).
if [ -z "${CONFIG:-}" ]; then
  mkdir -p "$OUT/config"
  CONFIG="$OUT/config/tiny-dsc-3.json"
  python3 - models/tiny-dsc.json "$CONFIG" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["classes"] = ["circle", "square", "triangle"]
config["layers"][-1]["filters"] = len(config["anchors"]) * (5 + 3)
json.dump(config, open(sys.argv[2], "w"), indent=1)
PY
fi
rm -f "$OUT"/*.json "$OUT"/*.load
swift build -c release --product detector-bench >/dev/null
for round in $(seq 1 "$ROUNDS"); do
  for program in $PROGRAMS; do
    echo "== round $round: $program (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    cut -d' ' -f1 /proc/loadavg > "$OUT/$program-$round.load"
    case $program in
      ours)
        .build/release/detector-bench --config "$CONFIG" --threads "$THREADS" --train-batches 16 | tail -1 ;;
      torch)
        python3 "$PEERS/bench_torch.py" --config "$CONFIG" --variants channels_last --allocator jemalloc \
            --threads "$THREADS" --train-batches 16 --infer-batches 1,16 2>/dev/null | tail -1 ;;
      ort)
        python3 "$PEERS/bench_ort.py" --config "$CONFIG" --threads "$THREADS" 2>/dev/null | tail -1 ;;
      openvino)
        python3 "$PEERS/bench_openvino.py" --config "$CONFIG" --threads "$THREADS" 2>/dev/null | tail -1 ;;
      *) echo "unknown program $program (ours, torch, ort, openvino)" >&2; exit 2 ;;
    esac > "$OUT/$program-$round.json"
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 scripts/bench_ratios.py "$OUT" "$ROUNDS" $PROGRAMS
