"""The SNN variant: a trained ANN converted to a spiking network at T
timesteps (and calibrated), or an SNN re-simulated at another T."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar, Optional, Sequence

import numpy as np

from tfmia.data import ClassificationData
from tfmia.variants.base import Variant, register_spec


def _calibration_config():
  from tfmia.training.calibration import CalibrationConfig
  return CalibrationConfig()


@dataclasses.dataclass(frozen=True)
class SnnVariant(Variant):
  """A spiking network at `timesteps` steps.

  From an ANN (or any non-spiking source) it converts with `thresholds`
  fitted on `calibration_samples` of the model's own members; from another
  `SnnVariant` it copies that SNN at the new T (progressive calibration, as
  in the SNN-MIA seed study). Either way it then fine-tunes with surrogate
  gradients on the members (`calibration`; epochs=0 skips it).

  Attributes:
    timesteps: T.
    thresholds: "data_driven" or "percentile" (`tfmia.snn.convert`).
    calibration_samples: members used to fit the thresholds.
    calibration: a `tfmia.training.calibration.CalibrationConfig`.
    seed: the choice of threshold samples and the converter's seed.
    source: the variant this one starts from (None: the trained ANN).
    surrogate: the spike's surrogate derivative during calibration
      (`tfmia.snn.SURROGATES`; "boxcar" is the reference code's).
    fold_batchnorm: fold BatchNorm into the weights at conversion (default),
      or keep it as a layer that calibration trains on batch statistics over
      the spiking activity, as the reference code does. Kept, it stays in
      the stored model (inference uses its running statistics, which is the
      folded network's function) so that the next T of a chain continues
      from it; `tfmia.snn.fold_batchnorm` folds it.
  """

  kind: ClassVar[str] = "snn"

  timesteps: int = 4
  thresholds: str = "data_driven"
  calibration_samples: int = 512
  calibration: object = dataclasses.field(default_factory=_calibration_config)
  seed: int = 0
  source: Optional[Variant] = None
  surrogate: str = "boxcar"
  fold_batchnorm: bool = True

  def __post_init__(self):
    from tfmia.snn import SURROGATES
    from tfmia.training.calibration import CalibrationConfig
    if self.surrogate not in SURROGATES:
      raise ValueError(f"`surrogate` must be one of {SURROGATES}. "
                       f"Received: surrogate={self.surrogate!r}")
    if isinstance(self.calibration, dict):
      object.__setattr__(self, "calibration",
                         CalibrationConfig(**self.calibration))
    if not isinstance(self.calibration, CalibrationConfig):
      raise TypeError("`calibration` must be a CalibrationConfig. Received: "
                      f"{type(self.calibration).__name__}")
    if not isinstance(self.timesteps, int) or self.timesteps < 1:
      raise ValueError("`timesteps` must be a positive int. "
                       f"Received: timesteps={self.timesteps!r}")
    if self.calibration_samples < 1:
      raise ValueError("`calibration_samples` must be >= 1. Received: "
                       f"calibration_samples={self.calibration_samples!r}")
    if self.source is not None and not isinstance(self.source, Variant):
      raise TypeError("`source` must be a Variant or None. "
                      f"Received: {type(self.source).__name__}")

  @classmethod
  def progressive(cls, timesteps: Sequence[int], *,
                  first_epochs: Optional[int] = None, **settings
                  ) -> tuple["SnnVariant", ...]:
    """One variant per T, each starting from the one before: converted at
    the first T, then copied and recalibrated at each later T.
    `first_epochs` overrides the calibration epochs at the first T (MIA_SNN
    runs 50 there and 30 at each later T)."""
    timesteps = list(timesteps)
    if not timesteps or timesteps != sorted(set(timesteps)):
      raise ValueError("`timesteps` must be strictly increasing. "
                       f"Received: timesteps={timesteps!r}")
    if first_epochs is not None and (not isinstance(first_epochs, int)
                                     or first_epochs < 0):
      raise ValueError("`first_epochs` must be an int >= 0 or None. "
                       f"Received: first_epochs={first_epochs!r}")
    out, prev = [], settings.pop("source", None)
    for i, t in enumerate(timesteps):
      here = dict(settings)
      if i == 0 and first_epochs is not None:
        here["calibration"] = dataclasses.replace(
            here.get("calibration") or _calibration_config(),
            epochs=first_epochs)
      prev = cls(timesteps=t, source=prev, **here)
      out.append(prev)
    return tuple(out)

  def label(self) -> str:
    return f"snn_T{self.timesteps}"

  def check(self, model) -> None:
    """The network must be one the simulator can express (every layer
    supported, one output): the conversion's own checks, on the graph."""
    super().check(model)
    if not isinstance(self.source, SnnVariant):
      from tfmia.snn import graph  # pylint: disable=g-import-not-at-top
      graph.parse(model, fold_batchnorm=self.fold_batchnorm)

  def apply(self, model, members: ClassificationData, *, name: str):
    from tfmia import snn
    from tfmia.training import calibration
    if isinstance(self.source, SnnVariant):
      spiking = snn.with_settings(model, timesteps=self.timesteps,
                                  surrogate=self.surrogate)
    else:
      rng = np.random.default_rng([self.seed, 5])
      pick = rng.choice(len(members.x_train), min(
          self.calibration_samples, len(members.x_train)), replace=False)
      spiking = snn.convert(model, members.x_train[np.sort(pick)],
                            timesteps=self.timesteps,
                            thresholds=self.thresholds, seed=self.seed,
                            name=f"{name}_snn", surrogate=self.surrogate,
                            fold_batchnorm=self.fold_batchnorm)
    if self.calibration.epochs:
      # Seeded here, as reference training seeds itself: otherwise the
      # calibration's shuffling would depend on whatever set TensorFlow's
      # global seed last in this process (e.g. which ANN was trained last).
      import tensorflow as tf
      tf.keras.utils.set_random_seed(self.seed)
      calibration.calibrate(spiking, members, self.calibration)
    return spiking

  def save(self, model, path: Path) -> None:
    from tfmia import snn
    from tfmia.training import calibration
    snn.save(model, path)

  def load(self, path: Path):
    from tfmia import snn
    from tfmia.training import calibration
    return snn.load(path)


@register_spec("snn", "snn:T (an SNN at T steps), snn:T1,T2,...,T "
                      "(calibrated progressively)")
def _snn_spec(arg: str, text: str, source, train):
  try:
    timesteps = [int(t) for t in arg.split(",")]
  except ValueError:
    raise ValueError("`variant` timesteps must be integers. "
                     f"Received: {text!r}") from None
  return SnnVariant.progressive(timesteps, source=source)[-1]
