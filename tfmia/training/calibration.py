"""`calibrate`: surrogate-gradient fine-tuning of a spiking model at its T.

Backpropagation through time over the T steps of `SpikingNetwork`, with the
network's surrogate derivative (by default the reference code's boxcar:
gradient 1 where |v − θ| < (θ − v_0)/T, none through the reset; see
`tfmia.snn.network`). Thresholds and initial
potentials stay fixed; weights and biases learn. Training runs through
`tfmia.training.train_model`, so every callback (PrivacyMetrics included),
optimizer and loss override works here too.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from tfmia.data import ClassificationData
from tfmia.training import TrainConfig, TrainingHistory, train_model


_TRAIN_FIELDS = ("learning_rate", "momentum", "weight_decay", "lr_schedule",
                 "epochs", "batch_size", "augment", "shift_fraction", "seed")


@dataclasses.dataclass(frozen=True)
class CalibrationConfig:
  """SGD with momentum, a cosine schedule and weight decay, as in the
  low-latency conversion literature. `CalibrationConfig.mia_snn()` is the
  recipe of the MIA_SNN seed code."""

  epochs: int = 5
  learning_rate: float = 1e-3     # 1e-2 diverged on BN-folded CIFAR VGGs
  momentum: float = 0.9
  weight_decay: float = 5e-4
  lr_schedule: str = "cosine"
  batch_size: int = 64
  augment: bool = False           # random flips and zero-filled shifts
  shift_fraction: float = 0.125   # largest shift: 4 of 32 pixels
  seed: int = 0

  def __post_init__(self):
    if not isinstance(self.epochs, int) or self.epochs < 0:
      raise ValueError("`epochs` must be an int >= 0 (0 skips calibration). "
                       f"Received: epochs={self.epochs!r}")
    # The same checks as training, before any work (epochs=0 allowed here).
    dict_ = dataclasses.asdict(self)
    dict_.update(epochs=max(self.epochs, 1))
    TrainConfig(optimizer="sgd", **{k: v for k, v in dict_.items()
                                    if k in _TRAIN_FIELDS})

  @classmethod
  def mia_snn(cls, epochs: int = 30, **changes) -> "CalibrationConfig":
    """MIA_SNN's calibration (`train_snn_converted.py`,
    `Scripts/03_calibrate.sh`): batch 16, SGD lr 1e-3, momentum 0.9, no
    weight decay, a cosine schedule over the epochs, random crops (32 with
    padding 4: shifts of up to 4 pixels, zero-filled) and flips. Its chain
    runs 50 epochs at T = 1 and 30 at each later T."""
    return cls(**dict(dict(epochs=epochs, learning_rate=1e-3, momentum=0.9,
                           weight_decay=0.0, lr_schedule="cosine",
                           batch_size=16, augment=True, shift_fraction=0.125),
                      **changes))

  def train_config(self) -> TrainConfig:
    return TrainConfig(optimizer="sgd", learning_rate=self.learning_rate,
                       momentum=self.momentum, weight_decay=self.weight_decay,
                       lr_schedule=self.lr_schedule, epochs=self.epochs,
                       batch_size=self.batch_size, augment=self.augment,
                       shift_fraction=self.shift_fraction, seed=self.seed)


def calibrate(model: tf.keras.Model, data,
              config: CalibrationConfig = CalibrationConfig(), *,
              epochs: Optional[int] = None,
              callbacks: Sequence[tf.keras.callbacks.Callback] = (),
              out_dir: Optional[Union[str, os.PathLike]] = None
              ) -> TrainingHistory:
  """Fine-tunes `model` (from `tfmia.snn.convert`) in place.

  Args:
    model: a spiking model.
    data: a ClassificationData (trains on x_train, validates on x_test), or
      an (x, y) pair to train on (no validation).
    config: optimizer, schedule, weight decay, epochs, batch size, seed.
    epochs: overrides `config.epochs`.
    callbacks: Keras callbacks, e.g. PrivacyMetrics.
    out_dir: receives config.json, history.json and the weights.

  Returns:
    The per-epoch history.
  """
  from tfmia.snn.network import network_of
  network_of(model)   # a clear error for a non-spiking model
  if epochs is not None:
    config = dataclasses.replace(config, epochs=epochs)
  if isinstance(data, (tuple, list)):
    if len(data) != 2 or len(data[0]) != len(data[1]):
      raise ValueError("`data` must be a ClassificationData or an (x, y) "
                       "pair of equal length.")
    x, y = np.asarray(data[0], np.float32), np.asarray(data[1])
    # train_model validates every epoch; one example keeps that cheap.
    data = ClassificationData(
        name="calibration", x_train=x, y_train=y, x_test=x[:1],
        y_test=y[:1], class_names=tuple(
            str(c) for c in range(int(model.output_shape[-1]))),
        pixel_max=1.0)
  result = train_model(model, data, config.train_config(), out_dir=out_dir,
                       callbacks=callbacks,
                       extra_config={"calibration": config})
  return result.history
