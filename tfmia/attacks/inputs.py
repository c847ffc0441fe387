"""What an attack takes: its settings (`AttackConfig`), the signals it
scores (`AttackSignals`), and what a caller can provide (`Provided`), which
`tfmia.attacks.registry.check_needs` checks against each attack's needs."""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from tfmia.attacks import nn_attack
from tfmia.attacks import quantile as quantile_lib
from tfmia.attacks import samia as samia_lib
from tfmia.attacks import scores
from tfmia.infra import io
from tfmia.infra.validation import as_bool_array
from tfmia.signals import OPTIONAL, Signals


@dataclasses.dataclass(frozen=True)
class AttackConfig:
  """Parameters of the attacks. Saved with every audit."""

  rmia_a: Optional[float] = 0.3       # offline RMIA's Pr(x) correction;
                                      # None tunes it on a reference model
  rmia_gamma: float = 1.0             # RMIA's likelihood-ratio threshold γ
  rmia_population: Optional[int] = None  # number of z points; None = all
  lira_fix_variance: bool = True      # one global σ (best with few models)
  lira_center: str = "median"         # median | mean
  lira_offline_test: str = "one_sided"  # one_sided | two_sided
  nn: nn_attack.MiafcConfig = nn_attack.MiafcConfig()  # NN attacks' MIAFC
  shadow_max_examples: int = 20_000   # shadow examples for NN / SAMIA
  samia: samia_lib.SamiaConfig = samia_lib.SamiaConfig()
  epsilon_lower_bound: bool = False   # tensorflow-privacy's ε bound per result
  seed: int = 0
  # The quantile-regression attack's regressor and its training.
  quantile: quantile_lib.QuantileConfig = dataclasses.field(
      default=quantile_lib.QuantileConfig(), metadata=io.ADDED_LATER)

  def __post_init__(self):
    if isinstance(self.quantile, dict):
      object.__setattr__(self, "quantile",
                         quantile_lib.QuantileConfig(**self.quantile))
    if isinstance(self.samia, dict):
      object.__setattr__(self, "samia", samia_lib.SamiaConfig(**self.samia))
    if isinstance(self.nn, dict):
      object.__setattr__(self, "nn", nn_attack.MiafcConfig(**self.nn))
    if self.rmia_a is not None and not 0 <= self.rmia_a <= 1:
      raise ValueError(f"`rmia_a` must be in [0, 1]. Received: {self.rmia_a!r}")
    if not self.rmia_gamma > 0:
      raise ValueError(f"`rmia_gamma` must be > 0. "
                       f"Received: {self.rmia_gamma!r}")
    if self.rmia_population is not None and self.rmia_population < 1:
      raise ValueError("`rmia_population` must be a positive int or None. "
                       f"Received: {self.rmia_population!r}")
    if self.lira_center not in scores.LIRA_CENTERS:
      raise ValueError(f"`lira_center` must be one of {scores.LIRA_CENTERS}. "
                       f"Received: {self.lira_center!r}")
    if self.lira_offline_test not in scores.LIRA_OFFLINE_TESTS:
      raise ValueError("`lira_offline_test` must be one of "
                       f"{scores.LIRA_OFFLINE_TESTS}. "
                       f"Received: {self.lira_offline_test!r}")
    if self.shadow_max_examples < 2:
      raise ValueError("`shadow_max_examples` must be >= 2. "
                       f"Received: {self.shadow_max_examples!r}")


@dataclasses.dataclass(frozen=True, eq=False)
class AttackSignals:
  """What the attacks read: signals of the target and reference models.

  Attributes:
    target: the target model on the N pool examples being attacked.
    references: K reference models on the same N examples.
    ref_is_member: (K, N) bool, True where example n trained reference model k.
    target_population: the target on Z population points (never trained on).
    reference_population: the K reference models on the same Z points.
    ref_in_split: (K, N) bool or None: the examples of reference (shadow)
      model k's own split, its members and the non-members it is tested on
      (mia_prune's shadow train and test sets). Shadow-trained attacks
      learn from these entries only; None: every example.
    in_population: (N,) bool or None: attacked examples that are also
      population points (the RMIA authors' code corrects their score);
      None: none are.
    loss_trace: (N, T) or None: the target's loss of each example at T
      moments of its training (LT-IQR), e.g. `PrivacyMetrics.loss_trace`.
    features: (N, ...) or None: the attacked examples' inputs, as the
      target saw them (the quantile-regression attack learns from inputs).
    population_features: (Z, ...) or None: the population's inputs.
  """

  target: Signals
  references: tuple = ()
  ref_is_member: Optional[np.ndarray] = None
  target_population: Optional[Signals] = None
  reference_population: tuple = ()
  ref_in_split: Optional[np.ndarray] = None
  in_population: Optional[np.ndarray] = None
  loss_trace: Optional[np.ndarray] = None
  features: Optional[np.ndarray] = None
  population_features: Optional[np.ndarray] = None

  def __post_init__(self):
    object.__setattr__(self, "references", tuple(self.references))
    object.__setattr__(self, "reference_population",
                       tuple(self.reference_population))
    n = self.target.num_examples
    k = len(self.references)
    for s in self.references:
      if s.num_examples != n:
        raise ValueError("Every reference model's signals must cover the "
                         f"target's {n} examples. Received: {s.num_examples}")
      if not np.array_equal(s.labels, self.target.labels):
        raise ValueError("Reference and target signals must be on the same "
                         "examples (their labels differ).")
    if k:
      if self.ref_is_member is None:
        raise ValueError("`ref_is_member` is required with reference models.")
      as_bool_array(self.ref_is_member, "ref_is_member (K, N)", (k, n))
    if self.ref_in_split is not None:
      split = as_bool_array(self.ref_in_split, "ref_in_split (K, N)", (k, n))
      if (np.asarray(self.ref_is_member) & ~split).any():
        raise ValueError("`ref_in_split` must contain every reference "
                         "model's members.")
    if self.in_population is not None:
      object.__setattr__(self, "in_population", as_bool_array(
          self.in_population, "in_population (N,)", (n,)))
    if self.loss_trace is not None:
      trace = np.asarray(self.loss_trace, np.float64)
      if trace.ndim != 2 or len(trace) != n or trace.shape[1] < 1:
        raise ValueError(f"`loss_trace` must be (N, T) with N = {n}. "
                         f"Received: {trace.shape}")
      object.__setattr__(self, "loss_trace", trace)
    if self.features is not None and len(self.features) != n:
      raise ValueError(f"`features` must have one row per attacked example "
                       f"({n}). Received: {len(self.features)}")
    if self.population_features is not None:
      z = (None if self.target_population is None
           else self.target_population.num_examples)
      if len(self.population_features) != z:
        raise ValueError("`population_features` must have one row per "
                         f"population point ({z}). Received: "
                         f"{len(self.population_features)}")
    if self.reference_population and len(self.reference_population) != k:
      raise ValueError(f"`reference_population` must hold {k} signals, one per "
                       f"reference model. Received: "
                       f"{len(self.reference_population)}")

  @property
  def num_references(self) -> int:
    return len(self.references)

  def take(self, index) -> "AttackSignals":
    """These signals on the attacked examples `index` of the N (the
    populations unchanged)."""
    return AttackSignals(
        target=self.target.take(index),
        references=tuple(r.take(index) for r in self.references),
        ref_is_member=(np.asarray(self.ref_is_member)[:, index]
                       if self.num_references else None),
        target_population=self.target_population,
        reference_population=self.reference_population,
        in_population=(None if self.in_population is None
                       else self.in_population[index]),
        loss_trace=(None if self.loss_trace is None
                    else self.loss_trace[index]),
        features=None if self.features is None else self.features[index],
        population_features=self.population_features)


@dataclasses.dataclass(frozen=True, eq=False)
class Provided:
  """What a caller can give the attacks, known before any model is queried.

  Attributes:
    num_examples: N, the attacked examples.
    ref_is_member: (K, N) bool membership of the reference models, or None.
    population: the target's signals on population data.
    reference_population: the references' signals on the population.
    signals: the optional signals given (`tfmia.signals.OPTIONAL` names),
      such as "sensitivity" (SAMIA) or "boundary_distance" (label_boundary).
    is_member: the target's ground-truth membership labels.
  """

  num_examples: int
  ref_is_member: Optional[np.ndarray] = None
  population: bool = False
  reference_population: bool = False
  signals: frozenset = frozenset()
  is_member: bool = True
  # The shadow models' membership over the examples shadow-trained attacks
  # learn from, when that is not `ref_is_member` (mia_prune's split: the
  # attacked examples are the victim's, the shadows' own are elsewhere).
  shadow_is_member: Optional[np.ndarray] = None
  loss_trace: bool = False   # the target's per-example loss trace
  features: bool = False     # the attacked and population examples' inputs

  def __post_init__(self):
    object.__setattr__(self, "signals", frozenset(self.signals))

  @property
  def num_references(self) -> int:
    return 0 if self.ref_is_member is None else len(self.ref_is_member)

  @classmethod
  def of(cls, signals: AttackSignals) -> "Provided":
    """What `signals` holds."""
    return cls(
        num_examples=signals.target.num_examples,
        ref_is_member=(np.asarray(signals.ref_is_member)
                       if signals.num_references else None),
        population=signals.target_population is not None,
        reference_population=bool(signals.reference_population),
        loss_trace=signals.loss_trace is not None,
        features=(signals.features is not None
                  and signals.population_features is not None),
        signals=frozenset(
            name for name, o in OPTIONAL.items()
            if getattr(signals.target, name) is not None and (
                o.target_only or all(getattr(r, name) is not None
                                     for r in signals.references))))
