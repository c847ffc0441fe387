"""The registry of membership-inference attacks: each attack's score
function and what it needs (reference models, IN/OUT counts, a population,
optional signals such as the sensitivity, the target's membership labels). `check_needs` checks those
needs from what the caller provides (`Provided`), before any model is
queried; `tfmia.attacks.run.run_attacks` is the one front door that runs
them.

Adding an attack is one score function in `scores.py` (pure numpy, higher =
member) and one `_Spec` entry below. An attack that needs a signal tfmia
does not compute yet adds it in `tfmia/signals.py` (`optional_signal`) and
names it in its entry's `signals`: an audit then computes it.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence

import numpy as np

from tfmia.attacks import bavaria, nn_attack
from tfmia.attacks import loss_trace as loss_trace_lib
from tfmia.attacks import quantile as quantile_lib
from tfmia.attacks import samia as samia_lib
from tfmia.attacks import scores, shadow
from tfmia.attacks.inputs import AttackConfig, AttackSignals, Provided
from tfmia.results import correct
from tfmia.signals import OPTIONAL, stack


@dataclasses.dataclass(frozen=True)
class _Spec:
  fn: Callable
  references: bool = False   # needs reference models on the pool
  population: bool = False   # needs the target on the population
  ref_population: bool = False  # needs the references on the population
  need_in: bool = False      # every example needs an IN model
  need_out: bool = False     # every example needs an OUT model
  signals: tuple = ()        # optional signals it reads (signals.OPTIONAL)
  shadow: bool = False       # trained / thresholded on shadow outputs
  membership_labels: bool = False  # trained on the target's own membership
                                   # (tensorflow-privacy's evaluation attacks)
  loss_trace: bool = False   # the target's per-example loss trace
  features: bool = False     # the attacked and population inputs
  description: str = ""
  # Scores that are margins to a threshold chosen on shadow data: a score
  # >= this is the attack's own member decision, whose balanced accuracy is
  # the number its paper reports (`AttackResult.decision_accuracy`).
  decision_threshold: Optional[float] = None


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
      a = scores.tune_rmia_a(rx, s.ref_is_member, rz, gamma=c.rmia_gamma)
    return scores.rmia_scores(
        s.target.mean().confidence[:, 0], rx, s.ref_is_member, tz, rz,
        offline=not online, a=0.3 if a is None else a, gamma=c.rmia_gamma)
  return fn


def _rmia_authors(s: AttackSignals, c: AttackConfig):
  """RMIA at its authors' settings (`scores.RMIA_AUTHORS`): the soft-margin
  Taylor softmax of every query augmentation, trimmed means, γ = 2, a
  majority vote across augmentations; offline, with this config's `a`."""
  st = scores.RMIA_AUTHORS

  def pr(sig):   # (A, n): Pr(x|θ) of each query augmentation
    return scores.taylor_soft_margin(
        sig.logits, sig.labels, temperature=st["temperature"],
        margin=st["taylor_m"], order=st["taylor_n"]).T

  return scores.rmia_authors_scores(
      pr(s.target), np.stack([pr(r) for r in s.references]), s.ref_is_member,
      pr(s.target_population),
      np.stack([pr(r) for r in s.reference_population]),
      a=0.3 if c.rmia_a is None else c.rmia_a, gamma=st["gamma"],
      proportiontocut=st["proportiontocut"], in_population=s.in_population)


def _lira(online: bool):
  def fn(s: AttackSignals, c: AttackConfig):
    return scores.lira_scores(
        s.target.scaled_logit, stack(s.references, "scaled_logit"), s.ref_is_member,
        online=online, fix_variance=c.lira_fix_variance, center=c.lira_center,
        offline_test=c.lira_offline_test)
  return fn


def _attack_p(s: AttackSignals, c: AttackConfig):
  return scores.attack_p_scores(s.target.mean().loss[:, 0],
                                s.target_population.mean().loss[:, 0])


def _attack_r(s: AttackSignals, c: AttackConfig):
  return scores.attack_r_scores(
      s.target.mean().loss[:, 0],
      stack([r.mean() for r in s.references], "loss")[..., 0], s.ref_is_member)


def _threshold(s: AttackSignals, c: AttackConfig):
  return scores.loss_threshold_scores(s.target.mean().loss[:, 0])


def _label_gap(s: AttackSignals, c: AttackConfig):
  """ART's LabelOnlyGapAttack: member iff the predicted label is right."""
  t = s.target.mean()
  return correct(t.probs[:, 0], t.labels).astype(np.float64)


def _label_boundary(s: AttackSignals, c: AttackConfig):
  """ART's LabelOnlyDecisionBoundary score: the L2 distance to the decision
  boundary, found by HopSkipJump from predicted labels (0 where wrong)."""
  d = s.target.boundary_distance
  if d is None:
    raise ValueError("Attack 'label_boundary' needs the target's boundary "
                     "distances: compute its signals with "
                     "SignalConfig(boundary=True).")
  return np.asarray(d, np.float64)


def _bavaria(variant: str, online: bool):
  def fn(s: AttackSignals, c: AttackConfig):
    return np.mean([bavaria.bavaria_scores(
        s.target.scaled_logit[:, a],
        stack(s.references, "scaled_logit")[..., a], s.ref_is_member,
        variant=variant, online=online)
                    for a in range(s.target.num_augmentations)], axis=0)
  return fn


def _base3(s: AttackSignals, c: AttackConfig):
  return np.mean([bavaria.base3_scores(
      s.target.scaled_logit[:, a], stack(s.references, "scaled_logit")[..., a],
      s.ref_is_member) for a in range(s.target.num_augmentations)], axis=0)


def _quantile(s: AttackSignals, c: AttackConfig):
  t, p = s.target.mean(), s.target_population.mean()
  return quantile_lib.quantile_attack(
      t.logits[:, 0], t.labels, s.features, p.logits[:, 0], p.labels,
      s.population_features,
      dataclasses.replace(c.quantile, seed=c.quantile.seed + c.seed))


def _lt_iqr(s: AttackSignals, c: AttackConfig):
  return loss_trace_lib.lt_iqr_scores(s.loss_trace)


def _target_confidence(s: AttackSignals, c: AttackConfig):
  return s.target.mean().confidence[:, 0].astype(np.float64)


def _confidences(s: AttackSignals):
  """(target (N,), references (K, N)) true-class confidences."""
  return (s.target.mean().confidence[:, 0],
          stack([r.mean() for r in s.references], "confidence")[..., 0])


def _reference_fraction(s: AttackSignals, c: AttackConfig):
  return scores.reference_fraction_scores(*_confidences(s))


def _confidence_ratio(s: AttackSignals, c: AttackConfig):
  return scores.confidence_ratio_scores(*_confidences(s))


# The attacks of Yuan & Zhang's pruning study (mia_prune `mia.py`).
MIA_PRUNE_ATTACKS = ("samia", "sm_confidence", "sm_entropy",
                     "sm_modified_entropy", "nn", "nn_top3", "nn_cls")


def shadow_data(s: AttackSignals, max_examples: Optional[int], seed: int,
                with_sensitivity: bool = False):
  """Every reference model's (probs, labels, is_member[, sensitivity]) on the
  pool, concatenated and (when `max_examples`) balanced and subsampled."""
  probs = np.concatenate([r.mean().probs[:, 0] for r in s.references])
  labels = np.concatenate([r.labels for r in s.references])
  is_member = np.asarray(s.ref_is_member).reshape(-1)
  if s.ref_in_split is not None:
    inside = np.flatnonzero(np.asarray(s.ref_in_split).reshape(-1))
  else:
    inside = np.arange(len(is_member))
  idx = inside[shadow.balanced_sample(is_member[inside], max_examples, seed)]
  out = [probs[idx], labels[idx], is_member[idx]]
  if with_sensitivity:
    out.append(np.concatenate([r.sensitivity for r in s.references])[idx])
  return out


def _song_mittal(metric: str, per_class: bool = True):
  def fn(s: AttackSignals, c: AttackConfig):
    p, y, m = shadow_data(s, None, c.seed)
    t = s.target.mean()
    return shadow.song_mittal_scores(metric, p, y, m, t.probs[:, 0], t.labels,
                                     per_class=per_class)
  return fn


def _top1(s: AttackSignals, c: AttackConfig):
  p, _, m = shadow_data(s, None, c.seed)
  return shadow.top1_threshold_scores(p, m, s.target.mean().probs[:, 0])


def _nn(kind: str):
  def fn(s: AttackSignals, c: AttackConfig):
    p, y, m = shadow_data(s, c.shadow_max_examples, c.seed)
    t = s.target.mean()
    return nn_attack.nn_attack_scores(
        shadow.nn_features(kind, p, y), m,
        shadow.nn_features(kind, t.probs[:, 0], t.labels),
        dataclasses.replace(c.nn, seed=c.seed))
  return fn


def _samia(s: AttackSignals, c: AttackConfig):
  p, y, m, sens = shadow_data(s, c.shadow_max_examples, c.seed,
                              with_sensitivity=True)
  t = s.target.mean()
  # The target's sensitivity may exist only on the rows it is attacked on
  # (`compute_signals(sensitivity_rows=...)`); the others get NaN scores.
  rows = np.isfinite(t.sensitivity).all(axis=1)
  out = np.full(t.num_examples, np.nan)
  out[rows] = samia_lib.samia_scores(
      samia_lib.samia_tokens(p, sens, y), m,
      samia_lib.samia_tokens(t.probs[rows, 0], t.sensitivity[rows],
                             t.labels[rows]),
      dataclasses.replace(c.samia, seed=c.seed))
  return out


_REF = dict(references=True)
_SHADOW = dict(references=True, shadow=True)
ATTACKS: dict[str, _Spec] = {
    "rmia": _Spec(_rmia(False), **_REF, population=True, ref_population=True,
                  need_out=True, description="RMIA, offline (OUT models)"),
    "rmia_online": _Spec(_rmia(True), **_REF, population=True,
                         ref_population=True, need_in=True, need_out=True,
                         description="RMIA, online (IN and OUT models)"),
    "rmia_authors": _Spec(_rmia_authors, **_REF, population=True,
                          ref_population=True, need_out=True,
                          description="RMIA, offline, at its authors' "
                                      "settings (Taylor soft-margin, "
                                      "trimmed mean, γ=2, vote)"),
    "lira": _Spec(_lira(True), **_REF, need_in=True, need_out=True,
                  description="LiRA, online"),
    "lira_offline": _Spec(_lira(False), **_REF, need_out=True,
                          description="LiRA, offline"),
    # BaVarIA falls back to its prior where an example has no IN (or OUT)
    # model: it needs IN and OUT observations somewhere, not for each.
    "bavaria_t": _Spec(_bavaria("t", True), **_REF,
                       description="BaVarIA-t, online: Student-t predictive "
                                   "of a normal-inverse-gamma posterior"),
    "bavaria_n": _Spec(_bavaria("n", True), **_REF,
                       description="BaVarIA-n, online: Gaussian with the "
                                   "NIG posterior-mean variance"),
    "bavaria_t_offline": _Spec(_bavaria("t", False), **_REF,
                               description="BaVarIA-t, offline (IN = the "
                                           "prior)"),
    "bavaria_n_offline": _Spec(_bavaria("n", False), **_REF,
                               description="BaVarIA-n, offline (IN = the "
                                           "prior)"),
    "base3": _Spec(_base3, **_REF, need_in=True, need_out=True,
                   description="BASE3, online: class means, pooled "
                               "per-example variance"),
    "quantile": _Spec(_quantile, population=True, features=True,
                      description="quantile regression (Bertran et al.): a "
                                  "regressor of the non-member hinge score, "
                                  "no reference model"),
    "lt_iqr": _Spec(_lt_iqr, loss_trace=True,
                    description="LT-IQR: inter-quartile range of the "
                                "target's loss trace in training, no "
                                "reference model"),
    "attack_p": _Spec(_attack_p, population=True,
                      description="Attack-P (population percentile)"),
    "attack_r": _Spec(_attack_r, **_REF, need_out=True,
                      description="Attack-R (reference percentile)"),
    "threshold": _Spec(_threshold, description="loss threshold (Yeom)"),
    "label_gap": _Spec(_label_gap, decision_threshold=0.5,
                       description="label-only gap attack: member iff "
                                   "correctly classified (ART's "
                                   "LabelOnlyGapAttack; labels only)"),
    "label_boundary": _Spec(
        _label_boundary, signals=("boundary_distance",),
        description="label-only decision-boundary attack: L2 distance to "
                    "the boundary, found by HopSkipJump from predicted "
                    "labels (ART's LabelOnlyDecisionBoundary; labels only)"),
    # MIA_SNN's three attacks, as its code computes them (`--protocol
    # mia_snn` of the SNN-MIA study runs these under its names).
    "target_confidence": _Spec(
        _target_confidence,
        description="the target's true-class confidence p_y (MIA_SNN's "
                    "Attack-P)"),
    "reference_fraction": _Spec(
        _reference_fraction, references=True,
        description="fraction of all K reference models with "
                    "p_y(target) / p_y(ref) >= 1 (MIA_SNN's Attack-R)"),
    "confidence_ratio": _Spec(
        _confidence_ratio, references=True,
        description="p_y(target) / mean_k p_y(ref_k) (MIA_SNN's RMIA: no "
                    "population, no γ)"),
    "sm_confidence": _Spec(_song_mittal("confidence"), **_SHADOW,
                           decision_threshold=0.0,
                           description="Song–Mittal: true-class confidence "
                                       "p_y, per-class thresholds"),
    "sm_entropy": _Spec(_song_mittal("entropy"), **_SHADOW,
                        decision_threshold=0.0,
                        description="Song–Mittal: prediction entropy "
                                    "-Σ p_c log p_c, per-class thresholds"),
    "sm_modified_entropy": _Spec(_song_mittal("modified_entropy"), **_SHADOW,
                                 decision_threshold=0.0,
                                 description="Song–Mittal: modified entropy, "
                                             "per-class thresholds"),
    "sm_cross_entropy": _Spec(_song_mittal("cross_entropy"), **_SHADOW,
                              decision_threshold=0.0,
                              description="log p_y (the loss), per-class "
                                          "thresholds: sm_confidence's "
                                          "decisions, not the entropy attack"),
    "global_confidence": _Spec(_song_mittal("confidence", per_class=False),
                               **_SHADOW, decision_threshold=0.0,
                               description="one global threshold on p_y "
                                           "(mia_prune's Top1-conf)"),
    "top1_threshold": _Spec(_top1, **_SHADOW, decision_threshold=0.0,
                            description="one global threshold on max_c p_c "
                                        "(no labels)"),
    # The trained attacks' scores are member log-odds: the attack model's
    # own decision (mia_prune: argmax of its two logits) is a score >= 0.
    "nn": _Spec(_nn("nn"), **_SHADOW, decision_threshold=0.0,
                description="NN on the posterior"),
    "nn_top3": _Spec(_nn("nn_top3"), **_SHADOW, decision_threshold=0.0,
                     description="NN on the top-3 posteriors"),
    "nn_cls": _Spec(_nn("nn_cls"), **_SHADOW, decision_threshold=0.0,
                    description="NN on the posterior and the one-hot label"),
    "samia": _Spec(_samia, **_SHADOW, signals=("sensitivity",),
                   decision_threshold=0.0,
                   description="SAMIA self-attention attack"),
}
# tensorflow-privacy's attacks (its "threshold" is tfmia's own, above: the
# same −loss score without tensorflow-privacy's clipping of p at 1e-8). They
# train on part of the target's own members and non-members, as its
# `run_attacks` does, and are run by it, slices included.
_TFP_DESCRIPTIONS = {
    "threshold_entropy": "tensorflow-privacy: threshold on the entropy",
    "logistic_regression": "tensorflow-privacy: logistic regression",
    "multi_layered_perceptron": "tensorflow-privacy: MLP",
    "random_forest": "tensorflow-privacy: random forest",
    "k_nearest_neighbors": "tensorflow-privacy: k-nearest neighbours",
}
for _name, _desc in _TFP_DESCRIPTIONS.items():
  ATTACKS[_name] = _Spec(None, membership_labels=True, description=_desc)
DEFAULT_ATTACKS = ("rmia", "lira", "lira_offline", "attack_p", "attack_r",
                   "threshold")
# The attacks that read only the loss, the true-class confidence or LiRA's
# φ: what per-example losses alone can feed (`Signals.from_outputs`).
LOSS_ONLY_ATTACKS = ("threshold", "attack_p", "attack_r", "lira",
                     "lira_offline", "rmia", "rmia_online",
                     "target_confidence", "reference_fraction",
                     "confidence_ratio")


def check_names(names: Sequence[str]) -> tuple[str, ...]:
  """The attack names as a tuple; a comma-separated string is split."""
  if isinstance(names, str):
    names = [n.strip() for n in names.split(",") if n.strip()]
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


def needed_signals(names: Sequence[str]) -> tuple[str, ...]:
  """The optional signals (`tfmia.signals.OPTIONAL`) the attacks read."""
  return tuple(dict.fromkeys(
      sig for n in check_names(names) for sig in ATTACKS[n].signals))


def needs_population(names: Sequence[str]) -> bool:
  return any(ATTACKS[n].population for n in check_names(names))


def needs_references(names: Sequence[str]) -> bool:
  return any(ATTACKS[n].references for n in check_names(names))


def check_needs(names: Sequence[str], provided: Provided) -> None:
  """Raises, naming the attack, if `provided` lacks what it needs."""
  for name in check_names(names):
    spec = ATTACKS[name]
    k = provided.num_references
    if spec.references and not k:
      raise ValueError(f"Attack {name!r} needs reference models; none given.")
    if spec.population and not provided.population:
      raise ValueError(f"Attack {name!r} needs the target's signals on "
                       "population data; none given.")
    if spec.ref_population and not provided.reference_population:
      raise ValueError(f"Attack {name!r} needs every reference model's "
                       "signals on the population.")
    for sig in spec.signals:
      if sig not in provided.signals:
        raise ValueError(
            f"Attack {name!r} needs the optional signal {sig!r}: compute "
            f"the signals with SignalConfig({OPTIONAL[sig].switch}=True).")
    if spec.loss_trace and not provided.loss_trace:
      raise ValueError(f"Attack {name!r} needs the target's loss trace of "
                       "training (AttackSignals.loss_trace, e.g. "
                       "PrivacyMetrics(record_loss_trace=True).loss_trace).")
    if spec.features and not provided.features:
      raise ValueError(f"Attack {name!r} learns from inputs: it needs the "
                       "attacked and the population examples' inputs "
                       "(AttackSignals.features and population_features).")
    if spec.membership_labels and not provided.is_member:
      raise ValueError(f"Attack {name!r} trains on the target's membership "
                       "labels; none given.")
    if k and (spec.need_in or spec.need_out):
      ref_is_member = np.asarray(provided.ref_is_member)
      for flag, need, mask in (("IN", spec.need_in, ref_is_member),
                               ("OUT", spec.need_out, ~ref_is_member)):
        if need and mask.sum(axis=0).min() < 1:
          raise ValueError(
              f"Attack {name!r} needs at least one {flag} reference model "
              f"for every example; {int(np.sum(mask.sum(axis=0) < 1))} have "
              "none. Train more reference models.")
    if spec.shadow and k:
      ref_is_member = np.asarray(
          provided.ref_is_member if provided.shadow_is_member is None
          else provided.shadow_is_member)
      if ref_is_member.all() or not ref_is_member.any():
        raise ValueError(f"Attack {name!r} needs shadow members and "
                         "non-members.")
