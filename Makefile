# studylib: the two commands of the README, and what they need.
#
#   make study   set up, run every experiment notebook at the quick profile, build the book
#   make test    set up, unit tests, every notebook at the smoke profile (nbval), strict book build
#   make study-real STUDYLIB_DATA=/path/to/data
#                the three ablations on LSP/LSPET and 300-W, and the MPII evaluation check
#
# Both create their own virtual environment (.venv) on first use.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
# torch is installed first, on its own, so that a CPU-only machine gets the CPU build (no CUDA
# packages): "+cpu" comes from a local wheel where one exists, else from PyTorch's CPU index.
# On a CUDA machine: make study TORCH_SPEC=torch==2.13.0 (PyPI's Linux build includes CUDA).
# macOS: PyPI's wheels are CPU (and MPS) builds with no "+cpu" label, so plain torch==2.13.0.
UNAME ?= $(shell uname -s)
TORCH_SPEC ?= $(if $(filter Darwin,$(UNAME)),torch==2.13.0,$(if $(shell command -v nvidia-smi 2>/dev/null),torch==2.13.0,torch==2.13.0+cpu))
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
RESUME ?=
# EXTRAS=1: also the experiments beyond the papers' claims (the heatmap-sigma ablation).
EXTRAS ?=

.PHONY: study study-real test unit notebooks refresh-notebooks book clean-build lint gpu-check
.DEFAULT_GOAL := test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH_SPEC)" || \
	  $(PY) -m pip install --quiet "$(TORCH_SPEC)" --index-url $(TORCH_CPU_INDEX)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

study: $(VENV)/.installed
	$(PY) -m studylib.study --profile $(PROFILE) $(if $(RESUME),--resume) $(if $(EXTRAS),--extras)
	$(MAKE) --no-print-directory book
	@echo "The book is at $(CURDIR)/_build/html/index.html"

study-real: $(VENV)/.installed
	@test -n "$(STUDYLIB_DATA)" || { echo "set STUDYLIB_DATA to the real-data folder"; exit 2; }
	STUDYLIB_DATA="$(STUDYLIB_DATA)" $(PY) -m studylib.study --profile $(PROFILE) --real \
	  $(if $(RESUME),--resume)
	$(MAKE) --no-print-directory book
	@echo "The book is at $(CURDIR)/_build/html/index.html"

# Re-run a stratified sample of the committed records (one per ablation and dataset) from their
# own configs into a temporary folder, never results/, and judge each re-run as a new draw: inside
# its setting's 95% prediction interval from the committed seeds, and no ledger verdict changed
# with it in place of its record (the exit status says whether both held). The check goes to
# results/reproduce/last_check.json, which the book shows.
# REPRODUCE_ARGS: e.g. "--per-ablation 2", "--records results/...", "--dry-run".
.PHONY: reproduce
reproduce: $(VENV)/.installed
	$(PY) -m studylib.reproduce $(REPRODUCE_ARGS)

test: $(VENV)/.installed
	$(MAKE) --no-print-directory unit notebooks book BOOK_FLAGS="-W -n --keep-going"
	$(PY) -m pytest -q tests/book_checks.py

unit: $(VENV)/.installed
	$(PY) -m pytest

notebooks: $(VENV)/.installed
	rm -rf _build/smoke-results
	$(PY) -m pytest --nbval-lax --nbval-cell-timeout=900 notebooks/

# Store fresh smoke-profile outputs in notebooks/ (nbval compares the cells marked
# NBVAL_CHECK_OUTPUT against them); run after changing a notebook or what it prints.
refresh-notebooks: $(VENV)/.installed
	rm -rf _build/smoke-results
	for nb in notebooks/*.ipynb; do \
	  $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace "$$nb" || exit 1; \
	done

book: $(VENV)/.installed
	$(VENV)/bin/jupyter-book build . $(BOOK_FLAGS)

# The CUDA path in one call of at most 9 minutes (scripts/gpu_check.sh): the tests that touch
# CUDA, the benchmark and the gpu-profile study, records and logs under $(OUT) (a temporary
# folder when unset). GPU_CHECK_DRY=1 runs the same stages on the CPU at tiny sizes.
gpu-check: $(VENV)/.installed
	PY=$(PY) OUT="$(OUT)" scripts/gpu_check.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests

clean-build:
	rm -rf _build
