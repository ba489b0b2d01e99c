# Two commands set everything up: `make train` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Extra pip arguments, e.g. PIP_EXTRA="torch==2.14.1 torchvision==0.29.1" to pin a matching pair.
PIP_EXTRA ?=

.PHONY: install train test test-fast lint bench publish reports answer clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PIP_EXTRA) -e ".[dev]"
	touch $@

install: $(VENV)/.installed

train: install
	$(PY) train.py $(ARGS)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(PY) -m biaslab.bench $(ARGS)

# Keep a finished sweep's evidence in the repository: its results.json files and
# multirun.yaml under results/$(EXP)/runs, and the report built from those copies, e.g.
#   make publish EXP=first_layer SWEEP=multirun/first_layer/2026-11-28_17-39-27-123456 \
#        ARGS="--compare model.first_bias"
# SWEEP may name several sweep folders: each is kept in runs/<its folder name>.
publish: install
	test -n "$(EXP)" -a -n "$(SWEEP)" || { echo "usage: make publish EXP=name SWEEP='dir [dir…]' [ARGS=...]"; exit 2; }
	for d in $(SWEEP); do test -f $$d/multirun.yaml || { echo "$$d: no multirun.yaml"; exit 2; }; done
	rm -rf results/$(EXP)/runs && mkdir -p results/$(EXP)/runs
	set -e; for d in $(SWEEP); do \
	  dest=results/$(EXP)/runs; [ $(words $(SWEEP)) -eq 1 ] || dest=$$dest/$$(basename $$d); \
	  mkdir -p $$dest && cp $$d/multirun.yaml $$dest/; \
	  (cd $$d && find . -name results.json -exec cp --parents {} $(CURDIR)/$$dest/ \;); \
	done
	$(PY) -m biaslab.report results/$(EXP)/runs --out results/$(EXP) $(ARGS)
	@echo "a new report: add it to src/biaslab/report/claims.py, then make answer"

# Rebuild every published report from the committed runs, each with the command its header
# records (after a change to the report code, so that every report reads alike); a study's
# (a folder with a plan.yaml) from its plan, choice and runs.
reports: install
	set -e; for f in $$(find results -name report.md | sort); do \
	  if test -f $$(dirname $$f)/plan.yaml; then \
	    $(PY) -m biaslab.study report $$(dirname $$f) > /dev/null; echo "rebuilt $$f"; continue; \
	  fi; \
	  cmd=$$(sed -n 's/^Command: `python \(-m biaslab\.report .*\)`$$/\1/p' $$f); \
	  test -n "$$cmd" || { echo "$$f: no 'Command: \`python -m biaslab.report …\`' line"; exit 2; }; \
	  eval "$(PY) $$cmd" > /dev/null; echo "rebuilt $$f"; \
	done
	$(MAKE) answer

# The answer page from every report's verdicts.json: results/README.md, results/answer.png and
# README.md's answer table (python -m biaslab.report.answer --help).
answer: install
	$(PY) -m biaslab.report.answer

clean:
	rm -rf outputs multirun wandb .pytest_cache
