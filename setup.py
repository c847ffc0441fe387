"""tfmia's package metadata.

`pip install .` installs tfmia with compatible ranges of its core stack
(TensorFlow 2.15 with Keras 2, tensorflow-privacy, tensorflow-datasets,
numpy 1.x, pandas, matplotlib, scikit-learn) and leaves newer compatible
versions already installed alone. Extras add the optional parts:

    pip install 'tfmia[snn]'      snntoolbox conversion
    pip install 'tfmia[prune]'    pruning (tensorflow-model-optimization)
    pip install 'tfmia[robust]'   evasion and label-only attacks (ART)
    pip install 'tfmia[ray]'      the Ray executor
    pip install 'tfmia[all]'      all four
    pip install 'tfmia[docs]' / 'tfmia[dev]'   the docs site / docs + tests

tensorflow-privacy's membership-inference module must then be added without
its dependencies (which would pull TF 2.20 / Keras 3):

    pip install --no-deps tensorflow-empirical-privacy==0.1.0

tfmia names that command when the module is missing. `requirements.txt` is
the exact lock `make` installs.
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

# Compatible ranges: TensorFlow stays at 2.15 (tensorflow-privacy 0.9 and
# snntoolbox need Keras 2); numpy stays at 1.x (TensorFlow 2.15 is built
# against it).
CORE = [
    "tensorflow>=2.15.1,<2.16",
    "tensorflow-privacy>=0.9.0,<0.10",
    "tensorflow-probability>=0.22,<0.23",
    "tensorflow-datasets>=4.9.4,<4.10",
    "tensorflow-metadata>=1.14,<1.15",
    "numpy>=1.23,<2",
    "pandas>=1.5,<3",
    "scipy>=1.9,<2",
    "scikit-learn>=1.0,<2",
    "matplotlib>=3.5,<4",
    "statsmodels>=0.13,<1",
    "tqdm>=4.60",
    "PyYAML>=5.4,<7",
]
# The optional parts, at the versions tested with TF 2.15 (see
# requirements.txt for why each).
EXTRAS = {
    "snn": ["snntoolbox==0.6.0"],
    "prune": ["tensorflow-model-optimization==0.7.5"],
    "robust": ["adversarial-robustness-toolbox>=1.20.1,<2"],
    "ray": ["ray==2.40.0"],
}
EXTRAS["all"] = sorted({r for reqs in EXTRAS.values() for r in reqs})


def _locked(*prefixes: str) -> list[str]:
  """requirements.txt's exact pins of these packages (docs and test tools)."""
  lines = (HERE / "requirements.txt").read_text().splitlines()
  reqs = [ln.split("#")[0].strip() for ln in lines]
  return [r for r in reqs if r and r.startswith(prefixes)]


EXTRAS["docs"] = _locked("mkdocs", "griffelib", "pymdown-extensions")
EXTRAS["dev"] = sorted(set(EXTRAS["docs"] + EXTRAS["all"]
                           + _locked("pytest", "execnet")))


def _version() -> str:
  """tfmia/__init__.py's __version__ (its one owner)."""
  text = (HERE / "tfmia" / "__init__.py").read_text()
  return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


setup(
    name="tfmia",
    version=_version(),
    description="Membership-inference case studies for TensorFlow/Keras models.",
    packages=find_packages(include=["tfmia", "tfmia.*"]),
    python_requires=">=3.11,<3.12",
    install_requires=CORE,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["tfmia=tfmia.cli:main"]},
)
