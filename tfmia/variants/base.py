"""Model variants: named, fingerprinted transformations of a trained model.

A variant takes a trained model (and, where it needs them, that model's
members) and returns another model: an SNN at T timesteps today; pruned,
defended and DP-trained models later. Variants chain through `source`: an SNN
at T = 2 made from the SNN calibrated at T = 1, or (later) a pruned model
converted to an SNN.

Every variant of the target and of each reference model is made once, by
`load_model`, and kept beside its source model in the reference folder::

    refdir/ref_003/variants/snn_T2-1a2b3c4d5e6f/
      model.keras     the variant
      done.json       written last (`tfmia.infra.store`): the fingerprint of
                      (source model, variant chain) and the file's SHA-256

A rerun loads it; an interrupted or corrupted one is redone; one made from
a different source model is refused. Variants are loaded by a structured
key (the variant object), never by a parsed string.

Adding a variant kind is one new frozen dataclass here that subclasses
`Variant` and implements `label`, `apply`, `save` and `load`.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
import time
from pathlib import Path
from typing import ClassVar, Optional, Sequence

import numpy as np

from tfmia.infra import fs, io, store
from tfmia.infra import progress as progress_lib
from tfmia.data import ClassificationData

logger = logging.getLogger(__name__)

VARIANTS_DIR = "variants"
MODEL_FILE = "model.keras"


@dataclasses.dataclass(frozen=True)
class Variant(abc.ABC):
  """Base of every variant kind. Subclasses are frozen dataclasses whose
  fields are the variant's settings, and which define:

  - `kind`: a class-level name, e.g. "snn";
  - `label()`: a short readable name, e.g. "snn_T4";
  - `apply(model, members, name=...)`: the transformed model;
  - `save(model, path)` / `load(path)`.

  `source` is the variant this one is applied to; None means the trained
  model itself.
  """

  kind: ClassVar[str] = ""

  @property
  def chain(self) -> tuple["Variant", ...]:
    """This variant's sources, first applied first, ending with itself."""
    src = getattr(self, "source", None)
    return (src.chain if src is not None else ()) + (self,)

  def fingerprint(self) -> str:
    """Hash of the kind and every setting, sources included."""
    return store.fingerprint({"kind": self.kind, "settings": self})

  def key(self) -> str:
    """The folder name: readable label and a fingerprint prefix."""
    return f"{self.label()}-{self.fingerprint()[:12]}"

  @abc.abstractmethod
  def label(self) -> str:
    """See the class docstring."""

  @abc.abstractmethod
  def apply(self, model, members: ClassificationData, *, name: str):
    """See the class docstring."""

  @abc.abstractmethod
  def save(self, model, path: Path) -> None:
    """See the class docstring."""

  @abc.abstractmethod
  def load(self, path: Path):
    """See the class docstring."""


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


@dataclasses.dataclass(frozen=True)
class CheckpointVariant(Variant):
  """The model as it was after `epoch` of its training (its reference
  folder must keep per-epoch weights: `ReferenceConfig(checkpoints=...)`).
  Used to compare an SNN with its ANN at the same test accuracy.

  Attributes:
    epoch: 1-based.
  """

  kind: ClassVar[str] = "checkpoint"

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

  # The reference folder already holds a checkpoint's weights: `load_model`
  # reads them from there, and never stores a copy.
  def save(self, model, path: Path) -> None:
    raise TypeError("A checkpoint is read from its reference folder, not "
                    "stored as a variant.")

  def load(self, path: Path):
    raise TypeError("A checkpoint is read from its reference folder, not "
                    "stored as a variant.")


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

  def apply(self, model, members: ClassificationData, *, name: str):
    import tensorflow as tf
    from tfmia.variants import pruning
    pruning.check_pruner(self.pruner, self.sparsity, model)
    tf.keras.utils.set_random_seed(self.seed)
    result = pruning.prune_and_finetune(model, members, self.pruner,
                                        self.sparsity, self.finetune,
                                        self.defense)
    # Carried to `save`, which writes it beside the model.
    result.model._tfmia_prune_info = {
        "stats": result.stats, "epsilon": result.epsilon,
        "delta": self.defense.delta if result.epsilon is not None else None,
        "history": result.history.metrics if result.history else None}
    return result.model

  def save(self, model, path: Path) -> None:
    import os
    info = getattr(model, "_tfmia_prune_info", None)
    if info is not None:
      io.atomic_write_json(path.parent / PRUNE_INFO_FILE, info)
    with io.atomic_path(path, suffix=".keras") as tmp:
      model.save(os.fspath(tmp))

  def load(self, path: Path):
    import os

    import tensorflow as tf
    with io.local_file(path) as local:
      return tf.keras.models.load_model(os.fspath(local), compile=False)


def prune_info(refs, name: str, variant: PrunedVariant) -> dict:
  """The prune.json of a stored pruned variant (see `PrunedVariant`)."""
  return io.read_json(variant_dir(refs, name, variant) / PRUNE_INFO_FILE)


# ---------------------------------------------------------------------------
# The variant store


def variant_dir(refs, name: str, variant: Variant) -> Path:
  """Where `variant` of model `name` of reference folder `refs` lives."""
  return fs.path(refs.directory) / name / VARIANTS_DIR / variant.key()


def fingerprint(refs, name: str, variant: Optional[Variant]) -> str:
  """Identifies `variant` of model `name`: the source model and the chain."""
  base = refs.fingerprint(name)
  return base if variant is None else store.fingerprint(
      [base, variant.fingerprint()])


def members_of(refs, name: str, data: ClassificationData) -> ClassificationData:
  """`data` with model `name`'s members as its train split. The test split,
  which validates, is the model's dev set where the folder has one (the
  mia_prune split), else the population."""
  return data.members(refs.is_member_of(name),
                      validation=refs.validation_of(name))


def is_complete(refs, name: str, variant: Variant) -> bool:
  d = variant_dir(refs, name, variant)
  return store.is_done(d / store.DONE_FILE, fingerprint(refs, name, variant),
                       [d / MODEL_FILE])


def load_model(refs, name: str, data: ClassificationData,
               variant: Optional[Variant] = None, *,
               progress: bool = False):
  """Model `name` ("target", "ref_003") of reference folder `refs` as
  `variant`: loaded when stored, otherwise made (sources first), stored and
  returned.

  Args:
    refs: a `tfmia.reference.ReferenceSet`.
    name: the model.
    data: the folder's prepared data (its train split is the pool).
    variant: a `Variant`; None is the trained model itself.
    progress: print a line per variant made.

  Raises:
    ValueError: the stored variant was made from another source model.
  """
  if variant is None:
    return refs.load_model(name, data.input_shape, data.num_classes)
  if not isinstance(variant, Variant):
    raise TypeError("`variant` must be a tfmia.variants.Variant or None. "
                    f"Received: {type(variant).__name__}")
  d = variant_dir(refs, name, variant)
  marker, path = d / store.DONE_FILE, d / MODEL_FILE
  fp = fingerprint(refs, name, variant)
  store.check_fingerprint(marker, fp, f"Variant {variant.label()} of {name}")
  if isinstance(variant, CheckpointVariant):
    # The folder already holds the weights: nothing to make or store.
    return variant.apply(None, data, name=name, refs=refs)
  start = []

  def make():
    source = load_model(refs, name, data, getattr(variant, "source", None),
                        progress=progress)
    if progress:
      progress_lib.say(f"  {name}: making {variant.label()}")
    start.append(time.perf_counter())
    model = variant.apply(source, members_of(refs, name, data), name=name)
    variant.save(model, path)
    return model

  return store.unit(
      marker, fp, [path], make, load=lambda: variant.load(path),
      info=lambda _: dict(model=name, variant=variant.label(),
                          settings=io.to_jsonable(variant),
                          seconds=time.perf_counter() - start[0]))


def _variants_unit(refs, name, data, chain):
  for v in chain:
    load_model(refs, name, data, v)
  return name


def make_variants(refs, data: ClassificationData, chain: Sequence[Variant],
                  *, names: Optional[Sequence[str]] = None, executor=None,
                  progress: bool = False) -> list[str]:
  """Makes (or finds) every variant of `chain`, in order, of each model of
  reference folder `refs` (all of them when `names` is None). Each model
  is one unit of `executor` (a `tfmia.infra.executors` executor; None: here, one
  after another), so a chain whose variants build on each other stays in
  order; the data goes to Ray workers once. Returns the models done;
  raises, naming each, if any failed."""
  from tfmia.infra import executors  # pylint: disable=g-import-not-at-top
  names = list(names if names is not None else refs.model_names())
  chain = tuple(chain)
  if executor is None:
    for name in names:
      for v in chain:
        load_model(refs, name, data, v, progress=progress)
    return names
  shared = executors.Shared(data)
  report = executor.run([executors.Unit(f"{name} variants", _variants_unit,
                                        (refs, name, shared, chain))
                         for name in names])
  report.raise_failures()
  return list(report.values.values())


SPEC_HELP = ("snn:T (an SNN at T steps), snn:T1,T2,...,T (calibrated "
             "progressively), pruned:PRUNER:SPARSITY[:DEFENSE[:ARG]] (e.g. "
             "pruned:l1_structured:0.7:ppb:4), several joined by + to chain "
             "them (pruned:l1_structured:0.5+snn:4), or none")


def _one_spec(text: str, source, train):
  kind, _, arg = text.partition(":")
  if kind == "snn" and arg:
    try:
      timesteps = [int(t) for t in arg.split(",")]
    except ValueError:
      raise ValueError("`variant` timesteps must be integers. "
                       f"Received: {text!r}") from None
    return SnnVariant.progressive(timesteps, source=source)[-1]
  if kind == "pruned" and arg:
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
  raise ValueError(f"`variant` must be {SPEC_HELP}. Received: {text!r}")


def from_spec(text: str, *, train=None) -> Optional[Variant]:
  """A variant from its command-line form (`SPEC_HELP`). A pruned variant
  fine-tunes with `train` (the models' own `TrainConfig`) for half its
  epochs, as mia_prune does; with default settings when `train` is None."""
  if text is None or text == "none":
    return None
  variant = None
  for part in str(text).split("+"):
    variant = _one_spec(part.strip(), variant, train)
  return variant
