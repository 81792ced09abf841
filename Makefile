# Detector: a tiny YOLOv2-style object detector in Swift, trained and run on the CPU.
# `make demo` runs the main job end to end; `make test` runs the whole test suite.

SWIFT      ?= swift
BIN        := .build/release
PREFIX     ?= /usr/local
SHARE      := $(PREFIX)/share/detector
APT_PKGS   := libpng-dev libopenblas-dev pkg-config
DATA       ?= data/shapes

.PHONY: all setup deps build test test-loss demo samples model bench install clean

all: build

# Installs the system libraries when missing (Debian; root or sudo), then builds.
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

test: setup
	$(SWIFT) test

# Just the loss unit tests.
test-loss: deps
	$(SWIFT) test --filter RegionLoss

samples: build
	$(BIN)/train-detector generate --out $(DATA) --train 2000 --val 200 --seed 1

demo: build
	$(BIN)/train-detector show-data samples --out runs/demo/ground-truth --count 8
	@echo "demo: ground-truth renders are in runs/demo/ground-truth/"

bench: deps
	$(SWIFT) build -c release --product detector-bench
	$(BIN)/detector-bench --config models/tiny-dsc.json

install: build
	install -d $(PREFIX)/bin $(SHARE)
	install -m 755 $(BIN)/detect $(BIN)/train-detector $(PREFIX)/bin/
	cp models/*.json $(SHARE)/ 2>/dev/null || true
	cp models/*.safetensors $(SHARE)/ 2>/dev/null || true

clean:
	rm -rf .build runs
