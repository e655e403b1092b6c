# Local development tasks. `make help` lists them.

VENV ?= .venv
PYTHON ?= python3

BIN := $(VENV)/bin
# Touched after a successful install, so that `make` reinstalls only when
# the packaging files change.
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test test-unit bench fuzz soak lint clean

help:
	@echo "Targets:"
	@echo "  install    create $(VENV) if missing and install the project with its test dependencies"
	@echo "  run        start the broker (unless KAFKA_BOOTSTRAP_SERVERS is set), producer and consumer; Ctrl-C stops them"
	@echo "  test       run the whole test suite, integration tests included"
	@echo "  test-unit  run the tests not marked integration (fast)"
	@echo "  bench      measure throughput, latency, ingest and memory on 127.0.0.1 (about 8 minutes); writes BENCHMARKS.md"
	@echo "  fuzz       fuzz both services from their OpenAPI documents, $(FUZZ_EXAMPLES) requests per operation (FUZZ_EXAMPLES=N)"
	@echo "  soak       send from 20 clients for $(SOAK_SECONDS) s (SOAK_SECONDS=N); writes var/soak-report.txt with process memory"
	@echo "  lint       run ruff, if it is installed"
	@echo "  clean      remove var/ and caches (keeps $(VENV))"

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[test]'
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m common.launcher

test: $(STAMP)
	scripts/install-browser
	$(BIN)/python -m pytest

test-unit: $(STAMP)
	$(BIN)/python -m pytest -m "not integration"

bench: $(STAMP)
	bench/install-wrk
	$(BIN)/python -m bench

# Requests per operation for `make fuzz`; `make test` sends 100.
FUZZ_EXAMPLES ?= 2000
SOAK_SECONDS ?= 600

fuzz: $(STAMP)
	NOTIFY_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest --timeout 3600 \
		tests/integration/test_fuzz.py

soak: $(STAMP)
	NOTIFY_LOAD_SECONDS=$(SOAK_SECONDS) NOTIFY_LOAD_REPORT=$(CURDIR)/var/soak-report.txt \
		$(BIN)/python -m pytest -s tests/integration/test_load.py

lint:
	@if [ -x $(BIN)/ruff ]; then ruff=$(BIN)/ruff; \
	elif command -v ruff >/dev/null 2>&1; then ruff=ruff; \
	else echo "ruff is not installed; install it with '$(BIN)/pip install ruff'"; exit 0; fi; \
	$$ruff check .

clean:
	rm -rf var .pytest_cache .ruff_cache build
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
