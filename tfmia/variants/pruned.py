"""The pruned variant: a model pruned to a sparsity, then fine-tuned on its
own members with a defense (mia_prune's setting). Its `make` writes
prune.json beside the model: the achieved sparsity, parameters, FLOPs, the
fine-tuning history and, under DP-SGD, ε."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar, Optional

from tfmia.infra import io
from tfmia.data import ClassificationData
from tfmia.variants.base import Variant, register_spec, variant_dir


def _finetune_config():
  from tfmia.training import TrainConfig
  return TrainConfig(epochs=5)


def _no_defense():
  from tfmia.training.defenses import Defense
  return Defense()


PRUNE_INFO_FILE = "prune.json"


@dataclasses.dataclass(frozen=True)
class PrunedVariant(Variant):
  """The model pruned by `pruner` to `sparsity`, then fine-tuned on its own
  members with `defense` (`tfmia.variants.pruning.prune_and_finetune`). mia_prune
  fine-tunes for half the training epochs; `finetune` says how here.

  Attributes:
    pruner: one of `tfmia.variants.pruning.PRUNERS`.
    sparsity: in (0, 1).
    finetune: a `tfmia.training.TrainConfig`.
    defense: a `tfmia.training.defenses.Defense` used during the fine-tuning.
    seed: seeds the fine-tuning.
    source: the variant this one prunes (None: the trained model).

  The variant folder also holds prune.json: the achieved sparsity,
  parameters, FLOPs, the fine-tuning history and, under DP-SGD, ε.
  """

  kind: ClassVar[str] = "pruned"

  pruner: str = "l1_unstructured"
  sparsity: float = 0.5
  finetune: object = dataclasses.field(default_factory=_finetune_config)
  defense: object = dataclasses.field(default_factory=_no_defense)
  seed: int = 0
  source: Optional[Variant] = None

  def __post_init__(self):
    from tfmia.variants import pruning
    from tfmia.training.defenses import Defense
    from tfmia.training import TrainConfig
    if isinstance(self.finetune, dict):
      object.__setattr__(self, "finetune", TrainConfig(**self.finetune))
    if isinstance(self.defense, dict):
      object.__setattr__(self, "defense", Defense(**self.defense))
    if not isinstance(self.finetune, TrainConfig):
      raise TypeError("`finetune` must be a TrainConfig. Received: "
                      f"{type(self.finetune).__name__}")
    if not isinstance(self.defense, Defense):
      raise TypeError("`defense` must be a tfmia.training.defenses.Defense. "
                      f"Received: {type(self.defense).__name__}")
    pruning.check_pruner(self.pruner, self.sparsity)
    if self.source is not None and not isinstance(self.source, Variant):
      raise TypeError("`source` must be a Variant or None. "
                      f"Received: {type(self.source).__name__}")

  def label(self) -> str:
    tail = "" if self.defense.name == "none" else f"_{self.defense.label()}"
    return f"{self.pruner}_{self.sparsity:g}{tail}"

  def check(self, model) -> None:
    """A structured pruner needs Conv2D layers, 'slim' BatchNorm ones."""
    from tfmia.variants import pruning
    super().check(model)
    pruning.check_pruner(self.pruner, self.sparsity, model)

  def _prune(self, model, members: ClassificationData):
    import tensorflow as tf
    from tfmia.variants import pruning
    pruning.check_pruner(self.pruner, self.sparsity, model)
    tf.keras.utils.set_random_seed(self.seed)
    return pruning.prune_and_finetune(model, members, self.pruner,
                                      self.sparsity, self.finetune,
                                      self.defense)

  def apply(self, model, members: ClassificationData, *, name: str):
    return self._prune(model, members).model

  def make(self, model, members: ClassificationData, path: Path, *,
           name: str):
    """Prunes, fine-tunes and saves the model, with prune.json beside it."""
    result = self._prune(model, members)
    io.atomic_write_json(path.parent / PRUNE_INFO_FILE, {
        "stats": result.stats, "epsilon": result.epsilon,
        "delta": self.defense.delta if result.epsilon is not None else None,
        "history": result.history.metrics if result.history else None})
    self.save(result.model, path)
    return result.model

  def save(self, model, path: Path) -> None:
    import os
    with io.atomic_path(path, suffix=".keras") as tmp:
      model.save(os.fspath(tmp))

  def load(self, path: Path):
    from tfmia import models
    return models.load_saved_model(path)


def prune_info(refs, name: str, variant: PrunedVariant) -> dict:
  """The prune.json of a stored pruned variant (see `PrunedVariant`)."""
  return io.read_json(variant_dir(refs, name, variant) / PRUNE_INFO_FILE)


@register_spec("pruned", "pruned:PRUNER:SPARSITY[:DEFENSE[:ARG]] (e.g. "
                         "pruned:l1_structured:0.7:ppb:4)")
def _pruned_spec(arg: str, text: str, source, train):
  from tfmia.training.defenses import DEFAULT_ARG, Defense
  parts = arg.split(":")
  if len(parts) not in (2, 3, 4):
    raise ValueError("`variant` must look like pruned:PRUNER:SPARSITY"
                     f"[:DEFENSE[:ARG]]. Received: {text!r}")
  try:
    sparsity = float(parts[1])
    defense_arg = float(parts[3]) if len(parts) == 4 else DEFAULT_ARG
  except ValueError:
    raise ValueError("`variant`'s sparsity and defense argument must be "
                     f"numbers. Received: {text!r}") from None
  defense = Defense(parts[2] if len(parts) > 2 else "none", defense_arg)
  finetune = (_finetune_config() if train is None else
              train.replace(epochs=max(1, train.epochs // 2)))
  return PrunedVariant(pruner=parts[0], sparsity=sparsity,
                       finetune=finetune, defense=defense, source=source)
