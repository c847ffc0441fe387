"""`ReferenceSet`: a finished reference folder, checked before any work,
and its models, checkpoints and membership."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from tfmia.infra import fs, io, store
from tfmia import models
from tfmia.training.loop import WEIGHTS_FILE, load_weights

from tfmia.references.membership import (CONFIG_FILE, DONE_FILE,
                                         LOSS_TRACE_FILE, MEMBER_FILE,
                                         MEMBERSHIP_FILE, TARGET,
                                         membership_matrix, mia_prune_split,
                                         model_index, model_name,
                                         target_membership)
from tfmia.references.config import ReferenceConfig
from tfmia.references.one_model import checkpoint_epochs, checkpoint_path
from tfmia.references.training import (job_names, read_membership,
                                       unit_problem)

# ---------------------------------------------------------------------------
# Loading


@dataclasses.dataclass(frozen=True, eq=False)
class ReferenceSet:
  """A finished reference folder: its config and membership.

  Attributes:
    directory: the folder.
    config: its ReferenceConfig (num_models = the K in use).
    ref_is_member: (K, N) bool membership of the K reference models.
    target_is_member: (N,) bool membership of the target model.
  """

  directory: Path
  config: ReferenceConfig
  ref_is_member: np.ndarray
  target_is_member: np.ndarray
  # The mia_prune split's other masks (`mia_prune_split`); None for pairs.
  split_masks: Optional[dict] = None

  @property
  def num_models(self) -> int:
    return len(self.ref_is_member)

  @property
  def evaluated(self) -> Optional[np.ndarray]:
    """(N,) bool: the examples the target is attacked on (mia_prune: its
    train and test sets); None: the whole pool."""
    if self.split_masks is None:
      return None
    return self.target_is_member | self.split_masks["target_test"]

  @property
  def ref_in_split(self) -> Optional[np.ndarray]:
    """(K, N) bool: each shadow model's own train and test examples
    (mia_prune); None: the whole pool."""
    if self.split_masks is None:
      return None
    return self.ref_is_member | self.split_masks["ref_test"][:self.num_models]

  @property
  def population_in_pool(self) -> Optional[np.ndarray]:
    """(N,) bool: pool examples that serve as the population (mia_prune:
    the victim's dev set, which no model trains on); None: the population
    is the data's test split."""
    if self.split_masks is None:
      return None
    return self.split_masks["target_dev"]

  def own_split(self, name: str) -> Optional[np.ndarray]:
    """(N,) bool: model `name`'s own train and test examples, the ones
    mia_prune queries it on (target: `evaluated`; shadow k: row k of
    `ref_in_split`); None: the whole pool."""
    self._check_name(name)
    if self.split_masks is None:
      return None
    if name == TARGET:
      return self.evaluated
    return self.ref_in_split[model_index(name)]

  def validation_of(self, name: str) -> Optional[np.ndarray]:
    """(N,) bool: model `name`'s dev set (mia_prune); None otherwise."""
    self._check_name(name)
    if self.split_masks is None:
      return None
    if name == TARGET:
      return self.split_masks["target_dev"]
    return self.split_masks["ref_dev"][model_index(name)]

  @classmethod
  def load(cls, directory: Union[str, os.PathLike],
           num_models: Optional[int] = None,
           config: Optional[ReferenceConfig] = None) -> "ReferenceSet":
    """Loads and checks a reference folder before any work is done.

    Raises:
      FileNotFoundError: the folder, its membership file, or some of the
        target / K reference models are missing or incomplete (named).
      ValueError: the membership matrix does not match the config's seed or
        the models' membership masks, or `config` differs from the folder's.
    """
    directory = fs.path(directory)
    if not (directory / CONFIG_FILE).is_file():
      raise FileNotFoundError(
          f"No reference folder at {directory} (no {CONFIG_FILE}). "
          "Run `tfmia reference train` first.")
    saved = ReferenceConfig.load(directory / CONFIG_FILE)
    if config is not None and config.fingerprint() != saved.fingerprint():
      raise ValueError(f"{directory} was trained with a different "
                       "configuration than the one given.")
    k = num_models or (config.num_models if config else saved.num_models)
    if not (directory / MEMBERSHIP_FILE).is_file():
      raise FileNotFoundError(f"{directory / MEMBERSHIP_FILE} is missing.")
    ref_is_member, target_is_member = read_membership(
        directory / MEMBERSHIP_FILE)
    n = ref_is_member.shape[1]
    split_masks = None
    if saved.split == "mia_prune":
      split_masks = mia_prune_split(n, k, saved.seed)
      expected, target_expected = (split_masks["ref_is_member"],
                                   split_masks["target_is_member"])
    else:
      expected = membership_matrix(n, k, saved.seed)
      target_expected = target_membership(n, saved.seed)
    m = min(k, len(ref_is_member))
    if (not np.array_equal(ref_is_member[:m], expected[:m])
        or not np.array_equal(target_is_member, target_expected)):
      raise ValueError(
          f"The membership matrix in {directory / MEMBERSHIP_FILE} "
          f"(shape {ref_is_member.shape}) does not match {k} reference models with "
          f"seed {saved.seed}.")
    ref_is_member = expected
    fingerprint = saved.fingerprint()
    names = job_names(k)
    problems = {nm: unit_problem(directory / nm, fingerprint,
                                 loss_trace=saved.loss_traces)
                for nm in names}
    missing = [f"{nm} ({why})" for nm, why in problems.items() if why]
    if missing:
      raise FileNotFoundError(
          f"{len(missing)} of {len(names)} models in {directory} are missing "
          f"or incomplete: {', '.join(missing)}. Run `tfmia reference train` "
          "(it resumes, and redoes corrupted models).")
    for nm, row in zip(names, [target_is_member] + list(ref_is_member[:k])):
      if not np.array_equal(io.load_npy(directory / nm / MEMBER_FILE), row):
        raise ValueError(f"{directory / nm / MEMBER_FILE} does not match its "
                         f"row of the membership matrix.")
    return cls(directory=directory, config=saved.replace(num_models=k),
               ref_is_member=ref_is_member[:k],
               target_is_member=target_is_member, split_masks=split_masks)

  def load_model(self, name: str, input_shape: Sequence[int],
                 num_classes: int, *, into=None):
    """Builds model `name` ("target" or "ref_003") and loads its weights.
    Its variants are loaded with `tfmia.variants.load_model`.

    `into`: a model this folder's `load_model` built before (any of its
    models); the weights are loaded into it instead of a new model, so a
    graph traced for it serves every model of the folder."""
    self._check_name(name)
    model = into if into is not None else models.build_model(
        self.config.model, tuple(input_shape), num_classes,
        **dict(self.config.model_kwargs))
    return load_weights(model, self.directory / name / WEIGHTS_FILE)

  def checkpoint_epochs(self, name: str) -> list[int]:
    """The epochs whose weights model `name` kept (ReferenceConfig's
    `checkpoints`); empty when it kept none."""
    self._check_name(name)
    return checkpoint_epochs(self.directory / name)

  def load_checkpoint(self, name: str, epoch: int, input_shape: Sequence[int],
                      num_classes: int):
    """Model `name` with its weights after `epoch`."""
    self._check_name(name)
    path = checkpoint_path(self.directory / name, epoch)
    if not path.is_file():
      raise ValueError(f"Model {name!r} kept no weights for epoch {epoch} "
                       f"({path} is missing); it kept epochs "
                       f"{self.checkpoint_epochs(name) or 'none'}. Train with "
                       f"ReferenceConfig(checkpoints=({name!r},)).")
    model = models.build_model(self.config.model, tuple(input_shape),
                               num_classes, **dict(self.config.model_kwargs))
    return load_weights(model, path)

  def _check_name(self, name: str) -> None:
    if name not in self.model_names():
      raise ValueError(f"`name` must be one of {TARGET!r} or ref_000 .. "
                       f"{model_name(self.num_models - 1)}. Received: {name!r}")

  def model_names(self) -> list[str]:
    """The target, then the K reference models."""
    return job_names(self.num_models)

  def reference_names(self) -> list[str]:
    return [model_name(k) for k in range(self.num_models)]

  def is_member_of(self, name: str) -> np.ndarray:
    """(N,) bool: the pool examples model `name` trained on."""
    self._check_name(name)
    if name == TARGET:
      return self.target_is_member
    return self.ref_is_member[model_index(name)]

  def fingerprint(self, name: str) -> str:
    """Identifies model `name`: the folder's config, the name and the hash
    of its weights (so a retrained model is a different source)."""
    done = store.read_done(self.directory / name / DONE_FILE) or {}
    return store.fingerprint([self.config.fingerprint(), name,
                              done.get("sha256", {}).get(WEIGHTS_FILE)])

  def loss_trace(self, name: str) -> np.ndarray:
    """(N, T): model `name`'s loss of each pool example before training and
    after each epoch (a folder trained with `loss_traces=True`)."""
    self._check_name(name)
    path = self.directory / name / LOSS_TRACE_FILE
    if not path.is_file():
      raise FileNotFoundError(
          2, "No loss trace: train the folder with loss_traces=True",
          os.fspath(path))
    with io.local_file(path) as local:
      return np.load(local).T

  def accuracy(self, name: str) -> tuple[float, float]:
    """(member, non-member) accuracy recorded when `name` finished training."""
    done = io.read_json(self.directory / name / DONE_FILE)
    return done["member_accuracy"], done["nonmember_accuracy"]
