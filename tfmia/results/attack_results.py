"""tfmia's result types: frozen dataclasses that save to JSON + npz.

`AttackResult` is one attack on one data slice: its per-example scores and the
ground-truth membership. Every metric is derived from those two arrays, in one
place, so a result is always consistent with its scores.

`AttackResults` is a group of them (all attacks and slices for one model at one
epoch), with the model's accuracy at that point.
"""

from __future__ import annotations

import dataclasses
import math
import functools
import os
from typing import Iterable, Optional, Sequence, Union

import numpy as np
from sklearn import metrics

from tfmia.infra import fs
from tfmia.results import dp_bounds
from tfmia.infra import io

ENTIRE_DATASET = "entire_dataset"
REPORTED_FPRS = (0.0, 0.001, 0.01)
# The operating point at which tables report the positive predictive value.
PPV_FPR = 0.01
# What `AttackResult.epsilon` is a lower bound at: tensorflow-privacy's
# settings (δ = 0; its α = 0.05, so 95% confidence, without correcting for
# the search over thresholds).
EPSILON_DELTA = 0.0
EPSILON_CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class RocCurve:
  """A ROC curve: (fpr, tpr) pairs sorted by increasing fpr, as from sklearn."""

  fpr: np.ndarray
  tpr: np.ndarray
  thresholds: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class AttackResult:
  """One membership-inference attack on one slice of the data.

  Attributes:
    attack: attack name, e.g. "threshold" or "logistic_regression".
    slice: the data slice, e.g. "entire_dataset", "class=3",
      "correctly_classified=True".
    scores: (n,) float membership scores; higher means member.
    is_member: (n,) bool ground truth.
    epsilon_lower_bounds: tensorflow-privacy's top-5 ε lower bounds for this
      attack (δ = 0, 95% confidence, Bailey's bound, over every threshold),
      where they were computed; empty otherwise. `epsilon` is their largest,
      the one ε tables show (with `EPSILON_DELTA` and `EPSILON_CONFIDENCE`).
    decision_threshold: for attacks that decide (Song–Mittal's thresholds
      chosen on shadow data: scores are margins), the score at and above
      which the attack itself says "member"; None otherwise.
  """

  attack: str
  slice: str
  scores: np.ndarray
  is_member: np.ndarray
  epsilon_lower_bounds: tuple[float, ...] = ()
  decision_threshold: Optional[float] = None

  def __post_init__(self):
    scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
    is_member = np.asarray(self.is_member).reshape(-1).astype(bool)
    if scores.shape != is_member.shape:
      raise ValueError(f"`scores` and `is_member` differ in length. "
                       f"Received: {scores.shape[0]} and {is_member.shape[0]}")
    if not np.all(np.isfinite(scores)):
      raise ValueError("`scores` contains NaN or inf.")
    if is_member.all() or not is_member.any():
      raise ValueError("`is_member` must contain both members and non-members. "
                       f"Received: {int(is_member.sum())} members of "
                       f"{is_member.size}")
    object.__setattr__(self, "scores", scores)
    object.__setattr__(self, "is_member", is_member)
    object.__setattr__(self, "epsilon_lower_bounds",
                       tuple(float(e) for e in self.epsilon_lower_bounds))
    if self.decision_threshold is not None:
      object.__setattr__(self, "decision_threshold",
                         float(self.decision_threshold))

  @property
  def num_members(self) -> int:
    return int(self.is_member.sum())

  @property
  def num_nonmembers(self) -> int:
    return int(self.is_member.size - self.is_member.sum())

  @functools.cached_property
  def roc(self) -> RocCurve:
    """Every operating point: one per distinct score (and (0, 0)).

    All of them, not scikit-learn's default reduced set
    (`drop_intermediate=True`), which drops points on straight runs of the
    curve: with tied scores those can be the points `tpr_at_fpr` needs.
    """
    fpr, tpr, thr = metrics.roc_curve(self.is_member, self.scores,
                                      drop_intermediate=False)
    return RocCurve(fpr=fpr, tpr=tpr, thresholds=thr)

  @functools.cached_property
  def auc(self) -> float:
    """Area under the ROC curve."""
    return float(metrics.auc(self.roc.fpr, self.roc.tpr))

  @functools.cached_property
  def advantage(self) -> float:
    """Attacker advantage: max over thresholds of |TPR - FPR| (Yeom et al.)."""
    return float(np.max(np.abs(self.roc.tpr - self.roc.fpr)))

  @functools.cached_property
  def balanced_accuracy(self) -> float:
    """Best balanced accuracy over thresholds: max (TPR + 1 - FPR) / 2."""
    return float(np.max(0.5 * (self.roc.tpr + 1.0 - self.roc.fpr)))

  def tpr_at_fpr(self, fpr: float) -> float:
    """The largest TPR among thresholds whose FPR is at most `fpr`."""
    if not 0.0 <= fpr <= 1.0:
      raise ValueError(f"`fpr` must be in [0, 1]. Received: fpr={fpr}")
    ok = self.roc.fpr <= fpr
    return float(self.roc.tpr[ok].max()) if ok.any() else 0.0

  @property
  def decision_accuracy(self) -> float:
    """The attack's own decisions' balanced accuracy,
    ½[Pr(score ≥ t | member) + Pr(score < t | non-member)] at
    t = `decision_threshold` (the number Song & Mittal and mia_prune report);
    NaN for attacks without one."""
    if self.decision_threshold is None:
      return float("nan")
    t = self.decision_threshold
    return float(0.5 * (np.mean(self.scores[self.is_member] >= t)
                        + np.mean(self.scores[~self.is_member] < t)))

  def operating_point(self, fpr: float) -> tuple[float, float]:
    """(tpr, fpr) of the threshold `tpr_at_fpr(fpr)` reads: the largest TPR
    whose FPR is at most `fpr`, and the smallest FPR that reaches it."""
    tpr = self.tpr_at_fpr(fpr)
    ok = (self.roc.fpr <= fpr) & (self.roc.tpr >= tpr)
    return tpr, float(self.roc.fpr[ok].min()) if ok.any() else 0.0

  def ppv(self, fpr: float = PPV_FPR, prior: Optional[float] = None) -> float:
    """Positive predictive value at one operating point: the share of
    members among the examples the attack calls members, at the threshold
    of `operating_point(fpr)`, when a fraction `prior` of the examples
    queried are members:

        PPV = prior·TPR / (prior·TPR + (1 − prior)·FPR).

    `prior` defaults to this experiment's (members / examples). NaN where
    the attack calls no example a member at that threshold (TPR = FPR = 0),
    where PPV is undefined. This replaces tensorflow-privacy's PPV, the
    largest ratio over every threshold, which is 1 whenever the single
    highest score is a member's, whatever the attack's power."""
    prior = self.num_members / self.is_member.size if prior is None else prior
    if not 0.0 < prior < 1.0:
      raise ValueError(f"`prior` must be in (0, 1). Received: prior={prior}")
    tpr, at = self.operating_point(fpr)
    den = prior * tpr + (1.0 - prior) * at
    return float(prior * tpr / den) if den > 0 else float("nan")

  def bootstrap(self, num_resamples: int = 1000, seed: int = 0
                ) -> "Bootstrap":
    """AUC and TPR at each reported FPR on `num_resamples` bootstrap
    resamples (members and non-members resampled separately, seeded). See
    `Bootstrap`."""
    return bootstrap(self.scores, self.is_member, num_resamples=num_resamples,
                     seed=seed)

  @functools.cached_property
  def confidence_intervals(self) -> dict:
    """95% bootstrap intervals (1,000 resamples, seed 0): metric name ->
    (low, high), for "auc" and "tpr_at_{f}%_fpr" at each reported FPR."""
    return self.bootstrap().intervals(0.95)

  @property
  def epsilon(self) -> float:
    """The largest epsilon lower bound, or NaN where none was computed."""
    return (max(self.epsilon_lower_bounds) if self.epsilon_lower_bounds
            else np.nan)

  def epsilon_bound(self, delta: float = 0.0, confidence: float = 0.95,
                    method: str = "bailey") -> float:
    """An empirical ε lower bound at δ from this attack's ROC, with
    tensorflow-privacy's interval `method` at `confidence`
    (`tfmia.results.dp_bounds.roc_epsilon_lower_bound`; at δ > 0,
    "clopper_pearson")."""
    return dp_bounds.roc_epsilon_lower_bound(
        self.scores[self.is_member], self.scores[~self.is_member],
        delta=delta, confidence=confidence, method=method)

  def one_run_bound(self, **kwargs) -> "dp_bounds.OneRunAudit":
    """Steinke et al.'s one-run ε lower bound, reading these examples as
    canaries each included independently with probability ½
    (`tfmia.results.dp_bounds.one_run_bound`; keyword arguments go to it). Valid
    only when membership was drawn that way, as `tfmia.audits.one_run` does."""
    return dp_bounds.one_run_bound(self.scores, self.is_member, **kwargs)

  def summary(self) -> dict:
    """The scalar metrics, as one flat row."""
    row = {"attack": self.attack, "slice": self.slice,
           "num_members": self.num_members,
           "num_nonmembers": self.num_nonmembers, "auc": self.auc,
           "advantage": self.advantage,
           "balanced_accuracy": self.balanced_accuracy}
    for f in REPORTED_FPRS:
      row[tpr_name(f)] = self.tpr_at_fpr(f)
    for name, (lo, hi) in self.confidence_intervals.items():
      row[f"{name}_ci_low"], row[f"{name}_ci_high"] = lo, hi
    row[ppv_name(PPV_FPR)] = self.ppv()
    row["ppv_prior"] = self.num_members / self.is_member.size
    row["decision_accuracy"] = self.decision_accuracy
    computed = bool(self.epsilon_lower_bounds)
    row["epsilon_lower_bound"] = self.epsilon
    row["epsilon_delta"] = EPSILON_DELTA if computed else np.nan
    row["epsilon_confidence"] = EPSILON_CONFIDENCE if computed else np.nan
    return row


def correct(outputs, labels) -> np.ndarray:
  """(N,) bool: whether each row's largest output, logit or probability
  alike, is its integer label. `outputs` is (N, C) (or (..., N, C))."""
  return np.argmax(outputs, axis=-1) == np.asarray(labels)


def accuracy(outputs, labels) -> float:
  """Top-1 accuracy of (N, C) logits or probabilities against (N,) labels:
  the one definition tfmia reports."""
  return float(np.mean(correct(outputs, labels)))


def accuracy_interval(correct) -> tuple[float, float, float]:
  """(accuracy, low, high): the share of True in `correct` and its 95%
  Wilson score interval (NaNs when it is empty)."""
  correct = np.asarray(correct)
  n = len(correct)
  if n == 0:
    return math.nan, math.nan, math.nan
  p = float(np.mean(correct))
  z = 1.959964
  centre = (p + z * z / (2 * n)) / (1 + z * z / n)
  half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
  return p, min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def decision_accuracy_interval(result: "AttackResult"
                               ) -> tuple[float, float, float]:
  """(accuracy, low, high): an attack's own balanced decision accuracy (at
  its `decision_threshold`) and a 95% normal interval from its member and
  non-member rates, as mia_prune reports it. (`accuracy_interval` gives the
  Wilson interval of a plain accuracy.)"""
  acc = result.decision_accuracy
  if not np.isfinite(acc):
    return acc, np.nan, np.nan
  t = result.decision_threshold
  p1 = np.mean(result.scores[result.is_member] >= t)
  p2 = np.mean(result.scores[~result.is_member] < t)
  se = 0.5 * np.sqrt(p1 * (1 - p1) / result.num_members
                     + p2 * (1 - p2) / result.num_nonmembers)
  return acc, acc - 1.96 * se, acc + 1.96 * se


def tpr_name(fpr: float) -> str:
  return f"tpr_at_{fpr * 100:g}%_fpr"


def ppv_name(fpr: float) -> str:
  return f"ppv_at_{fpr * 100:g}%_fpr"


@dataclasses.dataclass(frozen=True, eq=False)
class Bootstrap:
  """Metrics on bootstrap resamples of one attack's scores.

  Attributes:
    auc: (B,) AUC on each resample.
    tpr: FPR -> (B,) largest TPR with FPR at most that, on each resample.
  """

  auc: np.ndarray
  tpr: dict

  def intervals(self, level: float = 0.95) -> dict:
    """Percentile intervals: "auc" and "tpr_at_{f}%_fpr" -> (low, high)."""
    if not 0.0 < level < 1.0:
      raise ValueError(f"`level` must be in (0, 1). Received: level={level}")
    q = [50 * (1 - level), 50 * (1 + level)]
    out = {"auc": tuple(float(v) for v in np.percentile(self.auc, q))}
    for f, values in self.tpr.items():
      out[tpr_name(f)] = tuple(float(v) for v in np.percentile(values, q))
    return out


def bootstrap(scores: np.ndarray, is_member: np.ndarray, *,
              num_resamples: int = 1000, seed: int = 0,
              fprs: Sequence[float] = REPORTED_FPRS) -> Bootstrap:
  """Bootstrap of AUC and TPR at `fprs`, without re-sorting per resample.

  Members and non-members are resampled separately, with replacement, so
  every resample keeps their counts. Both are sorted once. A resample is
  how often each example was drawn (a bincount of the draws), and its
  metrics come from cumulative sums of those counts, exactly as on the
  resampled data:

  - AUC: each drawn member outranks the drawn non-members below its score
    and ties (half) with those at its score (ties count half, as in
    scikit-learn's `roc_auc_score`).
  - TPR at FPR <= f: the threshold just above the highest non-member score
    at which the drawn non-members at or above it exceed f of them; the TPR
    is the share of drawn members above it (the largest TPR over every
    threshold with FPR <= f, ties included).

  Args:
    scores: (n,) membership scores, higher means member.
    is_member: (n,) bool.
    num_resamples: B.
    seed: the resampling seed.
    fprs: the FPRs at which to read the TPR.
  """
  scores = np.asarray(scores, dtype=np.float64).reshape(-1)
  is_member = np.asarray(is_member, dtype=bool).reshape(-1)
  if not isinstance(num_resamples, int) or num_resamples < 1:
    raise ValueError("`num_resamples` must be a positive int. "
                     f"Received: num_resamples={num_resamples!r}")
  ms = np.sort(scores[is_member])     # members, ascending
  ns = np.sort(scores[~is_member])    # non-members, ascending
  n_m, n_n = len(ms), len(ns)
  # Non-members below / at-or-below each member's score.
  below = np.searchsorted(ns, ms, side="left")
  at_or_below = np.searchsorted(ns, ms, side="right")
  # For non-member k: the non-members below its tie group, and the members
  # at or below its score.
  lt = np.searchsorted(ns, ns, side="left")
  members_le = np.searchsorted(ms, ns, side="right")
  rng = np.random.default_rng(seed)
  aucs = np.empty(num_resamples)
  tprs = {f: np.empty(num_resamples) for f in fprs}
  cn_cum = np.zeros(n_n + 1, dtype=np.int64)
  cm_cum = np.zeros(n_m + 1, dtype=np.int64)
  for r in range(num_resamples):
    cm = np.bincount(rng.integers(0, n_m, n_m, dtype=np.int32),
                     minlength=n_m)
    cn = np.bincount(rng.integers(0, n_n, n_n, dtype=np.int32),
                     minlength=n_n)
    np.cumsum(cn, out=cn_cum[1:])   # cn_cum[k]: draws among the k lowest
    np.cumsum(cm, out=cm_cum[1:])
    aucs[r] = (cm @ (cn_cum[below] + cn_cum[at_or_below])) / (2.0 * n_m * n_n)
    for f in fprs:
      # Non-member k is above budget when the draws at or above its score,
      # n_n - cn_cum[lt[k]], exceed f * n_n; those k form a prefix.
      p = np.searchsorted(cn_cum, n_n - f * n_n - 1e-9, side="right")
      c = np.searchsorted(lt, p, side="left")    # k with cn_cum[lt] < ...
      tp = n_m if c == 0 else n_m - cm_cum[members_le[c - 1]]
      tprs[f][r] = tp / n_m
  return Bootstrap(auc=aucs, tpr=tprs)


@dataclasses.dataclass(frozen=True, eq=False)
class AttackResults:
  """All attack results for one model at one point of training.

  Attributes:
    results: the single results, one per (attack, slice).
    model: the model's name, for tables and plot legends.
    epoch: the 1-based epoch after which the attacks ran, if during training.
    member_accuracy: accuracy on the member set, if known.
    nonmember_accuracy: accuracy on the non-member set, if known.
  """

  results: tuple[AttackResult, ...]
  model: str = ""
  epoch: Optional[int] = None
  member_accuracy: Optional[float] = None
  nonmember_accuracy: Optional[float] = None

  def __post_init__(self):
    object.__setattr__(self, "results", tuple(self.results))
    if not self.results:
      raise ValueError("`results` must hold at least one AttackResult.")

  def __iter__(self):
    return iter(self.results)

  def __len__(self):
    return len(self.results)

  @property
  def attacks(self) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.attack for r in self.results))

  def get(self, attack: str, slice: str = ENTIRE_DATASET) -> AttackResult:  # pylint: disable=redefined-builtin
    for r in self.results:
      if r.attack == attack and r.slice == slice:
        return r
    raise KeyError(f"No result for attack={attack!r}, slice={slice!r}. "
                   f"Have: {[(r.attack, r.slice) for r in self.results]}")

  def to_dataframe(self):
    """One row per (attack, slice), with the model, epoch and accuracies.
    A column empty in every row (no epoch, no ε computed, no attack that
    decides) is left out."""
    import pandas as pd
    rows = []
    for r in self.results:
      row = {"model": self.model, "epoch": self.epoch,
             "member_accuracy": self.member_accuracy,
             "nonmember_accuracy": self.nonmember_accuracy}
      row.update(r.summary())
      rows.append(row)
    return pd.DataFrame(rows).dropna(axis=1, how="all")

  # ---- persistence: metadata and metrics in JSON, arrays in npz -----------

  def to_json_dict(self) -> dict:
    return {"model": self.model, "epoch": self.epoch,
            "member_accuracy": self.member_accuracy,
            "nonmember_accuracy": self.nonmember_accuracy,
            "results": [dict(r.summary(),
                             epsilon_lower_bounds=list(r.epsilon_lower_bounds),
                             decision_threshold=r.decision_threshold)
                        for r in self.results]}

  def save(self, path: Union[str, os.PathLike]) -> None:
    """Writes `path`.json (metrics) and `path`.npz (scores), atomically."""
    path = fs.path(path)
    arrays = {}
    for i, r in enumerate(self.results):
      arrays[f"scores_{i}"] = r.scores
      arrays[f"is_member_{i}"] = r.is_member
    io.atomic_save_npz(path.with_suffix(".npz"), **arrays)
    io.atomic_write_json(path.with_suffix(".json"), self.to_json_dict())

  @classmethod
  def load(cls, path: Union[str, os.PathLike]) -> "AttackResults":
    path = fs.path(path)
    meta = io.read_json(path.with_suffix(".json"))
    arrays = io.load_npz(path.with_suffix(".npz"))
    try:
      results = tuple(
          AttackResult(attack=m["attack"], slice=m["slice"],
                       scores=arrays[f"scores_{i}"],
                       is_member=arrays[f"is_member_{i}"],
                       epsilon_lower_bounds=tuple(_bounds(m)),
                       decision_threshold=m.get("decision_threshold"))
          for i, m in enumerate(meta["results"]))
    except (KeyError, TypeError) as e:
      raise ValueError(f"{path}.json/.npz do not hold tfmia attack results "
                       f"(missing {e})") from None
    return cls(results=results, model=meta["model"], epoch=meta["epoch"],
               member_accuracy=meta.get("member_accuracy",
                                        meta.get("train_accuracy")),
               nonmember_accuracy=meta.get("nonmember_accuracy",
                                           meta.get("test_accuracy")))


def _bounds(meta: dict) -> list:
  """The top-k ε bounds of one saved result (older files named them
  `epsilon_lower_bound`)."""
  if "epsilon_lower_bounds" in meta:
    return meta["epsilon_lower_bounds"]
  old = meta["epsilon_lower_bound"]
  return old if isinstance(old, list) else []


def history_dataframe(history: Iterable[AttackResults]):
  """Concatenates the tables of several AttackResults (e.g. one per epoch)."""
  import pandas as pd
  frames = [h.to_dataframe() for h in history]
  return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def save_history(history: Sequence[AttackResults],
                 directory: Union[str, os.PathLike]) -> None:
  """Saves one AttackResults per entry as directory/epoch_XXXX.{json,npz}."""
  directory = fs.path(directory)
  for i, h in enumerate(history):
    name = f"epoch_{h.epoch:04d}" if h.epoch is not None else f"entry_{i:04d}"
    h.save(directory / name)


def load_history(directory: Union[str, os.PathLike]) -> list[AttackResults]:
  directory = fs.path(directory)
  return [AttackResults.load(p.with_suffix(""))
          for p in sorted(directory.glob("*.json"))]
