# The front door: `make demo` and `make test` bootstrap .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ikr-installed
# CI=true runs everything not marked slow; `make test-all` runs the slow tests too. On every
# core (pytest-xdist), whole files per worker so that a module's fixtures are built once.
PYTEST_ARGS ?= -m "not slow" -n auto --dist loadfile

.PHONY: demo test test-all quick lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[cpu,test,lint,da,qat]"
	$(VENV)/bin/ikr-hls prebuild --quiet
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest

# the pure-Python loop: no C++ build, no RTL tool, no fresh interpreter, no slow test, on every
# core (pytest-xdist; whole files per worker, so a module's fixtures are built once)
quick: $(STAMP)
	$(PY) -m pytest -m "not cpp and not tools and not process and not slow" -n auto --dist loadfile

# ruff (style, imports, bugbear, pyupgrade) on all the Python code, mypy on the package; both
# configured in pyproject.toml
lint: $(STAMP)
	$(PY) -m ruff check ikr_hls tests bench examples
	$(PY) -m mypy

clean:
	rm -rf build dist *.egg-info demo_prj demo_prj_fixed
