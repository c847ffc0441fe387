"""Fast per-example gradient clipping for DP-SGD ("ghost" / book-keeping
clipping), so that a DP epoch of a conv net costs a small multiple of a
plain one.

DP-SGD needs each example's gradient norm, not each example's gradient. For
a layer whose pre-activation is z = A·W (a Dense layer, or a Conv2D on the
patches A of its input), example i's weight gradient is A_iᵀ G_i, where G_i
is the gradient of the summed loss with respect to z_i. Its squared norm is
either summed directly, ‖A_iᵀ G_i‖² (cost P·K·C per example for P positions,
K patch features and C filters), or as the "ghost norm"
Σ_pq (A_ip·A_iq)(G_ip·G_iq) (cost P²·(K+C)), whichever is cheaper for the
layer (Goodfellow 2015; Li et al. 2021; Bu et al. 2022). BatchNormalization's
γ and β have per-example gradients Σ_p x̂_ip G_ip and Σ_p G_ip.

One forward pass, two backward passes: the first gives every G and hence
every example's norm n_i; the second is the gradient of Σ_i c_i·loss_i with
c_i = min(1, clip / n_i), which is the sum of the clipped per-example
gradients. Then Gaussian noise of std σ·clip, divided by the batch size, as
tensorflow-privacy's DP optimizers do. tensorflow-privacy 0.9.0 ships the
Dense rule (used here) but no Conv2D or BatchNormalization rule, and its
`DPModel` runs two forward passes, the first in inference mode, so with
BatchNormalization or Dropout its norms are not those of the gradients it
clips; hence this module.

BatchNormalization runs on its moving statistics, which stay frozen (γ and
β still learn). With the batch's statistics, example i's loss would depend
on every other example, so no per-example clipping could bound one
example's influence (Opacus refuses BatchNorm for this reason);
tensorflow-privacy's vectorised optimizers clip such coupled gradients
regardless. Dropout is active. With `num_microbatches=m`, the clipped unit
is the mean loss of each of m consecutive microbatches.
"""

from __future__ import annotations

from typing import Optional

import tensorflow as tf

_LAYERS = (tf.keras.layers.Dense, tf.keras.layers.Conv2D,
           tf.keras.layers.BatchNormalization)


def unsupported_layers(model: tf.keras.Model) -> list:
  """Names of the trainable layers fast clipping has no rule for (the model
  then needs tensorflow-privacy's vectorised optimizer). Empty when every
  trainable layer is a Dense, a channels-last ungrouped Conv2D (not a
  subclass such as Conv2DTranspose) or a last-axis BatchNormalization, and
  the model is a functional graph."""
  if not hasattr(model, "_nodes_by_depth"):
    return [f"{model.name} (not a functional model)"]
  bad = []
  for layer in model.layers:
    if not layer.trainable_weights:
      continue
    if hasattr(layer, "_nodes_by_depth"):
      bad.extend(unsupported_layers(layer))
      continue
    kind = type(layer)
    ok = kind in _LAYERS
    if kind is tf.keras.layers.Conv2D:
      ok = layer.groups == 1 and layer.data_format == "channels_last"
    if kind is tf.keras.layers.BatchNormalization:
      ok = (list(layer.axis) == [len(layer.input_shape) - 1]
            and not layer.renorm and layer.virtual_batch_size is None)
    if not ok:
      bad.append(f"{layer.name} ({kind.__name__})")
    elif getattr(layer, "activation", None) is not None and (
        getattr(layer.activation, "__name__", "") == "softmax"):
      # Its per-example norms need the pre-softmax outputs (logits).
      bad.append(f"{layer.name} (a softmax output)")
  return bad


def _units(t: tf.Tensor, num_microbatches: Optional[int]) -> tf.Tensor:
  """[B, ...] -> [units, rows, features]: each clipped unit's rows."""
  b = tf.shape(t)[0]
  feat = t.shape[-1]
  n = b if num_microbatches is None else num_microbatches
  return tf.reshape(t, [n, -1, feat])


def matmul_sqr_norms(a: tf.Tensor, g: tf.Tensor,
                     num_microbatches: Optional[int]) -> tf.Tensor:
  """‖Σ_p a_pᵀ g_p‖² per clipped unit, for a = [B, P, K] and g = [B, P, C]
  (P positions): per example, directly or as a ghost norm, whichever
  costs fewer multiplications; per microbatch, directly."""
  p, k, c = a.shape[1], a.shape[2], g.shape[2]
  if num_microbatches is None and p is not None and \
      p * p * (k + c) < p * k * c:
    aa = tf.matmul(a, a, transpose_b=True)
    gg = tf.matmul(g, g, transpose_b=True)
    return tf.reduce_sum(aa * gg, axis=[1, 2])
  grad = tf.matmul(_units(a, num_microbatches), _units(g, num_microbatches),
                   transpose_a=True)
  return tf.reduce_sum(tf.square(grad), axis=[1, 2])


def _sum_sqr(per_example: tf.Tensor, num_microbatches) -> tf.Tensor:
  """per_example [B, C] -> squared norm of each unit's sum, [units]."""
  s = tf.reduce_sum(_units(per_example, num_microbatches), axis=1)
  return tf.reduce_sum(tf.square(s), axis=1)


def _pre_activation(layer, x):
  act = layer.activation
  layer.activation = None
  try:
    z = layer(x)
  finally:
    layer.activation = act
  return z, (act(z) if act is not None else z)


def _conv2d(layer, x, kwargs, tape, m):
  del kwargs
  z, out = _pre_activation(layer, x)
  tape.watch(z)
  kh, kw = layer.kernel_size
  sh, sw = layer.strides
  dh, dw = layer.dilation_rate
  if layer.padding == "causal":
    raise ValueError(f"Layer {layer.name}: causal padding is not supported.")

  def sqr(g):
    patches = tf.image.extract_patches(
        x, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1],
        rates=[1, dh, dw, 1], padding=layer.padding.upper())
    b = tf.shape(x)[0]
    h, w = patches.shape[1], patches.shape[2]
    p = -1 if h is None or w is None else h * w   # static when known
    a = tf.reshape(patches, [b, p, patches.shape[-1]])
    gr = tf.reshape(g, [b, p, g.shape[-1]])
    norms = matmul_sqr_norms(a, gr, m)
    if layer.use_bias:
      norms += _sum_sqr(tf.reduce_sum(gr, axis=1), m)
    return norms
  return z, out, sqr


def _dense(layer, x, kwargs, tape, m):
  del kwargs
  if len(x.shape) != 2:
    raise ValueError(f"Layer {layer.name}: fast clipping needs 2-D inputs to "
                     f"Dense. Received: shape {x.shape}")
  z, out = _pre_activation(layer, x)
  tape.watch(z)

  def sqr(g):
    norms = matmul_sqr_norms(x[:, None, :], g[:, None, :], m)
    if layer.use_bias:
      norms += _sum_sqr(g, m)
    return norms
  return z, out, sqr


def _batchnorm(layer, x, kwargs, tape, m):
  out = layer(x, **kwargs)
  tape.watch(out)
  if kwargs.get("training"):
    raise ValueError(f"Layer {layer.name}: fast clipping needs "
                     "BatchNormalization in inference mode.")
  mean, var = layer.moving_mean, layer.moving_variance
  xhat = tf.stop_gradient((x - mean) * tf.math.rsqrt(var + layer.epsilon))
  b = tf.shape(x)[0]

  def sqr(g):
    gr = tf.reshape(g, [b, -1, g.shape[-1]])
    norms = tf.zeros([b if m is None else m])
    if layer.scale:
      xr = tf.reshape(xhat, [b, -1, g.shape[-1]])
      norms += _sum_sqr(tf.reduce_sum(xr * gr, axis=1), m)
    if layer.center:
      norms += _sum_sqr(tf.reduce_sum(gr, axis=1), m)
    return norms
  return out, out, sqr


_RULES = {tf.keras.layers.Dense: _dense, tf.keras.layers.Conv2D: _conv2d,
          tf.keras.layers.BatchNormalization: _batchnorm}


def clipped_gradients(model: tf.keras.Model, x, y, per_example_loss,
                      l2_norm_clip: float,
                      num_microbatches: Optional[int] = None):
  """The sum over clipped units (examples, or microbatches) of their
  gradients, each clipped to `l2_norm_clip`, in one forward pass.

  Args:
    model: a functional model with no `unsupported_layers`.
    per_example_loss: (y, logits) -> a [batch] vector of losses.

  Returns:
    (summed clipped gradients of `model.trainable_variables`, the logits of
    the training-mode forward pass, each unit's unclipped gradient norm).
  """
  from tensorflow_privacy.privacy.fast_gradient_clipping import (
      gradient_clipping_utils)

  with tf.GradientTape(persistent=True) as tape:
    def generator(layer, args, kwargs):
      kwargs = dict(kwargs)
      if isinstance(layer, tf.keras.layers.BatchNormalization):
        kwargs["training"] = False   # frozen statistics: see the docstring
      elif getattr(layer, "_expects_training_arg", False):
        kwargs["training"] = True
      if not layer.trainable_weights:
        return layer(*args, **kwargs), None
      z, out, sqr = _RULES[type(layer)](layer, args[0], kwargs, tape,
                                        num_microbatches)
      return out, (z, sqr)

    logits, found = gradient_clipping_utils.model_forward_pass(
        model, x, generator_fn=generator)
    losses = per_example_loss(y, logits)
    if num_microbatches is not None:
      losses = tf.reduce_mean(tf.reshape(losses, [num_microbatches, -1]),
                              axis=1)
    summed = tf.reduce_sum(losses)
  found = [f for f in found if f is not None]
  zs = [z for z, _ in found]
  gz = tape.gradient(summed, zs,
                     unconnected_gradients=tf.UnconnectedGradients.ZERO)
  sqr = tf.add_n([f(g) for (_, f), g in zip(found, gz)])
  norms = tf.sqrt(tf.maximum(sqr, 0.0))
  weights = tf.stop_gradient(
      tf.minimum(1.0, l2_norm_clip / tf.maximum(norms, 1e-12)))
  grads = tape.gradient(losses, model.trainable_variables,
                        output_gradients=weights,
                        unconnected_gradients=tf.UnconnectedGradients.ZERO)
  del tape
  return grads, logits, norms


class FastDPModel(tf.keras.Model):
  """The classifier's own functional graph (weights shared with it), with a
  DP-SGD `train_step`: fast clipping (`clipped_gradients`), then the sum
  plus N(0, (σ·clip)²) noise, divided by the number of clipped units, to
  the (plain) optimizer.

  `masks` ({layer name: 0/1 array of its kernel's shape}) keeps pruned
  weights at zero: the noisy gradient is masked before the optimizer
  sees it (so SGD with momentum and Adam never move them) and the masked
  kernels are zeroed at the start. Clipping uses the unmasked gradient's
  norm, which bounds the masked one, so ε is unchanged."""

  def __init__(self, classifier: tf.keras.Model, *, l2_norm_clip: float,
               noise_multiplier: float,
               num_microbatches: Optional[int] = None,
               masks: Optional[dict] = None):
    super().__init__(inputs=classifier.inputs, outputs=classifier.outputs,
                     name=classifier.name)
    bad = unsupported_layers(classifier)
    if bad:
      raise ValueError("Fast DP clipping has no rule for: " + ", ".join(bad))
    self.l2_norm_clip = float(l2_norm_clip)
    self.noise_multiplier = float(noise_multiplier)
    self.num_microbatches = num_microbatches
    self._masks = {}
    layers = {l.name: l for l in classifier.layers}
    for name, mask in (masks or {}).items():
      if name not in layers or not hasattr(layers[name], "kernel"):
        raise ValueError(f"`masks` names {name!r}, which is not a layer "
                         f"with a kernel in {classifier.name!r}.")
      kernel = layers[name].kernel
      if tuple(mask.shape) != tuple(kernel.shape):
        raise ValueError(f"`masks[{name!r}]` has shape {mask.shape}; the "
                         f"kernel has {tuple(kernel.shape)}.")
      m = tf.constant(mask, kernel.dtype)
      kernel.assign(kernel * m)
      self._masks[kernel.ref()] = m

  def _per_example_loss(self, y, logits):
    return tf.keras.losses.sparse_categorical_crossentropy(
        y, logits, from_logits=True)

  def train_step(self, data):
    x, y = data
    y = tf.reshape(tf.cast(y, tf.int64), [-1])
    grads, logits, _ = clipped_gradients(
        self, x, y, self._per_example_loss, self.l2_norm_clip,
        self.num_microbatches)
    units = tf.cast(self.num_microbatches or tf.shape(y)[0], tf.float32)
    std = self.noise_multiplier * self.l2_norm_clip
    grads = [(g + tf.random.normal(tf.shape(g), stddev=std)) / units
             for g in grads]
    grads = [g * self._masks[v.ref()] if v.ref() in self._masks else g
             for g, v in zip(grads, self.trainable_variables)]
    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
    self.compiled_loss(y, logits)
    self.compiled_metrics.update_state(y, logits)
    return {m.name: m.result() for m in self.metrics}
