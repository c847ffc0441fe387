"""The DP-audit case study: the accountant's ε beside three empirical lower
bounds, on one model trained with DP-SGD at several noise levels.

For each target ε of the accountant (None: no DP), at δ:
1. one-run audits (`tfmia.audits.one_run`, Steinke et al.) with mislabelled and
   with natural canaries: each a training run of the fixed members plus the
   canaries included by a fair coin, scored by the loss;
2. the strongest reference-model attack on natural data: RMIA on the
   natural-canary model's canaries, with K reference models trained the
   same way (same DP-SGD) on the fixed members plus complementary halves
   of the canaries. Its ε lower bounds: from its ROC (Clopper–Pearson at δ,
   the threshold search Bonferroni-corrected), and the one-run bound on its
   scores (valid: the canaries' inclusion is random);
3. the natural-canary model's test accuracy.

Noise multipliers are set so that the accountant (RDP, Poisson sampling)
gives the target ε for N = fixed members + m/2 canaries; the ε reported is
the accountant's for the N actually trained on. No empirical bound may
exceed the accountant's ε: where one does, the study stops with an error
after writing its table (a bug to report, not a plot to ship).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Optional

import numpy as np
import pandas as pd

from tfmia import models, references
from tfmia.audits import audit as audit_lib
from tfmia.audits import one_run as dp_audit
from tfmia.data import ClassificationData, load_dataset, scale_pixels, shuffle
from tfmia.infra import fs, io, store
from tfmia.infra import progress as progress_lib
from tfmia.results import dp_bounds
from tfmia.studies.dp_audit import report
from tfmia.training import TrainConfig
from tfmia.training.defenses import Defense, noise_for_epsilon
from tfmia.training.loop import load_weights

OUTPUTS = ("results.csv", "results.json", "dp_audit.png", "guesses.png",
           "models", "config.json")
# ML Privacy Meter's documentation/dpaudit.md, CIFAR-10, 1,000 canaries.
ANCHOR = {("mislabelled", "nondp"): 5.4814, ("mislabelled", "dp"): 0.4181,
          ("natural", "nondp"): 4.5571, ("natural", "dp"): 0.1258}
ANCHOR_DP_EPSILON = 68.51


@dataclasses.dataclass(frozen=True)
class DpAuditStudyConfig:
  """Full mode: CIFAR-10 as ML Privacy Meter's non-DP config sets it
  (`cifar10_nondp_train_natural_1000.yaml`: WRN-28-2, 1,000 canaries,
  batch 256, SGD at 0.1, 100 epochs), the rest of the train split as fixed
  members; the same model at accountant ε ≈ ∞, 8, 4, 1 at δ = 1e-5; 4
  reference models. (Its DP configs switch to a LeNet-style CNN at
  learning rate 20 for 200 epochs, because opacus cannot clip through
  BatchNorm; here one model is trained at every noise level, as the study
  compares them.)

  Attributes:
    epsilons: the accountant's target ε per model; None trains without DP.
    num_fixed: fixed members (None: the train split less the canaries).
    num_canaries: m canaries of each kind.
    test_size: test examples (None: the whole test split): accuracy, and
      RMIA's population.
    references: K reference models for RMIA (even; 0 skips it).
    selection: how the one-run audit picks its guesses (`dp_bounds`).
  """

  dataset: str = "cifar10"
  data_dir: Optional[str] = None
  download: bool = False
  quick: bool = False
  model: str = "wrn"
  model_kwargs: tuple = (("depth", 28), ("width", 2))
  epsilons: tuple = (None, 8.0, 4.0, 1.0)
  delta: float = 1e-5
  confidence: float = 0.95
  selection: str = "holdout"
  canary_kinds: tuple = dp_audit.CANARY_KINDS
  num_canaries: int = 1000
  num_fixed: Optional[int] = None
  test_size: Optional[int] = None
  test_fraction: float = 0.5      # digits only: its own train/test split
  attack: str = "threshold"
  references: int = 4
  l2_norm_clip: float = 1.0
  epochs: int = 100
  batch_size: int = 256
  optimizer: str = "sgd"
  learning_rate: float = 0.1
  seed: int = 0

  def __post_init__(self):
    object.__setattr__(self, "model_kwargs", tuple(
        tuple(kv) for kv in (self.model_kwargs.items()
                             if isinstance(self.model_kwargs, dict)
                             else self.model_kwargs)))
    eps = tuple(None if e is None or (isinstance(e, float) and math.isinf(e))
                else e for e in self.epsilons)
    object.__setattr__(self, "epsilons", eps)
    object.__setattr__(self, "canary_kinds", tuple(self.canary_kinds))
    if not eps:
      raise ValueError("`epsilons` must name at least one model.")
    for e in eps:
      if e is not None and (isinstance(e, bool) or not isinstance(
          e, (int, float)) or not 0 < e < math.inf):
        raise ValueError("`epsilons` must be finite numbers > 0, or None "
                         f"(no DP). Received: {e!r}")
    if len(set(eps)) != len(eps):
      raise ValueError(f"`epsilons` repeats a value. Received: {eps}")
    if not self.canary_kinds:
      raise ValueError("`canary_kinds` must name at least one kind.")
    for k in self.canary_kinds:
      dp_audit.CanaryConfig(kind=k, num_canaries=self.num_canaries)
    if not isinstance(self.references, int) or isinstance(
        self.references, bool) or self.references < 0 or self.references % 2:
      raise ValueError("`references` must be an even int >= 0. "
                       f"Received: references={self.references!r}")
    if self.references and "natural" not in self.canary_kinds:
      raise ValueError("RMIA audits the natural canaries: `canary_kinds` "
                       "must include 'natural' when `references` > 0.")
    for name in ("num_fixed", "test_size"):
      v = getattr(self, name)
      if v is not None and (not isinstance(v, int) or v < 1):
        raise ValueError(f"`{name}` must be a positive int or None. "
                         f"Received: {name}={v!r}")
    self.one_run_config("natural")   # checks δ, confidence, selection, attack
    self.train_config()
    models.check_kwargs(self.model, dict(self.model_kwargs))
    if not self.l2_norm_clip > 0:
      raise ValueError("`l2_norm_clip` must be > 0. "
                       f"Received: {self.l2_norm_clip!r}")

  @classmethod
  def quick_mode(cls, **overrides) -> "DpAuditStudyConfig":
    """digits (default): a 4 x 128 MLP, 500 canaries of each kind, the other
    757 of its 1,257 training images fixed, 40 epochs of batch 64, Adam at
    1e-3, 2 reference models; the same four ε. Another dataset (CIFAR-10):
    the case study's small CNN (`conv`), 2,500 fixed members, 1,000 test
    images, 15 epochs; the rest as for digits."""
    base = dict(quick=True, dataset="digits", test_fraction=0.3,
                model="dense", model_kwargs=(("depth", 4), ("units", 128)),
                num_canaries=500, references=2, epochs=40, batch_size=64,
                optimizer="adam", learning_rate=1e-3)
    if overrides.get("dataset", "digits") != "digits":
      base.update(model="conv", model_kwargs=(), num_fixed=2500,
                  test_size=1000, epochs=15)
    base.update(overrides)
    return cls(**base)

  def train_config(self) -> TrainConfig:
    return TrainConfig(optimizer=self.optimizer,
                       learning_rate=self.learning_rate, epochs=self.epochs,
                       batch_size=self.batch_size, seed=self.seed)

  def one_run_config(self, kind: str) -> dp_audit.OneRunConfig:
    return dp_audit.OneRunConfig(
        canaries=dp_audit.CanaryConfig(kind, self.num_canaries, self.seed),
        attack=self.attack, delta=self.delta, confidence=self.confidence,
        selection=self.selection)


def label(epsilon: Optional[float]) -> str:
  return "nondp" if epsilon is None else f"eps{epsilon:g}"


def load_data(config: DpAuditStudyConfig, raw: Optional[ClassificationData]
              = None) -> tuple[ClassificationData, tuple]:
  """(fixed members and test split, canary source): the shuffled train
  split's first `num_fixed` examples are the fixed members, the next
  `num_canaries` the canary source."""
  if raw is None:
    kw = ({"test_fraction": config.test_fraction}
          if config.dataset == "digits" else {})
    raw = load_dataset(config.dataset, data_dir=config.data_dir,
                       download=config.download, seed=config.seed, **kw)
  data = scale_pixels(shuffle(raw, seed=config.seed))
  m, n = config.num_canaries, len(data.x_train)
  fixed = config.num_fixed if config.num_fixed is not None else n - m
  if fixed < 1 or fixed + m > n:
    raise ValueError(f"The train split ({n} examples) cannot hold "
                     f"{config.num_canaries} canaries and "
                     f"{config.num_fixed or 'at least one'} fixed members.")
  t = config.test_size or len(data.x_test)
  if t > len(data.x_test):
    raise ValueError(f"`test_size` ({t}) is more than the test split holds "
                     f"({len(data.x_test)}).")
  source = (data.x_train[fixed:fixed + m], data.y_train[fixed:fixed + m])
  members = data.replace(x_train=data.x_train[:fixed],
                         y_train=data.y_train[:fixed],
                         x_test=data.x_test[:t], y_test=data.y_test[:t])
  return members, source


def _defense(config, epsilon, num_examples) -> tuple[Defense, Optional[float]]:
  if epsilon is None:
    return Defense(), None
  sigma = noise_for_epsilon(epsilon, num_examples, config.batch_size,
                            config.epochs, config.delta)
  return Defense("dp", arg=sigma, l2_norm_clip=config.l2_norm_clip,
                 delta=config.delta), sigma


def _load_model(config, data, weights):
  model = models.build_model(config.model, data.x_train.shape[1:],
                             len(data.class_names), **dict(config.model_kwargs))
  return load_weights(model, weights)


def _reference(config, data, canaries, is_member, defense, directory, k):
  """Reference model k (a store unit): fixed members plus its canaries."""
  directory = fs.path(directory)
  weights = directory / dp_audit.WEIGHTS_FILE
  marker = directory / store.DONE_FILE
  fp = store.fingerprint({"config": config, "defense": defense, "k": k})
  return store.unit(marker, fp, [weights], lambda: _train_reference(
      config, data, canaries, is_member, defense, directory, weights, k),
                    load=lambda: _load_model(config, data, weights))


def _train_reference(config, data, canaries, is_member, defense, directory,
                     weights, k):
  train = dp_audit.with_canaries(
      data, canaries, is_member, np.random.default_rng([config.seed, 2, k]))
  trained = references.train_member_model(
      config.model, config.model_kwargs, train, config.train_config(),
      seed=config.seed + 1 + k, defense=defense)
  directory.mkdir(parents=True, exist_ok=True)
  with io.atomic_path(weights, suffix=".weights.h5") as tmp:
    trained.model.save_weights(tmp)
  return trained.model


def _natural_canaries(config, data, source):
  return dp_audit.draw_canaries(
      source[0], source[1], len(data.class_names),
      config.one_run_config("natural").canaries, fixed_x=data.x_train)


def _reference_unit(config, data, canaries, is_member, defense, directory, k):
  _reference(config, data, canaries, is_member, defense, directory, k)
  return k


def _one_run_unit(config, data, source, defense, kind, out_dir):
  return dp_audit.one_run_audit(
      config.model, dict(config.model_kwargs), data, source,
      config.train_config(), defense, config.one_run_config(kind),
      out_dir=out_dir, model_seed=config.seed)


def rmia_bounds(config, data, source, target_dir, defense, out_dir) -> dict:
  """RMIA on the natural-canary model's canaries with K references (made
  here when missing; `run` makes them first, as executor units)."""
  canaries = _natural_canaries(config, data, source)
  ref_member = references.membership_matrix(canaries.num_canaries,
                                            config.references, config.seed)
  refs = [_reference(config, data, canaries, ref_member[k], defense,
                     fs.path(out_dir) / f"ref_{k:03d}", k)
          for k in range(config.references)]
  target = _load_model(config, data, fs.path(target_dir) / dp_audit.WEIGHTS_FILE)
  res = audit_lib.audit(
      audit_lib.Target(target, canaries.x, canaries.labels, canaries.included),
      audit_lib.References(tuple(refs), ref_member),
      population=(data.x_test, data.y_test), attacks=["rmia"],
      progress=False).get("rmia")
  one_run = res.one_run_bound(delta=config.delta, confidence=config.confidence,
                              selection=config.selection, seed=config.seed)
  return {"rmia_auc": res.auc,
          "rmia_roc_epsilon": dp_bounds.roc_epsilon_lower_bound(
              res.scores[res.is_member], res.scores[~res.is_member],
              delta=config.delta, confidence=config.confidence,
              method="clopper_pearson", correct_search=True),
          "rmia_one_run_epsilon": one_run.epsilon,
          "rmia_one_run_uncorrected": one_run.uncorrected_epsilon}


@dataclasses.dataclass(frozen=True)
class DpAuditStudyResult:
  """One row per model (`rows`), and each one-run audit (`audits`: (model
  label, canary kind) -> `dp_audit.OneRunResult`)."""

  config: DpAuditStudyConfig
  rows: tuple
  audits: dict

  def table(self) -> pd.DataFrame:
    return pd.DataFrame(list(self.rows))

  def violations(self) -> list[str]:
    """Empirical bounds above the accountant's ε: each one a bug."""
    out = []
    for r in self.rows:
      acc = r["accountant_epsilon"]
      if acc is None or not math.isfinite(acc):
        continue
      for col in EMPIRICAL:
        v = r.get(col)
        if v is not None and np.isfinite(v) and v > acc:
          out.append(f"{r['model']}: {col} = {v:.3f} > accountant ε "
                     f"{acc:.3f}")
    return out


EMPIRICAL = ("one_run_mislabelled", "one_run_natural", "rmia_roc_epsilon",
             "rmia_one_run_epsilon")


def run(config: DpAuditStudyConfig, out, *, raw=None, progress: bool = True,
        overwrite: bool = False, executor=None) -> DpAuditStudyResult:
  """Trains (or finds) every model in `out`/models, audits them and writes
  OUTPUTS. A rerun with the same settings resumes; other settings are
  refused, naming what differs, unless `overwrite`.

  Every model (each one-run audit's, each reference) is one unit of
  `executor` (`tfmia.infra.executors`; None: here, one after another); RMIA and
  the tables follow in this process."""
  from tfmia.infra import executors  # pylint: disable=g-import-not-at-top
  out = io.check_output_dir(out, "the output folder")
  data, source = load_data(config, raw)
  for kind in config.canary_kinds:   # overlap and sizes, before training
    dp_audit.draw_canaries(source[0], source[1], len(data.class_names),
                           config.one_run_config(kind).canaries,
                           fixed_x=data.x_train)
  store.claim(out, config, outputs=OUTPUTS, overwrite=overwrite,
              ignore=("data_dir", "download"), what="DP-audit study")
  n_train = len(data.x_train) + config.num_canaries // 2
  plan = [(eps, label(eps)) + _defense(config, eps, n_train)
          for eps in config.epsilons]
  shared, shared_source = executors.Shared(data), executors.Shared(source)
  units = [executors.Unit(
      f"{name} {kind} canaries", _one_run_unit,
      (config, shared, shared_source, defense, kind,
       os.fspath(out / "models" / name / kind)))
           for _, name, defense, _ in plan for kind in config.canary_kinds]
  if config.references:
    canaries = _natural_canaries(config, data, source)
    ref_member = references.membership_matrix(canaries.num_canaries,
                                              config.references, config.seed)
    units += [executors.Unit(
        f"{name} ref_{k:03d}", _reference_unit,
        (config, shared, canaries, ref_member[k], defense,
         os.fspath(out / "models" / name / "references" / f"ref_{k:03d}"), k))
              for _, name, defense, _ in plan
              for k in range(config.references)]
  if progress:
    progress_lib.say(f"Training (or finding) {len(units)} models: "
                     + "; ".join(f"{name}: " + ("no DP" if eps is None else
                                                f"DP-SGD σ = {sigma:.3f}")
                                 for eps, name, _, sigma in plan))
  ran = (executor or executors.LocalExecutor(progress=progress)).run(units)
  ran.raise_failures()
  rows, audits = [], {}
  for eps, name, defense, sigma in plan:
    row = {"model": name, "target_epsilon": eps, "noise_multiplier": sigma}
    for kind in config.canary_kinds:
      r = ran.values[f"{name} {kind} canaries"]
      audits[(name, kind)] = r
      row["accountant_epsilon"] = r.accountant_epsilon
      row[f"one_run_{kind}"] = r.bound.epsilon
      row[f"one_run_{kind}_uncorrected"] = r.bound.uncorrected_epsilon
      row[f"one_run_{kind}_guesses"] = r.bound.num_guesses
      row[f"one_run_{kind}_correct"] = r.bound.num_correct
      row[f"{kind}_auc"] = r.auc
      row[f"test_accuracy_{kind}"] = r.test_accuracy
    if config.references:
      if progress:
        progress_lib.say(f"{name}: RMIA with {config.references} "
                         "references")
      row.update(rmia_bounds(config, data, source,
                             out / "models" / name / "natural", defense,
                             out / "models" / name / "references"))
    rows.append(row)
  result = DpAuditStudyResult(config, tuple(rows), audits)
  report.write_tables(result, out)
  bad = result.violations()
  if bad:
    raise RuntimeError("An empirical ε lower bound exceeds the accountant's "
                       "ε, which DP forbids: a bug in training, accounting "
                       "or the audit. " + "; ".join(bad))
  report.write_figures(result, out)
  return result
