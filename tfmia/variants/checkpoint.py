"""The checkpoint variant: a model as it was after an earlier epoch, read
from its reference folder's per-epoch weights."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfmia.data import ClassificationData
from tfmia.variants.base import Variant


@dataclasses.dataclass(frozen=True)
class CheckpointVariant(Variant):
  """The model as it was after `epoch` of its training (its reference
  folder must keep per-epoch weights: `ReferenceConfig(checkpoints=...)`).
  Used to compare an SNN with its ANN at the same test accuracy.

  Attributes:
    epoch: 1-based.
  """

  kind: ClassVar[str] = "checkpoint"
  stored: ClassVar[bool] = False

  epoch: int = 1

  def __post_init__(self):
    if not isinstance(self.epoch, int) or isinstance(self.epoch, bool) \
        or self.epoch < 1:
      raise ValueError("`epoch` must be a positive int. "
                       f"Received: epoch={self.epoch!r}")

  def label(self) -> str:
    return f"epoch{self.epoch}"

  def apply(self, model, members: ClassificationData, *, name: str,
            refs=None):
    if refs is None:
      raise ValueError("CheckpointVariant needs the reference folder.")
    return refs.load_checkpoint(name, self.epoch, members.input_shape,
                                members.num_classes)
