# One command each sets everything up on a fresh machine: a .venv at the repo root, installed
# in editable mode with the dev tools, then the job.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test demo check lint typecheck bench quality clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mediawatch run --config mediawatch.yaml

demo: $(STAMP)
	$(BIN)/mediawatch demo

check: $(STAMP)
	$(BIN)/mediawatch check --config mediawatch.yaml

# The suite, plus lint and strict typing: what CI (.ci/run) runs.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# Benchmarks print JSON; see docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python bench/detect_speed.py $(ARGS)

quality: $(STAMP)
	$(BIN)/python bench/quality.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data .pytest_cache
