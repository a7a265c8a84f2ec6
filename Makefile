# The one interface: set-up, serve, test, lint, bench, synth.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MYSQL_URL ?= mysql+pymysql://root@127.0.0.1:3306/test

.PHONY: setup serve test test-sqlite test-mysql lint format bench synth clean db-up migration client-dist

$(STAMP): pyproject.toml clients/python/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,cdk]'
	$(PY) -m pip install -q -e clients/python
	@touch $(STAMP)

## setup: create .venv and install Multibuzz with its dev and CDK extras
setup: $(STAMP)

## serve: migrate, seed the demo account, serve the local stack on 127.0.0.1:8000
serve: setup
	$(PY) -m infra.local serve

db-up:
	@scripts/ensure-mariadb.sh

## test: the whole suite, on SQLite and then on MariaDB
test: setup db-up test-sqlite test-mysql

test-sqlite: setup
	$(PY) -m pytest -q -p no:cacheprovider

test-mysql: setup db-up
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

clean:
	rm -rf .multibuzz cdk.out .pytest_cache .mypy_cache .ruff_cache

## client-dist: build the Python client (clients/python) into an sdist and a wheel under clients/python/dist/
client-dist: setup
	$(PY) -m build --no-isolation --sdist --wheel --outdir clients/python/dist clients/python
