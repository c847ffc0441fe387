"""Firing thresholds from the ANN's activations on calibration data.

- `percentile_threshold`: threshold balancing at a percentile of a layer's
  positive activations, as snntoolbox normalises (99.9 by default).
- `fit_one_level_quantizer`: the data-driven threshold and initial potential
  (Bojković et al., AISTATS 2024): the one-level quantiser
  q(a) = θ·[a ≥ τ] that minimises the L1 error Σ|a − q(a)| over a layer's
  positive activations, fitted by coordinate descent. Given τ, the best θ is
  the median of the activations at or above τ; given θ, the best τ is θ/2
  (each activation goes to the nearer of 0 and θ). An integrate-and-fire
  neuron with threshold θ and initial potential θ − τ fires at its first step
  exactly when a ≥ τ, so it realises q.

The reference code is data_driven_init (srinuvaasu/data_driven_init; the
copy MIA_SNN builds on has `calc_th_with_c.py` and `spiking_layer_ours.py`).
Its neuron fires when the accumulated input reaches θ_in and emits θ_out;
that pair is tfmia's (θ, initial potential) in another form: θ_out = θ and
θ_in = θ − v_0 = τ, so both neurons give the same spikes.
"""

from __future__ import annotations

import numpy as np

from tfmia.infra.validation import check_finite

THRESHOLD_METHODS = ("percentile", "data_driven")
INIT_QUANTILES = (0.5, 0.9, 0.99, 0.999, 1.0)


def _positive(activations) -> np.ndarray:
  a = np.asarray(activations, dtype=np.float64).reshape(-1)
  check_finite(a, "activations")
  return a[a > 0]


def percentile_threshold(activations, percentile: float = 99.9) -> float:
  """The `percentile`-th percentile of the positive activations (1.0 when a
  layer never activates on the calibration data)."""
  if not 0 < percentile <= 100:
    raise ValueError(f"`percentile` must be in (0, 100]. "
                     f"Received: percentile={percentile!r}")
  a = _positive(activations)
  return float(np.percentile(a, percentile)) if a.size else 1.0


def fit_one_level_quantizer(activations, iterations: int = 30
                            ) -> tuple[float, float]:
  """Fits q(a) = θ·[a ≥ τ] to the positive activations in L1.

  Coordinate descent is run from several starting thresholds (quantiles
  0.5 to 1 of the activations) and the fit with the lowest L1 error is kept.

  Args:
    activations: any shape; only positive values are used.
    iterations: coordinate-descent rounds at most (stops at a fixed point).

  Returns:
    (θ, τ). The neuron's initial potential is θ − τ.
  """
  if not isinstance(iterations, int) or iterations < 1:
    raise ValueError(f"`iterations` must be a positive int. "
                     f"Received: iterations={iterations!r}")
  a = np.sort(_positive(activations))
  if not a.size:
    return 1.0, 0.5
  best = None
  # Coordinate descent finds a local optimum; start from several quantiles
  # and keep the best fit.
  for q in INIT_QUANTILES:
    theta = float(np.quantile(a, q))
    for _ in range(iterations):
      above = a[np.searchsorted(a, theta / 2, side="left"):]
      new = float(np.median(above))
      if new == theta:
        break
      theta = new
    err = l1_error(a, theta, theta / 2)
    if best is None or err < best[0]:
      best = (err, theta)
  return best[1], best[1] / 2


def l1_error(activations, theta: float, tau: float) -> float:
  """Σ|a − θ·[a ≥ τ]| over the positive activations."""
  a = _positive(activations)
  return float(np.abs(a - theta * (a >= tau)).sum())
