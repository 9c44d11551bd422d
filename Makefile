# The two commands: `make lab` (or headless `make demo`) and `make test`. Everything is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed

.PHONY: install lab demo test lint browser bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned resolve pulls a CUDA build with several GB of packages.
	$(PIP) install -c constraints.txt torch==2.13.0
	$(PIP) install -c constraints.txt -e '.[torch,gpu,serve,rag,lab,dev]'
	touch $(STAMP)

install: $(STAMP)

lab: install
	$(BIN)/jupyter lab --notebook-dir=notebooks

demo: install
	$(BIN)/python scripts/run_demos.py --out out

browser:
	scripts/install-browser.sh

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

test: install browser lint
	$(BIN)/python -m pytest -ra

bench: install
	$(BIN)/python benchmarks/bench_overhead.py
	$(BIN)/python benchmarks/bench_kineto.py

clean:
	rm -rf $(VENV) out .fmprofile notebooks/.fmprofile
