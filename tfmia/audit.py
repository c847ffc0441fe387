"""The privacy audit: run many attacks on one target, write one report.

`audit` takes models and data; `audit_signals` takes precomputed signals;
`audit_reference_folder` audits the target of a `tfmia reference train`
folder. All three return one `AttackResults` and, given `out_dir`, write:

    report.csv       one row per attack: AUC, TPR at 0.1%, 1% and 0% FPR,
                     balanced accuracy, advantage
    roc_loglog.png   every attack's ROC on log-log axes
    score_hist.png   member / non-member score histograms per attack
    scores.npz       per-example scores (one array per attack) and is_member
    results.json/.npz  the AttackResults, from which `render` redraws
    config.json      the AuditConfig and what was audited

`render(out_dir)` rewrites the report and figures from results.json/.npz
without recomputing anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from tfmia import io, plotting
from tfmia.attacks import suite
from tfmia.attacks.suite import AttackConfig, AttackSignals
from tfmia.results import ENTIRE_DATASET, AttackResult, AttackResults
from tfmia.signals import SignalConfig, Signals, compute_signals

logger = logging.getLogger(__name__)

REPORT_COLUMNS = ("attack", "auc", "tpr_at_0.1%_fpr", "tpr_at_1%_fpr",
                  "tpr_at_0%_fpr", "balanced_accuracy", "advantage")
RESULTS_NAME = "results"


@dataclasses.dataclass(frozen=True)
class AuditConfig:
  """What to run and how. Saved as config.json next to the report."""

  attacks: tuple = suite.DEFAULT_ATTACKS
  signals: SignalConfig = SignalConfig()
  attack: AttackConfig = AttackConfig()

  def __post_init__(self):
    object.__setattr__(self, "attacks", suite.check_names(self.attacks))
    if isinstance(self.signals, dict):
      object.__setattr__(self, "signals", SignalConfig(**self.signals))
    if isinstance(self.attack, dict):
      object.__setattr__(self, "attack", AttackConfig(**self.attack))
    if suite.needs_sensitivity(self.attacks) and not self.signals.sensitivity:
      object.__setattr__(self, "signals",
                         self.signals.replace(sensitivity=True))

  def replace(self, **changes) -> "AuditConfig":
    return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True, eq=False)
class Target:
  """The audited model and the examples it is attacked on.

  Attributes:
    model: a keras.Model (logits) or a callable x -> logits.
    x, y: the N attacked examples.
    is_member: (N,) bool, True where the target trained on the example.
  """

  model: object
  x: np.ndarray
  y: np.ndarray
  is_member: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class References:
  """K reference models queried on the target's N examples.

  Attributes:
    models: K keras.Models or callables.
    is_in: (K, N) bool, True where example n trained model k.
  """

  models: tuple
  is_in: np.ndarray


def row_hashes(x: np.ndarray) -> np.ndarray:
  """One 16-byte digest per example, to detect shared examples by content."""
  x = np.ascontiguousarray(x)
  return np.array([hashlib.blake2b(row.tobytes(), digest_size=16).digest()
                   for row in x.reshape(len(x), -1)])


def check_population(member_x: np.ndarray, population_x: np.ndarray) -> None:
  """Raises if any population example is also a target member."""
  shared = np.isin(row_hashes(population_x), row_hashes(member_x))
  if shared.any():
    raise ValueError(
        f"`population` overlaps the target's members: {int(shared.sum())} of "
        f"{len(population_x)} population examples are training examples of "
        "the target. Population data must be data the target never saw.")


def _check_membership(is_member, n: int) -> np.ndarray:
  is_member = np.asarray(is_member)
  if is_member.dtype != bool or is_member.shape != (n,):
    raise ValueError(f"`is_member` must be a bool array of shape ({n},). "
                     f"Received: shape={is_member.shape}, dtype={is_member.dtype}")
  if is_member.all() or not is_member.any():
    raise ValueError("`is_member` must hold both members and non-members.")
  return is_member


def audit_signals(signals: AttackSignals, is_member: np.ndarray,
                  config: AuditConfig = AuditConfig(), *,
                  out_dir: Optional[Union[str, os.PathLike]] = None,
                  model_name: str = "target",
                  train_accuracy: Optional[float] = None,
                  test_accuracy: Optional[float] = None,
                  extra_config: Optional[dict] = None) -> AttackResults:
  """Runs `config.attacks` on precomputed signals; writes the report."""
  is_member = _check_membership(is_member, signals.target.num_examples)
  suite.check_inputs(config.attacks, signals)
  scores = suite.score_attacks(config.attacks, signals, config.attack)
  results = AttackResults(
      results=tuple(AttackResult(attack=n, slice=ENTIRE_DATASET, scores=s,
                                 is_member=is_member)
                    for n, s in scores.items()),
      model=model_name, train_accuracy=train_accuracy,
      test_accuracy=test_accuracy)
  if out_dir is not None:
    write(results, out_dir, config, extra_config)
  return results


def _accuracy(sig: Signals, mask: np.ndarray) -> float:
  pred = sig.mean().probs[:, 0].argmax(axis=1)
  return float(np.mean(pred[mask] == sig.labels[mask]))


def audit(target: Target, references: Optional[References] = None,
          population: Optional[tuple] = None,
          attacks: Optional[Sequence[str]] = None,
          config: AuditConfig = AuditConfig(), *,
          out_dir: Optional[Union[str, os.PathLike]] = None,
          progress: bool = True) -> AttackResults:
  """Audits `target` with reference models and population data.

  Everything is checked before any model is queried: attack names, shapes,
  that each attack has the models and data it needs, and that the
  population shares no example with the target's members.

  Args:
    target: the model and its N attacked examples with their membership.
    references: K reference models on the same examples, or None.
    population: (x, y) data the target never trained on, or None.
    attacks: names (see `tfmia.attacks.suite.ATTACKS`); config's when None.
    config: signal and attack settings.
    out_dir: where the report is written; nothing is written when None.
    progress: progress bars while querying models.

  Returns:
    One AttackResults, one entry per attack.
  """
  if attacks is not None:
    config = config.replace(attacks=suite.check_names(attacks))
  x, y = np.asarray(target.x), np.asarray(target.y)
  if len(x) != len(y):
    raise ValueError(f"`target.x` and `target.y` differ in length: "
                     f"{len(x)} and {len(y)}")
  is_member = _check_membership(target.is_member, len(x))
  refs = references.models if references is not None else ()
  ref_in = None
  if references is not None:
    ref_in = np.asarray(references.is_in)
    if ref_in.dtype != bool or ref_in.shape != (len(refs), len(x)):
      raise ValueError(f"`references.is_in` must be bool of shape (K, N) = "
                       f"{(len(refs), len(x))}. Received: shape={ref_in.shape}")
  if population is not None:
    if len(population) != 2 or len(population[0]) != len(population[1]):
      raise ValueError("`population` must be an (x, y) pair of equal length.")
    check_population(x[is_member], np.asarray(population[0]))
  # A dry run of the checks with placeholder signals, before any inference.
  _dry_check(config.attacks, len(x), ref_in, population is not None,
             config.signals.sensitivity)

  sc = config.signals
  t = compute_signals(target.model, x, y, sc, progress=progress and "target")
  r = [compute_signals(m, x, y, sc, progress=progress and f"ref {k}")
       for k, m in enumerate(refs)]
  tp, rp = None, ()
  if population is not None and suite.needs_population(config.attacks):
    px, py = population
    tp = compute_signals(target.model, px, py, sc,
                         progress=progress and "target (population)")
    rp = tuple(compute_signals(m, px, py, sc,
                               progress=progress and f"ref {k} (population)")
               for k, m in enumerate(refs))
  signals = AttackSignals(target=t, references=tuple(r), ref_in=ref_in,
                          target_population=tp, reference_population=rp)
  return audit_signals(signals, is_member, config, out_dir=out_dir,
                       train_accuracy=_accuracy(t, is_member),
                       test_accuracy=_accuracy(t, ~is_member))


def _dry_check(attacks, n: int, ref_in, has_population: bool,
               sensitivity: bool) -> None:
  """Runs `suite.check_inputs` on tiny fake signals of the right layout."""
  fake = Signals.from_logits(np.zeros((n, 2)), np.zeros(n, dtype=int),
                             sensitivity=np.zeros((n, 2)) if sensitivity
                             else None)
  k = 0 if ref_in is None else len(ref_in)
  pop = Signals.from_logits(np.zeros((1, 2)), [0]) if has_population else None
  suite.check_inputs(attacks, AttackSignals(
      target=fake, references=(fake,) * k, ref_in=ref_in,
      target_population=pop, reference_population=(pop,) * k if pop else ()))


# ---------------------------------------------------------------------------
# Report


def report(results: AttackResults):
  """One row per attack (entire dataset): the report.csv table."""
  import pandas as pd
  rows = [{c: r.summary()[c] for c in REPORT_COLUMNS}
          for r in results if r.slice == ENTIRE_DATASET]
  return pd.DataFrame(rows, columns=list(REPORT_COLUMNS))


def _draw(results: AttackResults, out_dir: Path) -> None:
  entire = [r for r in results if r.slice == ENTIRE_DATASET]
  fig = plotting.plot_roc(entire, log_scale=True)
  fig.axes[0].set_title(f"{results.model}: membership inference, log-log ROC")
  plotting.save_figure(fig, out_dir / "roc_loglog.png")
  plotting.save_figure(plotting.plot_score_histograms(entire),
                       out_dir / "score_hist.png")
  df = report(results)
  with io.atomic_path(out_dir / "report.csv", suffix=".csv") as tmp:
    df.to_csv(tmp, index=False, float_format="%.6g")


def write(results: AttackResults, out_dir: Union[str, os.PathLike],
          config: AuditConfig, extra_config: Optional[dict] = None) -> None:
  """Writes the audit folder (see the module docstring), atomically."""
  out_dir = Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  io.atomic_write_json(out_dir / "config.json",
                       {"audit": config, **(extra_config or {})})
  results.save(out_dir / RESULTS_NAME)
  first = results.results[0]
  io.atomic_save_npz(out_dir / "scores.npz", is_member=first.is_member,
                     **{r.attack: r.scores for r in results
                        if r.slice == ENTIRE_DATASET})
  _draw(results, out_dir)


def render(out_dir: Union[str, os.PathLike]) -> AttackResults:
  """Redraws report.csv and the figures of an audit folder from its saved
  results; recomputes nothing."""
  out_dir = Path(out_dir)
  if not (out_dir / f"{RESULTS_NAME}.json").is_file():
    raise FileNotFoundError(f"No audit results in {out_dir} "
                            f"({RESULTS_NAME}.json is missing).")
  results = AttackResults.load(out_dir / RESULTS_NAME)
  _draw(results, out_dir)
  return results


# ---------------------------------------------------------------------------
# Auditing a reference folder


def _cached_signals(model_dir: Path, split: str, load_model, x, y,
                    config: SignalConfig, progress) -> Signals:
  """Signals of one model on one split, cached in its folder (atomically),
  keyed by the signal settings and the data, so a rerun with other attacks
  does not query the model again."""
  key = hashlib.sha256(repr((io.to_jsonable(config), split, len(x),
                             row_hashes(x[:64]).tobytes())).encode()
                       ).hexdigest()[:16]
  path = model_dir / "signals" / f"{split}_{key}.npz"
  if path.is_file():
    try:
      return Signals.load(path)
    except (OSError, ValueError, KeyError):
      logger.warning("Recomputing unreadable cached signals %s", path)
  sig = compute_signals(load_model(), x, y, config, progress=progress)
  sig.save(path)
  return sig


def audit_reference_folder(reference_config, config: AuditConfig = AuditConfig(),
                           *, out_dir: Optional[Union[str, os.PathLike]] = None,
                           directory: Optional[Union[str, os.PathLike]] = None,
                           data=None, progress: bool = True) -> AttackResults:
  """Audits the target of a reference folder with its K reference models.

  The attacked examples are the whole pool (the prepared train split); the
  target's members are its half, and the population is the test split.
  Everything is checked (complete models, membership matrix, attack needs,
  population overlap) before any model is queried.

  Args:
    reference_config: the `tfmia.reference.ReferenceConfig` used to train.
    config: the audit settings.
    out_dir: where the report goes; nothing is written when None.
    directory: the reference folder; `reference_config.reference_dir` if None.
    data: the prepared data; `prepare_data(reference_config.data)` if None.
    progress: progress bars.
  """
  from tfmia import reference as ref_lib
  from tfmia.data import prepare_data
  directory = Path(directory or reference_config.reference_dir)
  refs = ref_lib.ReferenceSet.load(directory, config=reference_config)
  data = data if data is not None else prepare_data(reference_config.data)
  n = refs.ref_in.shape[1]
  if len(data.x_train) != n:
    raise ValueError(f"The data's pool has {len(data.x_train)} examples but "
                     f"the membership matrix in {directory} covers {n}.")
  check_population(data.x_train[refs.target_in], data.x_test)
  _dry_check(config.attacks, n, refs.ref_in, True, config.signals.sensitivity)

  def loader(name):
    return lambda: refs.load_model(name, data.input_shape, data.num_classes)

  sc = config.signals
  splits = [("pool", data.x_train, data.y_train)]
  if suite.needs_population(config.attacks):
    splits.append(("population", data.x_test, data.y_test))
  sig = {}
  for name in [ref_lib.TARGET] + refs.reference_names():
    for split, x, y in splits:
      sig[name, split] = _cached_signals(
          directory / name, split, loader(name), x, y, sc,
          progress=progress and f"{name} {split}")
  names = refs.reference_names()
  has_pop = len(splits) > 1
  signals = AttackSignals(
      target=sig[ref_lib.TARGET, "pool"],
      references=tuple(sig[k, "pool"] for k in names), ref_in=refs.ref_in,
      target_population=sig[ref_lib.TARGET, "population"] if has_pop else None,
      reference_population=tuple(sig[k, "population"] for k in names)
      if has_pop else ())
  target = sig[ref_lib.TARGET, "pool"]
  return audit_signals(
      signals, refs.target_in, config, out_dir=out_dir,
      model_name=f"{reference_config.model} target",
      train_accuracy=_accuracy(target, refs.target_in),
      test_accuracy=_accuracy(target, ~refs.target_in),
      extra_config={"reference": refs.config,
                    "reference_dir": os.fspath(directory)})
