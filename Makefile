# The two commands: `make run` and `make test`. Everything installs into .venv/ from poetry.lock.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Poetry (with the export plugin) lives in its own venv so it never mixes with the app's deps.
TOOLS := .venv-tools
STAMP := $(VENV)/.installed

.PHONY: install run test lint format typecheck check bench doctor token openapi client client-live fuzz-deep clean

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

# The Schemathesis run of `make test` (tests/test_fuzz.py) with more examples per operation,
# negative data and every check on; a CI step of its own, after `make test`.
FUZZ_EXAMPLES ?= 100
fuzz-deep: install
	LOOPIN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/test_fuzz.py -q -p no:randomly

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

# The document, and the error-code table of its guide (docs/API.md), from the code.
openapi: install
	$(BIN)/python -m app.api.openapi_export > openapi.json
	$(BIN)/python -m app.api.api_guide

# The mobile team's view of openapi.json (clients/typescript/, Node 18+ and npm): the
# document linted, TypeScript types generated from it, and an example client of the app's
# flows compiled under `tsc --strict`. `make client-live` also runs that client against a
# live `loopin serve` of its own (free ports, a throw-away data folder).
CLIENT := clients/typescript
CLIENT_STAMP := $(CLIENT)/node_modules/.installed

$(CLIENT_STAMP): $(CLIENT)/package.json $(CLIENT)/package-lock.json
	@command -v npm >/dev/null || { echo "make client needs node and npm (apt-get install nodejs npm)"; exit 1; }
	cd $(CLIENT) && npm ci --no-audit --no-fund
	@touch $(CLIENT_STAMP)

client: $(CLIENT_STAMP)
	@echo "==> redocly lint (recommended rules; a warning fails too)"
	@cd $(CLIENT) && out=$$(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		npx --no-install redocly lint --config redocly.yaml ../../openapi.json --format=summary 2>&1); \
		status=$$?; echo "$$out"; [ $$status = 0 ] && ! echo "$$out" | grep -q '^warning'
	cd $(CLIENT) && npx --no-install openapi-typescript ../../openapi.json --output src/schema.d.ts
	cd $(CLIENT) && npx --no-install tsc -p tsconfig.json
	@# The flows are typed by the document alone: no any, unknown or cast in the example.
	@! grep -nE '\b(any|unknown)\b|\bas [A-Za-z{[]' $(CLIENT)/src/*.ts --exclude=schema.d.ts \
		| grep -vE '^[^:]+:[0-9]+:\s*(\*|//|/\*)' || { echo "casts or any/unknown above"; exit 1; }

client-live: install client
	$(BIN)/python $(CLIENT)/run_live.py

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .pytest_cache .ruff_cache $(CLIENT)/node_modules $(CLIENT)/dist
