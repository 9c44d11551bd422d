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
	# The committed build of the lab extension is used; `make labextension` rebuilds it from source.
	HATCH_JUPYTER_BUILDER_SKIP_NPM=1 $(PIP) install -c constraints.txt -e '.[torch,gpu,serve,rag,otel,otel-test,distributed,lab,dev]'
	rm -f workbench/labextension/install.json  # see `labextension`
	# A development install the extension template's way: the lab extension linked to the package's build
	# (a rebuild shows on reload) and the server extension enabled, in this venv.
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter labextension develop --overwrite .
	$(BIN)/jupyter server extension enable --sys-prefix workbench.server_ext
	# The venv's kernel gets the venv's bin on PATH, so `!workbench runs` works in a notebook of a JupyterLab
	# started as .venv/bin/jupyter without activating the venv.
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" \
		--env PATH '$(abspath $(BIN)):$${PATH}'
	touch $(STAMP)

install: $(STAMP)

# The JupyterLab extension: TypeScript in extensions/workbench-lab, built into workbench/labextension
# (committed, so a checkout or a wheel works without Node.js). With Node.js and npm here it is rebuilt
# from source against this JupyterLab's shared packages; without them the committed build is used.
LABEXT_SRC := extensions/workbench-lab
LABEXT_OUT := workbench/labextension

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
	# The build copies install.json into its output; the wheel takes it from the source folder (pyproject's
	# shared-data), and two copies fail the wheel build.
	rm -f $(LABEXT_OUT)/install.json

lab: install labextension
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --notebook-dir=notebooks --allow-root

demo: install
	$(BIN)/python scripts/run_demos.py --out out

browser:
	scripts/install-browser.sh

lint: install
	$(BIN)/ruff check workbench tests benchmarks scripts
	$(BIN)/ruff format --check workbench tests benchmarks scripts
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
