"""The DP-audit case study: the accountant's ε beside empirical ε lower bounds
at several DP-SGD noise levels.

`study.py`: the config and `run`; `report.py`: its tables and figures;
`cli.py`: its flags (`tfmia case-study dp-audit`). The names below are
`study.py`'s, imported on first use (see `tfmia.studies`).
"""

from typing import TYPE_CHECKING

from tfmia.studies import lazy_exports

__all__ = ("DpAuditStudyConfig", "DpAuditStudyResult", "run", "label",
           "load_data", "rmia_bounds", "ANCHOR", "ANCHOR_DP_EPSILON",
           "EMPIRICAL", "OUTPUTS")
__getattr__, __dir__ = lazy_exports(__name__, __all__)

if TYPE_CHECKING:
  from tfmia.studies.dp_audit.study import (  # noqa: F401
      DpAuditStudyConfig, DpAuditStudyResult, run, label, load_data,
      rmia_bounds, ANCHOR, ANCHOR_DP_EPSILON, EMPIRICAL, OUTPUTS)
