"""The SNN-robustness case study: an ANN, a BPTT-trained SNN and a HIRE-SNN
under FGSM and PGD, their membership leakage, and grad-obf-snn's pooling
and encoder sweep.

`study.py`: the config and `run`; `report.py`: its tables and figures;
`cli.py`: its flags (`tfmia case-study snn-robustness`). The names below are
`study.py`'s, imported on first use (see `tfmia.studies`).
"""

from typing import TYPE_CHECKING

from tfmia.studies import lazy_exports

__all__ = ("SnnRobustnessConfig", "SnnRobustnessResult", "run", "leakage",
           "sweep", "MODELS", "OUTPUTS", "PRIVACY_ATTACKS", "SWEEP_ATTACKS",
           "SWEEP_DESIGNS", "STOCHASTIC_ENCODERS")
__getattr__, __dir__ = lazy_exports(__name__, __all__)

if TYPE_CHECKING:
  from tfmia.studies.snn_robustness.study import (  # noqa: F401
      SnnRobustnessConfig, SnnRobustnessResult, run, leakage, sweep, MODELS,
      OUTPUTS, PRIVACY_ATTACKS, SWEEP_ATTACKS, SWEEP_DESIGNS,
      STOCHASTIC_ENCODERS)
