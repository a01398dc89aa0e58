# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.facedeblur-installed
# Pinned: any other torch version pulls gigabytes of CUDA packages on CPU machines.
TORCH_VERSION ?= 2.13.0

.PHONY: setup demo test clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install torch==$(TORCH_VERSION)
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/facedeblur demo --out demo

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf demo .pytest_cache
