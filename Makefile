# onestack: `make up` runs the cloud, `make test` runs the whole test suite.
VENV ?= .venv
ARGS ?=

PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1/postgres
MYSQL_URL ?= mysql+aiomysql://root@127.0.0.1/test
RABBIT_URL ?= rabbit://guest:guest@127.0.0.1:5672/
# What runs again on PostgreSQL and MariaDB: every test that touches a database (the unit tests
# that do not are left out), and on RabbitMQ: the services whose work crosses the bus.
BACKEND_TESTS ?= tests/unit/test_migrations.py tests/unit/test_database_urls.py \
	tests/functional/platform tests/functional/common tests/functional/identity \
	tests/functional/image tests/functional/placement tests/functional/compute tests/functional/network \
	tests/functional/volume
BUS_TESTS ?= tests/functional/platform tests/functional/common tests/functional/image \
	tests/functional/compute tests/functional/network tests/functional/volume

.PHONY: setup setup-test lock services up test test-fast test-backends tempest lint format bench clean

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

PYTEST = $(VENV)/bin/pytest -q -p no:cacheprovider
# The suites `make test` runs side by side (scripts/parallel.sh, SUITE_JOBS at a time, the
# longest first): the end-to-end tests (real clients against real onestack processes) and the
# in-process tests on the defaults (SQLite, in-process bus); the dataplane tests (real guests:
# onestack-tiny under QEMU, tests/dataplane, root); Tempest's identity and image API
# suites (docs/conformance.md); the in-process tests of BACKEND_TESTS on PostgreSQL, on MariaDB
# and on RabbitMQ; the sum of their counts is the closing line.
SUITE_JOBS ?= 4
# The end-to-end tests in two halves that take about as long: the compute, network, volume and
# placement scenarios, and the rest (Identity, Image, Object Storage, the process model).
E2E_CLOUD = $(addprefix tests/e2e/test_,compute.py compute_moves.py compute_network.py \
	compute_volumes.py network.py volume.py placement.py crash_recovery.py sdk.py limits.py)
E2E_REST = $(filter-out $(E2E_CLOUD),$(sort $(wildcard tests/e2e/test_*.py)))
SUITES = 'e2e-compute=$(PYTEST) -m "e2e and not broker_restart" $(E2E_CLOUD) $(ARGS)' \
	'e2e-rest=$(PYTEST) -m "e2e and not broker_restart" $(E2E_REST) $(ARGS)' \
	'tempest=scripts/tempest.sh identity image' \
	'in-process=$(PYTEST) -m "not e2e and not broker_restart and not dataplane" $(ARGS)' \
	'dataplane=$(PYTEST) -m dataplane tests/dataplane $(ARGS)' \
	$(BACKEND_SUITES)
IN_PROCESS_MARKS = -m "not e2e and not broker_restart and not dataplane"
IN_PROCESS = $(IN_PROCESS_MARKS) $(BACKEND_TESTS)
BACKEND_SUITES = 'postgresql=ONESTACK_TEST_DATABASE_URL=$(PG_URL) $(PYTEST) $(IN_PROCESS)' \
	'mariadb=ONESTACK_TEST_DATABASE_URL=$(MYSQL_URL) $(PYTEST) $(IN_PROCESS)' \
	'rabbitmq=ONESTACK_TEST_TRANSPORT_URL=$(RABBIT_URL) $(PYTEST) $(IN_PROCESS_MARKS) $(BUS_TESTS)'

# The tests that restart RabbitMQ run alone, before the suites that share it.
BROKER_RESTART = --alone 'broker-restart=$(PYTEST) -m broker_restart tests'

test: setup-test lint services
	scripts/parallel.sh -j $(SUITE_JOBS) $(BROKER_RESTART) $(SUITES)

# Tempest's identity and image API suites against a fresh onestack (docs/conformance.md).
tempest: setup-test
	scripts/tempest.sh identity image

test-backends: setup-test services
	scripts/parallel.sh -j $(SUITE_JOBS) $(BROKER_RESTART) $(BACKEND_SUITES)

test-fast: setup-test
	$(VENV)/bin/pytest -q -m "not e2e and not dataplane" $(ARGS)

lint: setup-test
	$(VENV)/bin/ruff check onestack tests bench
	$(VENV)/bin/ruff format --check onestack

format: setup-test
	$(VENV)/bin/ruff format onestack tests bench
	$(VENV)/bin/ruff check --fix onestack tests bench

bench: setup-test
	$(VENV)/bin/python bench/keystone_tokens.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .tempest
