"""The attack-budget study: every attack at K = 0, 1, 2, 4, 8, 16 reference
models, on an image set and a tabular set: which attack to run at which
budget.

`study.py`: the config and `run`; `report.py`: its tables and figure;
`cli.py`: its flags (`tfmia case-study attack-budget`). The names below are
`study.py`'s, imported on first use (see `tfmia.studies`).
"""

from typing import TYPE_CHECKING

from tfmia.studies import lazy_exports

__all__ = ("BudgetConfig", "BudgetResult", "DatasetSetting", "run",
           "study_attacks", "attack_cell", "lt_iqr_rows", "EXCLUDED",
           "OUTPUTS", "QUICK_SETTINGS", "FULL_SETTINGS")
__getattr__, __dir__ = lazy_exports(__name__, __all__)

if TYPE_CHECKING:
  from tfmia.studies.attack_budget.study import (  # noqa: F401
      BudgetConfig, BudgetResult, DatasetSetting, run, study_attacks,
      attack_cell, lt_iqr_rows, EXCLUDED, OUTPUTS, QUICK_SETTINGS,
      FULL_SETTINGS)
