# hybridwatch — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST := $(BIN)/python -m pytest

.PHONY: train-tools help install run run-once demo lint fmt test test-unit test-integration test-e2e \
        services-up services-down bench soak chaos clean browser-tools ops-tools helm-tools fuzz audit lock

help:
	@echo "make run            create .venv, install, start the embedded pipeline + API on :8686"
	@echo "make demo           no network: replay the bundled SYNTHETIC demo into .hybridwatch/demo, serve :8686"
	@echo "make test           install, provision Kafka + search engine, lint, run every test tier"
	@echo "make lint           ruff check, ruff format --check, mypy --strict"
	@echo "make services-up    start local Kafka (KRaft) + OpenSearch + Elasticsearch (HW_SEARCH_ENGINES=opensearch: no ES), write .hybridwatch/services.env"
	@echo "make services-down  stop them"
	@echo "make bench          run every benchmark in bench/"
	@echo "make soak           1M SYNTHETIC articles through Kafka + 2 workers + indexer; RSS/fds/lag plot in docs/img"
	@echo "make chaos          kill -9 / restarts / outages during a 100k SYNTHETIC replay on private servers; exactly-once checks"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	-$(BIN)/python -m pip install -q -e '.[rocksdb]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/hybridwatch run

run-once: install
	$(BIN)/hybridwatch run --once

demo: install
	$(BIN)/hybridwatch run --demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# pytest exits 5 when it collected no tests: that is a failure here, never a pass.
define run_pytest
	$(PYTEST) $(1); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected in $(1)"; exit 1; fi; exit $$rc
endef

test-unit: install ops-tools helm-tools
	$(call run_pytest,tests/unit)

test-integration: install train-tools ops-tools
	source deploy/local/services.sh env && $(call run_pytest,tests/integration)

# Test tooling: Debian's Chromium, driven by Playwright in tests/e2e/test_page_browser.py.
browser-tools:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "installing chromium for the browser tests (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# Test tooling: Apertium's Serbo-Croatian/English pair, which `hybridwatch train` calls to
# translate at training time (tests/integration/learning/test_train_reproduces.py).
train-tools:
	@{ command -v apertium >/dev/null 2>&1 && apertium -l 2>/dev/null | grep -qw 'eng-hbs_SR'; } || \
	  { echo "installing apertium + apertium-hbs-eng for hybridwatch train (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apertium apertium-hbs-eng; }

# Test tooling: Debian's Prometheus (prometheus + promtool: rule checks and the real
# Prometheus of tests/integration/observability) and docker-compose (`docker-compose config`
# in tests/unit/deploy). Run as binaries by the tests, never as the systemd service.
ops-tools:
	@{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && command -v docker-compose >/dev/null 2>&1; } || \
	  { echo "installing prometheus + docker-compose for the observability/deploy tests (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus docker-compose; }

# Test tooling: Helm v4 for tests/unit/deploy/test_helm.py (helm lint + template), built from
# its Go module into ~/.cache/hybridwatch/gopath (outside the repo; ~16 min the first time).
HELM_GOPATH := $(HOME)/.cache/hybridwatch/gopath
helm-tools:
	@command -v helm >/dev/null 2>&1 || test -x $(HELM_GOPATH)/bin/helm || \
	  { echo "building helm v4.3.2 (go install) into $(HELM_GOPATH)"; \
	    GOPATH=$(HELM_GOPATH) GOFLAGS=-mod=mod go install helm.sh/helm/v4/cmd/helm@v4.3.2; }

test-e2e: install browser-tools
	source deploy/local/services.sh env && $(call run_pytest,tests/e2e)

test: install lint audit ops-tools helm-tools test-unit browser-tools train-tools services-up
	@trap '$(MAKE) --no-print-directory services-down' EXIT; \
	  source deploy/local/services.sh env && $(call run_pytest,tests/integration tests/e2e)

# Supply chain (docs/security.md): requirements.lock is what deployments install
# (deploy/Dockerfile); `make lock` refreshes it from pyproject.toml, `make audit` checks it
# with pip-audit (fails on a known vulnerability; says AUDIT INCOMPLETE when offline).
lock: install
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml

audit: install
	$(BIN)/python scripts/audit_lock.py

# Fuzzing (docs/security.md): atheris (coverage-guided) over each input boundary for
# FUZZ_SECONDS each, then the hypothesis properties with HW_FUZZ_EXAMPLES examples each.
# Crashes land in .hybridwatch/fuzz/crashes; make each a regression test in tests/unit/fuzz.
FUZZ_SECONDS ?= 120
HW_FUZZ_EXAMPLES ?= 20000
fuzz: install
	$(BIN)/python -m pip install -q -e '.[fuzz]' || echo "atheris did not install: hypothesis campaign only"
	mkdir -p .hybridwatch/fuzz/crashes
	@if $(BIN)/python -c 'import atheris' 2>/dev/null; then \
	  for t in parse charset url codec config; do echo "== atheris $$t ($(FUZZ_SECONDS)s)"; \
	    (cd .hybridwatch/fuzz/crashes && $(CURDIR)/$(BIN)/python $(CURDIR)/tests/fuzz/atheris_fuzz.py $$t \
	      -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1) || exit 1; done; fi
	HYPOTHESIS_PROFILE=fuzz HW_FUZZ_EXAMPLES=$(HW_FUZZ_EXAMPLES) $(PYTEST) tests/unit/fuzz -q

services-up: install
	deploy/local/services.sh up

services-down:
	deploy/local/services.sh down

bench: install
	source deploy/local/services.sh env && for b in bench/*_bench.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# issue 15.5: SOAK_N synthetic articles through Kafka -> 2 workers -> indexer -> engine, sampling
# RSS, open fds, CPU and lag of every process; CSV + PNG into docs/img (heavy: takes the lock)
# HEAVY_LOCK: soak and chaos take it so two heavy runs never share the machine (point it at
# a machine-wide file when several checkouts share one host)
HEAVY_LOCK ?= .hybridwatch/heavy.lock
SOAK_N ?= 1000000
soak: install
	mkdir -p $(dir $(HEAVY_LOCK))
	source deploy/local/services.sh env && flock $(HEAVY_LOCK) \
	  $(BIN)/python bench/replay_bench.py --soak --n $(SOAK_N) --sample 5 --out docs/img

# issue 15.4: kill -9 workers and the indexer, broker restarts, a 60 s engine outage and a 60 s
# webhook outage during a CHAOS_N-article replay, on a PRIVATE broker and OpenSearch node (own
# ports and dirs; the shared servers are never touched); exit 1 if an exactly-once check fails
CHAOS_N ?= 100000
CHAOS_ARGS ?=
chaos: install
	mkdir -p $(dir $(HEAVY_LOCK))
	flock $(HEAVY_LOCK) $(BIN)/python bench/chaos.py --n $(CHAOS_N) $(CHAOS_ARGS)

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache *.egg-info
