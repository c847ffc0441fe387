"""tfmia's package metadata. `pip install .` installs the pinned stack from
requirements.txt; tensorflow-empirical-privacy (tensorflow-privacy's
membership-inference module) must then be added without its dependencies,
which would pull TF 2.20 / Keras 3:

    pip install --no-deps tensorflow-empirical-privacy==0.1.0

tfmia names that command when the module is missing.
"""

from pathlib import Path

from setuptools import find_packages, setup

# Needed to test tfmia or build its docs, not to use it.
_TEST_ONLY = ("pytest", "execnet", "mkdocs", "mkdocstrings", "griffelib",
              "pymdown-extensions")


def _requirements() -> list[str]:
  lines = (Path(__file__).parent / "requirements.txt").read_text().splitlines()
  reqs = [ln.split("#")[0].strip() for ln in lines]
  return [r for r in reqs if r and not r.startswith(_TEST_ONLY)]


setup(
    name="tfmia",
    version="0.1.0",
    description="Membership-inference case studies for TensorFlow/Keras models.",
    packages=find_packages(include=["tfmia", "tfmia.*"]),
    python_requires=">=3.11,<3.12",
    install_requires=_requirements(),
    entry_points={"console_scripts": ["tfmia=tfmia.cli:main"]},
)
