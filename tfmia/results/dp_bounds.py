"""Empirical lower bounds on differential privacy's ε.

Two kinds, from attack scores alone (no training, no models):

1. **From an attack's ROC** (`roc_epsilon_lower_bound`). An (ε, δ)-DP
   training algorithm caps every membership test: TPR ≤ e^ε·FPR + δ, and
   TNR ≤ e^ε·FNR + δ. A confidence interval on the two rates at each
   threshold turns the best threshold into ε̂ = log((TPR_lo − δ) / FPR_hi).
   At δ = 0 this is tensorflow-privacy's `EpsilonLowerBound` (Katz-log,
   Bailey, Clopper–Pearson and the rest), called as it is. tensorflow-privacy
   has no δ; at δ > 0 we take its Clopper–Pearson intervals (statsmodels'
   `proportion_confint`, as it does) and subtract δ from the numerator.
   Like tensorflow-privacy, each threshold's interval is at the stated
   confidence and the largest bound over thresholds is returned: a
   search it does not correct for. The examples are treated as independent
   trials, which a fixed training set is not: read it as a leakage measure
   on the DP scale, not a proof. The one-run audit below is the rigorous one.

2. **From one training run** (`one_run_bound`; Steinke, Nasr & Jagielski,
   "Privacy Auditing with One (1) Training Run", NeurIPS 2023). m canaries
   are each included in training independently with probability ½. The
   auditor guesses IN for the k+ highest-scored canaries and OUT for the k−
   lowest, and abstains on the rest. If training is (ε, δ)-DP, the number of
   correct guesses among the r = k+ + k− made is stochastically dominated by
   Binomial(r, e^ε / (1 + e^ε)), up to a δ term (their Theorem 3.1);
   `one_run_p_value` is that tail, and `one_run_epsilon` the largest ε it
   rejects at level p. Both are ML Privacy Meter's `p_value_DP_audit` and
   `get_eps_audit` (`audit.py`, code from the paper's appendix), vectorised,
   with the same bisection.

No free search. ML Privacy Meter tries a grid of (k−, k+) and reports the
largest ε̂, each at p = 0.05: the search inflates the confidence it claims.
`one_run_bound` chooses (k−, k+) one of three honest ways (`selection`):
- "holdout" (default): the grid is searched on a seeded half of the
  canaries; the chosen fractions are applied once, at p, to the other half;
- "bonferroni": the same grid on all canaries, each point at p / (grid
  size), so the largest ε̂ holds at the stated confidence (a union bound).
  At δ > 0 it is weak: the p-value carries a term 2·m·δ·α(ε) that a tiny
  p / (grid size) cannot get under unless ε is small (with m = 1,000
  perfect guesses at δ = 1e-5: ε̂ = 1.46 against 4.65 at δ = 0);
- "fixed": the caller's k− and k+, chosen before looking.
The uncorrected grid maximum (ML Privacy Meter's figure) is kept beside it,
for comparison only.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np
from scipy import stats

from tfmia.infra import io, validation

try:  # the ufuncs scipy.stats.binom calls, without its ~100 µs of checks
  from scipy.stats._discrete_distns import scu as _scu  # pylint: disable=g-import-not-at-top
  _binom_sf, _binom_pmf = _scu._binom_sf, _scu._binom_pmf  # pylint: disable=protected-access
except (ImportError, AttributeError):  # pragma: no cover
  _binom_sf, _binom_pmf = stats.binom.sf, stats.binom.pmf

ROC_METHODS = ("katz_log", "adjusted_log", "bailey", "inv_sinh",
               "clopper_pearson")
SELECTIONS = ("holdout", "bonferroni", "fixed")


def check_delta(delta, name: str = "delta", *, allow_zero: bool = True) -> float:
  """δ as a float; raises unless it is in [0, 1) ((0, 1) without zero)."""
  ok = isinstance(delta, (int, float)) and not isinstance(delta, bool) \
      and math.isfinite(delta) and (0 <= delta if allow_zero else 0 < delta) \
      and delta < 1
  if not ok:
    span = "[0, 1)" if allow_zero else "(0, 1)"
    raise ValueError(f"`{name}` must be in {span}. Received: {name}={delta!r}")
  return float(delta)


def check_confidence(confidence) -> float:
  """The confidence level as a float in (0.5, 1)."""
  ok = isinstance(confidence, (int, float)) and not isinstance(confidence,
                                                               bool) \
      and 0.5 < confidence < 1
  if not ok:
    raise ValueError("`confidence` must be in (0.5, 1), e.g. 0.95. "
                     f"Received: confidence={confidence!r}")
  return float(confidence)


# ---------------------------------------------------------------------------
# 1. From an attack's ROC


def _tf_privacy_bound(pos, neg, alpha: float, method: str) -> float:
  from tensorflow_privacy.privacy.privacy_tests import epsilon_lower_bound as elb  # pylint: disable=g-import-not-at-top
  import warnings  # pylint: disable=g-import-not-at-top
  with np.errstate(divide="ignore", invalid="ignore"), \
      warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    bounds = elb.EpsilonLowerBound(
        pos_scores=pos, neg_scores=neg, alpha=alpha,
        two_sided_threshold=True).compute_epsilon_lower_bound(
            elb.BoundMethod(method.replace("_", "-")), k=1)
  return float(max(bounds[0], 0.0)) if bounds.size else 0.0


def _clopper_pearson_bound(pos, neg, alpha: float, delta: float) -> float:
  """max over thresholds and the four ratios tensorflow-privacy considers of
  log((lower(num) − δ) / upper(den)), with its Clopper–Pearson intervals."""
  from statsmodels.stats import proportion  # pylint: disable=g-import-not-at-top
  from tensorflow_privacy.privacy.privacy_tests import epsilon_lower_bound as elb  # pylint: disable=g-import-not-at-top
  tp, fp = elb._get_tp_fp_for_thresholds(pos, neg)  # pylint: disable=protected-access
  n_pos, n_neg = pos.size, neg.size
  fn, tn = n_pos - tp, n_neg - fp
  best = 0.0
  for num, n_num, den, n_den in ((tp, n_pos, fp, n_neg), (tn, n_neg, fn, n_pos),
                                 (fp, n_neg, tp, n_pos), (fn, n_pos, tn, n_neg)):
    lo, _ = proportion.proportion_confint(num, n_num, alpha, method="beta")
    _, hi = proportion.proportion_confint(den, n_den, alpha, method="beta")
    lo = np.asarray(lo, np.float64) - delta
    hi = np.asarray(hi, np.float64)
    ok = (lo > 0) & (hi < 1) & (hi > 0)
    if ok.any():
      best = max(best, float(np.max(np.log(lo[ok] / hi[ok]))))
  return best


def num_roc_tests(member_scores, nonmember_scores) -> int:
  """How many (threshold, ratio) tests the ROC bound searches: every
  distinct threshold, times the four ratios tensorflow-privacy considers."""
  from tensorflow_privacy.privacy.privacy_tests import epsilon_lower_bound as elb  # pylint: disable=g-import-not-at-top
  tp, _ = elb._get_tp_fp_for_thresholds(  # pylint: disable=protected-access
      np.asarray(member_scores, np.float64),
      np.asarray(nonmember_scores, np.float64))
  return 4 * int(np.size(tp))


def roc_epsilon_lower_bound(member_scores, nonmember_scores, *,
                            delta: float = 0.0, confidence: float = 0.95,
                            method: str = "bailey",
                            correct_search: bool = False) -> float:
  """An ε lower bound at δ from one attack's scores (module docstring, 1).

  Args:
    member_scores, nonmember_scores: the attack's scores (higher: member).
    delta: δ of the (ε, δ) statement tested, in [0, 1).
    confidence: of the intervals on TPR and FPR, in (0.5, 1).
    method: one of ROC_METHODS; at δ > 0 only "clopper_pearson".
    correct_search: split 1 − confidence over every (threshold, ratio)
      searched (Bonferroni, `num_roc_tests`), so the largest bound holds
      at `confidence`. False: tensorflow-privacy's uncorrected search.

  Returns:
    ε̂ ≥ 0 (0 where no threshold shows leakage at this confidence).
  """
  pos = validation.as_finite_array(member_scores, "member_scores", ndim=1)
  neg = validation.as_finite_array(nonmember_scores, "nonmember_scores",
                                   ndim=1)
  delta = check_delta(delta)
  alpha = 1.0 - check_confidence(confidence)
  if correct_search:
    alpha /= num_roc_tests(pos, neg)
  if method not in ROC_METHODS:
    raise ValueError(f"`method` must be one of {ROC_METHODS}. "
                     f"Received: method={method!r}")
  if delta > 0:
    if method != "clopper_pearson":
      raise ValueError("At delta > 0 only method='clopper_pearson' is "
                       "available (tensorflow-privacy's bounds have no δ). "
                       f"Received: method={method!r}, delta={delta!r}")
    return _clopper_pearson_bound(pos, neg, alpha, delta)
  return _tf_privacy_bound(pos, neg, alpha, method)


# ---------------------------------------------------------------------------
# 2. From one training run


def one_run_p_value(m: int, r: int, v: int, eps: float, delta: float) -> float:
  """P[≥ v of r guesses correct] for an (ε, δ)-DP algorithm with m canaries.

  ML Privacy Meter's `p_value_DP_audit` (Steinke et al.'s code): the
  Binomial(r, e^ε/(1+e^ε)) tail, plus 2·m·δ·max_i P[v > B ≥ v − i] / i.
  """
  if not 0 <= v <= r <= m:
    raise ValueError(f"Need 0 <= correct <= guesses <= canaries. Received: "
                     f"correct={v}, guesses={r}, canaries={m}")
  if not eps >= 0:
    raise ValueError(f"`eps` must be >= 0. Received: eps={eps!r}")
  q = 1.0 / (1.0 + math.exp(-eps))
  if v == 0:
    return 1.0
  beta = float(_binom_sf(v - 1, r, q))
  if delta == 0:
    return min(beta, 1.0)
  i = np.arange(1, v + 1)
  partial = np.cumsum(_binom_pmf(v - i, r, q))
  alpha = max(0.0, float(np.max(partial / i)))
  return float(min(beta + alpha * delta * 2 * m, 1.0))


def one_run_epsilon(m: int, r: int, v: int, delta: float, p: float) -> float:
  """The largest ε rejected at level p by v correct of r guesses on m
  canaries: ML Privacy Meter's `get_eps_audit`, step for step (ε grows by 1
  until the p-value reaches p, then 30 bisection steps to 1e-5)."""
  m, r, v = int(m), int(r), int(v)
  check_delta(delta)
  if not 0 < p < 1:
    raise ValueError(f"`p` must be in (0, 1). Received: p={p!r}")
  eps_min, eps_max = 0.0, 1.0
  while one_run_p_value(m, r, v, eps_max, delta) < p:
    eps_max += 1
  for _ in range(30):
    if eps_max - eps_min <= 1e-5:
      break
    eps = (eps_min + eps_max) / 2
    if one_run_p_value(m, r, v, eps, delta) < p:
      eps_min = eps
    else:
      eps_max = eps
  return eps_min


def correct_guesses(scores: np.ndarray, is_member: np.ndarray, k_neg: int,
                    k_pos: int) -> int:
  """Correct guesses when the k_neg lowest scores are guessed OUT and the
  k_pos highest IN (ties broken by position, stably)."""
  sorted_in = is_member[np.argsort(scores, kind="stable")]
  return int((~sorted_in[:k_neg]).sum()
             + sorted_in[sorted_in.size - k_pos:].sum())


def guess_grid(m: int, step: Optional[int] = None) -> list[tuple[int, int]]:
  """ML Privacy Meter's (k−, k+) grid for m canaries: with s = ⌊√m⌋, every
  k+ = m − i and k− = j for i in 0, s, 2s, … < m and j in 0, s, … < i."""
  step = int(math.sqrt(m)) if step is None else int(step)
  if step < 1:
    raise ValueError(f"`grid_step` must be >= 1. Received: {step}")
  return [(k_neg, m - idx) for idx in range(0, m, step)
          for k_neg in range(0, idx, step)]


def _grid_counts(scores, is_member, grid):
  """Correct-guess counts for every (k−, k+) of the grid, by prefix sums."""
  order = np.argsort(scores, kind="stable")
  sorted_in = is_member[order].astype(np.int64)
  out_prefix = np.concatenate([[0], np.cumsum(1 - sorted_in)])
  in_suffix = np.concatenate([[0], np.cumsum(sorted_in[::-1])])
  k_neg = np.array([g[0] for g in grid], np.int64)
  k_pos = np.array([g[1] for g in grid], np.int64)
  return k_neg, k_pos, out_prefix[k_neg] + in_suffix[k_pos]


@dataclasses.dataclass(frozen=True)
class OneRunAudit:
  """A one-run audit's bound (Steinke et al.), with how it was reached.

  Attributes:
    epsilon: the ε lower bound at `delta`, holding with `confidence`
      after the correction `selection` names.
    delta, confidence, selection: the statement tested and how (k−, k+)
      were chosen (module docstring).
    num_canaries: m, the canaries the bound counts (the audit half under
      "holdout").
    num_guesses: r = k_neg + k_pos.
    num_correct: v, correct guesses among them.
    k_neg, k_pos: guesses OUT (lowest scores) and IN (highest scores).
    uncorrected_epsilon: the largest ε̂ over ML Privacy Meter's grid on
      all canaries, each at 1 − confidence: its figure, not a valid bound.
    grid_k_neg, grid_k_pos, grid_correct, grid_epsilon: that grid, for the
      ε̂-against-guesses figure (every point at 1 − confidence, uncorrected).
  """

  epsilon: float
  delta: float
  confidence: float
  selection: str
  num_canaries: int
  num_guesses: int
  num_correct: int
  k_neg: int
  k_pos: int
  uncorrected_epsilon: float
  grid_k_neg: tuple = ()
  grid_k_pos: tuple = ()
  grid_correct: tuple = ()
  grid_epsilon: tuple = ()

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, d: dict) -> "OneRunAudit":
    return io.from_dict(cls, d, "one-run audit")


def _grid_epsilons(scores, is_member, grid, delta, p):
  k_neg, k_pos, correct = _grid_counts(scores, is_member, grid)
  m = is_member.size
  eps = np.array([one_run_epsilon(m, a + b, c, delta, p)
                  for a, b, c in zip(k_neg, k_pos, correct)])
  return k_neg, k_pos, correct, eps


def one_run_bound(scores, is_member, *, delta: float = 1e-5,
                  confidence: float = 0.95, selection: str = "holdout",
                  k_neg: Optional[int] = None, k_pos: Optional[int] = None,
                  grid_step: Optional[int] = None,
                  seed: int = 0) -> OneRunAudit:
  """Steinke et al.'s one-run ε lower bound from canary scores.

  Args:
    scores: (m,) an attack's scores of the m canaries (higher: member).
    is_member: (m,) bool, whether each canary was included in training.
    delta: δ in [0, 1).
    confidence: 1 − p, in (0.5, 1).
    selection: "holdout", "bonferroni" or "fixed" (module docstring).
    k_neg, k_pos: the guesses for "fixed"; k_neg + k_pos ≤ m.
    grid_step: the grid's step; ML Privacy Meter's ⌊√m⌋ when None.
    seed: the "holdout" split.
  """
  scores = validation.as_finite_array(scores, "scores", ndim=1)
  is_member = validation.as_membership(is_member, "is_member", scores.size)
  delta = check_delta(delta)
  p = 1.0 - check_confidence(confidence)
  if selection not in SELECTIONS:
    raise ValueError(f"`selection` must be one of {SELECTIONS}. "
                     f"Received: selection={selection!r}")
  m = scores.size
  if selection == "fixed":
    for name, k in (("k_neg", k_neg), ("k_pos", k_pos)):
      if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 0:
        raise ValueError(f"selection='fixed' needs `{name}`, a non-negative "
                         f"int. Received: {name}={k!r}")
    if k_neg + k_pos > m:
      raise ValueError(f"More guesses than canaries: k_neg + k_pos = "
                       f"{k_neg + k_pos} > {m} canaries.")
    if k_neg + k_pos == 0:
      raise ValueError("selection='fixed' needs at least one guess "
                       "(k_neg + k_pos >= 1).")
  elif k_neg is not None or k_pos is not None:
    raise ValueError("`k_neg` and `k_pos` are for selection='fixed'. "
                     f"Received: selection={selection!r}")
  if m < 4:
    raise ValueError(f"A one-run audit needs at least 4 canaries. "
                     f"Received: {m}")
  grid = guess_grid(m, grid_step)
  g_neg, g_pos, g_cor, g_eps = _grid_epsilons(scores, is_member, grid, delta, p)
  best = int(np.argmax(g_eps))
  common = dict(delta=delta, confidence=1 - p, selection=selection,
                uncorrected_epsilon=float(g_eps[best]),
                grid_k_neg=tuple(int(x) for x in g_neg),
                grid_k_pos=tuple(int(x) for x in g_pos),
                grid_correct=tuple(int(x) for x in g_cor),
                grid_epsilon=tuple(float(x) for x in g_eps))
  if selection == "fixed":
    v = correct_guesses(scores, is_member, k_neg, k_pos)
    eps = one_run_epsilon(m, k_neg + k_pos, v, delta, p)
    return OneRunAudit(epsilon=eps, num_canaries=m, num_guesses=k_neg + k_pos,
                       num_correct=v, k_neg=int(k_neg), k_pos=int(k_pos),
                       **common)
  if selection == "bonferroni":
    q = p / len(grid)
    b_eps = np.array([one_run_epsilon(m, a + b, c, delta, q)
                      for a, b, c in zip(g_neg, g_pos, g_cor)])
    i = int(np.argmax(b_eps))
    return OneRunAudit(epsilon=float(b_eps[i]), num_canaries=m,
                       num_guesses=int(g_neg[i] + g_pos[i]),
                       num_correct=int(g_cor[i]), k_neg=int(g_neg[i]),
                       k_pos=int(g_pos[i]), **common)
  # holdout: choose the fractions on one half, apply them to the other.
  perm = np.random.default_rng(seed).permutation(m)
  sel, aud = np.sort(perm[:m // 2]), np.sort(perm[m // 2:])
  s_grid = guess_grid(sel.size, grid_step)
  s_neg, s_pos, _, s_eps = _grid_epsilons(scores[sel], is_member[sel], s_grid,
                                          delta, p)
  j = int(np.argmax(s_eps))
  ma = aud.size
  kn = int(round(s_neg[j] / sel.size * ma))
  kp = min(int(round(s_pos[j] / sel.size * ma)), ma - kn)
  if kn + kp == 0:
    kp = 1
  v = correct_guesses(scores[aud], is_member[aud], kn, kp)
  eps = one_run_epsilon(ma, kn + kp, v, delta, p)
  return OneRunAudit(epsilon=eps, num_canaries=ma, num_guesses=kn + kp,
                     num_correct=v, k_neg=kn, k_pos=kp, **common)
