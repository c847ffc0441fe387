"""The one copy of the spike functions and their surrogate derivatives.

Both kinds of spiking model use them: directly trained networks
(`tfmia.snn.direct`, HIRE-SNN's and grad-obf-snn's neurons) and networks
converted from an ANN (`tfmia.snn.network`, MIA_SNN's neurons).

A surrogate g(x) replaces the derivative of the Heaviside step at a
distance x from the threshold:

    linear    γ·max(0, 1 − |x|), γ = α = 0.3   (HIRE-SNN's LinearSpike)
    boxcar    [|x| < w]                         (window half-width w)
    triangle  max(0, 1 − |x| / w)
    sigmoid   α σ(αx)(1 − σ(αx)),  α = 4
    atan      (α/2) / (1 + (π/2·α x)²),  α = 2  (SpikingJelly's ATan)

Directly trained neurons apply it to the normalised distance x = u/θ − 1
(w = 1/2 for boxcar unless α is given, w = 1 for triangle); converted
neurons to the distance x = v − θ in the membrane's own units, with the
window w = θ_in / T (see `tfmia.snn.network`).

Both also skip their costly tracing where Keras only infers output shapes
(`shape_inference_only`).
"""

from __future__ import annotations

import math
from typing import Optional

import tensorflow as tf

SURROGATES = ("linear", "boxcar", "triangle", "sigmoid", "atan")
SURROGATE_ALPHA = {"linear": 0.3, "sigmoid": 4.0, "atan": 2.0}


def shape_inference_only() -> bool:
  """Whether a layer's call only infers its output's shape: Keras' functional
  construction (building a model, loading a saved one) calls each layer on
  placeholders in a scratch graph that is never run. A spiking layer can
  skip what costs tracing there (the data-threshold initialisation, the
  T-step simulation) and return a tensor of the right shape."""
  graph = tf.compat.v1.get_default_graph()   # a FuncGraph has a name
  return getattr(graph, "name", "").endswith("_scratch_graph")


def check_surrogate(surrogate: str, alpha=None,
                    valid: tuple = SURROGATES) -> None:
  """Raises ValueError, naming the argument, for a bad surrogate or α."""
  if surrogate not in valid:
    raise ValueError(f"`surrogate` must be one of {valid}. "
                     f"Received: surrogate={surrogate!r}")
  if alpha is not None and (not isinstance(alpha, (int, float))
                            or isinstance(alpha, bool) or not alpha > 0):
    raise ValueError("`surrogate_alpha` must be a positive number or None. "
                     f"Received: surrogate_alpha={alpha!r}")


def surrogate_gradient(x, surrogate: str = "linear",
                       alpha: Optional[float] = None, width=None):
  """g(x) (module docstring). `width`: the window half-width w of "boxcar"
  and "triangle" (None: α, else 1/2, for boxcar; 1 for triangle)."""
  check_surrogate(surrogate, alpha)
  a = SURROGATE_ALPHA.get(surrogate) if alpha is None else alpha
  if surrogate == "linear":
    return a * tf.nn.relu(1.0 - tf.abs(x))
  if surrogate == "boxcar":
    if width is None:
      width = 0.5 if alpha is None else alpha
    return tf.cast(tf.abs(x) < width, x.dtype)
  if surrogate == "triangle":
    return tf.nn.relu(1.0 - (tf.abs(x) if width is None else
                             tf.abs(x) / width))
  if surrogate == "sigmoid":
    s = tf.sigmoid(a * x)
    return a * s * (1.0 - s)
  return (a / 2.0) / (1.0 + tf.square(math.pi / 2.0 * a * x))


def heaviside(surrogate: str, alpha, on_equal: bool = False):
  """Binary spikes [x > 0] ([x ≥ 0] with `on_equal`) of a normalised
  distance x, with the surrogate derivative g(x)."""
  @tf.custom_gradient
  def fire(x):
    def grad(dy):
      return dy * surrogate_gradient(x, surrogate, alpha)
    return tf.cast(x >= 0 if on_equal else x > 0, x.dtype), grad
  return fire


def threshold_spike(surrogate: str, alpha):
  """Spikes θ·[v ≥ θ] carrying the threshold; d/dv = g(v − θ) with the
  window `width`; no gradient to θ or the width."""
  @tf.custom_gradient
  def fire(v, theta, width):
    out = theta * tf.cast(v >= theta, v.dtype)

    def grad(dy):
      return (dy * surrogate_gradient(v - theta, surrogate, alpha, width),
              None, None)

    return out, grad

  return fire
