#!/usr/bin/env bash
# Ours and the peers on the same network, alternately (ours, PyTorch, ONNX Runtime, ours, ...),
# so that the ratios come from the same stretch of a noisy shared machine.
# Needs: pip install torch onnxruntime onnx; apt-get install libjemalloc2 (for PyTorch's best
# configuration: channels_last + jemalloc). Prints each program's JSON line and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
# The peers read the classes and the head's filters from the config: models/tiny-dsc.json takes
# them from the data set, so the default is its twin with them written out (the same network;
# only the anchor values differ, which no timing depends on).
CONFIG=${CONFIG:-models/tiny-dsc-shapes.json}
ROUNDS=${ROUNDS:-3}
PEERS=${PEERS:-../shared/bench}
OUT=${OUT:-runs/bench-peers}
mkdir -p "$OUT"
swift build -c release --product detector-bench >/dev/null
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round: ours" >&2
  .build/release/detector-bench --config "$CONFIG" --train-batches 16 | tail -1 > "$OUT/ours-$round.json"
  echo "== round $round: PyTorch channels_last + jemalloc" >&2
  python3 "$PEERS/bench_torch.py" --config "$CONFIG" --variants channels_last --allocator jemalloc \
      --train-batches 16 --infer-batches 1,16 2>/dev/null | tail -1 > "$OUT/torch-$round.json"
  echo "== round $round: ONNX Runtime" >&2
  python3 "$PEERS/bench_ort.py" --config "$CONFIG" 2>/dev/null | tail -1 > "$OUT/ort-$round.json"
done
python3 scripts/bench_ratios.py "$OUT" "$ROUNDS"
