"""Membership score functions that use reference (shadow) models or a population.

Every function here is pure numpy, checks its inputs before computing, and
returns one score per target example where **higher means member**.

Shapes used throughout:
  N: target examples, K: reference models, Z: population points,
  A: query augmentations (1 when none).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats

from tfmia.infra.validation import as_bool_array, as_finite_array

LIRA_CENTERS = ("median", "mean")
LIRA_OFFLINE_TESTS = ("one_sided", "two_sided")


# ---------------------------------------------------------------------------
# Input checks shared by the reference-model attacks.


def _ref_inputs(target, ref, ref_is_member, *, target_name: str, ref_name: str,
                trailing: int = 0):
  """Checks (N, ...) target, (K, N, ...) ref and (K, N) bool membership."""
  target = as_finite_array(target, target_name, ndim=1 + trailing)
  ref = as_finite_array(ref, ref_name, ndim=2 + trailing)
  ref_is_member = as_bool_array(ref_is_member,
                                f"ref_is_member (K, N), matching `{ref_name}`",
                                ref.shape[:2])
  if ref.shape[1:] != target.shape:
    raise ValueError(f"`{ref_name}` must have shape (K,) + {target.shape} to "
                     f"match `{target_name}`. Received: shape={ref.shape}")
  return target, ref, ref_is_member


def _require_models(ref_is_member: np.ndarray, *, need_in: bool, need_out: bool,
                    attack: str, minimum: int = 1) -> None:
  """Raises unless every example has `minimum` IN (and/or OUT) models."""
  for flag, mask in (("IN", ref_is_member) if need_in else (None, None),
                     ("OUT", ~ref_is_member) if need_out else (None, None)):
    if flag is None:
      continue
    counts = mask.sum(axis=0)
    if counts.min() < minimum:
      bad = int(np.sum(counts < minimum))
      raise ValueError(
          f"{attack} needs at least {minimum} {flag} reference model(s) for "
          f"every target example; {bad} example(s) have {int(counts.min())}. "
          "Train more reference models (they come in complementary pairs).")


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
  """Mean over axis 0 of `values` where `mask` is True. (K, N) -> (N,)."""
  return np.sum(values * mask, axis=0) / np.sum(mask, axis=0)


# ---------------------------------------------------------------------------
# RMIA


def rmia_ratios(target_x, ref_x, ref_is_member, target_z, ref_z, *,
                offline: bool = True, a: float = 0.3):
  """The likelihood ratios Pr(x|θ)/Pr(x) and Pr(z|θ)/Pr(z) of RMIA.

  Pr(·) is the mean over reference models of their true-class probability.
  Offline, only OUT models are averaged and Pr(x) = ½[(1+a)·P_OUT(x) + (1−a)];
  online, Pr(x) = ½[P_IN(x) + P_OUT(x)], the IN and OUT means weighted
  equally (the paper's Pr(x) = ½ΣPr(x|θ_IN) + ½ΣPr(x|θ_OUT) over balanced
  models; a plain mean over all K would overweight whichever half has more
  models for that x). Population points are OUT for every reference model,
  so Pr(z) is their mean over all K (with the same offline correction).

  Args:
    target_x: (N,) target model's probability of the true class of each x.
    ref_x: (K, N) the same for each reference model.
    ref_is_member: (K, N) bool, True where x was in reference model k's training set.
    target_z: (Z,) target model's true-class probability on population points.
    ref_z: (K, Z) the same for each reference model.
    offline: use OUT models only, with the `a` correction.
    a: offline correction in [0, 1]; a = 1 means Pr(x) = P_OUT(x).

  Returns:
    (ratio_x (N,), ratio_z (Z,)).
  """
  target_x, ref_x, ref_is_member = _ref_inputs(target_x, ref_x, ref_is_member,
                                        target_name="target_x",
                                        ref_name="ref_x")
  target_z = as_finite_array(target_z, "target_z", ndim=1)
  ref_z = as_finite_array(ref_z, "ref_z", ndim=2)
  if ref_z.shape != (ref_x.shape[0], target_z.shape[0]):
    raise ValueError(f"`ref_z` must have shape (K, Z) = "
                     f"{(ref_x.shape[0], target_z.shape[0])}. "
                     f"Received: shape={ref_z.shape}")
  if not 0.0 <= a <= 1.0:
    raise ValueError(f"`a` must be in [0, 1]. Received: a={a!r}")
  for name, v in (("target_x", target_x), ("ref_x", ref_x),
                  ("target_z", target_z), ("ref_z", ref_z)):
    if v.min() < 0 or v.max() > 1:
      raise ValueError(f"`{name}` must hold probabilities in [0, 1]. "
                       f"Received: values from {v.min()} to {v.max()}")
  if offline:
    _require_models(ref_is_member, need_in=False, need_out=True, attack="Offline RMIA")
    p_x = 0.5 * ((1 + a) * _masked_mean(ref_x, ~ref_is_member) + (1 - a))
    p_z = 0.5 * ((1 + a) * ref_z.mean(axis=0) + (1 - a))
  else:
    _require_models(ref_is_member, need_in=True, need_out=True, attack="Online RMIA")
    p_x = 0.5 * (_masked_mean(ref_x, ref_is_member)
                 + _masked_mean(ref_x, ~ref_is_member))
    p_z = ref_z.mean(axis=0)
  tiny = np.finfo(np.float64).tiny
  # + 0.0 turns a -0.0 (a zero probability given as -0.0) into +0.0, so
  # ratios compare as numbers in the bit-pattern search of `rmia_scores`.
  return (target_x / np.maximum(p_x, tiny) + 0.0,
          target_z / np.maximum(p_z, tiny) + 0.0)


def rmia_scores(target_x, ref_x, ref_is_member, target_z, ref_z, *,
                offline: bool = True, a: float = 0.3,
                gamma: float = 1.0) -> np.ndarray:
  """RMIA (Zarifzadeh et al., ICML 2024, "Low-Cost High-Power Membership
  Inference Attacks").

  Score(x) = Pr_z[ (Pr(x|θ)/Pr(x)) / (Pr(z|θ)/Pr(z)) ≥ γ ], the fraction of
  population points z that x dominates. The comparison is evaluated as
  ratio_x ≥ γ·ratio_z (ratios are positive), by sorting γ·ratio_z once and
  counting with a binary search: O((N + Z) log Z) time and O(N + Z) memory,
  never an N×Z matrix. `rmia_scores_bruteforce` is the same in O(N·Z).

  Args: see `rmia_ratios`, plus
    gamma: the likelihood-ratio threshold γ > 0.

  Returns:
    (N,) scores in [0, 1]; higher means member.
  """
  if not gamma > 0:
    raise ValueError(f"`gamma` must be > 0. Received: gamma={gamma!r}")
  ratio_x, ratio_z = rmia_ratios(target_x, ref_x, ref_is_member, target_z, ref_z,
                                 offline=offline, a=a)
  thresholds = np.sort(gamma * ratio_z)
  # Ratios are finite and >= 0, and for non-negative IEEE doubles the order
  # of their bit patterns read as int64 is their numeric order; searching
  # int64 keys is ~25% faster than float64 and gives identical counts.
  counts = np.searchsorted(thresholds.view(np.int64),
                           np.ascontiguousarray(ratio_x).view(np.int64),
                           side="right")
  return counts / thresholds.size


def rmia_scores_bruteforce(target_x, ref_x, ref_is_member, target_z, ref_z, *,
                           offline: bool = True, a: float = 0.3,
                           gamma: float = 1.0) -> np.ndarray:
  """`rmia_scores` by the straightforward (N, Z) broadcast. For tests and
  benchmarks only: it needs N·Z memory."""
  ratio_x, ratio_z = rmia_ratios(target_x, ref_x, ref_is_member, target_z, ref_z,
                                 offline=offline, a=a)
  return np.mean(ratio_x[:, None] >= gamma * ratio_z[None, :], axis=1)


# RMIA as its authors' released code runs it (privacytrustlab/ml_privacy_meter
# at d3273416, research/2024_rmia: main.py, signals.py and
# attack_configs/cifar10/rmia_offline_*.yaml).
RMIA_AUTHORS = dict(temperature=2.0, taylor_m=0.6, taylor_n=4, gamma=2.0,
                    proportiontocut=0.2)


def taylor_soft_margin(logits, labels, *, temperature: float = 2.0,
                       margin: float = 0.6, order: int = 4) -> np.ndarray:
  """Pr(x|θ) as the RMIA authors compute it ("taylor-soft-margin" in their
  `signals.convert_signals`): with z = logits / temperature and
  T(v) = 1 + v + Σ_{i=2}^{order-1} v^i / i! (their `get_taylor`),

      Pr(x|θ) = T(z_y − m) / (Σ_{c≠y} T(z_c) + T(z_y − m)).

  T is a truncated exponential, so for very negative logits it (and this
  "probability") can be negative, exactly as in their code.

  Args:
    logits: (N, ..., C); labels: (N,).

  Returns:
    (N, ...) values.
  """
  z = np.asarray(logits, dtype=np.float64) / temperature
  y = np.asarray(labels).reshape((-1,) + (1,) * (z.ndim - 1))

  def taylor(v):
    out, power = v + 1.0, v
    for i in range(2, order):
      power = power * v
      out = out + power / math.factorial(i)
    return out

  t = taylor(z)
  z_y = np.take_along_axis(z, y, axis=-1)[..., 0]
  t_soft = taylor(z_y - margin)
  others = t.sum(axis=-1) - np.take_along_axis(t, y, axis=-1)[..., 0]
  return t_soft / (others + t_soft)


def _out_models(values: np.ndarray, ref_is_member: np.ndarray) -> np.ndarray:
  """(K, A, N) values -> (K_out, A, N): each example's OUT models (every
  example must have as many; tfmia's complementary pairs give K/2)."""
  out = ~ref_is_member
  counts = out.sum(axis=0)
  if counts.min() != counts.max():
    raise ValueError("The authors' RMIA takes a trimmed mean over each "
                     "example's OUT models and needs the same number for "
                     f"every example. Received: {counts.min()} to "
                     f"{counts.max()}")
  k_out = int(counts[0])
  order = np.argsort(~out, axis=0, kind="stable")[:k_out]   # OUT rows first
  return np.take_along_axis(values, order[:, None, :], axis=0)


def rmia_authors_scores(target_x, ref_x, ref_is_member, target_z, ref_z, *,
                        a: float = 0.3, gamma: float = 2.0,
                        proportiontocut: float = 0.2,
                        chunk: int = 2048,
                        in_population=None) -> np.ndarray:
  """Offline RMIA as the authors' `main.py` computes it, with A query
  augmentations.

  For each augmentation k: Pr(x) = (1+a)/2 · trim_mean(OUT models) + (1−a)/2
  (scipy's `trim_mean`, `proportiontocut` off each end); Pr(z) likewise over
  all K models (population points are OUT for every model; their code takes
  as many as it has OUT models for x); the vote LR(x, z) =
  ratio_x · (1 / ratio_z) > γ (strict). Then the majority over the A
  augmentations (`torch.mode` of booleans: a tie votes False), and the score
  is the fraction of population points z where the majority says True.

  Args:
    target_x: (A, N) the target's Pr(x|θ) (e.g. `taylor_soft_margin`).
    ref_x: (K, A, N) the reference models'.
    ref_is_member: (K, N) bool.
    target_z: (A, Z); ref_z: (K, A, Z): the same on the population.
    a: the offline correction.
    gamma: γ.
    proportiontocut: the trimmed mean's cut.
    chunk: targets compared at once (memory: chunk x Z x A booleans).

  Returns:
    (N,) scores in [0, 1]; higher means member.
  """
  from scipy.stats import trim_mean
  tx = as_finite_array(target_x, "target_x", ndim=2)
  rx = as_finite_array(ref_x, "ref_x", ndim=3)
  tz = as_finite_array(target_z, "target_z", ndim=2)
  rz = as_finite_array(ref_z, "ref_z", ndim=3)
  m = np.asarray(ref_is_member, dtype=bool)
  k, num_aug, n = rx.shape
  if tx.shape != (num_aug, n) or m.shape != (k, n):
    raise ValueError("`target_x` must be (A, N) and `ref_is_member` (K, N) "
                     f"for `ref_x` of shape (K, A, N) = {rx.shape}. Received: "
                     f"{tx.shape} and {m.shape}")
  if rz.shape != (k, num_aug, tz.shape[1]) or tz.shape[0] != num_aug:
    raise ValueError(f"`ref_z` must be (K, A, Z) = {(k, num_aug, tz.shape[1])}"
                     f". Received: {rz.shape}")
  if not 0.0 <= a <= 1.0:
    raise ValueError(f"`a` must be in [0, 1]. Received: a={a!r}")
  mean_x = trim_mean(_out_models(rx, m), proportiontocut, axis=0)   # (A, N)
  mean_z = trim_mean(rz, proportiontocut, axis=0)                   # (A, Z)
  ratio_x = tx / ((1 + a) / 2 * mean_x + (1 - a) / 2)
  inv_ratio_z = 1.0 / (tz / ((1 + a) / 2 * mean_z + (1 - a) / 2))
  out = np.empty(n)
  for start in range(0, n, chunk):
    rx_c = ratio_x[:, start:start + chunk]                          # (A, c)
    votes = np.zeros((rx_c.shape[1], tz.shape[1]), dtype=np.int32)
    for j in range(num_aug):
      votes += np.multiply.outer(rx_c[j], inv_ratio_z[j]) > gamma
    out[start:start + chunk] = np.mean(2 * votes > num_aug, axis=1)
  if in_population is not None:
    both = as_bool_array(in_population, "in_population", (n,))
    size = tz.shape[1]
    out[both] = (out[both] * size + 1.0) / (size - 1)
  return out


RMIA_A_GRID = tuple(np.round(np.arange(0.0, 1.01, 0.1), 1))


def tune_rmia_a(ref_x, ref_is_member, ref_z, *, gamma: float = 1.0,
                grid=RMIA_A_GRID) -> float:
  """Chooses offline RMIA's `a` on the reference models, whose membership is
  known: each reference model in turn is attacked with the other K − 1 as
  references (the paper tunes on one; averaging over all K is steadier), and
  the `a` of the grid with the highest mean AUC is kept (the first on ties).

  Args:
    ref_x: (K, N) reference models' true-class probabilities on the pool.
    ref_is_member: (K, N) bool membership.
    ref_z: (K, Z) their probabilities on the population.
    gamma: RMIA's γ.
    grid: candidate values in [0, 1].

  Returns:
    The chosen a.
  """
  from sklearn.metrics import roc_auc_score
  ref_x = as_finite_array(ref_x, "ref_x", ndim=2)
  ref_is_member = np.asarray(ref_is_member, dtype=bool)
  k = len(ref_x)
  if k < 4:
    raise ValueError("Tuning RMIA's `a` attacks each reference model with "
                     "the others, so it needs K >= 4 reference models. "
                     f"Received: K={k}. Pass a fixed `a` instead.")
  mean_auc = np.zeros(len(grid))
  for j in range(k):
    rest = np.arange(k) != j
    for i, a in enumerate(grid):
      s = rmia_scores(ref_x[j], ref_x[rest], ref_is_member[rest], ref_z[j],
                      ref_z[rest], offline=True, a=float(a), gamma=gamma)
      mean_auc[i] += roc_auc_score(ref_is_member[j], s) / k
  return float(grid[int(np.argmax(mean_auc))])


# ---------------------------------------------------------------------------
# LiRA


def lira_scores(target, ref, ref_is_member, *, online: bool = True,
                fix_variance: bool = True, center: str = "median",
                offline_test: str = "one_sided") -> np.ndarray:
  """LiRA (Carlini et al., S&P 2022, "Membership Inference Attacks From First
  Principles").

  Fits a Gaussian to the reference models' statistic of each example: over its
  IN models and its OUT models (online) or its OUT models only (offline).
  Per augmentation the log-likelihood is taken, then averaged over
  augmentations.

  Online (Algorithm 1, line 15; Eq. (2) in Gaussian form):
  score = log N(φ; μ_in, σ_in²) − log N(φ; μ_out, σ_out²), which is
  minus tensorflow-privacy's `compute_score_lira(option="both")`.
  Offline, one-sided (the paper's Eq. (4), Λ = 1 − Pr[Z > φ]):
  score = log Λ = log Φ((φ − μ_out)/σ_out),
  large when φ sits above the OUT distribution. Offline, two-sided:
  score = −log N(φ; μ_out, σ_out²), which equals tensorflow-privacy's
  `option="out"` score (that is lower-means-member) negated.

  Args:
    target: (N,) or (N, A) the target model's statistic, usually the scaled
      logit φ = log p_y − log Σ_{c≠y} p_c.
    ref: (K, N) or (K, N, A) the same statistic from each reference model.
    ref_is_member: (K, N) bool, True where x was in reference model k's training set.
    online: use IN and OUT models; offline uses OUT models only.
    fix_variance: one global σ per distribution (the paper's choice for few
      reference models) instead of one per example: the spread of the
      observations about their examples' centres, or, where each example
      has one observation of the class (K <= 2), about their common mean.
    center: "median" or "mean" of the reference statistics.
    offline_test: "one_sided" or "two_sided" (offline only).

  Returns:
    (N,) scores; higher means member.
  """
  target = np.asarray(target, dtype=np.float64)
  ref = np.asarray(ref, dtype=np.float64)
  if target.ndim == 1:
    target, ref = target[:, None], ref[..., None]
  target, ref, ref_is_member = _ref_inputs(target, ref, ref_is_member, target_name="target",
                                    ref_name="ref", trailing=1)
  if center not in LIRA_CENTERS:
    raise ValueError(f"`center` must be one of {LIRA_CENTERS}. "
                     f"Received: center={center!r}")
  if offline_test not in LIRA_OFFLINE_TESTS:
    raise ValueError(f"`offline_test` must be one of {LIRA_OFFLINE_TESTS}. "
                     f"Received: offline_test={offline_test!r}")
  minimum = 1 if fix_variance else 2
  name = "Online LiRA" if online else "Offline LiRA"
  _require_models(ref_is_member, need_in=online, need_out=True, attack=name,
                  minimum=minimum)

  def fit(mask):
    vals = np.where(mask[..., None], ref, np.nan)          # (K, N, A)
    mu = (np.nanmedian if center == "median" else np.nanmean)(vals, axis=0)
    if fix_variance:
      sigma = np.nanstd(vals - mu[None])                   # scalar
      if not sigma > 0:
        # One model per example and class (K <= 2): no spread about the
        # centres to measure. Take the spread of all the observations, as
        # Carlini et al.'s released code always does (np.std(dat_in)).
        sigma = np.nanstd(vals)
    else:
      sigma = np.nanstd(vals, axis=0)                      # (N, A)
    return mu, sigma + 1e-30

  mu_out, sd_out = fit(~ref_is_member)
  if online:
    mu_in, sd_in = fit(ref_is_member)
    llr = (scipy.stats.norm.logpdf(target, mu_in, sd_in)
           - scipy.stats.norm.logpdf(target, mu_out, sd_out))
  elif offline_test == "one_sided":
    llr = scipy.stats.norm.logcdf(target, mu_out, sd_out)
  else:
    llr = -scipy.stats.norm.logpdf(target, mu_out, sd_out)
  return llr.mean(axis=1)


# ---------------------------------------------------------------------------
# Attack-P and Attack-R (Ye et al., CCS 2022)


def _position(x, below, at_most, lo, hi, m):
  """Fractional position of x among m sorted values (see `_quantile_rank`)."""
  if m == 1:
    return 0.5 * (below + at_most).astype(np.float64)
  gap = np.where(hi > lo, hi - lo, 1.0)
  frac = np.clip((x - lo) / gap, 0.0, 1.0)
  between = np.where(below == 0, 0.0,
                     np.where(below == m, m - 1.0, below - 1 + frac))
  # Exact hits (ties included) take the mean position of the equal values.
  return np.where(at_most > below, 0.5 * (below + at_most - 1), between)


def _quantile_rank(sorted_values: np.ndarray, x: np.ndarray) -> np.ndarray:
  """Inverse of `np.quantile(values, q, method="linear")`.

  For sorted v_0 ≤ … ≤ v_{m−1} returns the q in [0, 1] with quantile(q) = x,
  interpolating linearly between neighbours; 0 below v_0 and 1 above v_{m−1}.
  With m = 1 it returns 0, ½ or 1 (below, equal, above). Ties in v give the
  mean position of the equal values.

  Args:
    sorted_values: (m,) sorted, shared by every query (binary search), or
      (N, m), one sorted row per query.
    x: (N,) query values.

  Returns:
    (N,) q in [0, 1].
  """
  m = sorted_values.shape[-1]
  if sorted_values.ndim == 1:
    below = np.searchsorted(sorted_values, x, side="left")
    at_most = np.searchsorted(sorted_values, x, side="right")
    lo = sorted_values[np.clip(below - 1, 0, m - 1)]
    hi = sorted_values[np.clip(below, 0, m - 1)]
  else:
    below = np.sum(sorted_values < x[:, None], axis=1)
    at_most = np.sum(sorted_values <= x[:, None], axis=1)
    rows = np.arange(len(x))
    lo = sorted_values[rows, np.clip(below - 1, 0, m - 1)]
    hi = sorted_values[rows, np.clip(below, 0, m - 1)]
  return _position(x, below, at_most, lo, hi, m) / max(m - 1, 1)


def attack_p_scores(target_loss, population_loss) -> np.ndarray:
  """Attack-P (Ye et al., CCS 2022, "Enhanced Membership Inference Attacks
  against Machine Learning Models"): the population attack.

  x is called a member at level α when its loss is at most the α-quantile of
  the target model's losses on population data. The score is 1 − (the
  quantile rank of loss(x) among the population losses), the rank inverting
  `np.quantile` with linear interpolation. O((N + Z) log Z).

  Args:
    target_loss: (N,) the target model's loss on each example.
    population_loss: (Z,) the target model's loss on population points.

  Returns:
    (N,) scores in [0, 1]; higher means member.
  """
  target_loss = as_finite_array(target_loss, "target_loss", ndim=1)
  population_loss = as_finite_array(population_loss, "population_loss",
                                    ndim=1)
  return 1.0 - _quantile_rank(np.sort(population_loss), target_loss)


def attack_r_scores(target_loss, ref_loss, ref_is_member) -> np.ndarray:
  """Attack-R (Ye et al., CCS 2022): the reference-model attack.

  The percentile of the target's loss on x among the losses of the reference
  models that did not train on x (its OUT models), with linear interpolation
  (the inverse of `np.quantile(..., method="linear")`). Score = 1 − that
  percentile: a loss below every OUT model's gives 1.

  Args:
    target_loss: (N,) the target model's loss on each example.
    ref_loss: (K, N) each reference model's loss on each example.
    ref_is_member: (K, N) bool, True where x was in reference model k's training set.

  Returns:
    (N,) scores in [0, 1]; higher means member.
  """
  target_loss, ref_loss, ref_is_member = _ref_inputs(
      target_loss, ref_loss, ref_is_member, target_name="target_loss",
      ref_name="ref_loss")
  _require_models(ref_is_member, need_in=False, need_out=True, attack="Attack-R")
  counts = (~ref_is_member).sum(axis=0)
  scores = np.empty_like(target_loss)
  # Examples are grouped by their number of OUT models (one group when every
  # example has K/2), so each group is one (n, m) sorted array.
  for m in np.unique(counts):
    cols = np.flatnonzero(counts == m)
    out = ref_loss[:, cols].T                               # (n, K)
    mask = ~ref_is_member[:, cols].T
    vals = np.sort(np.where(mask, out, np.inf), axis=1)[:, :m]
    scores[cols] = 1.0 - _quantile_rank(vals, target_loss[cols])
  return scores


def _confidence_inputs(target_conf, ref_conf):
  """(N,) target and (K >= 1, N) reference confidences, checked."""
  target_conf = as_finite_array(target_conf, "target_conf", ndim=1)
  ref_conf = as_finite_array(ref_conf, "ref_conf", ndim=2)
  if ref_conf.shape[1] != len(target_conf) or len(ref_conf) == 0:
    raise ValueError(f"`ref_conf` must be (K >= 1, {len(target_conf)}). "
                     f"Received: shape={ref_conf.shape}")
  return target_conf, ref_conf


def reference_fraction_scores(target_conf, ref_conf) -> np.ndarray:
  """MIA_SNN's "Attack-R" (sharmaabhijith/MIA_SNN `Attacks/main.py`,
  `Attack_R`): the fraction of **all** K reference models, IN and OUT alike,
  with c_target / c_k >= 1, where c is the true-class confidence.

  Args:
    target_conf: (N,) the target's true-class confidence.
    ref_conf: (K, N) each reference model's.

  Returns:
    (N,) scores in {0, 1/K, ..., 1}.
  """
  target_conf, ref_conf = _confidence_inputs(target_conf, ref_conf)
  with np.errstate(divide="ignore", invalid="ignore"):
    ratios = target_conf[None] / ref_conf      # as theirs: 0/0 is NaN, not >= 1
  return np.mean(ratios >= 1, axis=0)


def confidence_ratio_scores(target_conf, ref_conf) -> np.ndarray:
  """MIA_SNN's "RMIA" (`Attack_RMIA`): c_target / mean_k c_k over all K
  reference models; no population, no γ, no offline `a`. It ranks examples
  as RMIA online does (Pr_z[ratio_x / ratio_z >= 1] never decreases in
  ratio_x), up to that attack's ties.

  Args:
    target_conf: (N,) the target's true-class confidence.
    ref_conf: (K, N) each reference model's.

  Returns:
    (N,) scores (inf where every reference gives 0).
  """
  target_conf, ref_conf = _confidence_inputs(target_conf, ref_conf)
  with np.errstate(divide="ignore", invalid="ignore"):
    out = target_conf / ref_conf.mean(axis=0)
  return np.where(np.isnan(out), 0.0, out)


def loss_threshold_scores(loss) -> np.ndarray:
  """The loss-threshold attack (Yeom et al., CSF 2018): score = −loss.

  This is tensorflow-privacy's THRESHOLD_ATTACK score.

  Args:
    loss: (N,) the target model's loss on each example.

  Returns:
    (N,) scores; higher means member.
  """
  return -as_finite_array(loss, "loss", ndim=1)
