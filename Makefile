# Sheaf: every job a user or CI runs. `make help` lists them.
SWIFT ?= swift
SYSTEM_PACKAGES := libsodium-dev libzstd-dev pkg-config
RELEASE_BENCH := .build/release/sheaf-bench

.PHONY: help deps build test demo bench clean

help:
	@echo "make test   install missing system packages, build, run every test"
	@echo "make demo   build in release mode and show the feeds layer at work"
	@echo "make bench  the issue benchmarks at full size (release build)"
	@echo "make clean  remove build products"

deps:
	@scripts/ensure-system-packages $(SYSTEM_PACKAGES)

build: deps
	$(SWIFT) build

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

$(RELEASE_BENCH): deps $(shell find Sources Benchmarks -name '*.swift') Package.swift
	$(SWIFT) build -c release --product sheaf-bench

# Until the peer daemon exists, the demo exercises what does: durable signed
# feeds and range verification, at sizes that take a few seconds.
demo: $(RELEASE_BENCH)
	@echo "== machine limits =="
	$(RELEASE_BENCH) primitives --megabytes 16
	@echo "== append 200,000 signed entries to a durable log (fsync per batch) =="
	$(RELEASE_BENCH) feed-append --entries 200000 --batch 1000 --payload 64 --durability fsync
	@echo "== verify a 200,000-entry range against one signed head =="
	$(RELEASE_BENCH) feed-verify --entries 200000 --payload 64

bench: $(RELEASE_BENCH)
	$(RELEASE_BENCH) primitives
	$(RELEASE_BENCH) feed-append --entries 1000000 --batch 1000 --payload 64 --durability fsync
	$(RELEASE_BENCH) feed-verify --entries 1000000 --payload 64
	$(RELEASE_BENCH) feed-verify --entries 1000000 --payload 64 --workers 1

clean:
	rm -rf .build .build-*
