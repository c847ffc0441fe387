"""Case studies, one folder each.

`studies/<name>/` holds a study's config dataclass and `run` (`study.py`),
its tables and figures (`report.py`) and its command-line flags (`cli.py`:
`add_parser`, `handle`, `main`). `seeds.py` runs any study once per seed.

A study's package exposes the public names of its `study.py` (its config
class, `run`, ...), imported on first use, so that `tfmia --help` reads
every study's flags without importing TensorFlow:

  from tfmia.studies import pruning as study
  study.run(study.PruningStudyConfig.quick_mode(), "plots/pruning")
"""

from __future__ import annotations

import importlib
from typing import Callable, Iterable


def lazy_exports(package: str, names: Iterable[str]
                 ) -> tuple[Callable[[str], object], Callable[[], list]]:
  """`__getattr__` and `__dir__` for the package of a study whose public
  `names` live in its `study` module, imported on first access.

  Args:
    package: the package's `__name__`, e.g. "tfmia.studies.pruning".
    names: the names of `<package>.study` the package exposes.
  """
  names = frozenset(names)

  def __getattr__(name: str):
    if name not in names:
      raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{package}.study"), name)

  def __dir__() -> list:
    return sorted(names)

  return __getattr__, __dir__
