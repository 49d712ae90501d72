# The only commands a newcomer needs. `make run` starts the whole system with demo data;
# `make test` runs the whole test suite against real PostgreSQL and the real broker.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# npm ci writes node_modules/.package-lock.json: GOV.UK Frontend's assets for the web pages.
NODE_STAMP := node_modules/.package-lock.json
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test setup lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP)

# The browser tests drive Debian's chromium (never `playwright install`).
$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y --no-install-recommends chromium

setup: $(STAMP) $(NODE_STAMP)

run: setup
	$(BIN)/singlepot up

test: setup $(CHROMIUM)
	$(BIN)/python -m pytest

# Linters CI runs too: style (ruff), formatting, types (mypy) and layering (import-linter).
lint: $(STAMP)
	$(BIN)/ruff check contracts services singlepot tests bench
	$(BIN)/ruff format --check contracts services singlepot tests bench
	$(BIN)/mypy contracts services singlepot
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .data .pytest_cache node_modules
