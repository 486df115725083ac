# vae-book: `make book` builds the HTML book, `make test` runs the whole suite.
# Both set everything up on a fresh machine (Python venv, npm packages, Chromium for the tests).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP  := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
HTML      := _build/html
TEST_OUT  := _build/test
export VAE_CACHE_DIR ?= $(CURDIR)/.cache/models
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# The test steps run one torch thread per process: steadier timings on small shared machines.
QUICK := VAE_QUICK=1 OMP_NUM_THREADS=1

.PHONY: book test setup chromium unit notebooks test-book browser lint benchmark pin clean

## book: build the HTML book with every notebook executed at full setting
book: setup
	$(BIN)/jupyter-book build . -n --keep-going
	@echo "The book is at $(CURDIR)/$(HTML)/index.html"

## test: lint, unit tests, every notebook under nbval, the strict book build, browser tests
test: setup lint unit notebooks test-book browser

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

lint:
	$(BIN)/ruff check .

unit:
	$(QUICK) $(BIN)/pytest -q tests --ignore=tests/browser

notebooks:
	$(QUICK) $(BIN)/pytest -q --nbval-lax --nbval-current-env book

test-book:
	$(QUICK) $(BIN)/jupyter-book build . --path-output $(TEST_OUT) -n -W --keep-going

browser:
	BOOK_HTML=$(TEST_OUT)/_build/html $(BIN)/pytest -q tests/browser

benchmark: setup
	$(BIN)/python benchmarks/fit_vs_dataloader.py

## pin: store the outputs of the `# NBVAL_CHECK_OUTPUT` cells (and only those) for nbval
pin: setup
	$(QUICK) $(BIN)/python scripts/pin_outputs.py book/*.ipynb

clean:
	rm -rf _build .cache/models
