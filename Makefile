# Two entry points, each working on a fresh machine with Python, pip and make:
#   make demo  - set up .venv, train on the bundled data, evaluate, simulate the board
#   make test  - set up .venv and run the tests
# Both install the exact versions in requirements.lock (with hashes), then this project
# without its dependencies. pyproject.toml keeps ranges for people who use the package as
# a library; `make lock` re-resolves them into requirements.lock (see README, "Dependencies").
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# the resolver used by `make lock` (PyPI package uv), pinned so a refresh is repeatable
UV_VERSION := 0.13.9

.PHONY: demo test venv lock clean

$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m host_tools.demo

test: $(STAMP)
	$(VENV)/bin/pytest

# Refresh the lock from pyproject.toml: every Python from 3.10 on, every platform (markers
# pick the right pins), hashes of every file. Versions already in the lock are kept unless
# pyproject.toml excludes them; `make lock LOCK_ARGS=--upgrade` moves everything to the newest
# (`LOCK_ARGS="--upgrade-package numpy"` one package). Then `make clean test`; commit both files.
LOCK_ARGS ?=
lock:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.10 \
	    --generate-hashes --custom-compile-command "make lock" --quiet $(LOCK_ARGS) -o $(LOCK)

clean:
	rm -rf $(VENV) out reports
