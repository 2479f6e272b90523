# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := dev,notebooks,gbdt,sweep,ope-test,serving

.PHONY: run lab test test-fast browser evaluate bench report clean

# DATA= names a data set or an interactions file (CSV, TSV, Parquet); for a file, COLUMNS=user=uid,item=iid,timestamp=ts
# maps its columns, ITEMS= and USERS= add the item and user tables, DUPLICATES=error|drop|keep and ENCODING=utf-8|latin-1
# say how to read it (the options of `workbench data --help`). run, evaluate and report pass them through.
DATA_ARGS = $(if $(DATA),--data '$(DATA)') $(if $(COLUMNS),--columns '$(COLUMNS)') $(if $(ITEMS),--item-table '$(ITEMS)') \
  $(if $(USERS),--user-table '$(USERS)') $(if $(DUPLICATES),--duplicates '$(DUPLICATES)') $(if $(ENCODING),--encoding '$(ENCODING)')

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), f"Python >= 3.11 needed, found {sys.version.split()[0]}"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: a looser spec would pull a multi-GB CUDA build (pyproject accepts 2.13.0)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

# Serves the marimo notebooks on 127.0.0.1:2718 (PORT=2719 moves it) within seconds, then trains the
# notebooks' pipelines into the model store in the background, with progress here (artefact k of N, phase,
# epochs, time left); a page whose pipeline is still training says so and fills itself in when it is stored.
run: $(STAMP)
	$(BIN)/workbench notebooks --train $(DATA_ARGS) $(if $(PORT),--port $(PORT))

# JupyterLab on 127.0.0.1 (the ipywidgets panels: notebooks/*.ipynb), opened on the notebooks folder; the file
# browser reaches the whole project (docs/GLOSSARY.md too). Root needs --allow-root. PORT=8890 moves it.
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(or $(PORT),8888) --ServerApp.root_dir=. \
	  --ServerApp.default_url=/lab/tree/notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

evaluate: $(STAMP)
	$(BIN)/workbench evaluate $(DATA_ARGS) --model $(or $(MODEL),popular)

# two pytest-xdist workers, a test file each at a time (most tests wait on a child process: a notebook run,
# a server, Chromium); the workers share one model store (tests/conftest.py); the 25 slowest tests are listed
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=25

# the quick loop while editing: everything but the tests marked slow (notebook runs, browsers, many fits)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

# The browser test drives Debian's Chromium (test tools never download their own browser); the
# serving tests run Debian's redis-server, nginx (the gateway) and prometheus (no fakes); wrk measures. Missing ones are installed together, after
# one apt-get update, when root with apt. Without them the browser test is skipped and says why; the
# serving tests fail, naming the missing redis-server.
browser:
	@missing=""; test -x /usr/bin/chromium || missing="$$missing chromium"; \
	  test -x /usr/bin/redis-server || missing="$$missing redis-server"; \
	  test -x /usr/sbin/nginx || missing="$$missing nginx-light"; \
	  test -x /usr/bin/prometheus || missing="$$missing prometheus"; \
	  test -x /usr/bin/mtail || missing="$$missing mtail"; \
	  test -x /usr/bin/wrk || missing="$$missing wrk"; \
	  test -z "$$missing" || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } || \
	  echo "not installed:$$missing (needs root and apt-get): the browser test is skipped, the serving tests fail"

# Options pass through: make report DATA=movielens-100k (and DATA_ARGS' options) SEED=3 OUT=reports-ml FORMAT=marimo SMALL=1,
# make report COMPARE="configs/a.toml configs/b.toml", and anything else as ARGS="...".
report: $(STAMP)
	$(BIN)/workbench report $(DATA_ARGS) $(if $(SEED),--seed $(SEED)) $(if $(OUT),--out $(OUT)) \
	  $(if $(FORMAT),--format $(FORMAT)) $(if $(SMALL),--small) $(if $(COMPARE),--compare $(COMPARE)) $(ARGS)

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) reports .pytest_cache
