import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

# Ray's import binds its logging to the stderr of the moment. Imported
# first inside a test whose stderr pytest captures (and then closes), it
# crashes the process at a later write ("lost sys.stderr"). Imported here,
# before any capture, it binds to the real one.
try:
  import ray  # noqa: F401  pylint: disable=unused-import
except ImportError:
  pass

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


@pytest.fixture(scope="session")
def tiny_architecture_study(tmp_path_factory, digits):
  """(folder, result) of a finished `tiny_architecture_config()` study.
  Shared by the modules that read it; a test that changes files works on a
  copy (`shutil.copytree(folder, tmp_path, dirs_exist_ok=True)`)."""
  from tfmia.studies import architectures
  from tfmia_testing import tiny_architecture_config
  out = tmp_path_factory.mktemp("architecture_study")
  return out, architectures.run(tiny_architecture_config(), out, raw=digits,
                                progress=False)


# Fixtures that train models (each takes 3 s or more on a 2-core CPU): a test
# that uses one is slow too, so `make test-fast` leaves it to `make test`.
TRAINING_FIXTURES = {"tiny_reference", "trained_run", "trained_conv",
                     "audited", "folder", "toolbox", "study", "split_folder",
                     "resnet_folder", "reference_copy", "cifar10_raw",
                     "cifar10_data_dir", "finished",
                     "tiny_architecture_study"}


# The longest test files start first. pytest-xdist's `load` scheduling then
# gives them to the first worker as its first chunk, while the other works
# through the light tests: two heavy TensorFlow workloads at once fight for
# the 2 cores (measured: 14 min 14 s against 10 min 30 s when both workers
# started on heavy files). Each file keeps its own order, so its module
# fixtures are built once.
LONGEST_FIRST = ("tests/studies/test_snn_robustness_study.py",
                 "tests/studies/test_snn_mia.py",
                 "tests/test_executors.py",
                 "tests/studies/test_architectures.py",
                 "tests/reliability/test_studies.py")


def _start_rank(item) -> int:
  path = item.nodeid.split("::")[0]
  path = path if path.startswith("tests/") else f"tests/{path}"
  return (LONGEST_FIRST.index(path) if path in LONGEST_FIRST
          else len(LONGEST_FIRST))


def pytest_collection_modifyitems(config, items):
  for item in items:
    if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
      item.add_marker(pytest.mark.slow)
  items.sort(key=_start_rank)   # stable: each file keeps its order
