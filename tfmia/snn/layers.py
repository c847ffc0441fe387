"""A converted SNN as the spiking layers of directly trained ones.

`tfmia.snn.convert` returns one `SpikingNetwork` layer that simulates the
whole converted graph. `as_spiking_layers` rebuilds the same network from
`tfmia.snn.direct`'s layers (`SpikeEncoder`, Conv2D / Dense / pooling / Add
with time folded into the batch, `LIF`, `TimeSum`), the model kind that
`tfmia.models.spiking_vgg` and `sew_resnet` build. A converted (and
calibrated) network can then be trained further by `train_model` or
`train_hire`, attacked through `tfmia.robustness`, and measured by
`spiking_rate` and `gradient_sparsity` exactly as a directly trained one.

Each converted neuron becomes a `LIF` with the simulator's dynamics:
    neuron="if" (no leak), reset by subtraction, threshold θ (fixed),
    initial potential v_init, spikes that carry θ (amplitude="threshold"),
    firing at v ≥ θ (fire_on_equal), and the boxcar surrogate on the window
    |v − θ| < w, w = (θ − v_init) / T (θ / T when v_init ≥ θ): on LIF's
    normalised x = v/θ − 1, the half-width w / θ.
The logits are the mean over T of the output layer (`TimeSum(mean=True)`).
With direct input the two models give the same logits and the same input
gradients (tested); Poisson input draws its spikes differently.
"""

from __future__ import annotations

import tensorflow as tf

from tfmia.snn import direct as spiking
from tfmia.snn.network import network_of


def _neuron(name, theta: float, v_init: float, timesteps: int):
  theta_in = theta - v_init
  width = (theta_in if theta_in > 0 else theta) / timesteps
  return spiking.LIF(timesteps, neuron="if", threshold=theta,
                     train_threshold=False, reset="subtract",
                     surrogate="boxcar", surrogate_alpha=width / theta,
                     amplitude="threshold", v_init=v_init,
                     fire_on_equal=True, name=name)


def as_spiking_layers(model: tf.keras.Model, name=None) -> tf.keras.Model:
  """The converted SNN `model` (from `tfmia.snn.convert`) as a functional
  model of `tfmia.snn.direct` layers, with the same weights, thresholds and
  settings (see the module docstring).

  Raises:
    TypeError: `model` holds no SpikingNetwork.
    ValueError: a surrogate other than the boxcar, or a threshold <= 0.
  """
  L = tf.keras.layers
  net = network_of(model)
  if net.surrogate != "boxcar":
    raise ValueError("as_spiking_layers keeps the converted network's "
                     "boxcar surrogate only. Received: surrogate="
                     f"{net.surrogate!r}")
  T = net.timesteps
  thresholds = net.thresholds()
  bad = {n: th for n, (th, _) in thresholds.items() if not th > 0}
  if bad:
    raise ValueError(f"Every threshold must be > 0. Received: {bad}")
  tensors, static = {}, {}
  inputs = None
  for n in net.graph:
    kind, c, node = n["kind"], n["config"], n["name"]
    ins = [tensors[i] for i in n["inputs"]]
    is_static = all(static[i] for i in n["inputs"]) if n["inputs"] else (
        net.input_coding == "direct")
    if kind == "input":
      inputs = tf.keras.Input(tuple(c["shape"]), name="input")
      x = spiking.SpikeEncoder(T, net.input_coding, name="encoder")(inputs)
    elif kind == "conv":
      p = net.params(node)
      kh, kw, _, filters = p["kernel"].shape
      layer = L.Conv2D(filters, (kh, kw), strides=c["strides"],
                       padding=c["padding"].lower(), name=node)
      x = layer(ins[0])
      layer.set_weights([p["kernel"], p["bias"]])
    elif kind == "dense":
      p = net.params(node)
      layer = L.Dense(p["kernel"].shape[-1], name=node)
      x = layer(ins[0])
      layer.set_weights([p["kernel"], p["bias"]])
    elif kind == "batchnorm":
      p = net.params(node)
      layer = L.BatchNormalization(epsilon=c["epsilon"],
                                   momentum=c["momentum"], name=node)
      x = layer(ins[0])
      layer.set_weights([p["gamma"], p["beta"], p["moving_mean"],
                         p["moving_variance"]])
    elif kind == "neuron":
      theta, v_init = thresholds[node]
      x = _neuron(node, theta, v_init, T)(ins[0])
      is_static = False
    elif kind in ("avgpool", "maxpool"):
      pool = dict(pool_size=tuple(c["pool_size"]), strides=tuple(c["strides"]),
                  padding=c["padding"].lower(), name=node)
      if kind == "avgpool" or (not is_static and net.max_pool == "avg"):
        x = L.AveragePooling2D(**pool)(ins[0])
      elif is_static:
        x = L.MaxPooling2D(**pool)(ins[0])
      else:
        if list(c["strides"]) != list(c["pool_size"]) or \
            c["padding"] != "VALID":
          raise ValueError("max_pool='gate' needs pool_size == strides and "
                           "'valid' padding; convert with max_pool='avg'.")
        x = spiking.GatedMaxPool(T, c["pool_size"], name=node)(ins[0])
    elif kind == "gap":
      x = L.GlobalAveragePooling2D(name=node)(ins[0])
    elif kind == "flatten":
      x = L.Flatten(name=node)(ins[0])
    elif kind == "add":
      x = L.Add(name=node)(ins)
    else:  # pragma: no cover - parse() only emits these kinds
      raise ValueError(f"Unknown node kind {kind!r}")
    tensors[node], static[node] = x, is_static
  out = spiking.TimeSum(T, mean=True, name="membrane")(tensors[net.output_node])
  return tf.keras.Model(inputs, out, name=name or model.name + "_layers")

