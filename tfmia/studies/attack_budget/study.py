"""The attack-budget study: every attack of the registry at K = 0, 1, 2, 4, 8,
16 reference models, on an image set and a tabular set, 3 seeds: which
attack should a user run at each budget?

Per dataset, one reference folder holds every model, trained together
(`ReferenceConfig.together`) on random halves of one pool, with its loss
trace recorded (LT-IQR): the folder's target and `max(ks)` reference
models, plus one more per extra seed. Seed 0 attacks the folder's target;
seed s > 0 attacks reference model max(ks) + s − 1 (its complement is never
one of its references). Every seed uses the first K reference models,
ref_000 … ref_{K−1}, so the models of K = 8 are those of K = 16's first
half, and the seeds share their references: seeds vary the target and its
membership, not the reference models.

At K = 1 one reference model is IN for half the examples and OUT for the
others: an attack that needs an OUT model for every example (offline LiRA,
RMIA, ...) is judged on the examples OUT for it, one that needs an IN model
on those IN for it, one that needs both is not run (it needs K ≥ 2).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Optional, Union

import numpy as np
import pandas as pd

from tfmia import references
from tfmia.attacks import AttackConfig, AttackSignals, registry, run_attacks
from tfmia.attacks import loss_trace as lt
from tfmia.attacks.quantile import QuantileConfig
from tfmia.audits.audit import model_signals
from tfmia.data import DataConfig, prepare_data
from tfmia.infra import fs, io, store
from tfmia.infra import progress as progress_lib
from tfmia.results.attack_results import tpr_name
from tfmia.signals import SignalConfig
from tfmia.studies.attack_budget import report
from tfmia.training import TrainConfig

logger = logging.getLogger(__name__)

OUTPUTS = ("config.json", "results.csv", "summary.csv", "best.csv",
           "lt_iqr.csv", "training.json", "power_vs_budget.png", "models")
# Attacks the study leaves out, and why.
EXCLUDED = {
    "lt_iqr": "it ranks members by risk (higher: more vulnerable), not "
              "members against non-members; lt_iqr.csv evaluates it as its "
              "paper does",
    "label_boundary": "HopSkipJump queries the target thousands of times "
                      "per example",
    "samia": "its sensitivity signal is 10 extra passes per model and "
             "example; it is the pruning study's attack",
    **{name: "trained on the target's own membership labels "
             "(tensorflow-privacy's evaluation attacks), not an adversary"
       for name, spec in registry.ATTACKS.items() if spec.membership_labels},
}
# Shadow-trained neural attacks: a network trained per seed and budget.
TRAINED = ("nn", "nn_top3", "nn_cls")
PRECISION_FRACTIONS = (0.01, 0.05, 0.10)


def study_attacks(trained: bool) -> tuple[str, ...]:
  """Every registry attack but `EXCLUDED` (and, unless `trained`, the
  shadow-trained neural ones)."""
  return tuple(n for n in registry.ATTACKS
               if n not in EXCLUDED and (trained or n not in TRAINED))


@dataclasses.dataclass(frozen=True)
class DatasetSetting:
  """One dataset of the study: its data, model and training."""

  dataset: str
  model: str
  model_kwargs: tuple = ()
  pool_size: Optional[int] = None
  population_size: Optional[int] = None
  epochs: int = 20
  batch_size: int = 64
  learning_rate: float = 1e-3
  optimizer: str = "adam"
  weight_decay: float = 0.0
  augment: bool = False

  def __post_init__(self):
    object.__setattr__(self, "model_kwargs", tuple(
        (str(k), v) for k, v in (self.model_kwargs.items()
                                 if isinstance(self.model_kwargs, dict)
                                 else self.model_kwargs)))


# Quick: members fitted well past the population (the quick run's target:
# CIFAR-10 80% member, 41% non-member accuracy; Purchase 100% and 61%), so
# attacks differ.
QUICK_SETTINGS = (
    DatasetSetting("cifar10", "conv", pool_size=2000, population_size=1000,
                   epochs=40, batch_size=32),
    DatasetSetting("purchase_synthetic", "dense",
                   (("depth", 2), ("units", 256)), pool_size=8000,
                   population_size=2000, epochs=30),
)
FULL_SETTINGS = (
    # LiRA's CIFAR-10 setting: WRN-28-2 on half of the 50,000 training images.
    DatasetSetting("cifar10", "wrn", (("depth", 28), ("width", 2)),
                   pool_size=None, population_size=None, epochs=100,
                   batch_size=256, learning_rate=0.1, optimizer="sgd",
                   weight_decay=5e-4, augment=True),
    DatasetSetting("purchase_synthetic", "dense",
                   (("depth", 2), ("units", 256)), epochs=30),
)


@dataclasses.dataclass(frozen=True)
class BudgetConfig:
  """Full mode: LiRA's CIFAR-10 setting and the whole tabular set."""

  settings: tuple = FULL_SETTINGS
  ks: tuple = (0, 1, 2, 4, 8, 16)
  seeds: int = 3
  attacks: Optional[tuple] = None      # None: `study_attacks`
  together: int = 8
  quick: bool = False
  data_dir: Optional[str] = None
  download: bool = False
  bootstrap: int = 200                 # resamples of each interval
  lt_iqr_fpr: float = 1e-3             # LiRA's vulnerable set (the paper's)
  quantile: QuantileConfig = QuantileConfig()   # the quantile attack's
  seed: int = 0

  def __post_init__(self):
    object.__setattr__(self, "settings", tuple(
        s if isinstance(s, DatasetSetting) else DatasetSetting(**s)
        for s in self.settings))
    if isinstance(self.quantile, dict):
      object.__setattr__(self, "quantile", QuantileConfig(**self.quantile))
    ks = tuple(self.ks)
    object.__setattr__(self, "ks", ks)
    if (not ks or list(ks) != sorted(set(ks))
        or not all(isinstance(k, int) and k >= 0 for k in ks)):
      raise ValueError("`ks` must be strictly increasing ints >= 0. "
                       f"Received: ks={self.ks!r}")
    if max(ks) < 2:
      raise ValueError("`ks` must reach at least 2 reference models. "
                       f"Received: ks={self.ks!r}")
    if not isinstance(self.seeds, int) or self.seeds < 1:
      raise ValueError(f"`seeds` must be a positive int. "
                       f"Received: seeds={self.seeds!r}")
    if self.attacks is not None:
      object.__setattr__(self, "attacks",
                         registry.check_names(self.attacks))
      bad = [a for a in self.attacks if a in EXCLUDED]
      if bad:
        raise ValueError(f"The study cannot run {bad}: "
                         + "; ".join(f"{a}: {EXCLUDED[a]}" for a in bad))
    if not isinstance(self.together, int) or self.together < 1:
      raise ValueError("`together` must be a positive int. "
                       f"Received: together={self.together!r}")
    if not self.settings:
      raise ValueError("`settings` is empty.")

  @classmethod
  def quick_mode(cls, **overrides) -> "BudgetConfig":
    """CIFAR-10 (2,000 pool images, the conv model, 40 epochs) and the
    synthetic Purchase set (8,000 pool rows, a 2x256 MLP, 30 epochs); 19
    models each, trained 8 together; the shadow-trained neural attacks
    left out; LiRA's vulnerable members at FPR 1% (with 1,000 non-members,
    1e-3 leaves a handful)."""
    base = dict(settings=QUICK_SETTINGS, quick=True, attacks=study_attacks(
        trained=False), lt_iqr_fpr=0.01)
    base.update(overrides)
    return cls(**base)

  def attack_names(self) -> tuple[str, ...]:
    return self.attacks or study_attacks(trained=True)

  @property
  def _first_extra_target(self) -> int:
    """The first reference model that is a target: past max(ks), at a
    pair's start, so that no target's complement is one of its
    references."""
    return max(self.ks) + max(self.ks) % 2

  @property
  def num_models(self) -> int:
    """Reference models per folder: the first max(ks), rounded up to
    pairs, and one target per extra seed, rounded up to pairs."""
    n = self._first_extra_target + self.seeds - 1
    return n + n % 2

  def setting(self, dataset: str) -> DatasetSetting:
    for s in self.settings:
      if s.dataset == dataset:
        return s
    raise ValueError(f"No setting for dataset {dataset!r}.")

  def reference_config(self, dataset: str, directory: Union[str, os.PathLike]
                       ) -> references.ReferenceConfig:
    s = self.setting(dataset)
    return references.ReferenceConfig(
        data=DataConfig(dataset=dataset, data_dir=self.data_dir,
                        download=self.download, train_size=s.pool_size,
                        test_size=s.population_size, seed=self.seed),
        model=s.model, model_kwargs=s.model_kwargs,
        train=TrainConfig(optimizer=s.optimizer,
                          learning_rate=s.learning_rate,
                          weight_decay=s.weight_decay, epochs=s.epochs,
                          batch_size=s.batch_size, augment=s.augment,
                          seed=self.seed),
        num_models=self.num_models, seed=self.seed,
        reference_dir=os.fspath(directory), together=self.together,
        loss_traces=True)

  def targets(self) -> list[str]:
    """The target of each seed."""
    return [references.TARGET] + [
        references.model_name(self._first_extra_target + s)
        for s in range(self.seeds - 1)]


@dataclasses.dataclass(frozen=True)
class BudgetResult:
  """The study's rows: one per dataset, seed, K and attack; LT-IQR's
  precision rows; per dataset, its models' training time."""

  results: pd.DataFrame
  lt_iqr: pd.DataFrame
  training: dict

  def summary(self) -> pd.DataFrame:
    return report.summary(self.results)

  def best(self) -> pd.DataFrame:
    return report.best(self.results)


def _signals(refs, data, names, k: int, target: str, trace, attacks):
  """AttackSignals of `target` against the first `k` reference models."""
  cfg = SignalConfig()
  sig = {n: model_signals(refs, data, n, None, "pool", cfg) for n in names}
  pop = {n: model_signals(refs, data, n, None, "population", cfg)
         for n in names}
  kept = refs.reference_names()[:k]
  return AttackSignals(
      target=sig[target], references=[sig[n] for n in kept],
      ref_is_member=(np.stack([refs.is_member_of(n) for n in kept])
                     if kept else None),
      target_population=pop[target],
      reference_population=[pop[n] for n in kept],
      loss_trace=trace, features=data.x_train,
      population_features=data.x_test)


def _runnable(names, k: int) -> list[tuple[str, str]]:
  """(attack, the examples it is judged on: "all", "out" or "in") at K.
  K = 0: the attacks without reference models; K > 0: those with (the
  others do not change with K: `run` repeats their K = 0 rows)."""
  out = []
  for n in names:
    spec = registry.ATTACKS[n]
    if (k == 0) == spec.references:
      continue
    if k == 1 and spec.need_in and spec.need_out:
      continue
    where = ("out" if k == 1 and spec.need_out else
             "in" if k == 1 and spec.need_in else "all")
    out.append((n, where))
  return out


def attack_cell(refs, data, target: str, k: int, names, config: BudgetConfig,
                seed: int) -> pd.DataFrame:
  """Every attack of `names` runnable at K = k on `target`: one row each."""
  trace = refs.loss_trace(target)
  is_member = refs.is_member_of(target)
  sig = _signals(refs, data, [target] + refs.reference_names()[:k], k,
                 target, trace, names)
  cfg = AttackConfig(seed=seed, quantile=config.quantile)
  rows = []
  groups: dict = {}
  for name, where in _runnable(names, k):
    groups.setdefault(where, []).append(name)
  for where, group in groups.items():
    s, m = sig, is_member
    if where != "all":
      keep = (~refs.is_member_of(refs.reference_names()[0]) if where == "out"
              else refs.is_member_of(refs.reference_names()[0]))
      idx = np.flatnonzero(keep)
      s, m = sig.take(idx), is_member[idx]
    res = run_attacks(group, s, cfg, is_member=m)
    for name in group:
      r = res.get(name)
      ci = r.bootstrap(config.bootstrap, seed=seed).intervals(0.95)
      row = dict(attack=name, k=k, judged_on=where, examples=int(len(m)),
                 auc=r.auc, auc_low=ci["auc"][0], auc_high=ci["auc"][1])
      for fpr in (0.01, 0.001):
        key = tpr_name(fpr)
        row.update({key: r.tpr_at_fpr(fpr), f"{key}_low": ci[key][0],
                    f"{key}_high": ci[key][1]})
      rows.append(row)
  return pd.DataFrame(rows)


def lt_iqr_rows(refs, data, target: str, config: BudgetConfig
                ) -> pd.DataFrame:
  """LT-IQR against LiRA's vulnerable members, as its paper evaluates it:
  precision and recall of its top k members, beside the final loss's."""
  trace = refs.loss_trace(target)
  is_member = refs.is_member_of(target)
  k = max(config.ks)
  sig = _signals(refs, data, [target] + refs.reference_names()[:k], k,
                 target, trace, ("lira",))
  lira = run_attacks(("lira",), sig, is_member=is_member).get("lira").scores
  vulnerable = lt.vulnerable_members(lira, is_member, config.lt_iqr_fpr)
  rows = []
  for name, risk in (("lt_iqr", lt.lt_iqr_scores(trace)),
                     ("final_loss", -trace[:, -1])):
    for f in PRECISION_FRACTIONS:
      p, r, kk = lt.precision_at_k(risk, vulnerable, is_member, f)
      rows.append(dict(score=name, fraction=f, k=kk, precision=p, recall=r,
                       vulnerable=int(vulnerable.sum()),
                       members=int(is_member.sum())))
  return pd.DataFrame(rows)


def run(config: BudgetConfig, out: Union[str, os.PathLike], *,
        progress: bool = True, overwrite: bool = False,
        executor=None) -> BudgetResult:
  """Runs (or resumes) the study into `out`: a reference folder per
  dataset in out/models/<dataset>, each (dataset, seed, K) a store unit.
  `executor` (`tfmia.infra.executors`) trains the reference models, one unit
  per stack of `config.together`."""
  out = fs.path(out)
  io.check_output_dir(out, "out")
  # `together` changes how the models are trained, not what they learn.
  store.claim(out, config, outputs=OUTPUTS + ("cells",),
              overwrite=overwrite, ignore=("data_dir", "download", "together"),
              what="attack-budget study")
  names = config.attack_names()
  rows, lt_rows, seconds = [], [], {}
  say = progress_lib.say if progress else (lambda message: None)
  for setting in config.settings:
    rc = config.reference_config(setting.dataset,
                                 out / "models" / setting.dataset)
    data = prepare_data(rc.data)
    say(f"{setting.dataset}: training the target and {rc.num_models} "
        f"reference models, {config.together} together")
    references.train_references(rc, data=data, progress=progress,
                                executor=executor)
    refs = references.ReferenceSet.load(rc.reference_dir)
    # What the models cost when they were trained (each model's done marker
    # holds its share of its stack's time), resumed runs included.
    done = [store.read_done(fs.path(rc.reference_dir) / n
                            / references.DONE_FILE) or {}
            for n in refs.model_names()]
    seconds[setting.dataset] = dict(
        models=len(done), together=config.together,
        training_seconds=round(sum(d.get("seconds", 0.0) for d in done), 1))
    for seed, target in enumerate(config.targets()):
      for k in config.ks:
        path = out / "cells" / setting.dataset / f"seed{seed}_k{k}.csv"
        fp = store.fingerprint([rc.fingerprint(), target, k, names,
                                config.bootstrap, seed, config.quantile])
        say(f"{setting.dataset}: seed {seed} ({target}), K = {k}")
        df = store.cached(
            path, fp, lambda: attack_cell(refs, data, target, k, names,
                                          config, seed),
            save=lambda df, path: io.atomic_write_csv(df, path, index=False),
            load=pd.read_csv)
        if k == 0:
          free = df
        elif 0 in config.ks:
          # The attacks without reference models are available at every
          # budget, with the same scores.
          df = pd.concat([free.assign(k=k), df], ignore_index=True)
        rows.append(df.assign(dataset=setting.dataset, seed=seed,
                              target=target))
      lt_rows.append(lt_iqr_rows(refs, data, target, config).assign(
          dataset=setting.dataset, seed=seed, target=target))
  result = BudgetResult(pd.concat(rows, ignore_index=True),
                        pd.concat(lt_rows, ignore_index=True), seconds)
  report.write(result, config, out)
  return result
