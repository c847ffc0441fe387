"""The architecture case study: conv vs dense, depth 7 vs 4, and 4 classes.

`study.py`: the config and `run`; `report.py`: its tables and figures;
`cli.py`: its flags (`tfmia case-study architectures`). The names below are
`study.py`'s, imported on first use (see `tfmia.studies`).
"""

from typing import TYPE_CHECKING

from tfmia.studies import lazy_exports

__all__ = ("ArchitectureStudyConfig", "ArchitectureStudyResult", "run",
           "ModelSpec", "ModelOutcome", "MODELS", "EXPERIMENTS",
           "QUICK_SIZE", "OUTPUTS")
__getattr__, __dir__ = lazy_exports(__name__, __all__)

if TYPE_CHECKING:
  from tfmia.studies.architectures.study import (  # noqa: F401
      ArchitectureStudyConfig, ArchitectureStudyResult, run, ModelSpec,
      ModelOutcome, MODELS, EXPERIMENTS, QUICK_SIZE, OUTPUTS)
