# The one interface: set-up, serve, test, lint, bench, synth.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Two stamps: serving needs only the runtime dependencies and the `local` extra (uvicorn), a fast first
# `make serve`; tests, lint, bench and synth also need the dev and CDK extras (channelattribution builds
# from C++ sources, the CDK is large).
SERVE_STAMP := $(VENV)/.installed-serve
STAMP := $(VENV)/.installed-dev
MYSQL_URL ?= mysql+pymysql://root@127.0.0.1:3306/test

.PHONY: setup setup-serve serve test test-sqlite test-mysql lint format bench synth clean db-up browser-up migration client-dist \
	reports-rebuild reports-refresh

$(PY):
	$(PYTHON) -m venv $(VENV)

# --no-compile: no byte-compiling of every installed module (boto3 alone has thousands); Python compiles
# what the server imports on first start.
$(SERVE_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check --no-compile -e '.[local]'
	@touch $(SERVE_STAMP)

$(STAMP): pyproject.toml clients/python/pyproject.toml | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[local,dev,cdk]'
	$(PY) -m pip install -q --disable-pip-version-check -e clients/python
	@touch $(STAMP) $(SERVE_STAMP)

## setup: create .venv and install Multibuzz with its dev and CDK extras (what test/lint/bench/synth need)
setup: $(STAMP)

## setup-serve: create .venv and install only what serving needs
setup-serve: $(SERVE_STAMP)

## serve: migrate, seed the demo account, serve the local stack on 127.0.0.1:8000
serve: setup-serve
	$(PY) -m infra.local serve

db-up:
	@scripts/ensure-mariadb.sh

# The browser tests (tests/browser) drive Debian's Chromium; installed when missing, as MariaDB is.
browser-up:
	@scripts/ensure-chromium.sh

## test: the whole suite, on SQLite and then on MariaDB; both always run, and it fails if either failed
test: setup db-up browser-up
	@scripts/test-both.sh $(PY) $(MYSQL_URL)

test-sqlite: setup browser-up
	$(PY) -m pytest -q -p no:cacheprovider

test-mysql: setup db-up browser-up
	MULTIBUZZ_TEST_DATABASE_URL=$(MYSQL_URL) $(PY) -m pytest -q -p no:cacheprovider

## lint: ruff (lint + format check) and mypy
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	cd clients/python && ../../$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## bench: every benchmark under bench/, printing its figures
bench: setup db-up
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

## synth: synthesize the CDK app (offline) into cdk.out/
synth: setup
	$(PY) -m infra.cdk.synth --stage dev --stage prod

## migration: new Alembic revision from model changes, e.g. make migration m="add clicks"
migration: setup
	MULTIBUZZ_DATABASE_URL=sqlite:///.multibuzz/autogen.db $(PY) -m alembic upgrade heads
	MULTIBUZZ_DATABASE_URL=sqlite:///.multibuzz/autogen.db $(PY) -m alembic revision --autogenerate -m "$(m)"

## reports-rebuild: recompute report rollups from raw rows, e.g. make reports-rebuild account=acc_1 from=2026-01-01 to=2026-03-31
reports-rebuild: setup-serve
	$(PY) -m multibuzz.reports rebuild --account "$(account)" --from "$(from)" --to "$(to)"

## reports-refresh: rebuild every stale (account, local day) of the report rollups
reports-refresh: setup-serve
	$(PY) -m multibuzz.reports refresh

clean:
	rm -rf .multibuzz cdk.out .pytest_cache .mypy_cache .ruff_cache

## client-dist: build the Python client (clients/python) into an sdist and a wheel under clients/python/dist/
client-dist: setup
	$(PY) -m build --no-isolation --sdist --wheel --outdir clients/python/dist clients/python
