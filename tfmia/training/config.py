"""Training configuration and the optimizer/schedule registry."""

from __future__ import annotations

import dataclasses
from typing import Callable

import tensorflow as tf

from tfmia.infra import io

LR_SCHEDULES = ("constant", "cosine", "step")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How to train a model. Saved as config.json next to its outputs."""

  optimizer: str = "adam"        # a name in `available_optimizers()`
  learning_rate: float = 1e-3    # initial learning rate
  lr_schedule: str = "constant"  # constant | cosine | step (x0.1 at 50%, 75%)
  momentum: float = 0.9          # for sgd / rmsprop
  weight_decay: float = 0.0      # decoupled weight decay; 0 disables it
  epochs: int = 10               # passes over the training data
  batch_size: int = 50           # examples per step
  seed: int = 0                  # seeds weights-independent randomness: shuffling, augmentation
  augment: bool = False          # random horizontal flips and shifts
  shift_fraction: float = 0.1    # largest shift, as a fraction of height/width
  early_stopping: bool = False   # stop when val_loss stops improving
  patience: int = 5              # epochs without improvement before stopping
  verbose: int = 0               # Keras' fit verbosity
  # What early stopping watches: "val_loss", or "val_accuracy" (mia_prune
  # keeps the epoch with the best dev accuracy).
  monitor: str = dataclasses.field(default="val_loss",
                                   metadata=io.ADDED_LATER)

  def __post_init__(self):
    if self.optimizer not in _OPTIMIZERS:
      raise ValueError(f"`optimizer` must be one of {available_optimizers()}. "
                       f"Received: optimizer={self.optimizer!r}")
    if self.monitor not in ("val_loss", "val_accuracy"):
      raise ValueError("`monitor` must be 'val_loss' or 'val_accuracy'. "
                       f"Received: monitor={self.monitor!r}")
    if self.lr_schedule not in LR_SCHEDULES:
      raise ValueError(f"`lr_schedule` must be one of {LR_SCHEDULES}. "
                       f"Received: lr_schedule={self.lr_schedule!r}")
    for name in ("learning_rate",):
      if not getattr(self, name) > 0:
        raise ValueError(f"`{name}` must be > 0. "
                         f"Received: {name}={getattr(self, name)!r}")
    for name in ("epochs", "batch_size", "patience"):
      v = getattr(self, name)
      if not isinstance(v, int) or v < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={v!r}")
    if self.weight_decay < 0:
      raise ValueError(f"`weight_decay` must be >= 0. "
                       f"Received: weight_decay={self.weight_decay!r}")
    if not 0 <= self.shift_fraction < 0.5:
      raise ValueError("`shift_fraction` must be in [0, 0.5). "
                       f"Received: shift_fraction={self.shift_fraction!r}")

  def replace(self, **changes) -> "TrainConfig":
    return dataclasses.replace(self, **changes)


# An optimizer factory takes (learning rate or schedule, config).
OptimizerFactory = Callable[[object, TrainConfig], tf.keras.optimizers.Optimizer]
_OPTIMIZERS: dict[str, OptimizerFactory] = {}


def register_optimizer(name: str):
  """Decorator: makes an optimizer factory available by name in TrainConfig."""
  def wrap(fn: OptimizerFactory) -> OptimizerFactory:
    _OPTIMIZERS[name] = fn
    return fn
  return wrap


def available_optimizers() -> tuple[str, ...]:
  return tuple(sorted(_OPTIMIZERS))


def _wd(config: TrainConfig):
  return config.weight_decay or None


@register_optimizer("adam")
def _adam(lr, config):
  if config.weight_decay:
    return tf.keras.optimizers.AdamW(lr, weight_decay=config.weight_decay)
  return tf.keras.optimizers.Adam(lr)


@register_optimizer("sgd")
def _sgd(lr, config):
  return tf.keras.optimizers.SGD(lr, momentum=config.momentum,
                                 weight_decay=_wd(config))


@register_optimizer("rmsprop")
def _rmsprop(lr, config):
  return tf.keras.optimizers.RMSprop(lr, momentum=config.momentum,
                                     weight_decay=_wd(config))


def learning_rate(config: TrainConfig, steps_per_epoch: int):
  """The learning rate or schedule for `config`."""
  total = max(1, config.epochs * steps_per_epoch)
  if config.lr_schedule == "cosine":
    return tf.keras.optimizers.schedules.CosineDecay(config.learning_rate, total)
  if config.lr_schedule == "step":
    return tf.keras.optimizers.schedules.PiecewiseConstantDecay(
        [int(total * 0.5), int(total * 0.75)],
        [config.learning_rate, config.learning_rate * 0.1,
         config.learning_rate * 0.01])
  return config.learning_rate


def make_optimizer(config: TrainConfig,
                   steps_per_epoch: int) -> tf.keras.optimizers.Optimizer:
  return _OPTIMIZERS[config.optimizer](learning_rate(config, steps_per_epoch),
                                       config)
