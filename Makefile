# withbowwow backend. `make run` starts everything; `make test` runs the suite.
# Both install what they need first (.venv, packages; embedded Postgres/Redis when none answers).

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run migrate test lint bench bench-gateway bench-api bench-push push-dead clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(PY) -m tools.devstack run

migrate: install
	$(PY) -m tools.devstack migrate

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Push jobs the worker gave up on (newest first).
push-dead: install
	$(PY) -m tools.devstack push-dead

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache

# Benchmarks (bench/): figures go to bench/results/*.json and bench/RESULTS.md; CI does not run them.
# BENCH_ARGS="--repeat 1" or "--quick" (a smoke run of the harness) are passed through.
bench: install
	$(PY) -m bench.runner all $(BENCH_ARGS)

bench-gateway: install
	$(PY) -m bench.runner gateway $(BENCH_ARGS)

bench-api: install
	$(PY) -m bench.runner api $(BENCH_ARGS)

bench-push: install
	$(PY) -m bench.runner push $(BENCH_ARGS)
