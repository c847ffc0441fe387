"""A one-run privacy audit: canaries in one training run, then Steinke et
al.'s ε lower bound from an attack's scores on them (`tfmia.results.dp_bounds`).

The setting is the paper's (Steinke, Nasr & Jagielski, NeurIPS 2023): the
training set is a fixed set of members plus m canaries, each included
independently with probability ½ (seeded, recorded). One model is trained,
with DP-SGD or without; an attack scores every canary; the auditor guesses
the k+ highest IN and the k− lowest OUT; the count of correct guesses gives
the bound.

Canaries (`CanaryConfig.kind`):
- "natural": held-out examples with their true labels;
- "mislabelled": the same with a label drawn uniformly from the *other*
  classes. ML Privacy Meter (`cifar10_canary`) draws uniformly from all ten,
  so a tenth of its "mislabelled" canaries keep their true label; ours are
  all mislabelled.

Where we differ from ML Privacy Meter's `run_audit_dp.py`: it Poisson-samples
the whole dataset (clean examples too) into the target's training set, and
scores with RMIA against one paired reference model trained on the
complement. Here only the canaries are sampled (the rest are fixed
members, as in the paper), and the default scorer is the loss (tfmia's
"threshold" attack), which needs no reference model: the audit costs one
training run. Any attack that needs only the target's signals can score.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from typing import Optional, Union

import numpy as np

from tfmia.infra import fs
from tfmia.audits import audit as audit_lib
from tfmia.results import accuracy, dp_bounds
from tfmia.infra import io, store
from tfmia import models, references
from tfmia.attacks import registry
from tfmia import data as data_lib
from tfmia.data import ClassificationData
from tfmia.training.defenses import Defense
from tfmia.training.config import TrainConfig

CANARY_KINDS = ("mislabelled", "natural")
PathLike = Union[str, os.PathLike]


@dataclasses.dataclass(frozen=True)
class CanaryConfig:
  """Which canaries, how many, and the seed of their draw and inclusion."""

  kind: str = "mislabelled"
  num_canaries: int = 1000
  seed: int = 0

  def __post_init__(self):
    if self.kind not in CANARY_KINDS:
      raise ValueError(f"`canaries` must be one of {CANARY_KINDS}. "
                       f"Received: canaries={self.kind!r}")
    if not isinstance(self.num_canaries, int) or isinstance(
        self.num_canaries, bool) or self.num_canaries < 4:
      raise ValueError("`num_canaries` must be an int >= 4. "
                       f"Received: num_canaries={self.num_canaries!r}")


@dataclasses.dataclass(frozen=True, eq=False)
class Canaries:
  """Drawn canaries and whether each was included in training.

  Attributes:
    kind: "natural" or "mislabelled".
    source_index: (m,) rows of the canary source they were drawn from.
    x: (m, ...) their inputs.
    labels: (m,) the labels they are trained (and scored) with.
    true_labels: (m,) their dataset labels.
    included: (m,) bool, drawn independently with probability ½.
    seed: the draw's seed.
  """

  kind: str
  source_index: np.ndarray
  x: np.ndarray
  labels: np.ndarray
  true_labels: np.ndarray
  included: np.ndarray
  seed: int

  @property
  def num_canaries(self) -> int:
    return int(self.included.size)

  def save(self, path: PathLike, scores: Optional[np.ndarray] = None) -> None:
    """The draw (and the attack's scores), without the inputs: they are
    rows of the source."""
    extra = {} if scores is None else {"scores": np.asarray(scores)}
    io.atomic_save_npz(path, source_index=self.source_index,
                       labels=self.labels, true_labels=self.true_labels,
                       included=self.included,
                       kind=np.array(self.kind), seed=np.array(self.seed),
                       **extra)


def check_disjoint(canary_x: np.ndarray, fixed_x: np.ndarray) -> None:
  """Raises when a canary is also one of the fixed members: its inclusion
  would then not be random, and the bound would not hold."""
  shared = np.isin(data_lib.row_hashes(canary_x),
                   data_lib.row_hashes(fixed_x))
  if shared.any():
    raise ValueError(
        f"The canaries overlap the training set's fixed members: "
        f"{int(shared.sum())} of {len(canary_x)} canaries are fixed training "
        "examples. Canaries must come from data outside the training set.")


def draw_canaries(source_x: np.ndarray, source_y: np.ndarray,
                  num_classes: int, config: CanaryConfig, *,
                  fixed_x: Optional[np.ndarray] = None) -> Canaries:
  """Draws `config.num_canaries` canaries from (source_x, source_y), each
  included with probability ½, all from one seeded generator.

  Raises before drawing when there are too few source examples, or when a
  source example is one of `fixed_x` (the fixed members).
  """
  if not isinstance(config, CanaryConfig):
    raise TypeError("`config` must be a CanaryConfig. "
                    f"Received: {type(config).__name__}")
  m = config.num_canaries
  if m > len(source_x):
    raise ValueError(f"`num_canaries` ({m}) is more than the canary source "
                     f"holds ({len(source_x)} examples).")
  if config.kind == "mislabelled" and num_classes < 2:
    raise ValueError("Mislabelled canaries need at least 2 classes.")
  rng = np.random.default_rng(config.seed)
  index = np.sort(rng.choice(len(source_x), size=m, replace=False))
  x = np.asarray(source_x[index])
  if fixed_x is not None:
    check_disjoint(x, fixed_x)
  true = np.asarray(source_y[index]).astype(np.int64)
  labels = true.copy()
  if config.kind == "mislabelled":
    labels = (true + rng.integers(1, num_classes, size=m)) % num_classes
  included = rng.random(m) < 0.5
  if included.all() or not included.any():
    raise ValueError(f"All {m} canaries fell on one side of the coin; use "
                     "more canaries or another seed.")
  return Canaries(config.kind, index, x, labels, true, included, config.seed)


@dataclasses.dataclass(frozen=True)
class OneRunConfig:
  """A one-run audit's settings. Saved as config.json beside its outputs.

  Attributes:
    canaries: which canaries.
    attack: the scorer, a tfmia attack needing only the target's signals.
    delta: δ of the bound, in (0, 1).
    confidence: of the bound, in (0.5, 1).
    selection: how (k−, k+) are chosen: "holdout", "bonferroni" or "fixed".
    k_neg, k_pos: the guesses for "fixed".
  """

  canaries: CanaryConfig = CanaryConfig()
  attack: str = "threshold"
  delta: float = 1e-5
  confidence: float = 0.95
  selection: str = "holdout"
  k_neg: Optional[int] = None
  k_pos: Optional[int] = None

  def __post_init__(self):
    if isinstance(self.canaries, dict):
      object.__setattr__(self, "canaries", CanaryConfig(**self.canaries))
    dp_bounds.check_delta(self.delta, allow_zero=False)
    dp_bounds.check_confidence(self.confidence)
    if self.selection not in dp_bounds.SELECTIONS:
      raise ValueError(f"`selection` must be one of {dp_bounds.SELECTIONS}. "
                       f"Received: selection={self.selection!r}")
    registry.check_names([self.attack])
    registry.check_needs([self.attack],
                      registry.Provided(num_examples=self.canaries.num_canaries))
    if self.selection == "fixed":
      m = self.canaries.num_canaries
      for name in ("k_neg", "k_pos"):
        k = getattr(self, name)
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
          raise ValueError(f"selection='fixed' needs `{name}`, a "
                           f"non-negative int. Received: {name}={k!r}")
      if self.k_neg + self.k_pos > m:
        raise ValueError(f"More guesses than canaries: k_neg + k_pos = "
                         f"{self.k_neg + self.k_pos} > {m} canaries.")

  def bound_kwargs(self) -> dict:
    kw = dict(delta=self.delta, confidence=self.confidence,
              selection=self.selection, seed=self.canaries.seed)
    if self.selection == "fixed":
      kw.update(k_neg=self.k_neg, k_pos=self.k_pos)
    return kw


@dataclasses.dataclass(frozen=True)
class OneRunResult:
  """What a one-run audit found. Saved as audit.json; the canaries' draw
  and scores are in canaries.npz, so the bound can be recomputed.

  Attributes:
    bound: the `dp_bounds.OneRunAudit`.
    attack: the scorer.
    canaries: canary kind.
    num_fixed: fixed members trained on.
    num_included: canaries included.
    test_accuracy: the model's accuracy on the test split.
    accountant_epsilon: DP-SGD's ε at δ (None without DP).
    roc_epsilon: the scorer's ROC ε lower bound on the same canaries
      (`AttackResult.epsilon_bound`, Clopper–Pearson at δ), for comparison.
    auc: the scorer's AUC on the canaries.
    train_seconds, audit_seconds: training, and drawing + scoring +
      bounding.
  """

  bound: dp_bounds.OneRunAudit
  attack: str
  canaries: str
  num_fixed: int
  num_included: int
  test_accuracy: float
  accountant_epsilon: Optional[float]
  roc_epsilon: float
  auc: float
  train_seconds: float
  audit_seconds: float

  def to_dict(self) -> dict:
    return io.to_jsonable(dataclasses.asdict(self))

  @classmethod
  def from_dict(cls, d: dict) -> "OneRunResult":
    return io.from_dict(cls, d, "one-run result")

  def summary(self) -> dict:
    b = self.bound
    return {"canaries": self.canaries, "attack": self.attack,
            "accountant_epsilon": self.accountant_epsilon,
            "epsilon_lower_bound": b.epsilon,
            "uncorrected_epsilon": b.uncorrected_epsilon,
            "roc_epsilon": self.roc_epsilon, "auc": self.auc,
            "num_canaries": b.num_canaries, "num_guesses": b.num_guesses,
            "num_correct": b.num_correct, "test_accuracy": self.test_accuracy}


AUDIT_FILE, CANARY_FILE = "audit.json", "canaries.npz"
WEIGHTS_FILE = store.WEIGHTS_FILE


def score_canaries(model, canaries: Canaries, attack: str, seed: int = 0):
  """The attack's `AttackResult` on the canaries, membership = inclusion."""
  res = audit_lib.audit(
      audit_lib.Target(model, canaries.x, canaries.labels, canaries.included),
      attacks=[attack], config=audit_lib.AuditConfig(
          attacks=(attack,), attack=registry.AttackConfig(seed=seed)),
      progress=False)
  return res.get(attack)


def bound_from_file(path: PathLike, config: OneRunConfig
                    ) -> dp_bounds.OneRunAudit:
  """Recomputes the bound from a saved canaries.npz (draw and scores)."""
  f = io.load_npz(path)
  return dp_bounds.one_run_bound(f["scores"], f["included"].astype(bool),
                                 **config.bound_kwargs())


def one_run_audit(builder: str, model_kwargs: dict, data: ClassificationData,
                  canary_source: tuple, train_config: TrainConfig,
                  defense: Defense = Defense(),
                  config: OneRunConfig = OneRunConfig(), *,
                  out_dir: Optional[PathLike] = None,
                  model_seed: int = 0) -> OneRunResult:
  """Trains one model on `data`'s train split (the fixed members) plus the
  included canaries, scores every canary, and bounds ε.

  Args:
    builder, model_kwargs: a registered model builder and its options.
    data: scaled data; x_train are the fixed members, x_test the test split.
    canary_source: (x, y) the canaries are drawn from, disjoint from
      x_train (checked).
    train_config, defense: how the model is trained (DP-SGD: defense "dp").
    config: the audit's settings.
    out_dir: where config.json, canaries.npz, audit.json and the model's
      weights (model.weights.h5) go; a finished audit there with the same
      settings is loaded.
    model_seed: the weights' initial seed.
  """
  if not isinstance(config, OneRunConfig):
    raise TypeError("`config` must be a OneRunConfig. "
                    f"Received: {type(config).__name__}")
  models.check_kwargs(builder, model_kwargs)
  record = {"builder": builder, "model_kwargs": model_kwargs,
            "train": train_config, "defense": defense, "audit": config,
            "model_seed": model_seed, "num_fixed": len(data.x_train),
            "dataset": data.name}
  fp = store.fingerprint(record)
  run = functools.partial(_train_and_score, builder, model_kwargs, data,
                          canary_source, train_config, defense, config,
                          model_seed)
  if out_dir is None:
    return run()[0]
  out = fs.path(out_dir)
  marker = out / store.DONE_FILE
  files = [out / AUDIT_FILE, out / CANARY_FILE, out / WEIGHTS_FILE]
  store.check_fingerprint(marker, fp, "A one-run audit")

  def run_and_save():
    result, canaries, scores, model = run()
    out.mkdir(parents=True, exist_ok=True)
    io.atomic_write_json(out / store.CONFIG_FILE, record)
    canaries.save(out / CANARY_FILE, scores=scores)
    io.atomic_write_json(out / AUDIT_FILE, result.to_dict())
    with io.atomic_path(out / WEIGHTS_FILE, suffix=".weights.h5") as tmp:
      model.save_weights(tmp)
    return result

  return store.unit(marker, fp, files, run_and_save, load=lambda: (
      OneRunResult.from_dict(io.read_json(out / AUDIT_FILE))))


def with_canaries(data: ClassificationData, canaries: Canaries,
                  include: np.ndarray, rng: np.random.Generator
                  ) -> ClassificationData:
  """`data` with its train split (the fixed members) plus the canaries
  where `include` holds, shuffled by `rng`: one canary model's members."""
  x = np.concatenate([data.x_train, canaries.x[include]])
  y = np.concatenate([np.asarray(data.y_train, np.int64),
                      canaries.labels[include]])
  order = rng.permutation(len(x))
  return data.replace(x_train=x[order], y_train=y[order])


def _train_and_score(builder, model_kwargs, data, canary_source,
                     train_config, defense, config, model_seed):
  """One one-run audit: (its result, the canaries, their scores, the
  trained model)."""
  start = time.perf_counter()
  sx, sy = canary_source
  canaries = draw_canaries(np.asarray(sx), np.asarray(sy),
                           len(data.class_names), config.canaries,
                           fixed_x=data.x_train)
  inc = canaries.included
  train = with_canaries(data, canaries, inc,
                        np.random.default_rng(config.canaries.seed + 1))
  draw_seconds = time.perf_counter() - start
  t0 = time.perf_counter()
  trained = references.train_member_model(
      builder, model_kwargs, train, train_config, seed=model_seed,
      defense=defense)
  train_seconds = time.perf_counter() - t0
  t1 = time.perf_counter()
  result = score_canaries(trained.model, canaries, config.attack,
                          seed=config.canaries.seed)
  bound = result.one_run_bound(**config.bound_kwargs())
  roc = result.epsilon_bound(delta=config.delta, confidence=config.confidence,
                             method="clopper_pearson")
  audit_seconds = time.perf_counter() - t1 + draw_seconds
  logits = trained.model.predict(data.x_test, batch_size=512, verbose=0)
  acc = accuracy(logits, data.y_test)
  out_result = OneRunResult(
      bound=bound, attack=config.attack, canaries=canaries.kind,
      num_fixed=len(data.x_train), num_included=int(inc.sum()),
      test_accuracy=acc, accountant_epsilon=trained.epsilon,
      roc_epsilon=roc, auc=result.auc, train_seconds=train_seconds,
      audit_seconds=audit_seconds)
  return out_result, canaries, result.scores, trained.model
