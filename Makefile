# The two commands: `make run` and `make test`. Everything installs into .venv/ from poetry.lock.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Poetry (with the export plugin) lives in its own venv so it never mixes with the app's deps.
TOOLS := .venv-tools
STAMP := $(VENV)/.installed

.PHONY: install run test lint format typecheck check bench doctor token openapi clean

install: $(STAMP)

$(STAMP): pyproject.toml poetry.lock
	@echo "==> installing into $(VENV) from poetry.lock"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(TOOLS)/bin/poetry || ($(PYTHON) -m venv $(TOOLS) && \
		$(TOOLS)/bin/pip install -q --disable-pip-version-check poetry poetry-plugin-export)
	@$(TOOLS)/bin/poetry export --with dev,bench --format requirements.txt --output $(VENV)/requirements.txt
	@$(BIN)/pip install -q --disable-pip-version-check -r $(VENV)/requirements.txt
	@$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

run: install
	$(BIN)/loopin serve

# The whole suite twice: on a database prepared the way Supabase prepares a project, and on a
# plain Postgres (migration 0001's compatibility slice). What passes on one only is a bug.
test: install
	LOOPIN_TEST_DB_SHAPE=supabase $(BIN)/pytest $(ARGS)
	LOOPIN_TEST_DB_SHAPE=plain $(BIN)/pytest $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

doctor: install
	$(BIN)/loopin doctor

token: install
	@$(BIN)/loopin token --email demo@loopin.test

# Options: make bench ARGS="--scales S --duration 10" (see bench/README.md).
bench: install
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python -m bench.run $(ARGS)

openapi: install
	$(BIN)/python -m app.core.openapi > openapi.json

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .pytest_cache .ruff_cache
