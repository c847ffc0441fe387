"""Training: configs, the training loop and a progress callback.

The per-epoch privacy audit, `PrivacyMetrics`, runs attacks, so it sits
above them, in `tfmia.audits.callback`.
"""

from tfmia.training.callbacks import EpochProgress
from tfmia.training.config import (TrainConfig,
                                   available_optimizers,
                                   register_optimizer)
from tfmia.training.loop import (TrainingHistory,
                                 TrainResult,
                                 save_weights,
                                 train_model)

__all__ = ["EpochProgress", "TrainConfig", "TrainResult", "TrainingHistory",
           "available_optimizers", "register_optimizer", "save_weights",
           "train_model"]
