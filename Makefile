# Dayu — developer and user entry points. Every target sets up .venv itself (hack/setup.sh).
SHELL := /bin/bash
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup test test-unit test-integration test-e2e lint format schema traces bench bench-quick bench-compare bench-policies build all clean help image-smoke image-arm64-smoke

help:
	@echo "make setup | test | test-unit | test-integration | test-e2e | lint | format | schema | traces | bench | bench-quick | bench-policies"
	@echo "make bench-compare BEFORE=a.json AFTER=b.json   (which figures of make bench got worse)"
	@echo "make build WHAT=a,b | make all   (images; REG, REPO, TAG, DRY_RUN=1)"
	@echo "make image-smoke                 (build the CPU images offline and run the compose stack; root)"
	@echo "make image-arm64-smoke           (one arm64 image built and started under QEMU emulation; root)"

setup:
	@bash hack/setup.sh

test: setup
	@bash hack/system-deps.sh
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

test-integration: setup
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

test-e2e: setup
	$(PY) -m pytest -m e2e $(PYTEST_ARGS)

test-faults: setup
	$(PY) -m pytest -m faults -s $(PYTEST_ARGS)

# Not in CI: both sources for SOAK_MINUTES (default 30), memory and file descriptors sampled, loss counted.
# SOAK_ARGS e.g. "--dashboard --out soak.jsonl": the dashboard open in headless chromium, sampled too.
SOAK_MINUTES ?= 30
SOAK_ARGS ?=
soak: setup
	$(PY) -m tests.faults.soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy common services backend datasource
	$(PY) hack/layers.py

format: setup
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

schema: setup
	$(PY) -m common.schema
	$(PY) hack/openapi.py

traces: setup
	$(PY) -m common.tracegen

# BENCH_REPEAT=3 prints the spread of every figure; BENCH_SECTIONS and BENCH_SCALE narrow a run.
# exec: the bench is make's own child, so the SIGTERM make forwards reaches it and its clean-up.
bench: setup
	exec $(PY) -m tests.bench

bench-quick: setup
	BENCH_QUICK=1 BENCH_SCALE=$${BENCH_SCALE:-1,2,4} exec $(PY) -m tests.bench

# Two results.json of make bench, before and after a change: exits 1 when a figure got worse (COMPARE_ARGS: --all).
bench-compare: setup
	@[ -n "$(BEFORE)" ] && [ -n "$(AFTER)" ] || { echo "usage: make bench-compare BEFORE=a.json AFTER=b.json" >&2; exit 2; }
	$(PY) -m tests.bench.compare "$(BEFORE)" "$(AFTER)" $(COMPARE_ARGS)

# Policies on every trace with every clip (docs/policies.md, "The protocol"). The defaults are the full
# suite: every policy that loads, step-drop and two measured uplinks, the synthetic and a real clip,
# 2 seeded repeats; it prints its estimated duration (hours) at start and needs a quiet machine.
# BENCH_ARGS narrows it, e.g. "--policies fixed,fc --repeat 1" or "--clip FILE --service ID --trace step-drop".
bench-policies: setup
	exec $(PY) -m backend.benchpolicies.main $(BENCH_ARGS)

build:
	@bash hack/build.sh build "$(WHAT)"

all:
	@bash hack/build.sh all

# Build every CPU image offline and run the compose stack for real (root; see docs/images.md).
image-smoke:
	@bash hack/image-smoke.sh

# One arm64 image (SMOKE_IMAGE, default scheduler) built offline and started under QEMU emulation (root).
image-arm64-smoke:
	@bash hack/image-arm64-smoke.sh

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache
