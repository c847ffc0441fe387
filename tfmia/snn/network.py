"""tfmia's spike simulator: integrate-and-fire neurons with reset by
subtraction, all T timesteps in one compiled graph, on whole batches.

`SpikingNetwork` is a Keras layer holding the converted graph; the model
`tfmia.snn.convert` returns is `keras.Model(input, SpikingNetwork(...)(input))`
and outputs logits: the mean over T of the output layer.

The simulation is time-batched: each layer processes all T timesteps of its
input at once (time folded into the batch), and only the neurons' membrane
update runs step by step (a `tf.scan`). For a feed-forward graph this is
exactly the step-by-step simulation, and it turns T small convolutions into
one large one. With direct (analog) input coding the input is the same every
step, so everything before the first neurons runs once.

Neuron dynamics, per timestep t (θ the layer's threshold):
    v ← v + I_t;   s_t = θ·[v ≥ θ];   v ← v − s_t
with v_0 = the layer's initial potential. A spike carries θ, so rates
approximate the ANN's activations without rescaling weights.

In training the spike's derivative d s_t / d v is a surrogate g(v − θ)
(`surrogate`, serialised with the network); no gradient flows through the
reset (v ← v − s_t passes d v / d v = 1), as in the reference code
(data_driven_init's `spiking_layer_ours.py: SpikeAct`, which MIA_SNN uses).
With θ_in = θ − v_0 the input threshold (the reference's θ_in) and
w = θ_in / T:
    boxcar   g(x) = [|x| < w]                      (the reference's; default)
    triangle g(x) = max(0, 1 − |x| / w)
    sigmoid  g(x) = α σ(αx)(1 − σ(αx))              (α = 4 by default)
    atan     g(x) = (α/2) / (1 + (π/2 · α x)²)      (SpikingJelly's ATan, α = 2)
The sigmoid and arctan forms act on x in the membrane's own units, as
SpikingJelly's do. A layer whose initial potential is at or above θ has no
input threshold; its window uses w = θ / T.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import tensorflow as tf

from tfmia.snn import neurons

INPUT_CODINGS = ("direct", "poisson")
SURROGATES = ("boxcar", "triangle", "sigmoid", "atan")
MAX_POOL_MODES = ("gate", "avg")
_UNROLL_MAX = 64   # longer simulations run the membrane update in a tf.scan


def check_options(timesteps, input_coding: str, max_pool: str) -> None:
  """Raises ValueError, naming the argument, for a bad simulation option."""
  if not isinstance(timesteps, int) or timesteps < 1:
    raise ValueError(f"`timesteps` must be a positive int. "
                     f"Received: timesteps={timesteps!r}")
  if input_coding not in INPUT_CODINGS:
    raise ValueError(f"`input_coding` must be one of {INPUT_CODINGS}. "
                     f"Received: input_coding={input_coding!r}")
  if max_pool not in MAX_POOL_MODES:
    raise ValueError(f"`max_pool` must be one of {MAX_POOL_MODES}. "
                     f"Received: max_pool={max_pool!r}")


def check_surrogate(surrogate: str, alpha) -> None:
  """Raises ValueError, naming the argument, for a surrogate converted
  neurons do not take (HIRE-SNN's "linear" is defined on a normalised
  distance) or a bad α."""
  neurons.check_surrogate(surrogate, alpha, SURROGATES)


def surrogate_gradient(x, width, surrogate: str = "boxcar",
                       alpha: Optional[float] = None):
  """g(x): the surrogate derivative of a spike at distance x = v − θ from
  the threshold, window half-width `width` (`tfmia.snn.neurons`)."""
  return neurons.surrogate_gradient(x, surrogate, alpha, width)


@dataclasses.dataclass
class _Val:
  """A node's value: (B, ...) when `static` (same every timestep), else
  (T, B, ...)."""

  x: tf.Tensor
  static: bool


@dataclasses.dataclass(frozen=True)
class SimulationResult:
  """What one simulated batch produced.

  Attributes:
    logits: (B, C) mean over T of the output layer.
    spike_counts: neuron layer name -> (B,) spikes over all units and steps.
    sops: (B,) synaptic operations: spike events arriving at Conv2D / Dense
      synapses times their fan-out.
    input_macs: multiply-accumulates of synapses fed by the analog input
      (computed once with direct coding).
    ann_macs: the ANN's multiply-accumulates per example, for comparison.
  """

  logits: np.ndarray
  spike_counts: dict
  sops: np.ndarray
  input_macs: float
  ann_macs: float


def _merge(x):
  """(T, B, ...) -> (T·B, ...)."""
  s = tf.shape(x)
  return tf.reshape(x, tf.concat([[s[0] * s[1]], s[2:]], 0))


def _split(x, t):
  s = tf.shape(x)
  return tf.reshape(x, tf.concat([[t, s[0] // t], s[1:]], 0))


@tf.keras.utils.register_keras_serializable(package="tfmia")
class SpikingNetwork(tf.keras.layers.Layer):
  """The converted network as one Keras layer. See the module docstring.

  Args:
    graph: node specs from `tfmia.snn.graph.parse` (JSON-able; synapses carry
      "kernel_shape", neurons "threshold" and "v_init").
    timesteps: T, the simulation length.
    input_coding: "direct" (analog current every step) or "poisson" (rate
      coding: at each step a pixel spikes with probability equal to its value,
      which must be in [0, 1]).
    max_pool: "gate" (pass the spikes of the unit with the most spikes so far
      in each window) or "avg" (average pooling).
    seed: seeds Poisson input (stateless: same input, same spikes).
    surrogate: the spike's surrogate derivative in training, one of
      SURROGATES (see the module docstring); "boxcar" is the reference's.
    surrogate_alpha: the sharpness α of "sigmoid" and "atan" (None: 4 and 2).
  """

  def __init__(self, graph, timesteps: int, input_coding: str = "direct",
               max_pool: str = "gate", seed: int = 0,
               surrogate: str = "boxcar",
               surrogate_alpha: Optional[float] = None, **kwargs):
    super().__init__(**kwargs)
    check_options(timesteps, input_coding, max_pool)
    check_surrogate(surrogate, surrogate_alpha)
    self.surrogate = surrogate
    self.surrogate_alpha = (None if surrogate_alpha is None
                            else float(surrogate_alpha))
    self.graph = [dict(n, config=dict(n.get("config", {}))) for n in graph]
    self.timesteps = timesteps
    self.input_coding = input_coding
    self.max_pool = max_pool
    self.seed = int(seed)
    self.output_node = self.graph[-1]["name"]
    self._vars = {}
    for n in self.graph:
      c = n["config"]
      if n["kind"] in ("conv", "dense"):
        shape = tuple(c["kernel_shape"])
        self._vars[n["name"] + "/kernel"] = self.add_weight(
            name=n["name"] + "/kernel", shape=shape, initializer="zeros",
            trainable=True)
        self._vars[n["name"] + "/bias"] = self.add_weight(
            name=n["name"] + "/bias", shape=(shape[-1],), initializer="zeros",
            trainable=True)
      elif n["kind"] == "batchnorm":
        shape = (int(c["channels"]),)
        for k, init, trainable in (("gamma", "ones", True),
                                   ("beta", "zeros", True),
                                   ("moving_mean", "zeros", False),
                                   ("moving_variance", "ones", False)):
          self._vars[f"{n['name']}/{k}"] = self.add_weight(
              name=f"{n['name']}/{k}", shape=shape, initializer=init,
              trainable=trainable)
      elif n["kind"] == "neuron":
        for k in ("threshold", "v_init"):
          self._vars[f"{n['name']}/{k}"] = self.add_weight(
              name=f"{n['name']}/{k}", shape=(), trainable=False,
              initializer=tf.keras.initializers.Constant(float(c[k])))

  # ---- configuration -------------------------------------------------------

  def get_config(self):
    graph = []
    for n in self.graph:
      n = dict(n, config=dict(n["config"]))
      if n["kind"] == "neuron":
        for k in ("threshold", "v_init"):
          n["config"][k] = float(self._vars[f"{n['name']}/{k}"].numpy())
      graph.append(n)
    return dict(super().get_config(), graph=graph, timesteps=self.timesteps,
                input_coding=self.input_coding, max_pool=self.max_pool,
                seed=self.seed, surrogate=self.surrogate,
                surrogate_alpha=self.surrogate_alpha)

  def neuron_names(self) -> list[str]:
    return [n["name"] for n in self.graph if n["kind"] == "neuron"]

  def thresholds(self) -> dict:
    """Neuron layer name -> (threshold, initial potential)."""
    return {n: (float(self._vars[n + "/threshold"].numpy()),
                float(self._vars[n + "/v_init"].numpy()))
            for n in self.neuron_names()}

  def set_thresholds(self, values: dict) -> None:
    for name, (theta, v_init) in values.items():
      self._vars[name + "/threshold"].assign(theta)
      self._vars[name + "/v_init"].assign(v_init)

  def set_synapses(self, params: dict) -> None:
    """params: node name -> {"kernel": array, "bias": array} for synapses,
    {"gamma", "beta", "moving_mean", "moving_variance"} for batchnorm."""
    for name, p in params.items():
      for k, value in p.items():
        self._vars[f"{name}/{k}"].assign(value)

  def params(self, name: str) -> dict:
    """A synapse's or batchnorm node's current arrays, by parameter name."""
    prefix = name + "/"
    return {k[len(prefix):]: v.numpy() for k, v in self._vars.items()
            if k.startswith(prefix)}

  # ---- simulation ------------------------------------------------------------

  def call(self, x, training=False):
    out = self.graph[-1]
    if out["kind"] == "dense" and neurons.shape_inference_only():
      # Keras only infers the output's shape: (B, classes) of the last
      # synapse, without tracing the T-step simulation.
      units = int(out["config"]["kernel_shape"][-1])
      logits = tf.zeros(tf.stack([tf.shape(x)[0], units]))
      logits.set_shape([x.shape[0], units])
      return logits
    return self.run(x, mode="snn", training=bool(training))[0]

  def run(self, x, *, mode: str = "snn", timesteps: Optional[int] = None,
          stats: bool = False, collect: bool = False,
          training: bool = False):
    """Evaluates the graph.

    Args:
      x: (B, H, W, C) inputs, or (T, B, H, W, C): one input per timestep,
        used as given (no input coding), e.g. a fresh dropout mask per step.
      mode: "snn" simulates; "ann" evaluates the folded ANN (ReLU neurons).
      timesteps: overrides T.
      stats: also return spike counts and SOPs.
      collect: also return every neuron node's value (ANN activations, or
        spikes (T, B, ...)).
      training: batchnorm nodes (unfolded BN) normalise with the batch's
        statistics over all T steps and update their running ones;
        otherwise they use the running statistics.

    Returns:
      (logits, stats dict or None, collected dict or None).
    """
    t = timesteps or self.timesteps
    vals: dict[str, _Val] = {}
    counts, sops, input_macs = {}, 0.0, 0.0
    collected = {} if collect else None
    for n in self.graph:
      kind, c, name = n["kind"], n["config"], n["name"]
      ins = [vals[i] for i in n["inputs"]]
      if kind == "input":
        x = tf.cast(x, self.compute_dtype)
        if mode == "snn" and x.shape.rank == len(c["shape"]) + 2:
          # (T, B, H, W, C): a different input at every step, as given.
          vals[name] = _Val(x, False)
        elif mode == "snn" and self.input_coding == "poisson":
          u = tf.random.stateless_uniform(
              tf.concat([[t], tf.shape(x)], 0), seed=[self.seed, 0],
              dtype=x.dtype)
          vals[name] = _Val(tf.cast(u < x, x.dtype), False)
        else:
          vals[name] = _Val(x, True)
      elif kind in ("conv", "dense"):
        v = ins[0]
        w, b = self._vars[name + "/kernel"], self._vars[name + "/bias"]
        xin = v.x if v.static else _merge(v.x)
        if kind == "conv":
          y = tf.nn.conv2d(xin, w, strides=c["strides"],
                           padding=c["padding"]) + b
        else:
          y = tf.matmul(xin, w) + b
        if stats:
          n_in = float(np.prod(xin.shape[1:]))
          macs = self._macs(kind, y.shape, w.shape)
          if v.static:
            input_macs += macs
          else:
            nnz = tf.reduce_sum(tf.cast(
                tf.reshape(v.x, [t, -1, int(n_in)]) != 0, tf.float32),
                axis=[0, 2])
            sops += nnz * (macs / n_in)
        vals[name] = _Val(y if v.static else _split(y, t), v.static)
      elif kind == "batchnorm":
        v = ins[0]
        p = {k: self._vars[f"{name}/{k}"] for k in (
            "gamma", "beta", "moving_mean", "moving_variance")}
        if training and mode == "snn":
          xin = v.x if v.static else _merge(v.x)     # (T·B, ...)
          mean, var = tf.nn.moments(xin, list(range(len(xin.shape) - 1)))
          m = c["momentum"]
          p["moving_mean"].assign(p["moving_mean"] * m + mean * (1 - m))
          p["moving_variance"].assign(p["moving_variance"] * m
                                      + var * (1 - m))
        else:
          mean, var = p["moving_mean"], p["moving_variance"]
        y = tf.nn.batch_normalization(v.x, mean, var, p["beta"], p["gamma"],
                                      c["epsilon"])
        vals[name] = _Val(y, v.static)
      elif kind == "neuron":
        v = ins[0]
        if mode == "ann":
          out = _Val(tf.nn.relu(v.x), True)
        else:
          out = _Val(self._integrate_and_fire(name, v, t), False)
          if stats:
            spikes = tf.cast(out.x > 0, tf.float32)
            counts[name] = tf.reduce_sum(
                tf.reshape(spikes, [t, tf.shape(spikes)[1], -1]), axis=[0, 2])
        vals[name] = out
        if collect:
          collected[name] = out.x
      elif kind in ("avgpool", "maxpool"):
        v = ins[0]
        if kind == "maxpool" and (v.static or self.max_pool == "gate"):
          y = (tf.nn.max_pool2d(v.x, c["pool_size"], c["strides"],
                                c["padding"]) if v.static
               else self._gated_max(v.x, c))
          vals[name] = _Val(y, v.static)
        else:
          xin = v.x if v.static else _merge(v.x)
          y = tf.nn.avg_pool2d(xin, c["pool_size"], c["strides"],
                               c["padding"])
          vals[name] = _Val(y if v.static else _split(y, t), v.static)
      elif kind == "gap":
        v = ins[0]
        vals[name] = _Val(tf.reduce_mean(v.x, axis=[-3, -2]), v.static)
      elif kind == "flatten":
        v = ins[0]
        keep = 1 if v.static else 2
        shape = tf.concat([tf.shape(v.x)[:keep], [-1]], 0)
        vals[name] = _Val(tf.reshape(v.x, shape), v.static)
      elif kind == "add":
        if all(v.static for v in ins):
          vals[name] = _Val(tf.add_n([v.x for v in ins]), True)
        else:
          shape = tf.shape(next(v.x for v in ins if not v.static))
          vals[name] = _Val(tf.add_n([
              tf.broadcast_to(v.x[None], shape) if v.static else v.x
              for v in ins]), False)
      else:  # pragma: no cover - parse() only emits KINDS
        raise ValueError(f"Unknown node kind {kind!r}")
    out = vals[self.output_node]
    logits = out.x if out.static else tf.reduce_mean(out.x, axis=0)
    st = None
    if stats:
      st = {"spike_counts": counts, "sops": sops, "input_macs": input_macs}
    return logits, st, collected

  @staticmethod
  def _macs(kind, out_shape, w_shape) -> float:
    if kind == "dense":
      return float(w_shape[0] * w_shape[1])
    return float(np.prod(out_shape[1:]) * np.prod(w_shape[:3]))

  def _integrate_and_fire(self, name: str, v: _Val, t: int):
    theta = self._vars[name + "/threshold"]
    v_init = self._vars[name + "/v_init"]
    theta = tf.cast(theta, self.compute_dtype)
    v_init = tf.cast(v_init, self.compute_dtype)
    theta_in = theta - v_init
    width = tf.where(theta_in > 0, theta_in, theta) / float(t)
    v0 = tf.zeros_like(v.x if v.static else v.x[0]) + v_init
    fire = neurons.threshold_spike(self.surrogate, self.surrogate_alpha)

    def step(carry, i_t):
      mem, _ = carry
      mem = mem + i_t
      s = fire(mem, theta, width)
      return mem - tf.stop_gradient(s), s   # no gradient through the reset

    if t <= _UNROLL_MAX:
      # Short simulations: unrolled steps, which Grappler can fuse.
      mem, outs = v0, []
      # A constant (static) current is reused, never copied T times.
      for i_t in ([v.x] * t if v.static else tf.unstack(v.x, num=t)):
        mem, s = step((mem, None), i_t)
        outs.append(s)
      return tf.stack(outs)
    current = tf.broadcast_to(v.x[None], tf.concat([[t], tf.shape(v.x)], 0)) \
        if v.static else v.x
    _, spikes = tf.scan(step, current, initializer=(v0, tf.zeros_like(v0)))
    return spikes

  def _gated_max(self, x, c):
    """Spiking max pooling (`tfmia.snn.direct.gated_max_pool`). x: (T, B, H,
    W, C)."""
    from tfmia.snn.direct import gated_max_pool
    ph, pw = c["pool_size"]
    if list(c["strides"]) != [ph, pw] or c["padding"] != "VALID":
      raise ValueError("max_pool='gate' needs pool_size == strides and "
                       "'valid' padding; convert with max_pool='avg'.")
    return gated_max_pool(x, (ph, pw))


def network_of(model: tf.keras.Model) -> SpikingNetwork:
  """The SpikingNetwork layer of a model made by `tfmia.snn.convert`."""
  for layer in model.layers:
    if isinstance(layer, SpikingNetwork):
      return layer
  raise TypeError(f"Model {model.name!r} holds no SpikingNetwork; make it "
                  "with tfmia.snn.convert.")
