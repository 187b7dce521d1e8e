# The few commands people type. Each target creates what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := fonts-noto-color-emoji chromium wordnet-base
REQUIREMENTS := pyproject.toml functions/pyproject.toml functions/classifier/requirements.txt training/requirements.txt \
	training/requirements-cpu.txt infra/requirements.txt imgclf/requirements.txt requirements-dev.txt
# pytest in a random order (pytest-randomly prints the seed) on worker processes: one more than
# the cores, as many tests wait on queues and subprocesses, and at most four (memory). A module,
# or all of tests/infra, runs on one worker (tests/conftest.py). PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= $(shell cores=$$(nproc); echo $$(( cores + 1 < 4 ? cores + 1 : 4 )))
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder
STARTED := $(shell date +%s)

.PHONY: demo hierarchy test test-unit test-integration test-infra test-e2e lint typecheck bench litert-parity venv system-deps node-deps clean

demo: venv system-deps ## the main job: train, deploy locally, classify, report
	$(BIN)/imgclf demo

test: venv system-deps node-deps lint ## lint, then the whole test suite (what CI runs)
	@echo "$(PYTEST)"; $(PYTEST); status=$$?; elapsed=$$(( $$(date +%s) - $(STARTED) )); \
	echo "make test: $$((elapsed / 60)) min $$((elapsed % 60)) s in all (lint, then pytest)"; \
	exit $$status

# One layer of the suite each (make test runs them all, after lint): pure code, code on moto
# and real libraries, the synthesized CDK templates, the whole pipeline.
test-unit: venv
	$(PYTEST) tests/unit

test-integration: venv system-deps
	$(PYTEST) tests/integration

test-infra: venv node-deps
	$(PYTEST) tests/infra

test-e2e: venv system-deps
	$(PYTEST) tests/e2e

lint: venv typecheck
	$(BIN)/ruff check . && $(BIN)/ruff format --check -q .

typecheck: venv ## mypy --strict over the whole tree (pyproject.toml [tool.mypy])
	$(BIN)/mypy

bench: venv system-deps ## figures for the README: function, local pipeline, training
	$(BIN)/python bench/classify_bench.py
	$(BIN)/python bench/local_pipeline.py
	$(BIN)/python bench/training_accuracy.py

# Opt-in (minutes): the arm64 Lambda's LiteRT on an emulated aarch64 Python against the gate's.
# Caches a Debian arm64 sysroot and the function's aarch64 wheels under ~/.cache/imgclf.
litert-parity: venv system-deps
	@$(MAKE) --no-print-directory system-deps APT_PACKAGES="qemu-user-static gcc-aarch64-linux-gnu"
	$(BIN)/python bench/litert_parity.py

# The classifier's native PNG unfilter (ctypes loads it; without it PNGs go to libspng).
UNFILTER_LIBRARY := functions/classifier/native/libimgclf_unfilter.$(shell uname -m).so

venv: $(VENV)/.installed $(UNFILTER_LIBRARY)

$(UNFILTER_LIBRARY): functions/classifier/native/unfilter.c functions/classifier/native/build.sh
	sh functions/classifier/native/build.sh

$(VENV)/.installed: $(REQUIREMENTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ./functions -e '.[function,training,infra,cli,dev]'
	touch $@

# training/labels/hierarchy.json from WordNet 3.0 (Debian's wordnet-base, in APT_PACKAGES);
# review and commit the diff.
hierarchy: venv system-deps
	$(BIN)/python -m training.labels.build

# Debian packages: the emoji font renders the default data set, Chromium screenshots the report.
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

node-deps: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .imgclf
