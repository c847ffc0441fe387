"""One model adapter: how every entry point turns a user's model into outputs.

`PrivacyMetrics`, `audit.Target`, `audit.References`, reference folders and
`signals.compute_signals` all query models through `ModelAdapter`, which
returns float64 **logits** in compiled batches. It accepts functional,
`Sequential` and subclassed Keras models, spiking models from `tfmia.snn`,
and plain callables.

Models that end in a softmax (a `Dense(..., activation="softmax")`, an
`Activation("softmax")` or a `Softmax` layer) return probabilities, not
logits. The adapter detects that from the model's last layer and returns
log-probabilities instead, which are logits of the same distribution
(softmax(log p) = p), so every signal (loss, confidence, LiRA's φ) is
computed from the right numbers. Where the structure says nothing (a
subclassed model, a callable), the first batch is checked: outputs that are
non-negative and sum to one in every row are taken as probabilities, with a
warning. `outputs="logits"` or `outputs="probabilities"` says it outright.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from tfmia.infra import tf_logging as _tf  # noqa: F401  (quiet retracing warnings)

logger = logging.getLogger(__name__)

OUTPUTS = ("auto", "logits", "probabilities")
# log(0) is -inf; probabilities are clipped to the smallest normal float32
# (what a float32 softmax can return), so log p >= -87.3.
_MIN_PROB = float(np.finfo(np.float32).tiny)


def _is_softmax(activation) -> bool:
  if activation is None:
    return False
  try:
    return tf.keras.activations.serialize(activation) == "softmax"
  except (ValueError, TypeError):
    return getattr(activation, "__name__", "") == "softmax"


def _output_layer(model: tf.keras.Model):
  """The layer that produces the model's output, or None when it cannot be
  read from the structure (a subclassed model)."""
  if isinstance(model, tf.keras.Sequential):
    return model.layers[-1] if model.layers else None
  if getattr(model, "_is_graph_network", False):   # functional
    if len(model.outputs) != 1:
      return None
    return model.outputs[0]._keras_history.layer  # pylint: disable=protected-access
  return None


def log_probabilities(probs) -> np.ndarray:
  """Logits for probabilities: their log, clipped at float32's smallest
  normal (what a float32 softmax can return), so log p >= -87.3."""
  return np.log(np.clip(np.asarray(probs, np.float64), _MIN_PROB, None))


def ends_in_softmax(model) -> Optional[bool]:
  """True if `model`'s last layer applies a softmax, False if it does not,
  None when the structure does not tell (subclassed models, callables).

  Nested models (a `Sequential` inside a functional model) are followed to
  their own last layer.
  """
  if not isinstance(model, tf.keras.Model):
    return None
  layer = _output_layer(model)
  while isinstance(layer, tf.keras.Model):
    layer = _output_layer(layer)
  if layer is None:
    return None
  if isinstance(layer, tf.keras.layers.Softmax):
    return True
  return _is_softmax(getattr(layer, "activation", None))


def looks_like_probabilities(outputs: np.ndarray, atol: float = 1e-3) -> bool:
  """Every row non-negative and summing to one (within `atol`)."""
  outputs = np.asarray(outputs, dtype=np.float64)
  return bool(outputs.ndim == 2 and outputs.shape[1] >= 2 and len(outputs)
              and np.all(outputs >= 0)
              and np.all(np.abs(outputs.sum(axis=1) - 1.0) <= atol))


def _several_outputs(names) -> ValueError:
  return ValueError(
      f"`model` has {len(names)} outputs ({', '.join(names)}); tfmia "
      "attacks one classifier output. Pass the head to attack alone, e.g. "
      "keras.Model(model.inputs, model.outputs[0]).")


def check_single_output(model) -> None:
  """Refuses a Keras model with several outputs (heads), naming them,
  before anything is queried or converted: taking one silently would
  attack, or convert, the wrong head."""
  outputs = getattr(model, "outputs", None) if isinstance(
      model, tf.keras.Model) else None
  if outputs and len(outputs) > 1:
    raise _several_outputs([f"{getattr(o, 'name', '?').split('/')[0]} "
                            f"{tuple(o.shape)}" for o in outputs])


def _single(result):
  """One model output as an array; a list of several (a subclassed model
  with heads) is refused."""
  if isinstance(result, (list, tuple)):
    if len(result) != 1:
      raise _several_outputs([f"output {i} {tuple(np.shape(r))}"
                              for i, r in enumerate(result)])
    result = result[0]
  if isinstance(result, dict):
    if len(result) != 1:
      raise _several_outputs([f"{k} {tuple(np.shape(v))}"
                              for k, v in result.items()])
    result = next(iter(result.values()))
  return result


def _compiled(model) -> Callable:
  """x (float32 array or tensor) -> model outputs, compiled once."""
  check_single_output(model)
  if isinstance(model, tf.keras.Model):
    try:
      shape = tuple(model.input_shape[1:])
      spec = [tf.TensorSpec((None,) + shape, tf.float32)]
    except (AttributeError, ValueError, TypeError):
      spec = None   # an unbuilt subclassed model: trace on first call
    fn = tf.function(lambda x: model(x, training=False), input_signature=spec,
                     autograph=False, reduce_retracing=spec is None)
    return lambda x: np.asarray(_single(fn(tf.cast(x, tf.float32))))
  if callable(model):
    return lambda x: np.asarray(_single(model(np.asarray(x, np.float32))))
  raise TypeError("`model` must be a keras.Model or a callable mapping a "
                  f"batch of inputs to outputs. Received: {type(model).__name__}")


class ModelAdapter:
  """Batched, compiled logits of any model.

  Example:
    logits = ModelAdapter(model)(x)      # (N, C) float64
    ModelAdapter(model).outputs          # "logits" or "probabilities"

  Args:
    model: a keras.Model (functional, Sequential, subclassed, or a spiking
      model from `tfmia.snn`) or a callable x -> outputs.
    outputs: "auto" (detect a softmax), "logits" or "probabilities".
    batch_size: examples per compiled call.
  """

  def __init__(self, model, *, outputs: str = "auto", batch_size: int = 4096):
    if isinstance(model, ModelAdapter):
      raise TypeError("`model` is already a ModelAdapter; use `as_adapter`.")
    if outputs not in OUTPUTS:
      raise ValueError(f"`outputs` must be one of {OUTPUTS}. "
                       f"Received: outputs={outputs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
      raise ValueError("`batch_size` must be a positive int. "
                       f"Received: batch_size={batch_size!r}")
    self.model = model
    self.batch_size = batch_size
    self._forward = _compiled(model)
    self._network = _spiking_network(model)
    # T of a tfmia spiking model (`per_step` then takes one input per step).
    self.timesteps: Optional[int] = (self._network.timesteps
                                     if self._network is not None else None)
    self._per_step = None
    self._declared = outputs
    self.outputs: Optional[str] = None   # resolved on the first call
    if outputs != "auto":
      self.outputs = outputs
    else:
      softmax = ends_in_softmax(model)
      if softmax is not None:
        self.outputs = "probabilities" if softmax else "logits"

  def _resolve(self, first: np.ndarray) -> None:
    if self.outputs is not None:
      return
    if looks_like_probabilities(first):
      logger.warning(
          "The model's outputs are non-negative and sum to 1: taking them as "
          "probabilities. Pass outputs='logits' or outputs='probabilities' "
          "to say so explicitly.")
      self.outputs = "probabilities"
    else:
      self.outputs = "logits"

  def __call__(self, x) -> np.ndarray:
    """(N, C) float64 logits (log-probabilities for a softmax model)."""
    n = int(x.shape[0]) if hasattr(x, "shape") else len(x)
    if n == 0:
      raise ValueError("`x` is empty.")
    out = []
    for i in range(0, n, self.batch_size):
      y = self._forward(x[i:i + self.batch_size])
      if y.ndim != 2:
        raise ValueError("The model must return (batch, classes) outputs. "
                         f"Received: shape={y.shape}")
      self._resolve(y)
      out.append(y)
    out = np.concatenate(out).astype(np.float64)
    if self.outputs == "probabilities":
      out = log_probabilities(out)
    return out


  def per_step(self, x_steps) -> np.ndarray:
    """(N, C) float64 logits of a spiking model given a different input at
    every timestep: `x_steps` is (T, N, H, W, ch)."""
    if self._network is None:
      raise TypeError("`per_step` needs a spiking model from tfmia.snn.")
    x_steps = np.asarray(x_steps, np.float32)
    if x_steps.ndim != 5 or x_steps.shape[0] != self.timesteps:
      raise ValueError(f"`x_steps` must be (T={self.timesteps}, N, H, W, "
                       f"channels). Received: shape={x_steps.shape}")
    if self._per_step is None:
      net = self._network
      self._per_step = tf.function(lambda z: net.run(z, mode="snn")[0],
                                   autograph=False, reduce_retracing=True)
    out = [self._per_step(tf.constant(x_steps[:, i:i + self.batch_size])
                          ).numpy()
           for i in range(0, x_steps.shape[1], self.batch_size)]
    return np.concatenate(out).astype(np.float64)


def _spiking_network(model):
  """The SpikingNetwork layer of a tfmia spiking model, else None."""
  if not isinstance(model, tf.keras.Model):
    return None
  from tfmia.snn.network import SpikingNetwork
  for layer in model.layers:
    if isinstance(layer, SpikingNetwork):
      return layer
  return None


def as_adapter(model, *, outputs: str = "auto",
               batch_size: int = 4096) -> ModelAdapter:
  """`model` as a ModelAdapter; an adapter is returned as it is."""
  if isinstance(model, ModelAdapter):
    return model
  return ModelAdapter(model, outputs=outputs, batch_size=batch_size)


def predict_logits(model, x, *, outputs: str = "auto",
                   batch_size: int = 4096) -> np.ndarray:
  """(N, C) float64 logits of `model` on `x`, in compiled batches."""
  return as_adapter(model, outputs=outputs, batch_size=batch_size)(x)
