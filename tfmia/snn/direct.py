"""Directly trained spiking networks: input encoders, IF/LIF neurons with
surrogate gradients, and the Keras layers that make a spiking model an
ordinary functional `keras.Model` (trainable by `train_model`, attackable
through ART, savable as weights).

Time is folded into the batch: every tensor between `SpikeEncoder` and
`TimeSum` is (T·B, ...), time-major, so a Conv2D, Dense or pooling layer
processes all T timesteps in one call, and only the neurons' membrane
update runs step by step. For a feed-forward network this is exactly the
step-by-step simulation, and backpropagation through it is BPTT in one
compiled graph.

Neurons (HIRE-SNN's `vgg_spiking_nodewise.py`), per timestep t, for a layer
with threshold θ and leak λ (IF: λ = 1, fixed):
    u ← λ·u + I_t;   x = u/θ − 1;   s_t = [x > 0];
    reset by subtraction: u ← u − θ·s_t;  to zero: u ← u·(1 − s_t).
Spikes are binary. The spike's derivative is a surrogate g(x) on the
normalised distance x (`tfmia.snn.neurons`, the one copy shared with
converted networks; "linear", HIRE-SNN's, by default); no gradient flows
through the reset (its s_t is detached, as in HIRE-SNN and SpikingJelly's
`detach_reset=True`), while θ still gets its gradient through x and
through θ·s_t.

Encoders (grad-obf-snn's `source/encoder.py`, SpikingJelly's), on pixels
x in [0, 1], giving T input frames:
    direct   x at every step (analog input; HIRE-SNN's).
    poisson  s_t = [u_t ≤ x], u_t ~ U[0, 1).
    latency  one spike at t_f = round((T − 1)(1 − x)) (linear latency).
    phase    weighted phase coding, K = 8 phases: the pixel value p =
             255·x divided by 256, as grad-obf-snn maps it (`x/256.`),
             clipped to [0, 1 − 2⁻ᴷ]; s at phase k is bit k of its binary
             expansion (weights 1/2, 1/4, ...), repeated with period K.
             On integer pixels this is p's 8 bits, as dividing by 255
             would give too; on perturbed (non-integer) pixels the two
             differ, so `phase_divisor=255` keeps the other choice.
Only `direct` passes a true gradient. `poisson` passes a straight-through
gradient (d s/d x = 1, the derivative of E[s] = x, so averaging gradients
over draws is exact EOT); `latency` and `phase` pass none, as in
SpikingJelly: their input gradient is zero, which is gradient masking.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf

from tfmia.snn import neurons
from tfmia.snn.neurons import SURROGATES, surrogate_gradient

ENCODERS = ("direct", "poisson", "latency", "phase")
NEURONS = ("if", "lif")
RESETS = ("subtract", "zero")
PHASE_BITS = 8
# grad-obf-snn maps 8-bit pixels p to p/256 before phase coding.
PHASE_DIVISOR = 256


def check_spiking(*, timesteps=None, encoder=None, neuron=None, reset=None,
                  surrogate=None) -> None:
  """Raises ValueError, naming the argument, for a bad spiking option."""
  if timesteps is not None and (isinstance(timesteps, bool) or not isinstance(
      timesteps, int) or timesteps < 1):
    raise ValueError("`timesteps` must be a positive int. "
                     f"Received: timesteps={timesteps!r}")
  for name, value, valid in (("encoder", encoder, ENCODERS),
                             ("neuron", neuron, NEURONS),
                             ("reset", reset, RESETS),
                             ("surrogate", surrogate, SURROGATES)):
    if value is not None and value not in valid:
      raise ValueError(f"`{name}` must be one of {valid}. "
                       f"Received: {name}={value!r}")


# ---------------------------------------------------------------------------
# Encoders


def encode(x, timesteps: int, encoder: str = "direct", *,
           seed: Optional[int] = None, phase_bits: int = PHASE_BITS,
           phase_divisor: int = PHASE_DIVISOR):
  """(B, ...) pixels in [0, 1] -> (T, B, ...) input frames. `seed` makes
  Poisson coding reproducible (stateless draws); None draws from the global
  generator (fresh each call, seeded by `tf.keras.utils.set_random_seed`).
  `phase_divisor`: phase coding encodes 255·x / `phase_divisor` (256:
  grad-obf-snn's; 255: x itself)."""
  check_spiking(timesteps=timesteps, encoder=encoder)
  if phase_divisor not in (255, 256):
    raise ValueError("`phase_divisor` must be 256 (grad-obf-snn's p/256) or "
                     f"255 (x itself). Received: phase_divisor={phase_divisor!r}")
  x = tf.convert_to_tensor(x, tf.float32)
  frames = tf.repeat(x[None], timesteps, axis=0)
  if encoder == "direct":
    return frames
  if encoder == "poisson":
    shape = tf.shape(frames)
    u = (tf.random.stateless_uniform(shape, [seed, 0]) if seed is not None
         else tf.random.uniform(shape))
    s = tf.cast(u <= frames, tf.float32)
    return frames + tf.stop_gradient(s - frames)   # straight-through
  if encoder == "latency":
    t_f = tf.round((timesteps - 1) * (1.0 - tf.clip_by_value(x, 0.0, 1.0)))
    t = tf.reshape(tf.range(timesteps, dtype=tf.float32),
                   [timesteps] + [1] * len(x.shape))
    return tf.stop_gradient(tf.cast(tf.equal(t, t_f[None]), tf.float32))
  # phase: the pixel value p = 255·x (snapped to the integer it is within
  # float32's scaling error of, so 8-bit pixels code as their own bits),
  # divided by `phase_divisor`.
  p = x * 255.0
  p = tf.where(tf.abs(p - tf.round(p)) < 1e-3, tf.round(p), p)
  rest = tf.clip_by_value(p / float(phase_divisor), 0.0,
                          1.0 - 2.0 ** -phase_bits)
  bits = []
  for k in range(phase_bits):
    w = 2.0 ** -(k + 1)
    b = tf.cast(rest >= w, tf.float32)
    rest = rest - w * b
    bits.append(b)
  return tf.stop_gradient(tf.stack([bits[t % phase_bits]
                                    for t in range(timesteps)]))


# ---------------------------------------------------------------------------
# Neurons


AMPLITUDES = ("binary", "threshold")


def lif_simulate(currents, threshold, leak=1.0, *, reset: str = "subtract",
                 surrogate: str = "linear", alpha: Optional[float] = None,
                 amplitude: str = "binary", v_init=0.0,
                 fire_on_equal: bool = False):
  """Runs one layer of neurons over (T, ...) input currents. Returns the
  (T, ...) spikes and the (T, ...) membrane potentials after each step's
  reset.

  `amplitude="threshold"` makes a spike carry θ (a converted ANN's neurons,
  `tfmia.snn`: rates then approximate the ANN's activations); `v_init` is
  the membrane's initial potential; `fire_on_equal` fires at u = θ too."""
  check_spiking(reset=reset, surrogate=surrogate)
  if amplitude not in AMPLITUDES:
    raise ValueError(f"`amplitude` must be one of {AMPLITUDES}. "
                     f"Received: amplitude={amplitude!r}")
  currents = tf.convert_to_tensor(currents, tf.float32)
  fire = neurons.heaviside(surrogate, alpha, fire_on_equal)
  u = tf.zeros_like(currents[0]) + v_init
  spikes, trace = [], []
  # Unstacked rather than indexed: the gradient of T slices `currents[t]`
  # is T full-size StridedSliceGrads summed (a third of a training step at
  # T = 4); the gradient of unstack is one stack.
  for current in tf.unstack(currents, num=currents.shape[0]):
    u = leak * u + current
    s = fire(u / threshold - 1.0)
    held = tf.stop_gradient(s)
    u = u - threshold * held if reset == "subtract" else u * (1.0 - held)
    spikes.append(s * threshold if amplitude == "threshold" else s)
    trace.append(u)
  return tf.stack(spikes), tf.stack(trace)


# ---------------------------------------------------------------------------
# Keras layers (time folded into the batch, time-major)


def _unfold(x, timesteps):
  return tf.reshape(x, tf.concat([[timesteps, -1], tf.shape(x)[1:]], 0))


def _fold(x):
  return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))


class SpikeEncoder(tf.keras.layers.Layer):
  """(B, ...) pixels -> (T·B, ...) encoded frames, time-major."""

  def __init__(self, timesteps: int, encoder: str = "direct",
               phase_bits: int = PHASE_BITS,
               phase_divisor: int = PHASE_DIVISOR, **kwargs):
    super().__init__(**kwargs)
    check_spiking(timesteps=timesteps, encoder=encoder)
    self.timesteps, self.encoder, self.phase_bits = (timesteps, encoder,
                                                     phase_bits)
    self.phase_divisor = phase_divisor

  @tf.autograph.experimental.do_not_convert
  def call(self, x, training=None):   # (the wrapper hides the signature)
    del training
    frames = encode(x, self.timesteps, self.encoder,
                    phase_bits=self.phase_bits,
                    phase_divisor=self.phase_divisor)
    out = _fold(frames)
    out.set_shape([None] + list(x.shape[1:]))
    return out

  def get_config(self):
    return {**super().get_config(), "timesteps": self.timesteps,
            "encoder": self.encoder, "phase_bits": self.phase_bits,
            "phase_divisor": self.phase_divisor}


def _percentile(x, q: float, max_values: int = 1 << 20):
  """The q-th percentile of x's entries (a strided subsample of at most
  `max_values` of them)."""
  flat = tf.reshape(x, [-1])
  n = tf.size(flat)
  step = tf.maximum(1, n // max_values)
  flat = tf.sort(flat[::step])
  k = tf.cast(tf.round(q / 100.0 * tf.cast(tf.size(flat) - 1, tf.float32)),
              tf.int32)
  return flat[k]


class LIF(tf.keras.layers.Layer):
  """IF or LIF neurons on (T·B, ...) input currents: (T·B, ...) binary
  spikes. One threshold and one leak per layer, each optionally trainable
  (HIRE-SNN's per-layer `threshold` and `leak` parameters).

  `threshold=None` initialises it from the data at the layer's first call
  on real inputs: `init_scale` times the `init_percentile`-th percentile of
  its input currents (the hybrid-snn-conversion rule HIRE-SNN builds on:
  0.7 × the 99.7th percentile). Layers run in order, so each is
  initialised on the spikes of the already initialised ones before it. A
  saved model keeps its thresholds (the `initialized` flag is a weight)."""

  def __init__(self, timesteps: int, *, neuron: str = "lif",
               threshold: Optional[float] = 1.0, leak: float = 1.0,
               init_percentile: float = 99.7, init_scale: float = 0.7,
               train_threshold: bool = True, train_leak: bool = True,
               reset: str = "subtract", surrogate: str = "linear",
               surrogate_alpha: Optional[float] = None,
               amplitude: str = "binary", v_init: float = 0.0,
               fire_on_equal: bool = False, **kwargs):
    super().__init__(**kwargs)
    check_spiking(timesteps=timesteps, neuron=neuron, reset=reset,
                  surrogate=surrogate)
    if amplitude not in AMPLITUDES:
      raise ValueError(f"`amplitude` must be one of {AMPLITUDES}. "
                       f"Received: amplitude={amplitude!r}")
    self.amplitude, self.v_init = amplitude, float(v_init)
    self.fire_on_equal = bool(fire_on_equal)
    if threshold is not None and not threshold > 0:
      raise ValueError("`threshold` must be > 0 or None (from the data). "
                       f"Received: threshold={threshold!r}")
    if not 0 < leak <= 1:
      raise ValueError(f"`leak` must be in (0, 1]. Received: {leak!r}")
    self.timesteps, self.neuron, self.reset = timesteps, neuron, reset
    self.init_threshold = None if threshold is None else float(threshold)
    self.init_leak = float(leak)
    self.init_percentile, self.init_scale = init_percentile, init_scale
    self.train_threshold, self.train_leak = train_threshold, train_leak
    self.surrogate, self.surrogate_alpha = surrogate, surrogate_alpha

  def build(self, input_shape):
    const = tf.keras.initializers.Constant
    self.threshold = self.add_weight(
        name="threshold", shape=(),
        initializer=const(self.init_threshold or 1.0),
        trainable=self.train_threshold)
    self.initialized = self.add_weight(
        name="initialized", shape=(), trainable=False,
        initializer=const(0.0 if self.init_threshold is None else 1.0))
    is_lif = self.neuron == "lif"
    self.leak = self.add_weight(
        name="leak", shape=(), initializer=const(self.init_leak if is_lif
                                                 else 1.0),
        trainable=is_lif and self.train_leak)

  def _data_threshold(self, x):
    def init():
      p = _percentile(x, self.init_percentile)
      self.threshold.assign(self.init_scale * tf.maximum(p, 1e-6))
      self.initialized.assign(1.0)
      return tf.constant(0.0)
    done = tf.cond(self.initialized > 0, lambda: tf.constant(0.0), init)
    with tf.control_dependencies([done]):
      return tf.identity(self.threshold)

  # Plain TensorFlow (explicit tf.cond, a Python loop over the static T):
  # autograph would only slow the tracing (a quarter-second per layer).
  @tf.autograph.experimental.do_not_convert
  def call(self, x, training=None):   # (the wrapper hides the signature)
    del training
    # (Not traced where Keras only infers shapes: a sort and a tf.cond,
    # about a third of building a spiking VGG.)
    threshold = (self._data_threshold(x) if self.init_threshold is None
                 and not neurons.shape_inference_only() else self.threshold)
    spikes, _ = lif_simulate(_unfold(x, self.timesteps), threshold,
                             self.leak, reset=self.reset,
                             surrogate=self.surrogate,
                             alpha=self.surrogate_alpha,
                             amplitude=self.amplitude, v_init=self.v_init,
                             fire_on_equal=self.fire_on_equal)
    out = _fold(spikes)
    out.set_shape(x.shape)
    return out

  def get_config(self):
    return {**super().get_config(), "timesteps": self.timesteps,
            "neuron": self.neuron, "threshold": self.init_threshold,
            "init_percentile": self.init_percentile,
            "init_scale": self.init_scale,
            "leak": self.init_leak, "train_threshold": self.train_threshold,
            "train_leak": self.train_leak, "reset": self.reset,
            "surrogate": self.surrogate,
            "surrogate_alpha": self.surrogate_alpha,
            "amplitude": self.amplitude, "v_init": self.v_init,
            "fire_on_equal": self.fire_on_equal}


def gated_max_pool(x, pool_size):
  """Spiking max pooling on (T, B, H, W, C) spikes: in each window, the
  spikes of the unit with the most spikes so far (ties: the first), with
  strides equal to the pool size and 'valid' padding."""
  ph, pw = pool_size
  t, b, ch = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[4]
  hs, ws = x.shape[2] // ph, x.shape[3] // pw
  x = x[:, :, :hs * ph, :ws * pw]
  win = tf.reshape(x, [t, b, hs, ph, ws, pw, ch])
  win = tf.transpose(win, [0, 1, 2, 4, 6, 3, 5])
  win = tf.reshape(win, [t, b, hs, ws, ch, ph * pw])
  cum = tf.cumsum(tf.cast(win > 0, win.dtype), axis=0)
  pick = tf.one_hot(tf.argmax(cum, axis=-1), ph * pw, dtype=win.dtype)
  return tf.reduce_sum(win * pick, axis=-1)


class GatedMaxPool(tf.keras.layers.Layer):
  """`gated_max_pool` on (T·B, H, W, C) spikes, time folded into the batch
  (a converted network's max pooling, `tfmia.snn`'s max_pool="gate")."""

  def __init__(self, timesteps: int, pool_size=(2, 2), **kwargs):
    super().__init__(**kwargs)
    self.timesteps, self.pool_size = timesteps, tuple(pool_size)

  @tf.autograph.experimental.do_not_convert
  def call(self, x, training=None):   # (the wrapper hides the signature)
    del training
    out = _fold(gated_max_pool(_unfold(x, self.timesteps), self.pool_size))
    ph, pw = self.pool_size
    out.set_shape([None, x.shape[1] // ph, x.shape[2] // pw, x.shape[3]])
    return out

  def get_config(self):
    return {**super().get_config(), "timesteps": self.timesteps,
            "pool_size": list(self.pool_size)}


class TimeDropout(tf.keras.layers.Layer):
  """Dropout whose mask is drawn once per forward pass and kept for all T
  steps (HIRE-SNN's `self.mask`)."""

  def __init__(self, timesteps: int, rate: float, **kwargs):
    super().__init__(**kwargs)
    self.timesteps, self.rate = timesteps, float(rate)

  def call(self, x, training=None):
    if not training or self.rate == 0:
      return x
    seq = _unfold(x, self.timesteps)
    keep = tf.cast(tf.random.uniform(tf.shape(seq)[1:]) >= self.rate,
                   x.dtype) / (1.0 - self.rate)
    out = _fold(seq * keep[None])
    out.set_shape(x.shape)
    return out

  def get_config(self):
    return {**super().get_config(), "timesteps": self.timesteps,
            "rate": self.rate}


class TimeSum(tf.keras.layers.Layer):
  """(T·B, k) -> (B, k): the output layer's membrane potential accumulated
  over T (HIRE-SNN's output; no spikes, no division by T), or with
  `mean=True` its mean over T (SpikingJelly's `.mean(0)`, grad-obf-snn's)."""

  def __init__(self, timesteps: int, mean: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.timesteps, self.mean = timesteps, bool(mean)

  def call(self, x):
    seq = _unfold(x, self.timesteps)
    out = tf.reduce_mean(seq, 0) if self.mean else tf.reduce_sum(seq, 0)
    out.set_shape([None] + list(x.shape[1:]))
    return out

  def get_config(self):
    return {**super().get_config(), "timesteps": self.timesteps,
            "mean": self.mean}


def ann_twin(snn: tf.keras.Model, name: Optional[str] = None
             ) -> tf.keras.Model:
  """The spiking model's architecture as an ANN, freshly initialised: LIF
  -> ReLU, TimeDropout -> Dropout, no encoder and no TimeSum. Its logits
  are the per-step output (the SNN's is the sum over T). A sequential
  (single-path) model only."""
  L = tf.keras.layers
  inp = tf.keras.Input(snn.input_shape[1:], name="input")
  x = inp
  for layer in snn.layers[1:]:
    if isinstance(layer, (SpikeEncoder, TimeSum)):
      continue
    if isinstance(layer, LIF):
      x = L.ReLU(name=layer.name + "_relu")(x)
    elif isinstance(layer, TimeDropout):
      x = L.Dropout(layer.rate, name=layer.name)(x)
    else:
      x = layer.__class__.from_config(layer.get_config())(x)
  return tf.keras.Model(inp, x, name=name or snn.name + "_ann")


CUSTOM_OBJECTS = {"SpikeEncoder": SpikeEncoder, "LIF": LIF,
                  "TimeDropout": TimeDropout, "TimeSum": TimeSum,
                  "GatedMaxPool": GatedMaxPool}


def spiking_rate(model: tf.keras.Model, x) -> dict:
  """The mean spike rate of each LIF layer on inputs x: {layer: rate}."""
  lifs = [l for l in model.layers if isinstance(l, LIF)]
  probe = tf.keras.Model(model.inputs, [l.output for l in lifs])
  outs = probe(np.asarray(x, np.float32), training=False)
  outs = outs if isinstance(outs, list) else [outs]
  return {l.name: float(tf.reduce_mean(o)) for l, o in zip(lifs, outs)}
