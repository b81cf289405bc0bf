# `make preview` and `make test` create ./venv from the pinned requirements when it is
# missing or older than them, then run. Pulumi's own CLI uses the same venv (Pulumi.yaml).
# `make` alone prints the targets: each documents itself with a `## ` comment on its line.
PYTHON ?= python3
STACK ?= dev
VENV := venv
STACKS := $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml))
PY := $(VENV)/bin/python

.DEFAULT_GOAL := help
.PHONY: help preview lint test docs bench bench-judge clean kind-up kind-down

help: ## list the targets and the variables they read
	@echo "usage: make [TARGET] [STACK=<stack>]"
	@echo
	@echo "targets:"
	@awk -F ':.*## ' '/^[a-z][a-z-]*:.*## / { printf "  %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo
	@echo "variables:"
	@echo "  STACK      the stack file Pulumi.<STACK>.yaml that preview and bench read (default dev, now $(STACK))"
	@echo "  PYTHON     the interpreter that creates ./venv (default python3, now $(PYTHON))"

# The install also builds venv/bin/istio-canary (an editable install: it runs this checkout's code).
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@echo "… install: $(VENV) from requirements-dev.txt, then the istio-canary command (a minute on a fresh machine)"
	@start=$$(date +%s); \
	  { test -x $(PY) || $(PYTHON) -m venv $(VENV); } && \
	  $(PY) -m pip install --quiet --upgrade pip && \
	  $(PY) -m pip install --quiet -r requirements-dev.txt && \
	  PYTHONWARNINGS=ignore $(PY) -m pip install --quiet --no-deps --no-build-isolation -e . && \
	  echo "✓ install: done ($$(( $$(date +%s) - start )) s): $(VENV)/bin/istio-canary" || \
	  { echo "✗ install: failed after $$(( $$(date +%s) - start )) s" >&2; exit 1; }
	@touch $@

preview: $(VENV)/.installed ## offline preview of STACK: resource tree, policies, build/preview/STACK/
	$(PY) -m delivery preview --stack $(STACK)

# ruff (lint and format) and mypy over the code; `make test` runs it first, so CI does too.
lint: $(VENV)/.installed ## ruff check, ruff format --check and mypy over the code
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint ## lint, then run the test suite, the strict docs build and verify
	$(PY) -m pytest -q
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	for stack in $(STACKS); do $(PY) -m delivery verify --stack $$stack || exit 1; done

# The configuration reference is generated from the settings model; the site goes to build/site.
docs: $(VENV)/.installed ## regenerate docs/reference/configuration.md, then build the site into build/site
	$(PY) scripts/config_reference.py
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: $(VENV)/.installed ## preview vs import floor (interleaved: spread, ratio), verify and diff time, blast radius for STACK
	$(PY) bench/bench.py --stack $(STACK)

bench-judge: $(VENV)/.installed ## the canary judge vs point-estimate, Flagger-style and Mann-Whitney judges (simulated)
	$(PY) bench/judge.py

kind-up: ## create (or reuse) the kind cluster of the local stack, gateway on 127.0.0.1:8080
	scripts/kind-up.sh

kind-down: ## delete the local stack's kind cluster
	scripts/kind-down.sh

clean: ## remove build/ and pytest caches
	rm -rf build .pytest_cache
