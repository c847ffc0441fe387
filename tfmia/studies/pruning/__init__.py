"""The pruning case study (Yuan & Zhang, USENIX Security 2022; mia_prune):
membership leakage of pruned models, with defenses.

`study.py`: the config and `run`; `report.py`: its tables and figures;
`cli.py`: its flags (`tfmia case-study pruning`). The names below are
`study.py`'s, imported on first use (see `tfmia.studies`).
"""

from typing import TYPE_CHECKING

from tfmia.studies import lazy_exports

__all__ = ("PruningStudyConfig", "PruningStudyResult", "run",
           "histogram_data", "ATTACKS", "OUTPUTS")
__getattr__, __dir__ = lazy_exports(__name__, __all__)

if TYPE_CHECKING:
  from tfmia.studies.pruning.study import (  # noqa: F401
      PruningStudyConfig, PruningStudyResult, run, histogram_data, ATTACKS,
      OUTPUTS)
