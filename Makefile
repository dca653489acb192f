# The two commands of the README: `make demo` and `make test`. Everything else here is what they need.
# Set-up is idempotent: a second run finds the virtualenv, the Neo4j jars and Chromium in place.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kgrec-$(shell cat pyproject.toml constraints.txt | md5sum | cut -c1-12)
# Where torch comes from. PyPI's Linux torch is the CUDA build (several GB of NVIDIA libraries). Without
# nvidia-smi, the set-up adds PyTorch's CPU index when it answers within 5 s, so pip takes the CPU-only build
# (2.15.0+cpu: constraints.txt's torch==2.15.0 has no local label, and PEP 440 then ignores the candidate's,
# so the pin accepts it); when it does not answer, PyPI's CUDA build, with one line saying so.
# `make setup TORCH=cuda` asks for the CUDA build on any machine; TORCH_INDEX=URL names the extra index and
# wins over both. A venv already set up keeps its build: `make clean setup TORCH=...` to switch.
TORCH ?= auto
TORCH_INDEX ?=
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
# Recursive, so the probe runs only when the set-up's recipe is expanded (never for `make lint` on a fresh
# stamp), and once: the first expansion stores its answer.
TORCH_FROM = $(eval TORCH_FROM := $(call torch_from))$(TORCH_FROM)
torch_from = $(strip $(if $(TORCH_INDEX),$(TORCH_INDEX),$(if $(filter cuda,$(TORCH)),pypi,\
	$(if $(shell command -v nvidia-smi),pypi,$(if $(shell curl -fsS -o /dev/null --max-time 5 \
	$(TORCH_CPU_INDEX)/ 2>/dev/null && echo up),$(TORCH_CPU_INDEX),unreachable)))))
TORCH_UNREACHABLE := no GPU here, but $(TORCH_CPU_INDEX) did not answer within 5 s: installing torch from PyPI, the CUDA build

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
	$(if $(filter unreachable,$(TORCH_FROM)),@echo "$(TORCH_UNREACHABLE)")
	$(PY) -m pip install -q -c constraints.txt $(if $(filter-out pypi unreachable,$(TORCH_FROM)),--extra-index-url $(TORCH_FROM)) -e '.[dev,text]'
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
