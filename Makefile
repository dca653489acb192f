# The two commands of the README: `make demo` and `make test`. Everything else here is what they need.
# Set-up is idempotent: a second run finds the virtualenv, the Neo4j jars and Chromium in place.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kgrec-$(shell cat pyproject.toml constraints.txt | md5sum | cut -c1-12)
# An extra package index for torch, e.g. https://download.pytorch.org/whl/cpu for the CPU-only build; empty:
# PyPI only, whose Linux torch is the CUDA build.
TORCH_INDEX ?=

.PHONY: setup system-packages demo test lint bench clean

setup: $(STAMP)
	@$(VENV)/bin/kgrec setup

# Debian packages the tests use: headless Chromium and its driver render the HTML report in the browser test,
# promtool (package prometheus) checks deploy/alerts.yml. Installed once: as root directly, through sudo where
# it asks no password, otherwise the exact command is printed.
APT_PACKAGES := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver prometheus
system-packages:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v promtool >/dev/null; then exit 0; \
	elif [ "$$(id -u)" = 0 ]; then sh -c '$(APT_PACKAGES)' >/dev/null; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo sh -c '$(APT_PACKAGES)' >/dev/null; \
	else echo "make test needs Chromium, its driver and promtool; as root, run: $(APT_PACKAGES)" >&2; \
		exit 1; fi

# constraints.txt pins every package to the versions the tests last passed with (regenerate it with
# `.venv/bin/pip freeze --exclude-editable > constraints.txt` after a deliberate upgrade).
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -e '.[dev,text]'
	rm -f $(VENV)/.kgrec-* && touch $@

demo: setup
	$(VENV)/bin/kgrec demo

test: setup system-packages lint
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

bench: setup
	$(PY) bench/load.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
