# Two commands on a fresh machine with Python 3.11+, git and make: `make run`, `make test`.
# Everything else (uv, the virtualenv, an embedded PostgreSQL) is installed on first use.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test lint format check clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed  ## create .venv from uv.lock

run: install  ## serve on 127.0.0.1:8000 with a demo tenant (embedded PostgreSQL unless TENANTRY_DATABASE_URL is set)
	$(BIN)/tenantry dev

test: install  ## the whole suite, on a fresh database
	$(BIN)/pytest

lint: install  ## ruff, formatting, mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy tenantry

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: lint test

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
