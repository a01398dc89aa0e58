# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.facedeblur-installed
# Pinned: any other torch version pulls gigabytes of CUDA packages on CPU machines.
TORCH_VERSION ?= 2.13.0

.PHONY: setup browser demo test test-fast lint format clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml Makefile
	$(PY) -m pip install torch==$(TORCH_VERSION)
	$(PY) -m pip install -e '.[dev,web]'
	touch $(STAMP)

# tests/web/test_browser.py drives Debian's chromium through chromedriver: installed with apt
# where missing (with sudo unless root); without apt-get that test skips (fails under CI=true).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	else echo "no chromium and no apt-get: tests/web/test_browser.py will be skipped"; fi

setup: $(STAMP) browser

demo: setup
	$(VENV)/bin/facedeblur demo -o demo --overwrite

test: setup
	$(PY) -m pytest -q

# The edit loop: everything but the tests marked slow (training, DDP, whole CLI runs).
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

format: setup
	$(VENV)/bin/ruff check --fix src tests benchmarks examples
	$(VENV)/bin/ruff format src tests benchmarks examples

clean:
	rm -rf demo .pytest_cache
