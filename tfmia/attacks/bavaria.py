"""BaVarIA and the BASE family (Brännvall, "Exponential-Family Membership
Inference: From LiRA and RMIA to BaVarIA", arXiv 2603.11799, 2026).

Every attack here is a log-likelihood ratio log f_IN(φ) − log f_OUT(φ) of
the target's statistic φ for one example, the distributions fitted to the
reference models' φ of that example, where they differ only in how many
parameters they estimate per example:

- BASE3: one mean per class (IN, OUT), one pooled variance per example:
  (μ_in − μ_out) / σ²_pool · (φ − (μ_in + μ_out) / 2).
- BASE4: a mean and a variance per class and example: LiRA online with
  per-example variances.
- BaVarIA: BASE4 with each class's (μ, σ²) given a normal-inverse-gamma
  prior NIG(μ0, κ0, α0, β0) fitted by empirical Bayes to all the reference
  observations of that class (μ0 their mean, s² their variance, κ0 = 1,
  β0 = s²(α0 − 1) when α0 > 1, else s²), then updated per example with its
  n observations (mean x̄, sum of squares SS):

      κn = κ0 + n,  μn = (κ0 μ0 + n x̄) / κn,  αn = α0 + n/2,
      βn = β0 + SS/2 + κ0 n (x̄ − μ0)² / (2 κn).

  BaVarIA-t (α0 = 2) scores with the posterior predictive, a Student t
  with 2αn degrees of freedom, location μn and scale² βn(κn + 1)/(αn κn).
  BaVarIA-n (α0 = 1) scores with a Gaussian at x̄ (μ0 when n = 0) and the
  posterior-mean variance βn / (αn − 1) (βn when αn ≤ 1).
  Offline, the IN class is the prior alone (n = 0), which still needs IN
  observations somewhere in the reference set, pooled over all examples.

φ is LiRA's scaled logit, log p_y − log(1 − p_y). Scores that come out
non-finite are set to 0, as the author's code does. These follow the
author's NumPy release of the paper's scoring functions
(rickardbrannvall/exponential-family-mia, `methods.py`), whose scores this
module reproduces to float32 round-off on its Location bundle.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

EPS = 1e-10
VARIANTS = {"n": 1.0, "t": 2.0}   # BaVarIA variant: its prior α0


def _split(ref: np.ndarray, ref_is_member: np.ndarray):
  """(K, N) statistics as (N, K) IN-only and OUT-only arrays (NaN
  elsewhere)."""
  ref = np.asarray(ref, np.float64).T
  m = np.asarray(ref_is_member, bool).T
  if ref.shape != m.shape:
    raise ValueError("`ref` and `ref_is_member` must both be (K, N). "
                     f"Received: {ref.T.shape} and {m.T.shape}")
  return np.where(m, ref, np.nan), np.where(~m, ref, np.nan)


def nig_prior(values: np.ndarray, alpha0: float) -> tuple[float, float]:
  """Empirical-Bayes (μ0, β0) of one class from all its observations:
  their mean, and β0 = s²(α0 − 1) when α0 > 1, else s² (s² their variance,
  ddof 0), so that E[σ²] = β0 / (α0 − 1) is their variance."""
  v = np.asarray(values, np.float64)
  v = v[np.isfinite(v)]
  mu0 = float(v.mean()) if v.size else 0.0
  var = float(v.var()) if v.size else 1.0
  return mu0, max(var * (alpha0 - 1.0) if alpha0 > 1.0 else var, EPS)


def nig_posterior(x: np.ndarray, mu0: float, beta0: float, kappa0: float,
                  alpha0: float):
  """Per-row NIG posterior of (N, K) observations with NaN for missing:
  (x̄, n, κn, μn, αn, βn); rows without observations keep the prior
  (x̄ = μ0)."""
  n = np.sum(np.isfinite(x), axis=1).astype(np.float64)
  xbar = np.where(n > 0, np.nansum(x, axis=1) / np.maximum(n, 1.0), mu0)
  kappa_n = kappa0 + n
  mu_n = (kappa0 * mu0 + n * xbar) / kappa_n
  alpha_n = alpha0 + n / 2.0
  ss = np.nansum((x - xbar[:, None]) ** 2, axis=1)
  beta_n = beta0 + 0.5 * ss + 0.5 * kappa0 * n * (xbar - mu0) ** 2 / kappa_n
  return xbar, n, kappa_n, mu_n, alpha_n, beta_n


def bavaria_scores(target, ref, ref_is_member, *, variant: str = "t",
                   online: bool = True, kappa0: float = 1.0) -> np.ndarray:
  """BaVarIA-n or BaVarIA-t scores (higher = member).

  Args:
    target: (N,) the target's scaled logit φ of each example.
    ref: (K, N) the reference models' φ.
    ref_is_member: (K, N) bool.
    variant: "n" (Gaussian, α0 = 1) or "t" (Student t, α0 = 2).
    online: IN and OUT posteriors; offline: the IN class is its prior.
    kappa0: the prior's κ0 (the paper's 1).
  """
  if variant not in VARIANTS:
    raise ValueError(f"`variant` must be one of {tuple(VARIANTS)}. "
                     f"Received: variant={variant!r}")
  alpha0 = VARIANTS[variant]
  target = np.asarray(target, np.float64)
  x_in, x_out = _split(ref, ref_is_member)
  if target.shape != (x_in.shape[0],):
    raise ValueError(f"`target` must be (N,) = ({x_in.shape[0]},). "
                     f"Received: {target.shape}")
  if not np.isfinite(x_in).any():
    raise ValueError("BaVarIA needs IN observations (some reference model "
                     "trained on some attacked example) for its IN prior.")
  if not np.isfinite(x_out).any():
    raise ValueError("BaVarIA needs OUT observations.")
  prior_in = nig_prior(x_in, alpha0)
  prior_out = nig_prior(x_out, alpha0)
  post_out = nig_posterior(x_out, *prior_out, kappa0, alpha0)
  post_in = nig_posterior(x_in if online else np.full_like(x_in, np.nan),
                          *prior_in, kappa0, alpha0)

  def log_density(post):
    xbar, _, kappa_n, mu_n, alpha_n, beta_n = post
    if variant == "t":
      scale = np.sqrt(np.maximum(beta_n * (kappa_n + 1.0) / (alpha_n * kappa_n),
                                 EPS))
      return stats.t.logpdf(target, 2.0 * alpha_n, loc=mu_n, scale=scale)
    var = np.maximum(np.where(alpha_n > 1, beta_n / (alpha_n - 1.0), beta_n),
                     EPS)
    return -0.5 * np.log(var) - 0.5 * (target - xbar) ** 2 / var

  with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
    scores = log_density(post_in) - log_density(post_out)
  scores[~np.isfinite(scores)] = 0.0
  return scores


def base3_scores(target, ref, ref_is_member) -> np.ndarray:
  """BASE3 (online): a mean per class and example, one pooled variance per
  example, (n_in var_in + n_out var_out) / (n_in + n_out):
  (μ_in − μ_out) / σ²_pool · (φ − (μ_in + μ_out) / 2)."""
  target = np.asarray(target, np.float64)
  x_in, x_out = _split(ref, ref_is_member)
  n_in = np.sum(np.isfinite(x_in), axis=1)
  n_out = np.sum(np.isfinite(x_out), axis=1)
  if n_in.min() < 1 or n_out.min() < 1:
    raise ValueError("BASE3 needs an IN and an OUT reference model for "
                     "every example.")
  mu_in, mu_out = np.nanmean(x_in, axis=1), np.nanmean(x_out, axis=1)
  var = np.maximum((n_in * np.nanvar(x_in, axis=1)
                    + n_out * np.nanvar(x_out, axis=1)) / (n_in + n_out), EPS)
  return (mu_in - mu_out) / var * (target - 0.5 * (mu_in + mu_out))
