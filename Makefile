# `make demo` and `make test` work on a fresh machine: each sets everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHROMIUM ?= /usr/bin/chromium
export GEOWIDGET_CHROMIUM := $(CHROMIUM)

.PHONY: setup demo test test-py test-js lint bench docs gpu-check clean

setup: $(VENV)/.installed geowidget/static/widgets.js geowidget/static/widgets.css $(CHROMIUM)

# torch and torchvision are pinned: those two releases import together and install from local disk.
# They are the `torch` extra (the engine); `dev` includes it, so this installs everything.
$(VENV)/.installed: pyproject.toml geowidget/static/widgets.js
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.14.1" "torchvision==0.29.1" -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

geowidget/static/widgets.js: node_modules/.installed $(shell find js/src -type f 2>/dev/null) esbuild.config.mjs
	npm run build

# built with widgets.js (one esbuild run writes both)
geowidget/static/widgets.css: geowidget/static/widgets.js
	test -f $@ || npm run build

$(CHROMIUM):
	command -v apt-get >/dev/null || { echo "Chromium missing at $(CHROMIUM) and no apt-get: install Chromium and set CHROMIUM=" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# ruff and the TypeScript type check; `make test` runs them before the tests, so CI lints
lint: setup
	$(VENV)/bin/ruff check geowidget tests benchmarks
	npm run typecheck

test-py: setup
	$(VENV)/bin/pytest

test-js: setup
	npm test

# lint first (outside pytest), then the JS and Python suites
test: lint
	npm test
	$(VENV)/bin/pytest

# builds the demo study once (cached under $$GEOWIDGET_CACHE or ~/.cache/geowidget), then starts
# JupyterLab on notebooks/quickstart.ipynb on 127.0.0.1 (no browser) and prints the URL
demo: setup
	$(VENV)/bin/geowidget demo --notebooks notebooks

# the documentation site, into site/ (offline; the gallery reads the cached demo study, built
# on first use); view it with `python -m http.server -d site`
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: setup
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

# the CUDA tests and the GPU benchmarks in one table, within 8 minutes; without a CUDA device
# it skips them, says so, and passes
gpu-check: setup
	$(PY) benchmarks/gpu_check.py

clean:
	rm -rf $(VENV) node_modules geowidget/static/*.js .pytest_cache site
