# The two commands: `make lab` (or headless `make demo`) and `make test`. Everything is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed

.PHONY: install lab labextension demo test lint browser bench clean frontend-deps

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned resolve pulls a CUDA build with several GB of packages.
	$(PIP) install -c constraints.txt torch==2.13.0
	$(PIP) install -c constraints.txt -e '.[torch,gpu,serve,rag,lab,dev]'
	touch $(STAMP)

install: $(STAMP)

# The JupyterLab extension: TypeScript in extensions/workbench-lab, built into src/workbench/labextension
# (committed, so a checkout or a wheel works without Node.js). With Node.js and npm here it is rebuilt
# from source against this JupyterLab's shared packages; without them the committed build is used.
LABEXT_SRC := extensions/workbench-lab
LABEXT_OUT := src/workbench/labextension
# `jupyter lab` below loads the extension from here (a link to the fresh build), ahead of the copy that
# `pip install` put under share/jupyter/labextensions.
LABEXT_DIR := $(VENV)/fmprofile-labextensions

$(LABEXT_SRC)/node_modules/.package-lock.json: $(LABEXT_SRC)/package.json
	cd $(LABEXT_SRC) && npm install --no-audit --no-fund
	touch $@

labextension: install
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) $(LABEXT_SRC)/node_modules/.package-lock.json && \
		cd $(LABEXT_SRC) && PATH="$(CURDIR)/$(BIN):$$PATH" npm run build && npm test; \
	else \
		echo "Node.js/npm not found: using the built extension in $(LABEXT_OUT)"; \
	fi
	test -f $(LABEXT_OUT)/package.json
	mkdir -p $(LABEXT_DIR) && ln -sfn $(CURDIR)/$(LABEXT_OUT) $(LABEXT_DIR)/fm-workbench-lab
	# An editable install skips pyproject's data-files: enable the server extension and list the lab
	# extension in this venv ourselves, so a plain `jupyter lab` or `jupyter notebook` from it loads both.
	mkdir -p $(VENV)/etc/jupyter/jupyter_server_config.d $(VENV)/share/jupyter/labextensions
	cp jupyter-config/jupyter_server_config.d/workbench.json $(VENV)/etc/jupyter/jupyter_server_config.d/
	ln -sfn $(CURDIR)/$(LABEXT_OUT) $(VENV)/share/jupyter/labextensions/fm-workbench-lab

lab: install labextension
	$(BIN)/jupyter lab --notebook-dir=notebooks --allow-root --LabApp.extra_labextensions_path=$(CURDIR)/$(LABEXT_DIR)

demo: install
	$(BIN)/python scripts/run_demos.py --out out

browser:
	scripts/install-browser.sh

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

# The lab extension's unit tests (Jest, run by tests/server_ext/test_frontend_unit.py) need its
# node_modules: installed here from the npm registry, once per package.json change (about 40 s).
frontend-deps:
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) $(LABEXT_SRC)/node_modules/.package-lock.json; \
	else \
		echo "Node.js/npm not found: the lab extension's unit tests are skipped"; \
	fi

test: install browser lint frontend-deps
	$(BIN)/python -m pytest -ra --durations=15

# The benchmark suite (README, Benchmarks): installs its peers, prints and writes the table, updates the README.
bench: install
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) out .fmprofile notebooks/.fmprofile
