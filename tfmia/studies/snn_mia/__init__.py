"""The SNN membership-inference case study: ANNs against their converted SNNs at
T = 1, 2, 4.

`study.py`: the config and `run`; `report.py`: its tables and figures;
`cli.py`: its flags (`tfmia case-study snn-mia`). The names below are
`study.py`'s, imported on first use (see `tfmia.studies`).
"""

from typing import TYPE_CHECKING

from tfmia.studies import lazy_exports

__all__ = ("SnnMiaConfig", "SnnMiaResult", "run", "protocol_settings",
           "snn_variants", "cells", "checkpoint_accuracy",
           "closest_checkpoint", "ATTACKS", "PROTOCOLS", "MIA_SNN_ATTACKS",
           "MIA_SNN_LABELS", "CALIBRATION_RECIPES", "OUTPUTS")
__getattr__, __dir__ = lazy_exports(__name__, __all__)

if TYPE_CHECKING:
  from tfmia.studies.snn_mia.study import (  # noqa: F401
      SnnMiaConfig, SnnMiaResult, run, protocol_settings, snn_variants,
      cells, checkpoint_accuracy, closest_checkpoint, ATTACKS, PROTOCOLS,
      MIA_SNN_ATTACKS, MIA_SNN_LABELS, CALIBRATION_RECIPES, OUTPUTS)
