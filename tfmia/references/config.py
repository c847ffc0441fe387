"""`ReferenceConfig`: what a reference folder trains, saved in its
config.json; its fingerprint covers what the models learn."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Optional, Union


from tfmia.infra import fs, io, store
from tfmia import models
from tfmia.data import DataConfig
from tfmia.training.config import TrainConfig
from tfmia.training.hire import HireConfig

from tfmia.references.membership import SPLITS, TARGET

# ---------------------------------------------------------------------------
# Configuration


@dataclasses.dataclass(frozen=True)
class ReferenceConfig:
  """A target model and K reference models of one architecture.

  Saved as config.json in the reference folder. `tfmia reference train` and
  `tfmia audit` both read it.
  """

  data: DataConfig = DataConfig()      # train split = pool, test = population
  model: str = "conv"                  # a registered model builder
  model_kwargs: tuple[tuple[str, Any], ...] = ()  # builder options, (key, value)
  train: TrainConfig = TrainConfig()
  num_models: int = 4                  # K reference models (even)
  seed: int = 0                        # membership and weight-init seed
  reference_dir: str = "references"    # where the models are written
  # Models ("target", "ref_000", ...) whose weights are also kept after every
  # epoch, in <model>/checkpoints/ (not part of the fingerprint).
  checkpoints: tuple = ()
  # "pairs": complementary random halves of the pool (RMIA / LiRA). Or
  # "mia_prune": a victim half and a shadow half, each split into train,
  # test and dev (`mia_prune_split`); models validate on their dev set.
  split: str = dataclasses.field(default="pairs", metadata=io.ADDED_LATER)
  # Train every model with HIRE-SNN's crafted input noise
  # (`tfmia.training.hire`) instead of plain `train_model`: a spiking model's
  # references then are HIRE-trained too. None: standard training.
  hire: Optional[HireConfig] = dataclasses.field(default=None,
                                                 metadata=io.ADDED_LATER)
  # Train up to this many models at once, side by side in one Keras graph
  # (`tfmia.training.together`): each model's weights are those it gets
  # trained alone, so it is not part of the fingerprint. 1: one by one.
  together: int = dataclasses.field(default=1, metadata=io.ADDED_LATER)
  # Also record each model's loss on every pool example before training
  # and after every epoch (<model>/loss_trace.npy, (epochs + 1, N)): what
  # LT-IQR scores. One inference pass over the pool per epoch.
  loss_traces: bool = dataclasses.field(default=False,
                                        metadata=io.ADDED_LATER)

  def __post_init__(self):
    if self.hire is not None and not isinstance(self.hire, HireConfig):
      raise TypeError("`hire` must be a tfmia.training.hire.HireConfig or "
                      f"None. Received: {type(self.hire).__name__}")
    object.__setattr__(self, "checkpoints", tuple(self.checkpoints))
    if self.hire is not None and self.checkpoints:
      raise ValueError("`checkpoints` are not kept under HIRE training "
                       "(`hire`): the per-epoch callback would save HIRE's "
                       "training wrapper, not the spiking model. Received: "
                       f"checkpoints={self.checkpoints!r}")
    for name in self.checkpoints:
      if name != TARGET and not (isinstance(name, str)
                                 and name.startswith("ref_")
                                 and name[4:].isdigit()):
        raise ValueError("`checkpoints` must name models: 'target' or "
                         f"'ref_000', 'ref_001', .... Received: {name!r}")
    object.__setattr__(self, "model_kwargs", tuple(
        (str(k), v) for k, v in (self.model_kwargs.items()
                                 if isinstance(self.model_kwargs, dict)
                                 else self.model_kwargs)))
    models.get_builder(self.model)   # a registered or an importable one
    if (not isinstance(self.together, int) or isinstance(self.together, bool)
        or self.together < 1):
      raise ValueError("`together` must be a positive int. "
                       f"Received: together={self.together!r}")
    if self.together > 1 and self.hire is not None:
      raise ValueError("HIRE-SNN training (`hire`) crafts its noise per "
                       "model and cannot train models together: use "
                       f"together=1. Received: together={self.together}")
    if self.loss_traces and self.hire is not None:
      raise ValueError("Loss traces are not recorded under HIRE training "
                       "(`hire`). Received: loss_traces=True")
    if self.together > 1 and self.train.early_stopping:
      raise ValueError("Early stopping would stop models trained together "
                       "at one epoch: use together=1. Received: "
                       f"together={self.together}")
    if self.split not in SPLITS:
      raise ValueError(f"`split` must be one of {SPLITS}. "
                       f"Received: split={self.split!r}")
    if self.split == "mia_prune":
      if not isinstance(self.num_models, int) or self.num_models < 1:
        raise ValueError("`num_models` must be a positive int. "
                         f"Received: num_models={self.num_models!r}")
    elif (not isinstance(self.num_models, int) or self.num_models < 2
          or self.num_models % 2):
      raise ValueError("`num_models` must be an even int >= 2 (models come in "
                       f"complementary pairs). Received: "
                       f"num_models={self.num_models!r}")

  def replace(self, **changes) -> "ReferenceConfig":
    return dataclasses.replace(self, **changes)

  @classmethod
  def from_dict(cls, d: dict) -> "ReferenceConfig":
    return io.from_dict(cls, d, "reference config")

  def to_dict(self) -> dict:
    """The config as JSON-ready values, `model_kwargs` as a dict."""
    d = io.to_jsonable(self)
    d["model_kwargs"] = dict(io.to_jsonable(dict(self.model_kwargs)))
    return d

  def save(self, path: Union[str, os.PathLike]) -> None:
    """Writes the config as JSON (atomically); `load` reads it back."""
    io.atomic_write_json(path, self.to_dict())

  @classmethod
  def load(cls, path: Union[str, os.PathLike]) -> "ReferenceConfig":
    path = fs.path(path)
    if not path.is_file():
      raise FileNotFoundError(f"Config file not found: {path}")
    try:
      return cls.from_dict(io.read_config(path))
    except (TypeError, ValueError) as e:
      if str(path) in str(e):
        raise
      raise ValueError(f"{path}: {e}") from None

  def fingerprint(self) -> str:
    """Hash of everything that changes what a model learns (not K, not the
    folder): models trained under the same fingerprint are interchangeable."""
    return store.fingerprint(_learned(self))


def _learned(config: ReferenceConfig) -> dict:
  """The settings that change what a model learns (what the fingerprint
  hashes)."""
  kept = {k: v for k, v in io.to_jsonable(config).items()
          if k not in ("num_models", "reference_dir", "checkpoints",
                       "together")}
  kept["data"].pop("data_dir", None)
  kept["data"].pop("download", None)
  kept["train"].pop("verbose", None)
  return kept


