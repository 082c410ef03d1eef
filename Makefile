# The two commands a newcomer needs: `make up` runs the service, `make test` runs the tests.
# Both create .venv and install the project into it first (only when pyproject.toml changed).

VENV  ?= .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test quick bench lint

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

up: $(STAMP)
	$(VENV)/bin/moderation up

test: $(STAMP)
	bash scripts/test-prerequisites
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The edit-test loop (docs/testing.md): every test but those needing PostgreSQL or Chromium.
# Needs only Redis on 127.0.0.1:6379; `make test` stays the full run.
quick: $(STAMP)
	$(VENV)/bin/python -m pytest -m "not browser and not postgres" $(PYTEST_ARGS)

# `make bench` runs the service benchmarks in turn (minutes each); `make bench BENCH=intake` one.
BENCH ?= intake e2e soak
bench: $(STAMP)
	for name in $(BENCH); do $(PY) -m bench $$name || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
