# onestack: `make up` runs the cloud, `make test` runs the whole test suite.
VENV ?= .venv
ARGS ?=

PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1/postgres
MYSQL_URL ?= mysql+aiomysql://root@127.0.0.1/test
RABBIT_URL ?= rabbit://guest:guest@127.0.0.1:5672/
BACKEND_TESTS ?= tests/unit tests/functional/platform tests/functional/common tests/functional/identity \
	tests/functional/image tests/functional/placement tests/functional/compute

.PHONY: setup setup-test lock services up test test-fast test-backends lint format bench clean

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

# Re-resolve uv.lock after a dependency change in pyproject.toml (ARGS=--upgrade: every package
# to its newest allowed version); commit uv.lock on its own.
lock:
	@scripts/setup.sh --lock $(ARGS)

up: setup
	$(VENV)/bin/onestack up $(ARGS)

services:
	@scripts/services.sh

# Everything on the defaults (SQLite, in-process bus), then the in-process platform, identity
# and image tests on PostgreSQL, on MariaDB and on RabbitMQ (imports cross the bus to the image
# worker).
test: setup-test lint services
	$(VENV)/bin/pytest -q $(ARGS)
	$(MAKE) --no-print-directory test-backends

test-backends: setup-test services
	ONESTACK_TEST_DATABASE_URL=$(PG_URL) $(VENV)/bin/pytest -q -m "not e2e" $(BACKEND_TESTS)
	ONESTACK_TEST_DATABASE_URL=$(MYSQL_URL) $(VENV)/bin/pytest -q -m "not e2e" $(BACKEND_TESTS)
	ONESTACK_TEST_TRANSPORT_URL=$(RABBIT_URL) $(VENV)/bin/pytest -q -m "not e2e" $(BACKEND_TESTS)

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
