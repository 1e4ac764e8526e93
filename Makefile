# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export CASESTREAM_TEST_POSTGRES_DSN ?= postgresql://postgres@127.0.0.1:5432/casestream_test

.PHONY: install run demo test soak lint bench bench-quick clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve on http://127.0.0.1:8000 from the embedded SQLite store, with demo data on first run.
## Development mode: the token secret is generated into ./.casestream/ (README.md).
run: export CASESTREAM_ENV ?= development
run: $(STAMP)
	$(BIN)/casestream keys init --if-missing
	$(BIN)/casestream demo --if-empty --people $${CASESTREAM_DEMO_PEOPLE:-200}
	CASESTREAM_WITNESS_DIR=$${CASESTREAM_WITNESS_DIR:-./casestream-witness} $(BIN)/casestream serve

## The whole suite, on the in-memory store, SQLite and PostgreSQL (started if needed),
## with NATS JetStream for the relay's tests (started if needed).
test: $(STAMP)
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-nats.sh
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-weasyprint.sh
	$(BIN)/pytest

## The reliability scenarios (tests/reliability) at ten times their counts, or
## CASESTREAM_RELIABILITY_SCALE times (optional; tens of minutes), then their figures
## into docs/reliability.md. `make test` runs the same scenarios at scale 1.
soak: $(STAMP)
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-nats.sh
	CASESTREAM_RELIABILITY_SCALE=$${CASESTREAM_RELIABILITY_SCALE:-10} $(BIN)/pytest tests/reliability
	$(BIN)/python -m tests.reliability.report --check

lint: $(STAMP)
	$(BIN)/ruff check src tests tools bench
	$(BIN)/ruff format --check src tests tools bench
	$(BIN)/mypy

## Every benchmark at agency scale (PostgreSQL and SQLite; about 25 minutes), each
## against a baseline measured in the same run: tables on screen, bench/results/*.json,
## docs/growth.png. Each uses a fresh PostgreSQL schema or SQLite file, dropped after.
BENCHMARKS := append load catchup growth api profile alerts

bench: $(STAMP)
	bash scripts/ensure-postgres.sh
	set -e; for b in $(BENCHMARKS); do $(BIN)/python -m bench.$$b; done

## The same benchmarks on small data: a smoke check that they run (CI), not figures.
bench-quick: $(STAMP)
	bash scripts/ensure-postgres.sh
	set -e; for b in $(BENCHMARKS); do $(BIN)/python -m bench.$$b --quick; done

clean:
	rm -rf $(VENV) casestream.db casestream.db-wal casestream.db-shm .casestream
