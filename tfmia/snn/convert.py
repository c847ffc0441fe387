"""ANN -> SNN conversion, simulation helpers, saving and loading."""

from __future__ import annotations

import os
from typing import Optional, Union

import numpy as np
import tensorflow as tf

from tfmia.infra import progress as progress_lib
from tfmia.infra import tf_logging as _tf  # noqa: F401  (quiet retracing warnings)
from tfmia.snn import graph as graph_lib
from tfmia.snn import thresholds as thr
from tfmia.snn.network import (SimulationResult,
                               SpikingNetwork,
                               check_options,
                               check_surrogate,
                               network_of)

_MAX_SAMPLES = 2_000_000   # activations kept per layer for the threshold fit


def _network(nodes, timesteps, input_coding, max_pool, seed, values=None,
             surrogate="boxcar", surrogate_alpha=None):
  specs = []
  for n in nodes:
    spec = n.spec()
    if n.kind in graph_lib.SYNAPSES:
      spec["config"]["kernel_shape"] = list(n.params["kernel"].shape)
    if n.kind == "batchnorm":
      spec["config"]["channels"] = int(n.params["gamma"].shape[0])
    if n.kind == "neuron":
      theta, v_init = (values or {}).get(n.name, (1.0, 0.0))
      spec["config"].update(threshold=float(theta), v_init=float(v_init))
    specs.append(spec)
  return SpikingNetwork(specs, timesteps=timesteps, input_coding=input_coding,
                        max_pool=max_pool, seed=seed, surrogate=surrogate,
                        surrogate_alpha=surrogate_alpha,
                        name="spiking_network")


def _wrap(net: SpikingNetwork, input_shape, name: str) -> tf.keras.Model:
  inp = tf.keras.Input(tuple(input_shape), name="input")
  return tf.keras.Model(inp, net(inp), name=name)


def ann_activations(nodes, input_shape, x: np.ndarray, *,
                    batch_size: int = 256, seed: int = 0) -> dict:
  """Each neuron node's ANN (ReLU) activations on `x`, subsampled to at most
  2,000,000 values per layer (seeded), as flat float32 arrays."""
  net = _network(nodes, 1, "direct", "avg", 0)
  _wrap(net, input_shape, "folded_ann")
  net.set_synapses({n.name: n.params for n in nodes if n.params})
  fn = tf.function(lambda xb: net.run(xb, mode="ann", collect=True)[2])
  acts: dict[str, list] = {}
  for i in range(0, len(x), batch_size):
    for k, v in fn(tf.constant(x[i:i + batch_size], tf.float32)).items():
      acts.setdefault(k, []).append(v.numpy().reshape(-1))
  rng = np.random.default_rng(seed)
  out = {}
  for k, parts in acts.items():
    a = np.concatenate(parts)
    if a.size > _MAX_SAMPLES:
      a = a[rng.choice(a.size, _MAX_SAMPLES, replace=False)]
    out[k] = a
  return out


def convert(ann: tf.keras.Model, calibration_data: np.ndarray, *,
            timesteps: int = 4, thresholds: str = "data_driven",
            percentile: float = 99.9, iterations: int = 30,
            input_coding: str = "direct", max_pool: str = "gate",
            init_potential: Optional[float] = None, seed: int = 0,
            batch_size: int = 256, name: Optional[str] = None,
            surrogate: str = "boxcar",
            surrogate_alpha: Optional[float] = None,
            fold_batchnorm: bool = True) -> tf.keras.Model:
  """Converts a trained Keras ReLU model into a spiking Keras model.

  BatchNorm is folded into the preceding Conv2D / Dense, ReLUs become
  integrate-and-fire neurons with reset by subtraction, and each neuron
  layer gets a threshold and an initial potential from the ANN's
  activations on `calibration_data`.

  Args:
    ann: a functional or Sequential Keras model that outputs logits
      (nested models are inlined).
    calibration_data: (M, H, W, C) inputs for the thresholds.
    timesteps: T.
    thresholds: "data_driven" (one-level L1 quantiser: threshold and initial
      potential) or "percentile" (threshold balancing, as snntoolbox).
    percentile: for "percentile".
    iterations: coordinate-descent rounds for "data_driven".
    input_coding: "direct" or "poisson".
    max_pool: "gate" (spiking max) or "avg" (as average pooling).
    init_potential: initial potential as a fraction of θ; None means
      θ − τ for "data_driven" and 0 for "percentile" (as snntoolbox).
    seed: Poisson input and activation subsampling.
    batch_size: for the calibration forward passes.
    name: the spiking model's name.
    surrogate: the spike's surrogate derivative for calibration ("boxcar",
      the reference's, "triangle", "sigmoid" or "atan"); saved with the model.
    surrogate_alpha: α of "sigmoid" / "atan" (None: 4 / 2).
    fold_batchnorm: fold BatchNorm into the weights (default), or keep it as
      a layer that calibration trains on batch statistics over the spiking
      activity, as the reference code calibrates (`fold_batchnorm(model)`
      folds it afterwards).

  Returns:
    A keras.Model whose output is the mean over T of the output layer.

  Raises:
    UnsupportedLayerError: a layer the simulator cannot express (named).
    ValueError: a bad option or calibration data of the wrong shape.
  """
  if thresholds not in thr.THRESHOLD_METHODS:
    raise ValueError(f"`thresholds` must be one of {thr.THRESHOLD_METHODS}. "
                     f"Received: thresholds={thresholds!r}")
  check_options(timesteps, input_coding, max_pool)
  check_surrogate(surrogate, surrogate_alpha)
  if init_potential is not None and not 0 <= init_potential <= 1:
    raise ValueError("`init_potential` must be in [0, 1] or None. "
                     f"Received: init_potential={init_potential!r}")
  nodes = graph_lib.parse(ann, fold_batchnorm=fold_batchnorm)
  input_shape = tuple(nodes[0].config["shape"])
  x = np.asarray(calibration_data, dtype=np.float32)
  if x.shape[1:] != input_shape or len(x) == 0:
    raise ValueError(f"`calibration_data` must be (M, {', '.join(map(str, input_shape))}) "
                     f"inputs of the ANN. Received: shape={x.shape}")
  if max_pool == "gate":
    for n in nodes:
      if n.kind == "maxpool" and (n.config["strides"] != n.config["pool_size"]
                                  or n.config["padding"] != "VALID"):
        raise graph_lib.UnsupportedLayerError(
            f"Layer {n.name!r}: max_pool='gate' needs pool_size == strides "
            "and 'valid' padding; convert with max_pool='avg'.")
  progress_lib.say(f"Converting {ann.name} to a spiking network at "
                   f"T={timesteps} ({thresholds} thresholds from {len(x)} "
                   "examples)")
  acts = ann_activations(nodes, input_shape, x, batch_size=batch_size,
                         seed=seed)
  values = {}
  for name_, a in acts.items():
    if thresholds == "percentile":
      theta = thr.percentile_threshold(a, percentile)
      frac = 0.0 if init_potential is None else init_potential
      values[name_] = (theta, frac * theta)
    else:
      theta, tau = thr.fit_one_level_quantizer(a, iterations)
      v_init = theta - tau if init_potential is None else init_potential * theta
      values[name_] = (theta, v_init)
  net = _network(nodes, timesteps, input_coding, max_pool, seed, values,
                 surrogate, surrogate_alpha)
  model = _wrap(net, input_shape, name or f"{ann.name}_snn")
  net.set_synapses({n.name: n.params for n in nodes if n.params})
  return model


def _nodes_of(net: SpikingNetwork) -> list:
  """The network's graph as `graph.Node`s holding its current arrays."""
  return [graph_lib.Node(n["name"], n["kind"], list(n["inputs"]),
                         {k: v for k, v in n["config"].items()
                          if k not in ("kernel_shape", "channels",
                                       "threshold", "v_init")},
                         net.params(n["name"]))
          for n in net.get_config()["graph"]]


def fold_batchnorm(model: tf.keras.Model) -> tf.keras.Model:
  """A copy of a spiking model converted with `fold_batchnorm=False` whose
  batchnorm nodes are folded (their running statistics) into the Conv2D /
  Dense before them: the same outputs at inference, and the plain
  integrate-and-fire graph. A model without batchnorm nodes is returned as
  it is."""
  net = network_of(model)
  if not any(n["kind"] == "batchnorm" for n in net.graph):
    return model
  nodes = graph_lib.fold(_nodes_of(net))
  cfg = net.get_config()
  new = _network(nodes, cfg["timesteps"], cfg["input_coding"],
                 cfg["max_pool"], cfg["seed"], net.thresholds(),
                 cfg["surrogate"], cfg["surrogate_alpha"])
  copy = _wrap(new, model.input_shape[1:], model.name)
  new.set_synapses({n.name: n.params for n in nodes if n.params})
  return copy


def with_timesteps(model: tf.keras.Model, timesteps: int) -> tf.keras.Model:
  """A copy of a spiking model simulated for `timesteps` steps (same
  weights, thresholds, coding)."""
  return with_settings(model, timesteps=timesteps)


def with_settings(model: tf.keras.Model, *, timesteps: Optional[int] = None,
                  surrogate: Optional[str] = None,
                  surrogate_alpha: Optional[float] = None) -> tf.keras.Model:
  """A copy of a spiking model (same weights and thresholds) with another
  T and/or surrogate; settings left None are kept."""
  net = network_of(model)
  cfg = net.get_config()
  if timesteps is not None:
    cfg["timesteps"] = timesteps
  if surrogate is not None:
    cfg["surrogate"] = surrogate
    cfg["surrogate_alpha"] = surrogate_alpha
  new = SpikingNetwork.from_config(cfg)
  copy = _wrap(new, model.input_shape[1:], model.name)
  new.set_weights(net.get_weights())
  return copy


def ann_macs(model: tf.keras.Model) -> float:
  """Multiply-accumulates per example of the ANN a spiking model came from."""
  net = network_of(model)
  fn = tf.function(lambda xb: net.run(xb, mode="ann", stats=True)[1])
  st = fn(tf.zeros((1,) + tuple(model.input_shape[1:])))
  return float(st["input_macs"])


def simulate(model: tf.keras.Model, x: np.ndarray, *,
             batch_size: int = 256) -> SimulationResult:
  """Simulates `model` on `x`; returns logits, spikes per layer and SOPs."""
  net = network_of(model)
  x = np.asarray(x, dtype=np.float32)
  if x.shape[1:] != tuple(model.input_shape[1:]):
    raise ValueError(f"`x` must be (N,) + {tuple(model.input_shape[1:])}. "
                     f"Received: shape={x.shape}")
  fn = tf.function(lambda xb: net.run(xb, stats=True)[:2])
  logits, counts, sops, input_macs = [], {}, [], 0.0
  for i in range(0, len(x), batch_size):
    lg, st = fn(tf.constant(x[i:i + batch_size]))
    logits.append(lg.numpy())
    for k, v in st["spike_counts"].items():
      counts.setdefault(k, []).append(v.numpy())
    sops.append(np.broadcast_to(np.asarray(st["sops"]), (len(lg),)))
    input_macs = float(st["input_macs"])
  return SimulationResult(
      logits=np.concatenate(logits),
      spike_counts={k: np.concatenate(v) for k, v in counts.items()},
      sops=np.concatenate(sops), input_macs=input_macs,
      ann_macs=ann_macs(model))


def save(model: tf.keras.Model, path: Union[str, os.PathLike]) -> None:
  """Saves a spiking model (graph, thresholds, T, coding, weights) as a
  .keras file, atomically."""
  from tfmia.infra import io
  with io.atomic_path(path, suffix=".keras") as tmp:
    model.save(os.fspath(tmp))


def load(path: Union[str, os.PathLike]) -> tf.keras.Model:
  """Loads a model saved by `save`."""
  from tfmia.infra import io
  with io.local_file(path) as local:
    return tf.keras.models.load_model(
        os.fspath(local), custom_objects={"SpikingNetwork": SpikingNetwork},
        compile=False)
