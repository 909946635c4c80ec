# Set-up, tests and tools. `make help` lists the targets; README.md explains them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVICES_ENV := var/services/env.sh
# Extra pytest arguments for both runs, e.g. `make test PYTEST_ARGS='-x -k oidc'`.
PYTEST_ARGS ?=

.PHONY: help venv services services-stop test test-embedded test-postgres lint demo bench bench-directory clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

venv: $(STAMP) ## Create .venv and install the project with its test tools

# Re-install only when the project's dependencies changed (the stamp is older than them).
$(STAMP): pyproject.toml connectors/python/pyproject.toml scripts/build_argon2_native.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]' -e connectors/python
	$(BIN)/python scripts/build_argon2_native.py
	touch $(STAMP)

services: ## Install (if missing) and start test PostgreSQL, Redis, OpenLDAP; Chromium
	bash scripts/services.sh >/dev/null

services-stop: ## Stop the test services (their data is kept under var/services)
	bash scripts/services.sh stop

# The whole suite twice: embedded (SQLite + in-process store) and PostgreSQL + Redis.
# Tests marked `postgres` need the real services, so the embedded run deselects them
# (deselected, not skipped: the postgres run executes every test). One after the other:
# side by side on 2 cores took longer per pass and turned timing margins into failures.
test: services venv ## Lint, then the whole suite on SQLite+memory and on PostgreSQL+Redis
	$(BIN)/ruff check .
	@status=0; \
	$(MAKE) --no-print-directory test-embedded || status=1; \
	$(MAKE) --no-print-directory test-postgres || status=$$((status + 2)); \
	echo; echo "== summary =="; \
	tail -n 1 var/test-embedded.log | sed 's/^/  embedded (SQLite + memory):  /'; \
	tail -n 1 var/test-postgres.log | sed 's/^/  postgres (PostgreSQL + Redis): /'; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED"; exit 1; fi; \
	echo "make test: both backends passed"

test-embedded: venv ## Run the suite on SQLite + in-process store only
	@mkdir -p var
	@echo "== embedded backend: SQLite + in-process store =="
	@IDP_TEST_BACKEND=embedded $(BIN)/python -m pytest -q -m "not postgres" \
		-p no:cacheprovider $(PYTEST_ARGS) 2>&1 | tee var/test-embedded.log

test-postgres: services venv ## Run the suite on PostgreSQL + Redis only
	@echo "== postgres backend: PostgreSQL + Redis =="
	@. $(SERVICES_ENV) && IDP_TEST_BACKEND=postgres $(BIN)/python -m pytest -q \
		-m "not backend_independent" -p no:cacheprovider $(PYTEST_ARGS) 2>&1 \
		| tee var/test-postgres.log

lint: venv ## Check the code with ruff
	$(BIN)/ruff check .

demo: venv ## Seed the demo citizen and start the platform with two demo department systems
	$(BIN)/idp demo

bench: services venv ## Benchmark the production server on PostgreSQL + Redis
	. $(SERVICES_ENV) && $(BIN)/python -m bench

# Not part of `make test`: loads 10 M entries (~3 GB, minutes). BENCH_ARGS='-n 1000000 --keep'
bench-directory: services venv ## Benchmark the national directory at 10 M entries (docs/federation-scale.md)
	. $(SERVICES_ENV) && $(BIN)/python -m bench.directory $(BENCH_ARGS)

clean: ## Stop the test services and remove .venv, var/ and caches
	-bash scripts/services.sh stop
	rm -rf $(VENV) var/services var/*.log var/*.sqlite3 .pytest_cache .ruff_cache \
		idp.egg-info build dist
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
