# onestack: `make up` runs the cloud, `make test` runs the whole test suite.
VENV ?= .venv
ARGS ?=

.PHONY: setup setup-test up test test-fast lint format bench clean

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

up: setup
	$(VENV)/bin/onestack up $(ARGS)

test: setup-test lint
	$(VENV)/bin/pytest -q $(ARGS)

test-fast: setup-test
	$(VENV)/bin/pytest -q -m "not e2e" $(ARGS)

lint: setup-test
	$(VENV)/bin/ruff check onestack tests bench
	$(VENV)/bin/ruff format --check onestack

format: setup-test
	$(VENV)/bin/ruff format onestack tests bench
	$(VENV)/bin/ruff check --fix onestack tests bench

bench: setup-test
	$(VENV)/bin/python bench/keystone_tokens.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
