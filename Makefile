# Set-up is idempotent: .venv is created when missing and re-used when present.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tfmia-installed
# Where CIFAR-10 and other tfds datasets live; the shared read-only copy by default.
TFMIA_DATA_DIR ?= $(abspath ../shared/data/tfds)
export TFMIA_DATA_DIR

.PHONY: setup demo test test-fast bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	# Packages whose declared requirements would move a pin, each with the
	# reason in the file: the MIA module and the compiled protobuf.
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: setup
	$(VENV)/bin/tfmia case-study architectures --quick --dataset cifar10 --fallback-dataset digits --out plots

# Two test processes: one process leaves a core idle (TensorFlow's small ops
# and Python's tracing do not fill both). TEST_WORKERS=0 runs in-process.
TEST_WORKERS ?= 2

test: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) tests

test-fast: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m "not slow" tests

bench: setup
	$(PY) benchmarks/bench_foundation.py
	$(PY) benchmarks/bench_attacks.py
	$(PY) benchmarks/bench_snn.py
	$(PY) benchmarks/bench_pruning.py
	$(PY) benchmarks/bench_spiking.py
	$(PY) benchmarks/bench_dp_audit.py
	$(PY) benchmarks/bench_executors.py
	$(PY) benchmarks/bench_together.py --profile
	$(PY) benchmarks/bench_tracing.py

# The documentation site (mkdocs.yml, docs/) into site/; --strict turns any
# warning (a broken link, a docstring griffe cannot read) into a failure, as
# tests/test_docs.py does. `.venv/bin/mkdocs serve` previews it live.
.PHONY: docs
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) .pytest_cache
