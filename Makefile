# The commands a person types. `make run` and `make test` set themselves up on a
# fresh machine: a virtual environment in .venv, Node packages in node_modules.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: scale-test bench-scale soak run test test-sqlite lint format bench install clean contracts node docs

install: $(STAMP) node_modules/.installed

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# anvil (the local node) and solc (the contract compiler), pinned in package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Recompile chain/contracts/*.sol into chain/contracts/build/*.json (committed).
contracts: node_modules/.installed
	node chain/contracts/build.js

# A local Ethereum node (chain id 31337) at http://127.0.0.1:8545, for the demo: see README.
node: node_modules/.installed
	node_modules/.bin/anvil --chain-id 31337 --port 8545

# The whole exchange on this machine, a fresh demo each time (relayer/demo.py): anvil,
# the contract and demo tokens, SQLite in var/, the web app, a Celery worker and beat.
# Ports: DEMO_HTTP_PORT (8000), DEMO_CHAIN_PORT (8545). Ctrl-C stops it all.
run: install
	$(PY) -m relayer.demo

# The exchange past one machine, as real processes here (tests/scale/run.py,
# docs/deploying.md): a PostgreSQL primary and synchronous standby (run as the postgres
# user), nginx, 2 web replicas, 2 workers on one network, beat, anvil, the machine's Redis
# (db SCALE_REDIS_DB, 10); prints each check as a row. Needs root (runuser, apt for nginx).
scale-test: install
	./.ci/ensure-nginx
	REQUIRE_NGINX=1 $(PY) -m tests.scale.run

# What that topology buys, in one run (tests/scale/bench.py; figures in docs/deploying.md):
# order-book reads/s and signed order posts/s with 1 and 2 web replicas, reads on the
# standby vs the primary, write latency with synchronous replication on and off.
bench-scale: install
	./.ci/ensure-nginx
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	REQUIRE_NGINX=1 $(PY) -m tests.scale.bench $(BENCH_SCALE_ARGS)

# `make run` under load for SOAK_MINUTES (tests/soak.py, docs/runtime.md): a CPU hog on
# every core, deposits, orders, fills and withdrawals; asserts every one went through.
SOAK_MINUTES ?= 30
soak: install
	$(PY) -m tests.soak --minutes $(SOAK_MINUTES)

# The whole suite, against PostgreSQL and Redis (DATABASE_URL, REDIS_URL; see tests/environment.py).
# The dashboard's browser test drives Debian's Chromium: installed here when missing (as root).
test: install
	./.ci/ensure-chromium
	./.ci/ensure-nginx
	$(PY) -m pytest $(PYTEST_ARGS)

# The money-critical tests again on the embedded default, SQLite (relayer/sqlite_exact):
# amounts, prices, ledger, orders, trades and transfers stay exact there too. .ci/run
# runs it after `make test`; tests marked postgres_only are skipped.
SQLITE_TESTS := tests/test_sqlite_exact.py tests/exchange tests/api/test_balances.py \
	tests/api/test_orders.py tests/api/test_trades.py tests/api/test_transfers.py \
	tests/api/test_market_data.py
test-sqlite: install
	DATABASE_URL=sqlite:///$(CURDIR)/var/test-sqlite.sqlite3 $(PY) -m pytest $(SQLITE_TESTS) $(PYTEST_ARGS)

# Benchmarks against a minimal Django baseline (README, Benchmarks); BENCH_ARGS="--scale 0.05".
# Runs as deployed: DEBUG off (a throwaway SECRET_KEY unless one is set) and Redis.
bench: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	SECRET_KEY="$${SECRET_KEY:-benchmark-only-not-a-production-key}" \
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:6379/14}" \
	$(PY) -m benchmarks $(BENCH_ARGS)

# The manual (docs/) as a site in site/, warnings as errors (mkdocs.yml).
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# ruff, the layer contracts of pyproject.toml [tool.importlinter] (docs/architecture.md) and
# mypy: the whole project, strict on chain/, exchange/services/, exchange/selectors/
# (pyproject.toml [tool.mypy]); its cache in .mypy_cache makes a rerun take seconds.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	SECRET_KEY="$${SECRET_KEY:-mypy-imports-the-settings}" $(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var site .pytest_cache .ruff_cache
