import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

# CI always has ../shared/data/tfds beside the clone; $TFMIA_DATA_DIR wins.
SHARED_TFDS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tfds"


def cifar10_dir():
  candidates = [os.environ.get("TFMIA_DATA_DIR"), str(SHARED_TFDS)]
  for c in candidates:
    if c and (Path(c) / "cifar10").is_dir():
      return c
  return None


@pytest.fixture(scope="session")
def cifar10_data_dir():
  d = cifar10_dir()
  if d is None:
    pytest.skip(f"CIFAR-10 not found in $TFMIA_DATA_DIR or {SHARED_TFDS}; "
                "these tests read the shared tfds copy and never download.")
  return d


@pytest.fixture(scope="session")
def cifar10_raw(cifar10_data_dir):
  from tfmia import data
  return data.load_dataset("cifar10", data_dir=cifar10_data_dir)


@pytest.fixture(scope="session")
def digits():
  from tfmia import data
  return data.load_dataset("digits")


@pytest.fixture
def rng():
  return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_reference(tmp_path_factory):
  """(config, data) of a trained 4-reference-model folder on digits."""
  from tfmia import references
  from tfmia.data import prepare_data
  from tfmia_testing import tiny_reference_config
  config = tiny_reference_config(tmp_path_factory.mktemp("refs"), 4)
  data = prepare_data(config.data)
  references.train_references(config, data=data, progress=False)
  return config, data


# Fixtures that train models (each takes 3 s or more on a 2-core CPU): a test
# that uses one is slow too, so `make test-fast` leaves it to `make test`.
TRAINING_FIXTURES = {"tiny_reference", "trained_run", "trained_conv",
                     "audited", "folder", "toolbox", "study", "split_folder",
                     "resnet_folder", "reference_copy", "cifar10_raw",
                     "cifar10_data_dir", "finished"}


# The longest test files, in two groups of about equal time (measured on a
# 2-core CPU: each about 4.5 minutes), one to start each of `make test`'s 2
# workers, so that neither ends minutes after the other.
LONGEST = (("tests/studies/test_snn_mia.py",
            "tests/studies/test_snn_robustness_study.py",
            "tests/snn/test_spiking.py",
            "tests/reliability/test_machine_faults.py"),
           ("tests/test_executors.py",
            "tests/studies/test_architectures.py",
            "tests/snn/test_network.py",
            "tests/snn/test_graph.py",
            "tests/reliability/test_studies.py"))


def _path(item) -> str:
  path = item.nodeid.split("::")[0]
  return path if path.startswith("tests/") else f"tests/{path}"


def _start_order(items) -> list:
  """pytest-xdist's `load` scheduling gives each of N workers a first chunk
  of len(items) // N // 4 consecutive tests, then hands out the rest in
  order: each group of long files opens one worker's chunk (each file keeps
  its own order, so its module fixtures are built once)."""
  workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
  groups = [[it for it in items if _path(it) in g] for g in LONGEST]
  rest = [it for it in items
          if not any(_path(it) in g for g in LONGEST)]
  if workers < 2:
    return [it for g in groups for it in g] + rest
  chunk = max(len(items) // workers // 4, 2)
  out = []
  for g in groups:
    out += g
    pad = -len(out) % chunk         # up to the next worker's chunk
    out += rest[:pad]
    rest = rest[pad:]
  return out + rest


def pytest_collection_modifyitems(config, items):
  for item in items:
    if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
      item.add_marker(pytest.mark.slow)
  items[:] = _start_order(items)
