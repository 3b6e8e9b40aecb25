# Everything starts from a local virtual environment that `make` builds on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# The tests run on TEST_WORKERS processes (pytest-xdist), each module's tests on one of them
# (tests/conftest.py groups them, longest first, from tests/durations.json).
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

.PHONY: demo test test-fast test-durations lint lab notebooks clean

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)  ## the main job on the embedded default data
	$(PY) -m tf_transformer demo

test: lint  ## lint, then the full test suite (what CI runs), within its budget (docs/testing.md)
	$(PYTEST) --suite-budget --durations=30

test-fast: $(STAMP)  ## the edit loop: everything not marked slow (no notebooks, subprocesses or wheel)
	$(PYTEST) -m "not slow" --durations=10

test-durations: $(STAMP)  ## run the whole suite and record each test's seconds in tests/durations.json
	$(PYTEST) --write-durations

lint: $(STAMP)  ## ruff: lint and formatting, as configured in pyproject.toml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

lab: $(STAMP)  ## JupyterLab on the course notebooks
	$(VENV)/bin/jupyter lab notebooks/

notebooks: $(STAMP)  ## re-execute every notebook (full mode) and save its outputs
	$(PY) notebooks/build.py

clean:
	rm -rf $(VENV) .pytest_cache
