"""Training: configs, the training loop and callbacks (incl. PrivacyMetrics)."""

from tfmia.training.callbacks import (EpochProgress, LogitsFunction,
                                      PrivacyMetrics, predict_logits)
from tfmia.training.config import (TrainConfig, available_optimizers,
                                   register_optimizer)
from tfmia.training.loop import (TrainingHistory, TrainResult, save_weights,
                                 train_model)

__all__ = ["EpochProgress", "LogitsFunction", "PrivacyMetrics",
           "TrainConfig", "TrainResult", "TrainingHistory",
           "available_optimizers", "predict_logits", "register_optimizer",
           "save_weights", "train_model"]
