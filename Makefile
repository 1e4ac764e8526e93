# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export CASESTREAM_TEST_POSTGRES_DSN ?= postgresql://postgres@127.0.0.1:5432/casestream_test

.PHONY: install run demo test lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve on http://127.0.0.1:8000 from the embedded SQLite store, with demo data on first run.
run: $(STAMP)
	$(BIN)/casestream demo --if-empty --people $${CASESTREAM_DEMO_PEOPLE:-200}
	$(BIN)/casestream serve

## The whole suite, on the in-memory store, SQLite and PostgreSQL (started if needed).
test: $(STAMP)
	bash scripts/ensure-postgres.sh
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests tools bench
	$(BIN)/ruff format --check src tests tools bench
	$(BIN)/mypy

bench: $(STAMP)
	bash scripts/ensure-postgres.sh
	$(BIN)/python bench/catchup.py

clean:
	rm -rf $(VENV) casestream.db casestream.db-wal casestream.db-shm
