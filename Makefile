# make run   set up .venv from requirements.lock, then `chainwatch serve` (embedded SQLite)
# make test  set up .venv from requirements-dev.lock and Chromium (apt-get, for the browser tests);
#            ruff check + format --check, mypy, lint-imports, pytest
# make lock  recompile the hashed locks from pyproject.toml (UPGRADE=1 to take newer releases)
# make audit pip-audit every lock, strictly (fails if a package cannot be audited; SERVICE=osv)
#
# Set-up is skipped when nothing changed: a stamp in .venv is named after a digest of the
# lock and pyproject.toml, so editing either (or switching locks) re-syncs, and nothing else.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.9
ARGS ?=

digest = $(firstword $(shell cat $(1) pyproject.toml | sha256sum))
RUN_STAMP := $(VENV)/.synced-run-$(call digest,requirements.lock)
DEV_STAMP := $(VENV)/.synced-dev-$(call digest,requirements-dev.lock)

# Installs everything from a lock (hashes checked), then the project itself as editable.
define sync
	rm -f $(VENV)/.synced-*
	$(UV) pip sync --python $(BIN)/python --require-hashes $(1)
	$(UV) pip install --python $(BIN)/python --no-deps --quiet -e .
	touch $@
endef

.PHONY: help run test lint typecheck imports pytest lock audit clean chromium

help:
	@sed -n 's/^# \(make .*\)/\1/p' Makefile

# The dev lock pins the runtime lock's packages too, so a current dev set-up also runs.
run: $(if $(wildcard $(DEV_STAMP)),$(DEV_STAMP),$(RUN_STAMP))
	$(BIN)/chainwatch serve $(ARGS)

test: $(DEV_STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/pytest $(ARGS)

# The browser tests (tests/browser) drive Debian's chromium package through Playwright
# (`playwright install` downloads from the internet; the system package is what CI uses).
# Installed when missing and apt-get can; otherwise those tests skip - or fail under CI=true.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
		|| echo "make: $(CHROMIUM) is missing and cannot be installed here (apt-get install -y chromium)"; }

$(RUN_STAMP): | $(UV)
	$(call sync,requirements.lock)

$(DEV_STAMP): | $(UV)
	$(call sync,requirements-dev.lock)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv itself comes from a hashed lock too; `uv pip sync` keeps uv installed.
$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements-uv.lock

lock: | $(UV)
	$(UV) pip compile pyproject.toml $(if $(UPGRADE),--upgrade) --generate-hashes \
		--python-version 3.11 -o requirements.lock
	$(UV) pip compile pyproject.toml --extra dev $(if $(UPGRADE),--upgrade) --generate-hashes \
		--python-version 3.11 -o requirements-dev.lock
	echo "uv==$(UV_VERSION)" | $(UV) pip compile - --generate-hashes --python-version 3.11 \
		-o requirements-uv.lock

# Needs a vulnerability service (PyPI's per-release JSON, or OSV with SERVICE=osv); where
# none answers, --strict makes this fail instead of reporting "no known vulnerabilities".
SERVICE ?= pypi
audit: $(DEV_STAMP)
	$(BIN)/pip-audit --strict --require-hashes --disable-pip --progress-spinner off \
		--vulnerability-service $(SERVICE) \
		-r requirements.lock -r requirements-dev.lock -r requirements-uv.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache
