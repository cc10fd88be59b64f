# The two commands a newcomer needs are `make run` and `make test` (see README.md).
# Both create .venv with the Python found here when it is missing, and reinstall the
# requirements only when a requirements file changed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3 || command -v python)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
ADDR ?= 127.0.0.1:8000
# Extra pytest arguments: make test PYTEST_ARGS="-k admin -x" (or "-n 2": pytest-xdist
# is installed, but the suite runs in one process until it passes that way too).
PYTEST_ARGS ?=

.PHONY: help run test admin-password messages format venv

help:
	@echo "make run             run the CRM on http://$(ADDR)/admin/ (web + Celery worker with beat)"
	@echo "make test            lint, format check and the whole test suite"
	@echo "make admin-password  give the admin user a new password and print it"
	@echo "make messages        update and compile the Spanish translations"
	@echo "make format          format the code with ruff"

$(PY):
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 not found)." >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11+ is needed; $(PYTHON) is older. Try: make PYTHON=python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "Could not create $(VENV). On Debian/Ubuntu: apt-get install python3.11-venv" >&2; exit 1; }

# Stamp files inside .venv: deleting .venv starts over cleanly.
$(VENV)/.installed-runtime: requirements.txt | $(PY)
	$(PIP) install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.installed-runtime

venv: $(VENV)/.installed-dev

# DEBUG is on for this target only: settings.py defaults to production behaviour.
run: export DEBUG := true
run: $(VENV)/.installed-runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_initial_data
	$(PY) manage.py seed_demo --clients 200 --if-empty
	@login="$$($(PY) manage.py ensure_admin --no-color)"; \
		echo "$$login"; \
		RUN_DEV_BANNER="$$login" exec $(PY) scripts/run_dev.py --addr $(ADDR)

admin-password: export DEBUG := true
admin-password: $(VENV)/.installed-runtime
	$(PY) manage.py ensure_admin --reset-password

test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest $(PYTEST_ARGS)

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# makemessages keeps the translations already in the .po file and adds new strings
# (marked fuzzy when guessed); translate those, then run this again to compile.
messages: export DEBUG := true
messages: $(VENV)/.installed-runtime
	$(PY) manage.py makemessages -l es --no-obsolete \
		--ignore=.venv --ignore=staticfiles --ignore=var --ignore=media
	$(PY) manage.py compilemessages -l es --ignore=.venv
