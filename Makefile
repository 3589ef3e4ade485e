# `make train` and `make test` work on a fresh machine with only Python 3.10+ and pip:
# each creates .venv and installs mlcore into it when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= configs/cnn.yaml

.PHONY: install train test lint format bench clean

$(BIN)/mlcore: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/mlcore

install: $(BIN)/mlcore

train: install
	$(BIN)/mlcore train $(CONFIG)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python benchmarks/cli_startup.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
