"""LT-IQR: a per-example privacy risk from the loss trace of training, with
no reference model (Pollock, Shilov, Dodd, de Montjoye, "Free Record-Level
Privacy Risk Evaluation Through Artifact-Based Methods", arXiv 2411.05743;
code: computationalprivacy/loss_traces).

An example's loss trace is its cross-entropy loss at T moments of the
target's training (before training and after every epoch, in their
pipeline); LT-IQR is the trace's inter-quartile range,
Q0.75 − Q0.25 (linear interpolation, the whole trace): an example whose loss
falls late and far is one the model memorised. Higher = more at risk.

The paper evaluates it as a ranking of the target's members against the
members LiRA finds vulnerable: precision@k of its top k members
(`precision_at_k`), the vulnerable set being the members whose LiRA score
exceeds LiRA's threshold at a false-positive rate of 1e-3
(`vulnerable_members`).
"""

from __future__ import annotations

import numpy as np


def lt_iqr_scores(trace) -> np.ndarray:
  """(N,) Q0.75 − Q0.25 of each row of an (N, T) loss trace."""
  trace = np.asarray(trace, np.float64)
  if trace.ndim != 2 or trace.shape[1] < 1:
    raise ValueError(f"`trace` must be (N, T). Received: {trace.shape}")
  q1, q3 = np.percentile(trace, [25, 75], axis=1)
  return q3 - q1


def vulnerable_members(scores, is_member, fpr: float = 1e-3) -> np.ndarray:
  """(N,) bool: the members whose attack score exceeds the threshold at
  which at most `fpr` of the non-members score higher."""
  scores = np.asarray(scores, np.float64)
  is_member = np.asarray(is_member, bool)
  out = np.sort(scores[~is_member])[::-1]
  if not len(out):
    raise ValueError("`is_member` has no non-members to set the threshold.")
  threshold = out[min(int(np.floor(fpr * len(out))), len(out) - 1)]
  return is_member & (scores > threshold)


def precision_at_k(risk, vulnerable, candidates, fraction: float
                   ) -> tuple[float, float, int]:
  """(precision, recall, k) of the top k = round(fraction × #candidates)
  candidates by `risk` (at least 1) against the `vulnerable` ones: the
  share of the k that are vulnerable, and of the vulnerable found."""
  risk = np.asarray(risk, np.float64)
  vulnerable = np.asarray(vulnerable, bool)
  idx = np.flatnonzero(np.asarray(candidates, bool))
  if not len(idx):
    raise ValueError("`candidates` is empty: no example to rank.")
  if not 0 < fraction <= 1:
    raise ValueError(f"`fraction` must be in (0, 1]. Received: {fraction!r}")
  k = max(1, int(round(fraction * len(idx))))
  top = idx[np.argsort(-risk[idx], kind="stable")[:k]]
  hits = int(vulnerable[top].sum())
  total = int(vulnerable[idx].sum())
  return hits / k, (hits / total if total else float("nan")), k
