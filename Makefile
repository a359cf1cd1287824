# Two entry points, each working on a fresh machine with Python, pip and make:
#   make demo  - set up .venv, train on the bundled data, evaluate, simulate the board
#   make test  - set up .venv and run the tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m host_tools.demo

test: $(STAMP)
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) out reports
