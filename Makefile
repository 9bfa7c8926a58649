# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install migrate run test test-fast clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/tthc-bot db upgrade

run: migrate
	$(BIN)/tthc-bot run

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick loop while editing: everything but the slow, fault-injection and browser tests.
test-fast: install
	$(BIN)/python -m pytest -m "not slow and not faults and not browser" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
