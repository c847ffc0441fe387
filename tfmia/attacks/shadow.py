"""Attacks fitted on shadow models' outputs, then applied to the target's.

Song & Mittal's metric thresholds (USENIX Security 2021, "Systematic
Evaluation of Privacy Risks of Machine Learning Models") and the inputs of
the neural-network attacks of Shokri et al. (S&P 2017) in the variants used
by Yuan & Zhang's pruning study (USENIX Security 2022; the network itself is
in `nn_attack`). Everything here is numpy: higher scores mean member.

Shapes: N target examples, M shadow examples, C classes.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from tfmia.infra.validation import as_finite_array, as_labels

_LOG_FLOOR = 1e-30
SONG_MITTAL_METRICS = ("confidence", "entropy", "modified_entropy",
                       "cross_entropy")
NN_FEATURES = ("nn", "nn_top3", "nn_cls")


def _probs(probs, name: str) -> np.ndarray:
  p = as_finite_array(probs, name, ndim=2)
  if p.min() < 0 or p.max() > 1:
    raise ValueError(f"`{name}` must hold probabilities in [0, 1]. "
                     f"Received: values from {p.min()} to {p.max()}")
  return p


def metric_values(metric: str, probs, labels) -> np.ndarray:
  """A Song–Mittal metric, signed so that higher means member.

  - "confidence": p_y;
  - "entropy": −H(p) = Σ_c p_c log p_c, the negated prediction entropy
    (Song & Mittal; mia_prune's `_entr_comp`, same 1e-30 log floor);
  - "modified_entropy": −Mentr, with
    Mentr(p, y) = −(1 − p_y) log p_y − Σ_{c≠y} p_c log(1 − p_c);
  - "cross_entropy": log p_y, the negated loss. A monotone function of p_y,
    so its per-class decisions are exactly "confidence"'s (kept for its
    margins; it is not the entropy attack).

  Args:
    metric: one of SONG_MITTAL_METRICS.
    probs: (N, C) probabilities.
    labels: (N,) true classes.

  Returns:
    (N,) metric values; higher means member.
  """
  if metric not in SONG_MITTAL_METRICS:
    raise ValueError(f"`metric` must be one of {SONG_MITTAL_METRICS}. "
                     f"Received: metric={metric!r}")
  p = _probs(probs, "probs")
  y = as_labels(labels, "labels", p.shape[1])
  if len(y) != len(p):
    raise ValueError(f"`probs` and `labels` must have the same length. "
                     f"Received: {len(p)} and {len(y)}")
  rows = np.arange(len(y))
  p_y = p[rows, y]
  if metric == "confidence":
    return p_y
  if metric == "cross_entropy":
    return np.log(np.maximum(p_y, _LOG_FLOOR))
  log_p = np.log(np.maximum(p, _LOG_FLOOR))
  if metric == "entropy":
    return np.sum(p * log_p, axis=1)
  log_1mp = np.log(np.maximum(1.0 - p, _LOG_FLOOR))
  terms = -p * log_1mp
  terms[rows, y] = -(1.0 - p_y) * log_p[rows, y]
  return -terms.sum(axis=1)


def best_threshold(member_values, nonmember_values) -> float:
  """The threshold t maximising ½[Pr(member ≥ t) + Pr(non-member < t)].

  Candidates are the observed values, as in Song & Mittal's (and
  mia_prune's) `_thre_setting`, in their order (members, then non-members).
  Among equally good ones tfmia takes the first, comparing the accuracies
  as exact integers (TPR·TNR scaled by the counts). mia_prune compares
  floating-point accuracies with `>`: two mathematically equal accuracies
  computed in different orders can differ in the last bit there, so it may
  keep a later candidate. tfmia's exact comparison is deliberate: its
  choice does not depend on rounding. O(M log M).

  Args:
    member_values: (M_in,) metric values of shadow members.
    nonmember_values: (M_out,) metric values of shadow non-members.
  """
  tr_in = as_finite_array(member_values, "member_values", ndim=1)
  te_in = as_finite_array(nonmember_values, "nonmember_values", ndim=1)
  tr, te = np.sort(tr_in), np.sort(te_in)
  cand = np.concatenate([tr_in, te_in])   # their order: ties go to the first
  # TPR + TNR scaled by |tr|·|te|, in exact integers so ties stay ties.
  hits = (tr.size - np.searchsorted(tr, cand, side="left")) * te.size
  rejects = np.searchsorted(te, cand, side="left") * tr.size
  return float(cand[np.argmax(hits + rejects)])


def class_thresholds(values, labels, is_member, num_classes: int,
                     per_class: bool = True) -> np.ndarray:
  """Song–Mittal thresholds from shadow data: one per class (or one global).

  A class with no shadow members or no shadow non-members gets the global
  threshold.

  Args:
    values: (M,) metric values on shadow data (higher means member).
    labels: (M,) their true classes.
    is_member: (M,) bool shadow membership.
    num_classes: C.
    per_class: False gives every class the same, global threshold.

  Returns:
    (C,) thresholds.
  """
  values = as_finite_array(values, "values", ndim=1)
  labels = as_labels(labels, "labels", num_classes)
  is_member = np.asarray(is_member, dtype=bool)
  if not (len(values) == len(labels) == len(is_member)):
    raise ValueError("`values`, `labels` and `is_member` must have the same "
                     f"length. Received: {len(values)}, {len(labels)}, "
                     f"{len(is_member)}")
  if is_member.all() or not is_member.any():
    raise ValueError("Shadow data must hold both members and non-members.")
  glob = best_threshold(values[is_member], values[~is_member])
  out = np.full(num_classes, glob)
  if per_class:
    for c in range(num_classes):
      sel = labels == c
      if is_member[sel].any() and (~is_member[sel]).any():
        out[c] = best_threshold(values[sel & is_member],
                                values[sel & ~is_member])
  return out


def song_mittal_scores(metric: str, shadow_probs, shadow_labels,
                       shadow_is_member, target_probs,
                       target_labels, *, per_class: bool = True) -> np.ndarray:
  """Song & Mittal's per-class metric-threshold attack.

  Thresholds are chosen per class on shadow data (`class_thresholds`). The
  score is the margin to the target example's class threshold,
  value − τ_y, so `score ≥ 0` is exactly Song & Mittal's member decision and
  the ROC over the margin extends it to every operating point. With
  `per_class=False` one global threshold is used (mia_prune's "Top1-conf":
  `_mem_inf_thre_non_cls` on the true-class confidence).

  Args:
    metric: one of SONG_MITTAL_METRICS.
    shadow_probs: (M, C) shadow models' probabilities on shadow data.
    shadow_labels: (M,) true classes.
    shadow_is_member: (M,) bool.
    target_probs: (N, C) the target model's probabilities.
    target_labels: (N,) true classes.

  Returns:
    (N,) scores; higher means member.
  """
  c = np.shape(shadow_probs)[-1]
  thr = class_thresholds(metric_values(metric, shadow_probs, shadow_labels),
                         shadow_labels, shadow_is_member, c,
                         per_class=per_class)
  y = as_labels(target_labels, "target_labels", c)
  return metric_values(metric, target_probs, target_labels) - thr[y]


def top1_threshold_scores(shadow_probs, shadow_is_member,
                          target_probs) -> np.ndarray:
  """Global threshold on the top-1 confidence max_c p_c (no labels needed).

  Args:
    shadow_probs: (M, C); shadow_is_member: (M,) bool; target_probs: (N, C).

  Returns:
    (N,) margins max_c p_c − τ; higher means member.
  """
  shadow = _probs(shadow_probs, "shadow_probs").max(axis=1)
  is_member = np.asarray(shadow_is_member, dtype=bool)
  if is_member.all() or not is_member.any():
    raise ValueError("Shadow data must hold both members and non-members.")
  tau = best_threshold(shadow[is_member], shadow[~is_member])
  return _probs(target_probs, "target_probs").max(axis=1) - tau


def nn_features(kind: str, probs, labels) -> np.ndarray:
  """Attack-model inputs: "nn" the posterior, "nn_top3" its 3 largest values
  in decreasing order, "nn_cls" the posterior followed by the one-hot label.

  Args:
    probs: (N, C); labels: (N,).

  Returns:
    (N, F) features.
  """
  if kind not in NN_FEATURES:
    raise ValueError(f"`kind` must be one of {NN_FEATURES}. "
                     f"Received: kind={kind!r}")
  p = _probs(probs, "probs")
  if kind == "nn":
    return p
  if kind == "nn_top3":
    return -np.sort(-p, axis=1)[:, :min(3, p.shape[1])]
  y = as_labels(labels, "labels", p.shape[1])
  return np.concatenate([p, np.eye(p.shape[1])[y]], axis=1)


def balanced_sample(is_member: np.ndarray, max_examples: Optional[int],
                    seed: int) -> np.ndarray:
  """Indices of at most `max_examples`, half members, half non-members."""
  is_member = np.asarray(is_member, dtype=bool)
  rng = np.random.default_rng(seed)
  ins, outs = np.flatnonzero(is_member), np.flatnonzero(~is_member)
  n = min(len(ins), len(outs))
  if max_examples is not None:
    n = min(n, max_examples // 2)
  if n < 1:
    raise ValueError("Shadow data must hold both members and non-members.")
  return np.sort(np.concatenate([rng.choice(ins, n, replace=False),
                                 rng.choice(outs, n, replace=False)]))
