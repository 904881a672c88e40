# Two commands: `make demo` and `make test`. Both build .venv themselves on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/pip --quiet --disable-pip-version-check

.PHONY: demo test lint typecheck audit wheel-check bench clean venv

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip==26.3
	$(PIP) install -e '.[dev]'
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

# Peers are installed for benchmarks only (the `bench` extra); none of them is a dependency of openidv.
# face_recognition asks for dlib, which pip would build from source: it goes in with --no-deps over dlib-bin.
bench: $(STAMP)
	$(PIP) install -e '.[dev,bench]'
	$(PIP) install --no-deps face_recognition==1.3.0
	$(BIN)/python bench/mrz.py
	$(BIN)/python bench/eval_metrics.py
	$(BIN)/python bench/face_verify.py
	$(BIN)/python bench/face_search.py
	$(BIN)/python bench/documents.py
	$(BIN)/python bench/documents_real.py
	$(BIN)/python bench/liveness.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache build dist
