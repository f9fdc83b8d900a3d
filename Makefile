# The two commands: `make demo` and `make test`. Everything else is here for them and for CI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo test lint format e2e messages bench clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

.env:
	cp .env.example .env

install: $(VENV)/.installed .env

# The sandbox is served by the app itself: SITE_URL must be where runserver listens.
demo: export SITE_URL = http://$(HOST):$(PORT)
# The web server and one background worker run together; Ctrl+C (or either one ending) stops both.
demo: SHELL := /bin/bash
demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT; \
	$(BIN)/python manage.py db_worker & \
	$(BIN)/python manage.py runserver $(HOST):$(PORT) & \
	wait -n

test: install lint
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

e2e: install
	E2E_REQUIRED=1 $(BIN)/pytest -m e2e

# Speed and memory figures: every bench/*.py script in turn, each printing its own figures
# (ratios within one run; the machines are shared and noisy, so never a timed unit test).
bench: install
	@set -e; for script in bench/*.py; do \
		[ -f "$$script" ] || { echo "no benchmark scripts in bench/"; exit 1; }; \
		echo "::: $$script"; $(BIN)/python "$$script"; \
	done

# README's screenshots from the demo (Debian's chromium; serves on port 8899 meanwhile).
screenshots: install
	$(BIN)/python demo/screenshots.py

messages: install
	$(BIN)/python manage.py makemessages -l cs --ignore=.venv --ignore=staticfiles --ignore=tests --no-obsolete
	$(BIN)/python manage.py compilemessages -l cs --ignore=.venv

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
