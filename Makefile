# `make train` and `make test` work on a fresh machine with only Python 3.10+ and pip:
# each creates .venv and installs mlcore into it when it is missing. `make test` also builds
# the docs with --strict, so a broken link, a missing page or an undocumented config key fails.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= configs/cnn.yaml

.PHONY: install train test lint docs format bench clean

$(BIN)/mlcore: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,docs]'
	touch $(BIN)/mlcore

install: $(BIN)/mlcore

train: install
	$(BIN)/mlcore train $(CONFIG)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint docs
	$(BIN)/pytest

# the site into site/ (ignored by git); --strict turns every warning into a failure
# (not with --quiet, which hides the warnings and so passes)
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python benchmarks/cli_startup.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache site
