# Two entry points, each self-contained on a machine with only Python 3.11:
#   make run   - create .venv, install diversa, run every reproduction in quick mode into report/
#   make test  - create .venv, install diversa with its test extra, run the test suite
# make bench runs the speed comparisons against the anchor libraries.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-all bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch is pinned to 2.13.0 in pyproject.toml (a CPU build); pip resolves it first.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[reproduce]'
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-ray: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[test,ray]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/diversa reproduce --quick --out report --overwrite

# pytest-xdist spreads the suite over the cores (one process each; tests keep torch on one thread).
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n auto --dist worksteal

# The slow tests include report.html in headless Chromium and reproductions on Ray.
test-all: $(VENV)/.installed-ray chromium
	$(BIN)/python -m pytest -n auto --dist worksteal -m ""

# Chromium and its driver from the system packages, installed only where they are missing.
chromium:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq chromium chromium-driver; fi

bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) report .pytest_cache
