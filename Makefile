# Detector: a tiny YOLOv2-style object detector in Swift, trained and run on the CPU.
#   make demo   the main job end to end: learn 20 images, then detect on the samples
#   make test   the whole test suite
SWIFT      ?= swift
BIN        := .build/release
PREFIX     ?= /usr/local
SHARE      := $(PREFIX)/share/detector
APT_PKGS   := libpng-dev libturbojpeg0-dev libopenblas-dev libfreetype-dev pkg-config fonts-dejavu-core fonts-wqy-microhei
DATA       ?= data/shapes
# Writes the built-in synthetic data set into $(DATA): `generate`'s defaults are its image
# counts and seed (`train-detector generate --help` prints them), defined once in
# Sources/Detector/Data/BuiltInDataset.swift, the set training without --data generates on
# first use; so `samples`, `demo` and `model` below train on exactly that set.
GENERATE_DATA = $(BIN)/train-detector generate --out $(DATA)
MODEL      := models/tiny-dsc-shapes.safetensors
# Shipped model: trained deterministically by `make model` (see README).
# It trains on the varied rendering of the shapes (`generate --style varied`, 2000 + 200, seed 1)
# with the recipe the ablation chose (README, "Choosing the model and the recipe"): the stride-16
# head and BCE objectness of models/tiny-dsc-shapes.json, weight decay 0.05.
MODEL_DATA ?= data/varied
MODEL_EPOCHS ?= 30
MODEL_LR ?= 0.003
MODEL_WEIGHT_DECAY ?= 0.05

.PHONY: all deps setup build test test-loss demo samples samples-demo model bench bench-peers install install-files clean

all: build

# Installs the system libraries when missing (Debian/Ubuntu; root or sudo).
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

setup: deps build

build: deps
	$(SWIFT) build -c release

# The whole suite (debug build of everything, the command tests run the built binaries; the
# library itself is compiled with -O, see Package.swift).
test: deps
	$(SWIFT) build
	$(SWIFT) test

# Just the loss unit tests: assignment, targets, each component's value and gradient, and the
# PyTorch reference cases; darknet's semantics and the training-recipe options (multi-anchor
# assignment, cross-entropy objectness: RegionLossRecipeTests).
test-loss: deps
	$(SWIFT) test --filter RegionLoss

# The synthetic shapes data set in $(DATA), unless it is there (`generate` writes the folder
# whole or not at all, and refuses to overwrite one without --force: delete $(DATA) to
# regenerate it).
samples: build
	@test -f $(DATA)/classes.txt && echo "$(DATA) is there (delete it to regenerate)" || $(GENERATE_DATA)

# Regenerates the committed demo set in samples/ (12 images, seed 7).
samples-demo: build
	rm -rf samples && $(BIN)/train-detector generate --demo --out samples

demo: build
	@test -f $(DATA)/classes.txt || $(GENERATE_DATA)
	rm -rf runs/demo
	$(BIN)/train-detector --overfit 20 --data $(DATA) --config models/tiny-dsc-shapes.json --out runs/demo/overfit
	mkdir -p runs/demo/detections
	$(BIN)/detect samples/images/*.png --model $(MODEL) --output runs/demo/detections
	@echo
	@echo "demo: overfit renders (ground truth dashed, predictions solid): runs/demo/overfit/overfit/"
	@echo "demo: loss curves: runs/demo/overfit/loss.png"
	@echo "demo: detections of the shipped model on samples/: runs/demo/detections/"

# Trains the shipped model from scratch on the synthetic training split (deterministic: same
# seed, same data, same binary give the same weights), then exports it without optimizer state.
model: build
	@test -f $(MODEL_DATA)/classes.txt || $(BIN)/train-detector generate --style varied --out $(MODEL_DATA)
	@test -f $(DATA)/classes.txt || $(GENERATE_DATA)
	@test -f data/other-shapes/classes.txt || $(BIN)/train-detector generate --style other --out data/other-shapes --train 400 --val 200
	$(BIN)/train-detector --data $(MODEL_DATA) --config models/tiny-dsc-shapes.json --epochs $(MODEL_EPOCHS) --lr $(MODEL_LR) --weight-decay $(MODEL_WEIGHT_DECAY) --seed 1 --out runs/model --exist-ok
	$(BIN)/train-detector export runs/model/best.safetensors --out $(MODEL)
	$(BIN)/train-detector export runs/model/best.safetensors --out models/tiny-dsc-shapes-int8.safetensors --int8
	$(BIN)/train-detector evaluate $(MODEL) --data $(DATA)
	$(BIN)/train-detector evaluate $(MODEL) --data data/other-shapes
	$(BIN)/train-detector evaluate models/tiny-dsc-shapes-int8.safetensors --data $(DATA)

# Training and inference figures with the engine on 1 and on 2 threads (BENCH_THREADS).
BENCH_THREADS ?= 1,2
bench: deps
	$(SWIFT) build -c release --product detector-bench
	$(BIN)/detector-bench --config models/tiny-dsc.json --threads $(BENCH_THREADS)

# Ours and the peers (PyTorch, ONNX Runtime, OpenVINO) alternately, ROUNDS=3 rounds, 2 threads
# each, from ../shared/bench; one table of each program's best round, latency min and p10, and
# the per-round ratios against ours (needs `pip install torch onnxruntime onnx openvino` and
# libjemalloc2; PROGRAMS="ours ort" for a subset).
bench-peers: deps
	bash scripts/bench_peers.sh

# The loaders' fuzz targets (PNG, safetensors, model config, labels, class names) for
# FUZZ_SECONDS in a release build, shared among the targets: every mutated input must end in a
# value or the loader's typed error. A crash or a hang stops the run and leaves its input in
# runs/fuzz/current-TARGET.bin (replay: detector-fuzz --replay FILE --target TARGET); other
# failures are saved in runs/fuzz/failures/. The reproducers of earlier findings
# (Tests/DetectorTests/Fixtures/fuzz/TARGET/) run first. `make test` runs 400 cases a target.
FUZZ_SECONDS ?= 600
FUZZ_SEED ?= 1
.PHONY: fuzz
fuzz: deps
	$(SWIFT) build -c release --product detector-fuzz
	$(BIN)/detector-fuzz --target all --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED) --out runs/fuzz \
	  --corpus Tests/DetectorTests/Fixtures/fuzz

# Accuracy per CPU-minute, a benchmark and not a test (about 35 minutes; twice that with
# ULTRALYTICS=1): trains under each of BUDGETS="2.5 5 10" minutes on DATASETS=trees,shapes,
# prints mAP@0.5 and mAP@[.5:.95] per budget and the shipped model on the second generator's
# shapes, and writes runs/accuracy/results.json (README, "Accuracy").
.PHONY: accuracy ablation bench-memory
accuracy: build
	python3 scripts/accuracy.py

# The recipe and model ablation (scripts/ablation.py: MODE=time|epochs, BUDGET minutes,
# DATASETS, VARIANTS): every variant at equal compute on the tree crowns and the shapes.
ablation: build
	python3 scripts/ablation.py

# Peak RSS training one epoch on 1,000 JPEG photos of 2400x1800 against 1,000 of 256x256, and on
# a quarter as many (scripts/memory_bench.py; writes its data sets under data/memory-bench).
bench-memory: build
	python3 scripts/memory_bench.py

# The commands in PREFIX/bin and the configs and the trained model in PREFIX/share/detector,
# where the installed commands look for them (see README, "Installing").
install: build
	@$(MAKE) --no-print-directory install-files

# The same without building first: BIN is the folder of already-built binaries, e.g.
# `make install-files BIN=.build/debug PREFIX=/tmp/x` (the command tests install this way into
# a temporary folder, with no release build and no root).
install-files:
	@test -x "$(BIN)/detect" && test -x "$(BIN)/train-detector" || \
	  { echo "install-files: no built detect and train-detector in $(BIN) (run make build, or pass BIN=.build/debug)" >&2; exit 1; }
	install -d "$(PREFIX)/bin" "$(SHARE)"
	install -m 755 "$(BIN)/detect" "$(BIN)/train-detector" "$(PREFIX)/bin/"
	install -m 644 models/*.json "$(SHARE)/"
	install -m 644 "$(MODEL)" "$(SHARE)/"

clean:
	rm -rf .build runs
