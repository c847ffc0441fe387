"""One dispatcher for every tfmia attack, by name.

`score_attacks(names, signals, config)` checks that the signals hold what
each named attack needs (reference models, population, IN/OUT models,
sensitivity), before computing anything, then returns one (N,) score array
per attack; higher means member.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence

import numpy as np

from tfmia.attacks import samia as samia_lib
from tfmia.attacks import scores, shadow
from tfmia.signals import Signals, stack


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
  nn_hidden: tuple = (64, 64)         # NN attack hidden widths
  shadow_max_examples: int = 20_000   # shadow examples for NN / SAMIA
  samia: samia_lib.SamiaConfig = samia_lib.SamiaConfig()
  seed: int = 0

  def __post_init__(self):
    if isinstance(self.samia, dict):
      object.__setattr__(self, "samia", samia_lib.SamiaConfig(**self.samia))
    object.__setattr__(self, "nn_hidden", tuple(self.nn_hidden))
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
    ref_in: (K, N) bool, True where example n trained reference model k.
    target_population: the target on Z population points (never trained on).
    reference_population: the K reference models on the same Z points.
  """

  target: Signals
  references: tuple = ()
  ref_in: Optional[np.ndarray] = None
  target_population: Optional[Signals] = None
  reference_population: tuple = ()

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
      if self.ref_in is None:
        raise ValueError("`ref_in` is required with reference models.")
      ref_in = np.asarray(self.ref_in)
      if ref_in.dtype != bool or ref_in.shape != (k, n):
        raise ValueError(f"`ref_in` must be a bool (K, N) = {(k, n)} matrix "
                         f"matching the {k} reference models. "
                         f"Received: shape={ref_in.shape}, dtype={ref_in.dtype}")
    if self.reference_population and len(self.reference_population) != k:
      raise ValueError(f"`reference_population` must hold {k} signals, one per "
                       f"reference model. Received: "
                       f"{len(self.reference_population)}")

  @property
  def num_references(self) -> int:
    return len(self.references)


@dataclasses.dataclass(frozen=True)
class _Spec:
  fn: Callable
  references: bool = False   # needs reference models on the pool
  population: bool = False   # needs the target on the population
  ref_population: bool = False  # needs the references on the population
  need_in: bool = False      # every example needs an IN model
  need_out: bool = False     # every example needs an OUT model
  sensitivity: bool = False
  shadow: bool = False       # trained / thresholded on shadow outputs
  description: str = ""


def _rmia(online: bool):
  def fn(s: AttackSignals, c: AttackConfig):
    tz = s.target_population.mean().confidence[:, 0]
    rz = stack([r.mean() for r in s.reference_population], "confidence")[..., 0]
    if c.rmia_population is not None and c.rmia_population < len(tz):
      pick = np.sort(np.random.default_rng([c.seed, 7]).choice(
          len(tz), c.rmia_population, replace=False))
      tz, rz = tz[pick], rz[:, pick]
    rx = stack([r.mean() for r in s.references], "confidence")[..., 0]
    a = c.rmia_a
    if a is None and not online:
      a = scores.tune_rmia_a(rx, s.ref_in, rz, gamma=c.rmia_gamma)
    return scores.rmia_scores(
        s.target.mean().confidence[:, 0], rx, s.ref_in, tz, rz,
        offline=not online, a=0.3 if a is None else a, gamma=c.rmia_gamma)
  return fn


def _lira(online: bool):
  def fn(s: AttackSignals, c: AttackConfig):
    return scores.lira_scores(
        s.target.scaled_logit, stack(s.references, "scaled_logit"), s.ref_in,
        online=online, fix_variance=c.lira_fix_variance, center=c.lira_center,
        offline_test=c.lira_offline_test)
  return fn


def _attack_p(s: AttackSignals, c: AttackConfig):
  return scores.attack_p_scores(s.target.mean().loss[:, 0],
                                s.target_population.mean().loss[:, 0])


def _attack_r(s: AttackSignals, c: AttackConfig):
  return scores.attack_r_scores(
      s.target.mean().loss[:, 0],
      stack([r.mean() for r in s.references], "loss")[..., 0], s.ref_in)


def _threshold(s: AttackSignals, c: AttackConfig):
  return scores.loss_threshold_scores(s.target.mean().loss[:, 0])


def shadow_data(s: AttackSignals, max_examples: Optional[int], seed: int,
                with_sensitivity: bool = False):
  """Every reference model's (probs, labels, is_member[, sensitivity]) on the
  pool, concatenated and (when `max_examples`) balanced and subsampled."""
  probs = np.concatenate([r.mean().probs[:, 0] for r in s.references])
  labels = np.concatenate([r.labels for r in s.references])
  is_member = np.asarray(s.ref_in).reshape(-1)
  idx = shadow.balanced_sample(is_member, max_examples, seed)
  out = [probs[idx], labels[idx], is_member[idx]]
  if with_sensitivity:
    out.append(np.concatenate([r.sensitivity for r in s.references])[idx])
  return out


def _song_mittal(metric: str):
  def fn(s: AttackSignals, c: AttackConfig):
    p, y, m = shadow_data(s, None, c.seed)
    t = s.target.mean()
    return shadow.song_mittal_scores(metric, p, y, m, t.probs[:, 0], t.labels)
  return fn


def _top1(s: AttackSignals, c: AttackConfig):
  p, _, m = shadow_data(s, None, c.seed)
  return shadow.top1_threshold_scores(p, m, s.target.mean().probs[:, 0])


def _nn(kind: str):
  def fn(s: AttackSignals, c: AttackConfig):
    p, y, m = shadow_data(s, c.shadow_max_examples, c.seed)
    t = s.target.mean()
    return shadow.nn_attack_scores(
        shadow.nn_features(kind, p, y), m,
        shadow.nn_features(kind, t.probs[:, 0], t.labels),
        hidden=c.nn_hidden, seed=c.seed)
  return fn


def _samia(s: AttackSignals, c: AttackConfig):
  p, y, m, sens = shadow_data(s, c.shadow_max_examples, c.seed,
                              with_sensitivity=True)
  t = s.target.mean()
  return samia_lib.samia_scores(
      samia_lib.samia_tokens(p, sens, y), m,
      samia_lib.samia_tokens(t.probs[:, 0], t.sensitivity, t.labels),
      dataclasses.replace(c.samia, seed=c.seed))


_REF = dict(references=True)
_SHADOW = dict(references=True, shadow=True)
ATTACKS: dict[str, _Spec] = {
    "rmia": _Spec(_rmia(False), **_REF, population=True, ref_population=True,
                  need_out=True, description="RMIA, offline (OUT models)"),
    "rmia_online": _Spec(_rmia(True), **_REF, population=True,
                         ref_population=True, need_in=True, need_out=True,
                         description="RMIA, online (IN and OUT models)"),
    "lira": _Spec(_lira(True), **_REF, need_in=True, need_out=True,
                  description="LiRA, online"),
    "lira_offline": _Spec(_lira(False), **_REF, need_out=True,
                          description="LiRA, offline"),
    "attack_p": _Spec(_attack_p, population=True,
                      description="Attack-P (population percentile)"),
    "attack_r": _Spec(_attack_r, **_REF, need_out=True,
                      description="Attack-R (reference percentile)"),
    "threshold": _Spec(_threshold, description="loss threshold (Yeom)"),
    "sm_confidence": _Spec(_song_mittal("confidence"), **_SHADOW,
                           description="Song–Mittal confidence, per class"),
    "sm_cross_entropy": _Spec(_song_mittal("cross_entropy"), **_SHADOW,
                              description="Song–Mittal cross-entropy"),
    "sm_modified_entropy": _Spec(_song_mittal("modified_entropy"), **_SHADOW,
                                 description="Song–Mittal modified entropy"),
    "top1_threshold": _Spec(_top1, **_SHADOW,
                            description="global top-1 confidence threshold"),
    "nn": _Spec(_nn("nn"), **_SHADOW, description="NN on the posterior"),
    "nn_top3": _Spec(_nn("nn_top3"), **_SHADOW,
                     description="NN on the top-3 posteriors"),
    "nn_cls": _Spec(_nn("nn_cls"), **_SHADOW,
                    description="NN on posterior + one-hot label"),
    "samia": _Spec(_samia, **_SHADOW, sensitivity=True,
                   description="SAMIA self-attention attack"),
}
DEFAULT_ATTACKS = ("rmia", "lira", "lira_offline", "attack_p", "attack_r",
                   "threshold")


def available_attacks() -> tuple[str, ...]:
  return tuple(ATTACKS)


def check_names(names: Sequence[str]) -> tuple[str, ...]:
  if isinstance(names, str):
    names = [n for n in names.split(",") if n]
  names = tuple(names)
  if not names:
    raise ValueError("`attacks` is empty.")
  unknown = [n for n in names if n not in ATTACKS]
  if unknown:
    raise ValueError(f"Unknown attack(s) {unknown}. "
                     f"Available: {', '.join(ATTACKS)}")
  if len(set(names)) != len(names):
    raise ValueError(f"`attacks` lists a name twice. Received: {list(names)}")
  return names


def needs_sensitivity(names: Sequence[str]) -> bool:
  return any(ATTACKS[n].sensitivity for n in check_names(names))


def needs_population(names: Sequence[str]) -> bool:
  return any(ATTACKS[n].population for n in check_names(names))


def check_inputs(names: Sequence[str], signals: AttackSignals) -> None:
  """Raises, naming the attack, if `signals` lacks what it needs."""
  for name in check_names(names):
    spec = ATTACKS[name]
    if spec.references and not signals.num_references:
      raise ValueError(f"Attack {name!r} needs reference models; none given.")
    if spec.population and signals.target_population is None:
      raise ValueError(f"Attack {name!r} needs the target's signals on "
                       "population data; none given.")
    if spec.ref_population and len(signals.reference_population) != (
        signals.num_references):
      raise ValueError(f"Attack {name!r} needs every reference model's "
                       "signals on the population.")
    if spec.sensitivity and (signals.target.sensitivity is None or any(
        r.sensitivity is None for r in signals.references)):
      raise ValueError(f"Attack {name!r} needs sensitivity signals: compute "
                       "them with SignalConfig(sensitivity=True).")
    if spec.need_in or spec.need_out:
      ref_in = np.asarray(signals.ref_in)
      for flag, need, mask in (("IN", spec.need_in, ref_in),
                               ("OUT", spec.need_out, ~ref_in)):
        if need and mask.sum(axis=0).min() < 1:
          raise ValueError(
              f"Attack {name!r} needs at least one {flag} reference model "
              f"for every example; {int(np.sum(mask.sum(axis=0) < 1))} have "
              "none. Train more reference models.")
    if spec.shadow:
      ref_in = np.asarray(signals.ref_in)
      if ref_in.all() or not ref_in.any():
        raise ValueError(f"Attack {name!r} needs shadow members and "
                         "non-members.")


def score_attacks(names: Sequence[str], signals: AttackSignals,
                  config: AttackConfig = AttackConfig()) -> dict:
  """Runs the named attacks; returns {name: (N,) scores}, higher = member."""
  names = check_names(names)
  check_inputs(names, signals)
  return {n: np.asarray(ATTACKS[n].fn(signals, config), dtype=np.float64)
          for n in names}
