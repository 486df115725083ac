# vae-book: `make book` builds the HTML book, `make test` runs the whole suite.
# Both set everything up on a fresh machine (Python venv, npm packages, Chromium for the tests).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP  := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
HTML      := _build/html
TEST_OUT  := _build/test
ALONE     := _build/standalone
export VAE_CACHE_DIR ?= $(CURDIR)/.cache/models
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# The test steps run one torch thread per process: steadier timings on small shared machines.
QUICK := VAE_QUICK=1 OMP_NUM_THREADS=1

.PHONY: book test lab setup chromium unit widgets7 notebooks test-book browser lint benchmark pin \
        clean

## book: build the HTML book with every notebook executed at full setting
# --all: every chapter executes again, so a chapter that failed last time is not kept as it was;
# a chapter that fails to execute fails the command, with its name and first error line.
book: setup
	rm -rf $(HTML)/reports
	VAE_PROGRESS=0 $(BIN)/jupyter-book build . --all -n --keep-going
	$(BIN)/python scripts/book_failures.py $(HTML)
	$(BIN)/python scripts/check_upload.py $(HTML)
	@echo "The book is at $(CURDIR)/$(HTML)/index.html"

## test: lint, unit tests, every notebook under nbval, the strict book build, browser tests
test: setup lint unit widgets7 notebooks test-book browser

## lab: JupyterLab in the project's environment, on the book's folder (data from VAE_DATA_DIR)
lab: setup
	$(BIN)/python -m ipykernel install --sys-prefix --name vae-book --display-name "vae-book"
	$(BIN)/jupyter lab --notebook-dir=book

setup: $(PY_STAMP) $(NPM_STAMP) chromium

$(PY_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The browser tests drive Debian's Chromium; install it where it is missing and we can.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	  else echo "chromium is missing: install it (apt-get install chromium) for the browser tests"; fi; }

# actionlint (the workflow that publishes the book) works offline; it runs shellcheck on the
# `run:` steps where shellcheck is installed.
lint:
	$(BIN)/ruff check .
	$(BIN)/actionlint .github/workflows/*.yml

unit:
	$(QUICK) $(BIN)/pytest -q tests --ignore=tests/browser

# Colab's ipywidgets (7.7.1) in a small venv layered on .venv: the widget tests must pass there too.
widgets7:
	$(BIN)/python scripts/layered_venv.py _build/ipywidgets7 ipywidgets==7.7.1 \
	  "widgetsnbextension~=3.6.0" ipython_genutils
	PYTHONPATH=$(CURDIR) _build/ipywidgets7/bin/python -m pytest -q -p no:cacheprovider \
	  tests/test_widgets.py

# Every chapter under nbval the way Colab runs it: vae_lib from a wheel, in an empty folder.
notebooks:
	rm -rf $(ALONE) && mkdir -p $(ALONE)/run
	$(BIN)/python -m pip wheel -q --no-deps --no-build-isolation -w $(ALONE)/wheel .
	$(BIN)/python scripts/layered_venv.py $(ALONE)/venv $(ALONE)/wheel/*.whl
	cp book/*.ipynb $(ALONE)/run/
	cd $(ALONE)/run && $(QUICK) \
	  ../venv/bin/python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
	  --junitxml=../nbval.xml *.ipynb

test-book:
	rm -rf $(TEST_OUT)/_build/html/reports
	$(QUICK) $(BIN)/jupyter-book build . --path-output $(TEST_OUT) -n -W --keep-going
	$(BIN)/python scripts/check_upload.py $(TEST_OUT)/_build/html

browser:
	BOOK_HTML=$(TEST_OUT)/_build/html $(BIN)/pytest -q tests/browser

benchmark: setup
	$(BIN)/python benchmarks/fit_vs_dataloader.py

## pin: store the outputs of the `# NBVAL_CHECK_OUTPUT` cells (and only those) for nbval
pin: setup
	$(QUICK) $(BIN)/python scripts/pin_outputs.py book/*.ipynb

clean:
	rm -rf _build .cache/models
