# Two commands after cloning: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint typecheck imports unit system-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/lookout serve --demo

# Debian's chromium (browser test), prometheus and prometheus-alertmanager (integration tests):
# installed when we are root and apt is there; otherwise those tests skip and say why.
system-deps:
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="$$missing chromium"; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null || missing="$$missing prometheus-alertmanager"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing for the browser and integration tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $$missing >/dev/null \
			|| echo "could not install$$missing; those tests will skip"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check bot skills core knowledge integrations runbooks storage tests bench
	$(BIN)/ruff format --check bot skills core knowledge integrations runbooks storage tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# Two passes on two workers (pytest-xdist): everything on SQLite, then every test that stores
# anything on a PostgreSQL database of its own, with the replica tests (they skip, saying why,
# where PostgreSQL does not answer on 127.0.0.1:5432).
unit: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --database=sqlite
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --database=postgresql

test: $(STAMP) system-deps lint typecheck imports unit

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/slack_ack.py
	$(BIN)/python bench/slack_ack.py --mode burst
	$(BIN)/python bench/load.py
	$(BIN)/python bench/run_card.py
	$(BIN)/python bench/grouping.py
	$(BIN)/python bench/rca.py
	$(BIN)/python bench/logs.py
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/forecast.py
	$(BIN)/python bench/rate_limits.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
