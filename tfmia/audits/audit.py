"""The privacy audit: run many attacks on one target, write one report.

`audit` takes models and data; `audit_signals` takes precomputed signals;
`audit_reference_folder` audits the target of a `tfmia reference train`
folder, as trained or as any variant (`tfmia.variants`). All three return one
`AttackResults` and, given `out_dir`, write (`tfmia.reporting.tables.write_audit`):

    report.csv       one row per attack: AUC, TPR at 0.1%, 1% and 0% FPR,
                     balanced accuracy, advantage
    roc_loglog.png   every attack's ROC on log-log axes
    score_hist.png   member / non-member score histograms per attack
    scores.npz       per-example scores (one array per attack) and is_member
    results.json/.npz  the AttackResults, from which `tfmia audit --render`
                     redraws
    config.json      the AuditConfig and what was audited

On a reference folder the unit of work is a `Cell`: which variant of the
target, which variant of the reference models, and how signals are queried.
An SNN target with ANN references is just another cell. Each model's signals
are cached in the store (`tfmia.infra.store`), so cells that share a model query
it once.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import weakref
import zlib
from typing import Optional, Sequence, Union

import numpy as np

from tfmia import data as data_lib
from tfmia.models import adapter
from tfmia import references as ref_lib
from tfmia.infra import fs, io, store, validation
from tfmia.infra import progress as progress_lib
from tfmia.reporting import tables as reports
from tfmia import variants
from tfmia.attacks import registry
from tfmia.attacks.run import run_attacks
from tfmia.attacks.inputs import AttackConfig, AttackSignals, Provided
from tfmia.results import AttackResults
from tfmia.signals import SignalConfig, Signals, compute_signals

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
SIGNALS_DIR = "signals"


@dataclasses.dataclass(frozen=True)
class AuditConfig:
  """What to run and how. Saved as config.json next to the report."""

  attacks: tuple = registry.DEFAULT_ATTACKS
  signals: SignalConfig = SignalConfig()
  attack: AttackConfig = AttackConfig()

  def __post_init__(self):
    object.__setattr__(self, "attacks", registry.check_names(self.attacks))
    if isinstance(self.signals, dict):
      object.__setattr__(self, "signals", SignalConfig(**self.signals))
    if isinstance(self.attack, dict):
      object.__setattr__(self, "attack", AttackConfig(**self.attack))
    object.__setattr__(self, "signals", self.signals.with_signals(
        registry.needed_signals(self.attacks)))

  def replace(self, **changes) -> "AuditConfig":
    return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True, eq=False)
class Target:
  """The audited model and the examples it is attacked on.

  Attributes:
    model: anything `tfmia.models.adapter.ModelAdapter` takes.
    x, y: the N attacked examples.
    is_member: (N,) bool, True where the target trained on the example.
    outputs: "auto", "logits" or "probabilities" (see `tfmia.models.adapter`).
  """

  model: object
  x: np.ndarray
  y: np.ndarray
  is_member: np.ndarray
  outputs: str = "auto"


def load_target(model_path: PathLike, data_path: PathLike
                ) -> tuple[Target, Optional[tuple]]:
  """(Target, population or None) from a saved Keras model (.keras or .h5)
  and an npz of the examples it is attacked on: `x`, `y` and `is_member`
  (N,), and optionally `x_population`, `y_population` (data it never saw,
  for Attack-P). Checked before the model is loaded."""
  data_path, model_path = fs.path(data_path), fs.path(model_path)
  f = io.load_npz(data_path)
  missing = {"x", "y", "is_member"} - set(f)
  if missing:
    raise ValueError(f"{data_path} must hold x, y and is_member; missing "
                     f"{sorted(missing)}. Received keys: {sorted(f)}")
  pop_keys = {"x_population", "y_population"} & set(f)
  if len(pop_keys) == 1:
    raise ValueError(f"{data_path} holds {pop_keys.pop()} without its pair.")
  try:
    is_member = validation.as_membership(f["is_member"], "is_member",
                                         len(f["y"]))
    y = validation.as_class_labels(f["y"], "y")
  except ValueError as e:
    raise ValueError(f"{data_path}: {e}") from None
  if not model_path.exists():
    raise FileNotFoundError(f"--model not found. Received: {model_path}")
  from tfmia import models  # pylint: disable=g-import-not-at-top
  model = models.load_saved_model(model_path)
  population = ((f["x_population"],
                 validation.as_class_labels(f["y_population"],
                                            "y_population"))
                if pop_keys else None)
  return Target(model, f["x"], y, is_member), population


@dataclasses.dataclass(frozen=True, eq=False)
class References:
  """K reference models queried on the target's N examples.

  Attributes:
    models: K models (anything `tfmia.models.adapter.ModelAdapter` takes).
    is_member: (K, N) bool, True where example n trained model k.
    outputs: "auto", "logits" or "probabilities".
  """

  models: tuple
  is_member: np.ndarray
  outputs: str = "auto"


def audit_signals(signals: AttackSignals, is_member: np.ndarray,
                  config: AuditConfig = AuditConfig(), *,
                  out_dir: Optional[PathLike] = None,
                  model_name: str = "target",
                  extra_config: Optional[dict] = None) -> AttackResults:
  """Runs `config.attacks` on precomputed signals; writes the report."""
  is_member = validation.as_membership(is_member, "is_member",
                                       signals.target.num_examples)
  results = run_attacks(config.attacks, signals, config.attack,
                        is_member=is_member, model=model_name)
  if out_dir is not None:
    reports.write_audit(results, out_dir, config, extra_config)
  return results


def audit(target: Target, references: Optional[References] = None,
          population: Optional[tuple] = None,
          attacks: Optional[Sequence[str]] = None,
          config: AuditConfig = AuditConfig(), *,
          out_dir: Optional[PathLike] = None,
          progress: bool = True) -> AttackResults:
  """Audits `target` with reference models and population data.

  Everything is checked before any model is queried: attack names, shapes,
  that each attack has the models and data it needs, and that the
  population shares no example with the target's members.

  Args:
    target: the model and its N attacked examples with their membership.
    references: K reference models on the same examples, or None.
    population: (x, y) data the target never trained on, or None.
    attacks: names (see `tfmia.attacks.ATTACKS`); config's when None.
    config: signal and attack settings.
    out_dir: where the report is written; nothing is written when None.
    progress: progress bars while querying models.

  Returns:
    One AttackResults, one entry per attack.
  """
  if attacks is not None:
    config = config.replace(attacks=registry.check_names(attacks))
  x, y = np.asarray(target.x), np.asarray(target.y)
  if len(x) != len(y):
    raise ValueError(f"`target.x` and `target.y` differ in length: "
                     f"{len(x)} and {len(y)}")
  is_member = validation.as_membership(target.is_member, "is_member",
                                       len(x))
  validation.check_finite(x, "target.x")
  if population is not None:
    validation.check_finite(np.asarray(population[0]), "population x")
  refs = references.models if references is not None else ()
  ref_is_member = None
  if references is not None:
    ref_is_member = validation.as_bool_array(
        references.is_member, "references.is_member (K, N)",
        (len(refs), len(x)))
  if population is not None:
    if len(population) != 2 or len(population[0]) != len(population[1]):
      raise ValueError("`population` must be an (x, y) pair of equal length.")
    data_lib.check_population(x[is_member], np.asarray(population[0]))
  registry.check_needs(config.attacks, Provided(
      num_examples=len(x), ref_is_member=ref_is_member,
      population=population is not None,
      reference_population=population is not None and bool(refs),
      signals=config.signals.optional_names,
      features=population is not None))

  # Target-only signals (boundary distances) are the target's, on the pool.
  sc, rest = config.signals, config.signals.for_other_models()
  t_model = adapter.as_adapter(target.model, outputs=target.outputs)
  r_models = [adapter.as_adapter(m, outputs=references.outputs)
              for m in refs]
  t = compute_signals(t_model, x, y, sc, progress=progress and "target")
  r = [compute_signals(m, x, y, rest, progress=progress and f"ref {k}")
       for k, m in enumerate(r_models)]
  tp, rp = None, ()
  if population is not None and registry.needs_population(config.attacks):
    px, py = population
    tp = compute_signals(t_model, px, py, rest,
                         progress=progress and "target (population)")
    rp = tuple(compute_signals(m, px, py, rest,
                               progress=progress and f"ref {k} (population)")
               for k, m in enumerate(r_models))
  in_population = None
  if population is not None:
    # Attacked examples that are population points too (non-members a user
    # put in both): the RMIA authors' score corrects for them.
    in_population = np.isin(data_lib.row_hashes(x),
                            data_lib.row_hashes(np.asarray(population[0])))
  signals = AttackSignals(target=t, references=tuple(r),
                          ref_is_member=ref_is_member,
                          target_population=tp, reference_population=rp,
                          in_population=in_population,
                          features=x if population is not None else None,
                          population_features=(
                              None if population is None
                              else np.asarray(population[0])))
  return audit_signals(signals, is_member, config, out_dir=out_dir)


def reference_data(target: Target, population: Optional[tuple] = None
                   ) -> data_lib.ClassificationData:
  """The target's N attacked examples as the reference models' pool (the
  train split, as given: no scaling) and the population, if any, as the
  test split. The class count is the target's output width (or the labels'
  largest + 1)."""
  x, y = np.asarray(target.x), np.asarray(target.y)
  px, py = population if population is not None else (x[:0], y[:0])
  width = getattr(target.model, "output_shape", None)
  num_classes = max(int(y.max()) + 1,
                    int(np.max(py)) + 1 if len(py) else 0,
                    int(width[-1]) if isinstance(width, tuple) and width[-1]
                    else 0)
  return data_lib.ClassificationData(
      name="your data", x_train=x, y_train=y, x_test=np.asarray(px),
      y_test=np.asarray(py),
      class_names=tuple(str(c) for c in range(num_classes)), pixel_max=1.0)


def data_digest(x: np.ndarray, y: np.ndarray) -> str:
  """A short hash of the examples and labels: what a reference folder
  trained on your data records as its dataset, so that other data makes a
  different fingerprint."""
  import hashlib  # pylint: disable=g-import-not-at-top
  h = hashlib.sha256()
  for a in (np.ascontiguousarray(x), np.ascontiguousarray(y)):
    h.update(str((a.dtype, a.shape)).encode())
    h.update(a.tobytes())
  return h.hexdigest()[:16]


def audit_with_references(target: Target, reference_config,
                          directory: PathLike, *,
                          population: Optional[tuple] = None,
                          config: AuditConfig = AuditConfig(),
                          out_dir: Optional[PathLike] = None,
                          progress: bool = True) -> AttackResults:
  """Audits your own trained `target` with reference models that tfmia
  trains for it: K models of `reference_config.model` (a registered builder
  or "mypkg.module:function") on complementary random halves of the
  target's N examples (`ref_lib.train_reference_models`, resumable in
  `directory`), then `audit`. `reference_config.data` only names the data
  for the fingerprint (`data_digest`); the examples are used as given."""
  registry.check_needs(config.attacks, Provided(
      num_examples=len(target.x),
      ref_is_member=ref_lib.membership_matrix(
          len(target.x), reference_config.num_models, reference_config.seed),
      population=population is not None,
      reference_population=population is not None,
      signals=config.signals.optional_names,
      features=population is not None))     # before any training
  is_member = validation.as_membership(target.is_member, "is_member",
                                       len(target.x))
  if population is not None:
    data_lib.check_population(np.asarray(target.x)[is_member],
                              np.asarray(population[0]))
  data = reference_data(target, population)
  models, ref_is_member = ref_lib.train_reference_models(
      reference_config, data, directory, progress=progress)
  return audit(target, References(tuple(models), ref_is_member),
               population=population, config=config, out_dir=out_dir,
               progress=progress)


# ---------------------------------------------------------------------------
# Reference folders: cells over variants


@dataclasses.dataclass(frozen=True)
class Cell:
  """One audit of a reference folder.

  Attributes:
    target: the variant of the target model (None: as trained).
    references: the variant of the reference models (None: as trained).
    signals: how every model is queried.
    name: a label for tables and figures.
  """

  target: Optional[variants.Variant] = None
  references: Optional[variants.Variant] = None
  signals: SignalConfig = SignalConfig()
  name: str = ""


def model_signals(refs, data, name: str, variant: Optional[variants.Variant],
                  split: str, config: SignalConfig, *,
                  progress=False) -> Signals:
  """Signals of model `name` (as `variant`) on the pool or the population,
  cached in the store beside the model, keyed by the model, the variant,
  the signal settings and the data."""
  if split not in ("pool", "population"):
    raise ValueError("`split` must be 'pool' or 'population'. "
                     f"Received: split={split!r}")
  x, y = ((data.x_train, data.y_train) if split == "pool"
          else (data.x_test, data.y_test))
  # SAMIA's sensitivity (10 extra passes) only where it is used: with the
  # mia_prune split, on the model's own train and test sets, as there.
  rows = (refs.own_split(name) if config.uses_rows and split == "pool"
          else None)
  variant_fp = variants.fingerprint(refs, name, variant)
  fp = store.fingerprint([variant_fp, config,
                          split, len(x),
                          data_lib.row_hashes(x[:64]).tobytes().hex()]
                         # (the tag predates other per-row signals; kept,
                         # so caches written before stay valid)
                         + ([] if rows is None else ["own_split_sensitivity"]))
  folder = "base" if variant is None else variant.key()
  path = (fs.path(refs.directory) / name / SIGNALS_DIR / folder
          / f"{split}_{fp[:16]}.npz")
  # MIA_SNN-style dropout draws its masks afresh for each model queried.
  mask_key = zlib.crc32(f"{name}/{folder}/{split}".encode())
  return store.cached(
      path, fp,
      lambda: compute_signals(
          _queried(refs, name, data, variant, config.batch_size, progress,
                   variant_fp),
          x, y, config, progress=progress, mask_key=mask_key,
          sensitivity_rows=rows),
      save=lambda sig, p: sig.save(p), load=Signals.load)


# One adapter per reference folder and batch size for its trained models:
# the target and the K references share an architecture, so each is queried
# by loading its weights into one model whose graph is traced once, rather
# than building and tracing K + 1 models (the same outputs: the same graph
# with the same weights). Variants (SNNs, pruned models) differ in structure
# and are built each; the adapters of the last K + 1 queried are kept, so
# that a variant is loaded and traced once for the pool and the population,
# and for the cells that differ only in how it is queried (dropout). Kept
# while the ReferenceSet lives.
_QUERY_ADAPTERS = weakref.WeakKeyDictionary()


def _queried(refs, name, data, variant, batch_size, progress,
             variant_fp=None):
  """What `compute_signals` queries for model `name` as `variant`
  (`variant_fp`, its `variants.fingerprint`, keys the kept adapters)."""
  cache = _QUERY_ADAPTERS.setdefault(refs, {})
  if variant is not None:
    if variant_fp is None:
      raise TypeError("`variant_fp` is needed to query a variant.")
    recent = cache.setdefault("variants", {})
    key = (variant_fp, batch_size)
    if key not in recent:
      recent[key] = adapter.as_adapter(
          variants.load_model(refs, name, data, variant,
                              progress=bool(progress)), batch_size=batch_size)
      while len(recent) > refs.num_models + 1:
        recent.pop(next(iter(recent)))    # the least recently queried
    recent[key] = recent.pop(key)         # now the most recent
    return recent[key]
  key = (tuple(data.input_shape), data.num_classes, batch_size)
  if key not in cache:
    model = refs.load_model(name, data.input_shape, data.num_classes)
    forward = adapter.as_adapter(model, batch_size=batch_size)
    cache[key] = forward, forward.outputs   # outputs as detected unqueried
    return forward
  forward, detected = cache[key]
  refs.load_model(name, data.input_shape, data.num_classes,
                  into=forward.model)
  forward.outputs = detected   # each model's outputs resolved afresh
  return forward


def cell_signals(refs, data, cell: Cell, attacks: Sequence[str], *,
                 progress: bool = True) -> AttackSignals:
  """The AttackSignals of `cell`: the target variant and the reference
  variant on the pool, and on the population when an attack needs it."""
  in_pool = refs.population_in_pool   # mia_prune: the victim's dev set
  splits = ["pool"] + (["population"] if registry.needs_population(attacks)
                       and in_pool is None else [])
  names = refs.reference_names() if registry.needs_references(attacks) else []

  # The optional signals the attacks read are switched on; the target-only
  # ones (the boundary distances: HopSkipJump queries the model often) for
  # the target on the pool alone.
  config = cell.signals.with_signals(registry.needed_signals(attacks))

  def sig(name, variant, split):
    label = (f"{name} {variant.label() if variant else 'model'} {split}"
             if progress else False)
    own = name == ref_lib.TARGET and split == "pool"
    return model_signals(refs, data, name, variant, split,
                         config if own else config.for_other_models(),
                         progress=label)

  # Model by model, each on every split in turn (a variant is loaded once).
  target = {s: sig(ref_lib.TARGET, cell.target, s) for s in splits}
  per_ref = [{s: sig(n, cell.references, s) for s in splits} for n in names]
  ref_sig = {s: tuple(r[s] for r in per_ref) for s in splits}
  if in_pool is not None and registry.needs_population(attacks):
    # The population is part of the pool: its signals are the pool's.
    idx = np.flatnonzero(in_pool)
    target["population"] = target["pool"].take(idx)
    ref_sig["population"] = tuple(r.take(idx) for r in ref_sig["pool"])
  # Inputs for the attacks that learn from them (quantile regression), the
  # target's loss trace for LT-IQR when its folder recorded one.
  features = population_features = trace = None
  if any(registry.ATTACKS[a].features for a in attacks):
    features = data.x_train
    population_features = (data.x_test if in_pool is None
                           else data.x_train[np.flatnonzero(in_pool)])
  if (any(registry.ATTACKS[a].loss_trace for a in attacks)
      and cell.target is None and refs.config.loss_traces):
    trace = refs.loss_trace(ref_lib.TARGET)
  return AttackSignals(
      target=target["pool"], references=ref_sig["pool"],
      ref_is_member=refs.ref_is_member if names else None,
      target_population=target.get("population"),
      reference_population=ref_sig.get("population", ()),
      ref_in_split=refs.ref_in_split if names else None,
      loss_trace=trace, features=features,
      population_features=population_features)


def load_reference_folder(reference_config, *, directory=None, data=None,
                          num_models=None):
  """(ReferenceSet, prepared data), checked against each other."""
  refs = ref_lib.ReferenceSet.load(
      directory or reference_config.reference_dir, config=reference_config,
      num_models=num_models)
  data = data if data is not None else data_lib.prepare_data(
      reference_config.data)
  n = refs.ref_is_member.shape[1]
  if len(data.x_train) != n:
    raise ValueError(f"The data's pool has {len(data.x_train)} examples but "
                     f"the membership matrix in {refs.directory} covers "
                     f"{n}.")
  if refs.population_in_pool is None:
    data_lib.check_population(data.x_train[refs.target_is_member], data.x_test)
  return refs, data


def audit_cell(refs, data, cell: Cell, attacks: Sequence[str],
               attack_config: AttackConfig = AttackConfig(), *,
               progress: bool = True) -> AttackResults:
  """Runs `attacks` on one cell of a reference folder."""
  attacks = registry.check_names(attacks)
  judged = (refs.evaluated if refs.evaluated is not None
            else np.ones(len(refs.target_is_member), bool))
  registry.check_needs(attacks, Provided(
      num_examples=int(judged.sum()),
      ref_is_member=refs.ref_is_member[:, judged], population=True,
      reference_population=True,
      # `cell_signals` computes the optional signals the attacks need, and
      # gives the inputs and (when recorded) the target's loss trace.
      signals=registry.needed_signals(attacks), features=True,
      loss_trace=refs.config.loss_traces and cell.target is None,
      shadow_is_member=(None if refs.ref_in_split is None
                        else refs.ref_is_member[refs.ref_in_split])))
  signals = cell_signals(refs, data, cell, attacks, progress=progress)
  return run_attacks(attacks, signals, attack_config,
                     is_member=refs.target_is_member,
                     model=cell.name or "target",
                     evaluate=refs.evaluated)


def _cell_unit(refs, data, cell, attacks, attack_config):
  return audit_cell(refs, data, cell, attacks, attack_config, progress=False)


def audit_cells(refs, data, cells: dict, attacks: Sequence[str],
                attack_config: AttackConfig = AttackConfig(), *,
                executor=None, progress: bool = True) -> dict:
  """`audit_cell` on each of `cells` ({key: Cell}): {key: AttackResults}.

  With `executor` (a `tfmia.infra.executors` executor) each cell is one unit:
  on Ray, a task. Make the cells' variants first (`variants.make_variants`),
  so that no two cells race to make the same one. Cells that share
  signals may both compute them; the store's atomic writes keep one
  intact copy. Raises, naming each, if any cell failed.
  """
  if executor is None:
    return {k: audit_cell(refs, data, c, attacks, attack_config,
                          progress=progress) for k, c in cells.items()}
  from tfmia.infra import executors  # pylint: disable=g-import-not-at-top
  shared = executors.Shared(data)
  keys = {f"cell {c.name or i}: {k}": k
          for i, (k, c) in enumerate(cells.items())}
  report = executor.run([executors.Unit(
      unit, _cell_unit, (refs, shared, cells[k], tuple(attacks),
                         attack_config)) for unit, k in keys.items()])
  report.raise_failures()
  return {keys[u]: r for u, r in report.values.items()}


def audit_reference_folder(reference_config,
                           config: AuditConfig = AuditConfig(), *,
                           variant: Optional[variants.Variant] = None,
                           reference_variant="same",
                           out_dir: Optional[PathLike] = None,
                           directory: Optional[PathLike] = None,
                           data=None, progress: bool = True) -> AttackResults:
  """Audits the target of a reference folder with its K reference models.

  The attacked examples are the whole pool (the prepared train split); the
  target's members are its half, and the population is the test split.
  Everything is checked (complete models, membership matrix, attack needs,
  population overlap) before any model is queried.

  Args:
    reference_config: the `tfmia.references.ReferenceConfig` used to train.
    config: the audit settings.
    variant: the target's variant (None: the trained target).
    reference_variant: the references' variant: "same" (as the target),
      None (the trained references) or a `Variant`.
    out_dir: where the report goes; nothing is written when None.
    directory: the reference folder; `reference_config.reference_dir` if None.
    data: the prepared data; `prepare_data(reference_config.data)` if None.
    progress: progress bars.
  """
  refs, data = load_reference_folder(reference_config, directory=directory,
                                     data=data)
  if isinstance(reference_variant, str):
    if reference_variant != "same":
      raise ValueError("`reference_variant` must be 'same', None or a "
                       f"Variant. Received: {reference_variant!r}")
    reference_variant = variant
  cell = Cell(target=variant, references=reference_variant,
              signals=config.signals,
              name=f"{reference_config.model} target"
              + (f" {variant.label()}" if variant else ""))
  results = audit_cell(refs, data, cell, config.attacks, config.attack,
                       progress=progress)
  if out_dir is not None:
    reports.write_audit(results, out_dir, config, {
        "reference": refs.config, "reference_dir": os.fspath(refs.directory),
        "variant": variant, "reference_variant": cell.references})
  return results


# ---------------------------------------------------------------------------
# A `tfmia train` run folder, or saved logits


def _run_on_split(target: Signals, is_member, attacks, slicing, seed, model,
                  population: Optional[Signals] = None):
  slices = [n for n, on in (("class", slicing.by_class),
                            ("correctness",
                             slicing.by_classification_correctness)) if on]
  progress_lib.say(f"Running {', '.join(attacks)}"
                   + (f", sliced by {' and '.join(slices)}" if slices else "")
                   + f" on {target.num_examples} examples")
  signals = AttackSignals(target=target, target_population=population)
  return run_attacks(attacks, signals,
                     AttackConfig(seed=seed, epsilon_lower_bound=True),
                     is_member=is_member, slicing=slicing, model=model)


def _load_attackable(run, data_dir, load_run):
  """(model, data, record) of a `tfmia train` run, or of the folder `tfmia
  prune` wrote from one (its model.keras and prune.json, which names the
  run whose data it is attacked on: the run's members and non-members)."""
  run = fs.path(run)
  info_path = run / variants.PRUNE_INFO_FILE
  if not (info_path.is_file() and (run / variants.MODEL_FILE).is_file()):
    return load_run(run, data_dir=data_dir)
  info = io.read_json(info_path)
  source = next((p for p in (fs.path(info.get("run", "")), run.parent)
                 if (p / store.CONFIG_FILE).is_file()), None)
  if source is None:
    raise FileNotFoundError(f"{info_path} names the run {info.get('run')!r}, "
                            "which is not there (nor is the folder above).")
  _, data, record = load_run(source, data_dir=data_dir)
  model = variants.PrunedVariant().load(run / variants.MODEL_FILE)
  record = {**record, "model": {**record["model"], "variant": {
      k: info.get(k) for k in ("pruner", "sparsity", "defense")}}}
  return model, data, record


def attack_run(run: PathLike, attacks: Sequence[str], *,
               slicing=None, seed: int = 0, data_dir=None
               ) -> tuple[AttackResults, dict]:
  """Attacks the model of a `tfmia train` run (or of the folder `tfmia
  prune` wrote from one): its train split (members) against its test split.
  Returns the results and a record of the source."""
  from tfmia.attacks.tf_privacy import SlicingConfig
  from tfmia.training.loop import load_run
  attacks = registry.check_names(attacks)
  progress_lib.say(f"Loading the run in {run}")
  model, data, record = _load_attackable(run, data_dir, load_run)
  progress_lib.say(f"Querying the model on {len(data.y_train)} members and "
                   f"{len(data.y_test)} non-members")
  fn = adapter.ModelAdapter(model)
  logits = np.concatenate([fn(data.x_train), fn(data.x_test)])
  labels = np.concatenate([data.y_train, data.y_test])
  is_member = np.arange(len(labels)) < len(data.y_train)
  res = _run_on_split(Signals.from_logits(logits, labels), is_member, attacks,
                      slicing or SlicingConfig(), seed,
                      record["model"]["builder"])
  return res, {"run": os.fspath(run), "data": record["data"],
               "model": record["model"]}


def _outputs_npz(path: PathLike, outputs: str, what: str, *, member=True):
  """(outputs kind, Signals, is_member or None) of an npz of saved model
  outputs: one of `signals.OUTPUT_KINDS` as its key, and `labels`."""
  from tfmia.signals import OUTPUT_KINDS
  path = fs.path(path)
  if not path.is_file():
    raise FileNotFoundError(f"{what} not found. Received: {path}")
  f = io.load_npz(path)
  if outputs == "auto":
    held = [k for k in OUTPUT_KINDS if k in f]
    if len(held) != 1:
      raise ValueError(f"{path} must hold one of {', '.join(OUTPUT_KINDS)} "
                       "(or pass --outputs to say which). Received keys: "
                       f"{sorted(f)}")
    outputs = held[0]
  need = {outputs, "labels"} | ({"is_member"} if member else set())
  missing = need - set(f)
  if missing:
    raise ValueError(f"{path} must hold {', '.join(sorted(need))}; missing "
                     f"{sorted(missing)}. Received keys: {sorted(f)}")
  try:
    signals = Signals.from_outputs(f[outputs], f["labels"], outputs)
    is_member = (validation.as_membership(f["is_member"], "is_member",
                                          len(f["labels"]))
                 if member else None)
  except ValueError as e:
    raise ValueError(f"{path}: {e}") from None
  return outputs, signals, is_member


def attack_logits_file(path: PathLike, attacks: Sequence[str], *,
                       outputs: str = "auto",
                       population: Optional[PathLike] = None,
                       slicing=None, seed: int = 0
                       ) -> tuple[AttackResults, dict]:
  """Attacks saved outputs: an npz with the target's `logits` (N, C),
  `probabilities` (N, C) or `loss` (N,), its `labels` (N,) and `is_member`
  (N,). `outputs` says which (default: the one the file holds).
  `population`: an npz of the same kind of outputs and `labels` on data the
  target never saw, for the attacks that need one (Attack-P)."""
  from tfmia.attacks.tf_privacy import SlicingConfig
  attacks = registry.check_names(attacks)
  kind, target, is_member = _outputs_npz(path, outputs, "`logits` file")
  if kind == "loss":
    full = [a for a in attacks if a not in registry.LOSS_ONLY_ATTACKS]
    if full:
      raise ValueError(
          f"Attack(s) {full} need the whole output vector; per-example "
          "losses feed only "
          f"{', '.join(a for a in registry.LOSS_ONLY_ATTACKS)}.")
  pop = None
  if population is not None:
    _, pop, _ = _outputs_npz(population, kind, "`population` file",
                             member=False)
  registry.check_needs(attacks, Provided(
      num_examples=target.num_examples, population=pop is not None))
  res = _run_on_split(target, is_member, attacks, slicing or SlicingConfig(),
                      seed, "", population=pop)
  source = {"logits": os.fspath(path), "outputs": kind}
  if population is not None:
    source["population"] = os.fspath(population)
  return res, source
