# Two commands set everything up on a fresh machine with Python 3.11+:
#   make run    - create .venv, install, migrate, start the ASGI dev server on :8000
#   make test   - create .venv, install runtime + dev requirements, run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test bench coverage migrate clean help

help:
	@echo "make run | test | bench | coverage | clean"

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PIP) install -q -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements-dev.txt requirements.txt | $(PY)
	$(PIP) install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

migrate: $(VENV)/.runtime-installed
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py runserver $(HOST):$(PORT)

test: $(VENV)/.dev-installed
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev-installed
	$(PY) -m bench

coverage: $(VENV)/.dev-installed
	$(PY) -m pytest --cov --cov-report=term --cov-report=html $(PYTEST_ARGS)
	@echo "HTML report: htmlcov/index.html"

clean:
	rm -rf $(VENV) htmlcov .coverage .pytest_cache .test-dbs
