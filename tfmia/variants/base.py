"""Model variants: named, fingerprinted transformations of a trained model.

A variant takes a trained model (and, where it needs them, that model's
members) and returns another model: an SNN at T timesteps (`snn`), a pruned
and fine-tuned model (`pruned`), the model at an earlier epoch
(`checkpoint`). Variants chain through `source`: an SNN at T = 2 made from
the SNN calibrated at T = 1, or a pruned model converted to an SNN.

Every variant of the target and of each reference model is made once, by
`load_model`, and kept beside its source model in the reference folder::

    refdir/ref_003/variants/snn_T2-1a2b3c4d5e6f/
      model.keras     the variant (and any side files its `make` writes)
      done.json       written last (`tfmia.infra.store`): the fingerprint of
                      (source model, variant chain) and the files' SHA-256

A rerun loads it; an interrupted or corrupted one is redone; one made from
a different source model is refused. Variants are loaded by a structured
key (the variant object), never by a parsed string.

Adding a variant kind is one new module in `tfmia/variants/`: a frozen
dataclass that subclasses `Variant` (`label`, `apply`, `save`, `load`, and
`make` when it writes side files) and, for the command line, a parser
registered with `register_spec`.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
import time
from pathlib import Path
from typing import Callable, ClassVar, Optional, Sequence

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
  - `save(model, path)` / `load(path)`;
  - `make(model, members, path, name=...)`: apply and save; a kind that
    keeps side information (a pruned model's statistics) writes it here,
    beside the model, so nothing rides on the model object.

  `stored` is False for a kind read from elsewhere each time (a checkpoint
  is in its reference folder already), which `load_model` then applies
  with the folder at hand instead of storing it.

  `source` is the variant this one is applied to; None means the trained
  model itself.
  """

  kind: ClassVar[str] = ""
  stored: ClassVar[bool] = True

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

  def save(self, model, path: Path) -> None:
    """See the class docstring. A kind that is not `stored` needs none."""
    raise TypeError(f"A {self.kind} variant is not stored.")

  def load(self, path: Path):
    """See the class docstring. A kind that is not `stored` needs none."""
    raise TypeError(f"A {self.kind} variant is not stored.")

  def check(self, model) -> None:
    """Refuses a model this variant (or a variant it is applied to) cannot
    be applied to, naming why. Cheap, so a study calls it on its untrained
    model before it trains anything (`check_applicable`). The default
    accepts any model."""
    src = getattr(self, "source", None)
    if src is not None:
      src.check(model)

  def make(self, model, members: ClassificationData, path: Path, *,
           name: str):
    """Applies the variant and saves it at `path`; returns the new model."""
    out = self.apply(model, members, name=name)
    self.save(out, path)
    return out


def check_applicable(variants: Sequence[Variant], builder: str,
                     model_kwargs, data: ClassificationData) -> None:
  """Builds `builder`'s model once, untrained, and checks every variant
  against it (`Variant.check`): a study calls this before it trains, so a
  cell that cannot run is refused first, not after the training."""
  from tfmia import models  # pylint: disable=g-import-not-at-top
  variants = [v for v in variants if v is not None]
  if not variants:
    return
  model = models.build_model(builder, data.input_shape, data.num_classes,
                             **dict(model_kwargs))
  for v in variants:
    v.check(model)


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
    refs: a `tfmia.references.ReferenceSet`.
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
  if not variant.stored:
    # E.g. a checkpoint: the folder already holds it; nothing to store.
    return variant.apply(None, data, name=name, refs=refs)
  start = []

  def make():
    source = load_model(refs, name, data, getattr(variant, "source", None),
                        progress=progress)
    if progress:
      progress_lib.say(f"  {name}: making {variant.label()}")
    start.append(time.perf_counter())
    return variant.make(source, members_of(refs, name, data), path,
                        name=name)

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


# ---------------------------------------------------------------------------
# Command-line specs: "snn:4", "pruned:l1_structured:0.5", chained with "+"

# kind -> (help, parser(arg text, the whole spec, source, train) -> Variant)
_SPECS: dict[str, tuple[str, Callable]] = {}


def register_spec(kind: str, help_text: str):
  """Registers the parser of a variant kind's command-line form
  `KIND:ARGS` (see `from_spec`)."""
  def wrap(parse: Callable) -> Callable:
    _SPECS[kind] = (help_text, parse)
    return parse
  return wrap


def spec_help() -> str:
  """What `from_spec` accepts, in words."""
  kinds = ", ".join(h for h, _ in _SPECS.values())
  return (f"{kinds}, several joined by + to chain them "
          "(pruned:l1_structured:0.5+snn:4), or none")


def from_spec(text: str, *, train=None) -> Optional[Variant]:
  """A variant from its command-line form (`spec_help()`). A pruned variant
  fine-tunes with `train` (the models' own `TrainConfig`) for half its
  epochs, as mia_prune does; with default settings when `train` is None."""
  if text is None or text == "none":
    return None
  variant = None
  for part in str(text).split("+"):
    part = part.strip()
    kind, _, arg = part.partition(":")
    if kind not in _SPECS:
      raise ValueError(f"`variant` must be {spec_help()}. Received: {part!r}")
    # A kind's parser checks its own arguments (a kind may take none).
    variant = _SPECS[kind][1](arg, part, variant, train)
  return variant
