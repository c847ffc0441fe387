"""The one front door for membership-inference attacks.

`run_attacks(attacks, signals, config, is_member=...)` runs any of the
attacks in `tfmia.attacks.registry.ATTACKS`, tfmia's own score functions and
tensorflow-privacy's trained attacks alike, on every slice, and returns one
`AttackResults`.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np

from tfmia.attacks import tf_privacy
from tfmia.attacks.inputs import AttackConfig, AttackSignals, Provided
from tfmia.attacks.registry import ATTACKS, check_names, check_needs
from tfmia.attacks.tf_privacy import SlicingConfig
from tfmia.infra.validation import as_bool_array
from tfmia.results import (ENTIRE_DATASET, AttackResult, AttackResults,
                           accuracy, correct)
from tfmia.signals import Signals


def _slices(signals: AttackSignals, slicing: SlicingConfig):
  """(name, index mask) of each slice, in tensorflow-privacy's order."""
  n = signals.target.num_examples
  if slicing.entire_dataset:
    yield ENTIRE_DATASET, np.ones(n, bool)
  t = signals.target.mean()
  if slicing.by_class:
    for c in range(t.num_classes):
      yield f"class={c}", t.labels == c
  if slicing.by_classification_correctness:
    right = correct(t.probs[:, 0], t.labels)
    for v in (True, False):
      yield f"correctly_classified={v}", right == v


def _result(name: str, slice_name: str, scores_: np.ndarray,
            is_member: np.ndarray, config: AttackConfig) -> AttackResult:
  eps = (tf_privacy.epsilon_lower_bounds(scores_[is_member],
                                         scores_[~is_member])
         if config.epsilon_lower_bound else ())
  spec = ATTACKS.get(name)
  return AttackResult(attack=name, slice=slice_name, scores=scores_,
                      is_member=is_member, epsilon_lower_bounds=eps,
                      decision_threshold=spec.decision_threshold
                      if spec is not None else None)


def _accuracy(target: Signals, mask: np.ndarray) -> float:
  t = target.mean()
  return accuracy(t.probs[mask, 0], t.labels[mask])


# tensorflow-privacy's trained attacks learn from the target's own members
# and non-members with 3-fold cross-validation: fewer of either cannot train.
MIN_TRAINING_EXAMPLES = 10


def run_attacks(attacks: Sequence[str], signals: AttackSignals,
                config: AttackConfig = AttackConfig(), *,
                is_member: np.ndarray,
                slicing: SlicingConfig = SlicingConfig(),
                model: str = "", epoch: Optional[int] = None,
                evaluate: Optional[np.ndarray] = None) -> AttackResults:
  """Runs the named attacks on `signals`; one result per (attack, slice).

  Args:
    attacks: names from `ATTACKS` (a comma-separated string is split).
    signals: the target's (and references') signals on the N examples.
    config: the attacks' settings.
    is_member: (N,) bool ground truth: which examples trained the target.
    slicing: which data slices to report (tensorflow-privacy's attacks are
      retrained per slice, as tensorflow-privacy does; score attacks are
      scored once and their scores sliced).
    model, epoch: stored in the results.
    evaluate: (N,) bool or None: the examples the attacks are judged on
      (mia_prune: the victim's balanced train and test sets, while the
      shadows' own examples are in the N too); None: all N.

  Returns:
    AttackResults with the target's accuracy on members and non-members.

  Raises:
    ValueError: an unknown name, or signals lacking what an attack needs
      (named), before any attack runs.
  """
  names = check_names(attacks)
  if not isinstance(signals, AttackSignals):
    raise TypeError("`signals` must be an AttackSignals. "
                    f"Received: {type(signals).__name__}")
  n = signals.target.num_examples
  is_member = as_bool_array(is_member, "is_member", (n,))
  evaluate = (np.ones(n, bool) if evaluate is None
              else as_bool_array(evaluate, "evaluate", (n,)))
  judged = is_member[evaluate]
  if judged.all() or not judged.any():
    raise ValueError("`is_member` must hold both members and non-members.")
  full = signals
  if not evaluate.all():
    # Attacks score the evaluated examples only; shadow-trained attacks
    # still learn from every reference model's own examples (`full`).
    signals = signals.take(np.flatnonzero(evaluate))
    is_member = is_member[evaluate]
  provided = Provided.of(signals)
  if full.num_references:
    provided = dataclasses.replace(provided, shadow_is_member=np.asarray(
        full.ref_is_member)[full.ref_in_split if full.ref_in_split is not None
                            else np.ones_like(full.ref_is_member)])
  check_needs(names, provided)
  tfp_names = [a for a in names if ATTACKS[a].membership_labels]
  tfp = {}
  if tfp_names:
    counts = int(is_member.sum()), int((~is_member).sum())
    if min(counts) < MIN_TRAINING_EXAMPLES:
      raise ValueError(
          f"Attack(s) {tfp_names} learn from the target's members and "
          f"non-members (tensorflow-privacy cross-validates on them) and "
          f"need at least {MIN_TRAINING_EXAMPLES} of each; received "
          f"{counts[0]} members and {counts[1]} non-members.")
    t = signals.target.mean()
    logits = t.logits[:, 0]
    attack_input = tf_privacy.AttackInput(
        logits_member=logits[is_member], labels_member=t.labels[is_member],
        logits_nonmember=logits[~is_member],
        labels_nonmember=t.labels[~is_member])
    for r in tf_privacy.run_tf_privacy(attack_input, attacks=tfp_names,
                                       slicing=slicing, seed=config.seed):
      tfp.setdefault(r.attack, []).append(r)
  results = []
  for name in names:
    if name in tfp:
      results.extend(tfp[name])
      continue
    if ATTACKS[name].fn is None:      # tensorflow-privacy reported nothing
      raise ValueError(f"Attack {name!r} gave no result: tensorflow-privacy "
                       "found no slice with both members and non-members.")
    if ATTACKS[name].shadow:
      s = np.asarray(ATTACKS[name].fn(full, config),
                     dtype=np.float64)[evaluate]
      if np.isnan(s).any():
        raise ValueError(
            f"Attack {name!r} has no score for {int(np.isnan(s).sum())} of "
            f"the {len(s)} attacked examples: their signals (e.g. the "
            "sensitivity) were not computed.")
    else:
      s = np.asarray(ATTACKS[name].fn(signals, config), dtype=np.float64)
    for slice_name, mask in _slices(signals, slicing):
      m = is_member[mask]
      if m.all() or not m.any():
        continue   # a slice without members or non-members has no ROC
      results.append(_result(name, slice_name, s[mask], m, config))
  return AttackResults(
      results=tuple(results), model=model, epoch=epoch,
      member_accuracy=_accuracy(signals.target, is_member),
      nonmember_accuracy=_accuracy(signals.target, ~is_member))
