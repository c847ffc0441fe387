"""Reading a trained Keras ReLU network into a spiking-ready graph.

`parse(model)` walks a Keras model in topological order and returns
`Node`s: linear synapses (Conv2D, Dense, with BatchNorm folded in),
pooling, Flatten, Add, and `neuron` nodes where the ANN applies a ReLU.
Dropout is dropped. Anything else raises `UnsupportedLayerError` naming the
layer, before any work is done. A `Sequential` model, or a functional one
with `Sequential` or functional models nested inside, is first rebuilt as one
flat functional model over the same layers (`as_functional`); subclassed
models cannot be read.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import tensorflow as tf

SYNAPSES = ("conv", "dense")
KINDS = ("input", "conv", "dense", "batchnorm", "neuron", "avgpool",
         "maxpool", "gap", "flatten", "add")
BN_PARAMS = ("gamma", "beta", "moving_mean", "moving_variance")


class UnsupportedLayerError(ValueError):
  """A layer the spiking simulator cannot express; the message names it."""


@dataclasses.dataclass
class Node:
  """One operation of the spiking graph.

  Attributes:
    name: unique name (the Keras layer's, "_relu" added for fused ReLUs).
    kind: one of KINDS.
    inputs: names of the nodes it reads.
    config: JSON-able settings (filters, strides, padding, pool size, ...).
    params: numpy arrays (kernel, bias) for synapses; empty otherwise.
  """

  name: str
  kind: str
  inputs: list
  config: dict = dataclasses.field(default_factory=dict)
  params: dict = dataclasses.field(default_factory=dict)

  def spec(self) -> dict:
    """The JSON-able part (no arrays)."""
    return {"name": self.name, "kind": self.kind, "inputs": list(self.inputs),
            "config": dict(self.config)}


def _inbound(layer_config: dict) -> list[str]:
  nodes = layer_config.get("inbound_nodes") or []
  if not nodes:
    return []
  return [entry[0] for entry in nodes[0]]


def _activation(layer) -> Optional[str]:
  act = getattr(layer, "activation", None)
  if act is None:
    return None
  return getattr(act, "__name__", str(act))


def _unsupported(layer, why: str) -> UnsupportedLayerError:
  return UnsupportedLayerError(
      f"Layer {layer.name!r} ({type(layer).__name__}) cannot be converted to "
      f"a spiking network: {why}. Supported: Conv2D, Dense (linear or ReLU), "
      "BatchNormalization after them, ReLU, AveragePooling2D, MaxPooling2D, "
      "GlobalAveragePooling2D, Flatten, Dropout, Add.")


def _is_graph(model) -> bool:
  return isinstance(model, tf.keras.Model) and bool(
      getattr(model, "_is_graph_network", False))


def _check_readable(model, what: str = "model") -> None:
  if not isinstance(model, tf.keras.Model):
    raise TypeError(f"`{what}` must be a keras.Model (functional or "
                    f"Sequential). Received: {type(model).__name__}")
  if isinstance(model, tf.keras.Sequential) and not model.built:
    raise TypeError(f"`{what}` is a Sequential model without an input shape; "
                    "build it first (keras.Input(...) as its first layer, "
                    "input_shape= on the first layer, or model.build(shape)).")
  if not _is_graph(model) or not model.inputs:
    raise TypeError(f"`{what}` must be a functional or Sequential "
                    f"keras.Model; {model.name!r} ({type(model).__name__}) is "
                    "subclassed, and subclassed models cannot be parsed.")


def _apply(model: tf.keras.Model, inputs: list):
  """Calls `model`'s layers on `inputs`, nested models inlined."""
  _check_readable(model, f"nested model {model.name!r}")
  if isinstance(model, tf.keras.Sequential):
    if len(inputs) != 1:
      raise UnsupportedLayerError(
          f"Sequential model {model.name!r} receives {len(inputs)} inputs.")
    x = inputs[0]
    for layer in model.layers:
      x = _apply_layer(layer, x)
    return [x]
  config = model.get_config()
  tensors = {name: t for (name, _, _), t in zip(config["input_layers"],
                                                 inputs)}
  layers = {layer.name: layer for layer in model.layers}
  pending = [c for c in config["layers"] if c["name"] not in tensors]
  while pending:
    progressed = []
    for c in pending:
      nodes = c.get("inbound_nodes") or []
      if len(nodes) != 1:
        raise UnsupportedLayerError(
            f"Layer {c['name']!r} of {model.name!r} is called {len(nodes)} "
            "times; shared layers cannot be converted.")
      sources = nodes[0]
      if any(src[2] != 0 for src in sources):
        raise UnsupportedLayerError(
            f"Layer {c['name']!r} of {model.name!r} reads a second output of "
            "a layer; only single-output layers can be converted.")
      if all(src[0] in tensors for src in sources):
        args = [tensors[src[0]] for src in sources]
        tensors[c["name"]] = _apply_layer(layers[c["name"]],
                                          args[0] if len(args) == 1 else args)
        progressed.append(c)
    if not progressed:
      raise UnsupportedLayerError(f"Cannot order the layers of {model.name!r}.")
    pending = [c for c in pending if c not in progressed]
  return [tensors[name] for name, _, _ in config["output_layers"]]


def _apply_layer(layer, x):
  if isinstance(layer, tf.keras.Model):
    outs = _apply(layer, x if isinstance(x, list) else [x])
    if len(outs) != 1:
      raise UnsupportedLayerError(
          f"Nested model {layer.name!r} has {len(outs)} outputs.")
    return outs[0]
  return layer(x)


def as_functional(model: tf.keras.Model) -> tf.keras.Model:
  """`model` as one flat functional model over the same layers (weights
  shared): a Sequential model, or models nested inside a functional one, are
  inlined. A flat functional model is returned as it is.

  Raises:
    TypeError: a subclassed model, or a Sequential model without an input
      shape.
    UnsupportedLayerError: shared layers or multi-output layers.
  """
  _check_readable(model)
  if not isinstance(model, tf.keras.Sequential) and not any(
      isinstance(layer, tf.keras.Model) for layer in model.layers):
    return model
  inputs = [tf.keras.Input(shape=t.shape[1:], dtype=t.dtype)
            for t in model.inputs]
  outputs = _apply(model, inputs)
  return tf.keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0],
                        name=model.name)


def parse(model: tf.keras.Model, *, fold_batchnorm: bool = True
          ) -> list[Node]:
  """The spiking-ready graph of `model`, ReLUs as neurons.

  Args:
    model: a functional or Sequential Keras model.
    fold_batchnorm: fold each BatchNormalization into the Conv2D / Dense
      before it (the default), or keep it as a "batchnorm" node (params
      gamma, beta, moving_mean, moving_variance; config epsilon, momentum)
      so that calibration can train it on batch statistics (`fold` folds it
      afterwards).

  Raises:
    UnsupportedLayerError: a layer, activation or placement the simulator
      cannot express (named in the message).
  """
  model = as_functional(model)
  if len(model.outputs) != 1:
    # Converting one head would silently drop the others.
    raise UnsupportedLayerError(
        f"The model has {len(model.outputs)} outputs ("
        + ", ".join(f"{o.name.split('/')[0]} {tuple(o.shape)}"
                    for o in model.outputs)
        + "); a spiking model is converted from one classifier output. "
        "Convert the head you want alone, e.g. "
        "keras.Model(model.inputs, model.outputs[0]).")
  layer_configs = {c["name"]: c for c in model.get_config()["layers"]}
  L = tf.keras.layers
  if isinstance(model.layers[-1], L.Softmax):   # an output softmax layer
    out = model.layers[-1]   # its newest call is the one in this model
    model = tf.keras.Model(model.inputs,
                           out.get_input_at(len(out.inbound_nodes) - 1),
                           name=model.name)
  supported = (L.InputLayer, L.Conv2D, L.Dense, L.BatchNormalization, L.ReLU,
               L.Activation, L.AveragePooling2D, L.MaxPooling2D,
               L.GlobalAveragePooling2D, L.Flatten, L.Dropout, L.Add)
  for layer in model.layers:   # name the first unsupported layer up front
    if not isinstance(layer, supported) or (
        isinstance(layer, (L.Conv2D, L.Dense))
        and type(layer) not in (L.Conv2D, L.Dense)):
      raise _unsupported(layer, "this layer type is not supported")
  nodes: list[Node] = []
  alias: dict[str, str] = {}     # layer name -> node name holding its output
  consumers: dict[str, int] = {}
  for c in layer_configs.values():
    for src in _inbound(c):
      consumers[src] = consumers.get(src, 0) + 1
  by_name: dict[str, Node] = {}

  def add(node: Node, layer_name: str):
    nodes.append(node)
    by_name[node.name] = node
    alias[layer_name] = node.name

  last = model.layers[-1]
  for layer in model.layers:
    inputs = [alias[n] for n in _inbound(layer_configs[layer.name])]
    # A softmax on the output is dropped: the simulator reads logits, and
    # the attacks take them as the model's (log-)probabilities' source.
    output_softmax = layer is last
    if isinstance(layer, L.InputLayer):
      shape = tuple(layer.get_config()["batch_input_shape"][1:])
      if len(shape) not in (1, 3) or None in shape:
        raise _unsupported(layer, "inputs must be images (H, W, C) or flat "
                                  f"features (F,); got shape {shape}")
      add(Node(layer.name, "input", [], {"shape": list(shape)}), layer.name)
    elif isinstance(layer, (L.Conv2D, L.Dense)) and type(layer) in (
        L.Conv2D, L.Dense):
      act = _activation(layer)
      if act == "softmax" and output_softmax:
        act = "linear"
      if act not in ("linear", "relu"):
        raise _unsupported(layer, f"activation {act!r} (only linear or relu)")
      w = layer.get_weights()
      kernel = w[0]
      bias = w[1] if layer.use_bias else np.zeros(kernel.shape[-1], np.float32)
      if isinstance(layer, L.Conv2D):
        cfg = layer.get_config()
        if tuple(cfg["dilation_rate"]) != (1, 1) or cfg["groups"] != 1:
          raise _unsupported(layer, "dilated or grouped convolution")
        node = Node(layer.name, "conv", inputs,
                    {"strides": list(cfg["strides"]),
                     "padding": cfg["padding"].upper()},
                    {"kernel": kernel, "bias": bias})
      else:
        node = Node(layer.name, "dense", inputs, {},
                    {"kernel": kernel, "bias": bias})
      add(node, layer.name)
      if act == "relu":
        add(Node(layer.name + "_relu", "neuron", [node.name]), layer.name)
    elif isinstance(layer, L.BatchNormalization):
      prev = by_name[inputs[0]]
      axis = layer.get_config()["axis"]
      axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 \
          else axis
      if axis not in (-1, len(layer.input_shape) - 1):
        raise _unsupported(layer, f"normalisation over axis {axis} (only the "
                                  "channel axis, last)")
      if prev.kind not in SYNAPSES or consumers.get(
          prev.name, 0) != 1:
        raise _unsupported(layer, "BatchNormalization must directly follow a "
                                  "linear Conv2D or Dense that feeds nothing "
                                  "else, so that it can be folded into it")
      gamma, beta, mean, var = _bn_weights(layer)
      if fold_batchnorm:
        _fold_into(prev, gamma, beta, mean, var, layer.epsilon)
        alias[layer.name] = prev.name
      else:
        add(Node(layer.name, "batchnorm", [prev.name],
                 {"epsilon": float(layer.epsilon),
                  "momentum": float(layer.momentum)},
                 dict(zip(BN_PARAMS, (gamma, beta, mean, var)))), layer.name)
    elif isinstance(layer, (L.ReLU, L.Activation)):
      if isinstance(layer, L.ReLU):
        cfg = layer.get_config()
        if cfg.get("max_value") is not None or cfg.get(
            "negative_slope", 0) != 0 or cfg.get("threshold", 0) != 0:
          raise _unsupported(layer, "only a plain ReLU (no max_value, "
                                    "negative_slope or threshold)")
        act = "relu"
      else:
        act = _activation(layer)
      if act == "softmax" and output_softmax:
        act = "linear"
      if act == "linear":
        alias[layer.name] = inputs[0]
      elif act == "relu":
        add(Node(layer.name, "neuron", inputs), layer.name)
      else:
        raise _unsupported(layer, f"activation {act!r} (only relu)")
    elif isinstance(layer, (L.AveragePooling2D, L.MaxPooling2D)):
      cfg = layer.get_config()
      kind = "avgpool" if isinstance(layer, L.AveragePooling2D) else "maxpool"
      add(Node(layer.name, kind, inputs,
               {"pool_size": list(cfg["pool_size"]),
                "strides": list(cfg["strides"] or cfg["pool_size"]),
                "padding": cfg["padding"].upper()}), layer.name)
    elif isinstance(layer, L.GlobalAveragePooling2D):
      if layer.get_config().get("keepdims"):
        raise _unsupported(layer, "keepdims=True")
      add(Node(layer.name, "gap", inputs), layer.name)
    elif isinstance(layer, L.Flatten):
      add(Node(layer.name, "flatten", inputs), layer.name)
    elif isinstance(layer, L.Dropout):
      alias[layer.name] = inputs[0]
    elif isinstance(layer, L.Add):
      add(Node(layer.name, "add", inputs), layer.name)
    else:
      raise _unsupported(layer, "this layer type is not supported")
  out = alias[model.layers[-1].name]
  if by_name[out].kind == "neuron":
    raise UnsupportedLayerError(
        f"The model's output {model.layers[-1].name!r} is ReLU'd; the "
        "simulator reads logits from a linear output layer (Dense or Conv2D "
        "without activation).")
  for n in nodes:
    for k in n.params:
      n.params[k] = np.asarray(n.params[k], np.float32)
  return nodes


def _fold_into(synapse: Node, gamma, beta, mean, var, epsilon) -> None:
  scale = gamma / np.sqrt(var + epsilon)
  synapse.params["kernel"] = synapse.params["kernel"] * scale
  synapse.params["bias"] = (synapse.params["bias"] - mean) * scale + beta


def fold(nodes: list[Node]) -> list[Node]:
  """`nodes` with every "batchnorm" node folded into the synapse before it
  (its running statistics), as `parse` folds by default."""
  out, alias = [], {}
  by_name = {n.name: n for n in nodes}
  for n in nodes:
    if n.kind == "batchnorm":
      prev = by_name[alias.get(n.inputs[0], n.inputs[0])]
      _fold_into(prev, *(n.params[k] for k in BN_PARAMS),
                 n.config["epsilon"])
      alias[n.name] = prev.name
      continue
    n = dataclasses.replace(n, inputs=[alias.get(i, i) for i in n.inputs],
                            params=dict(n.params))
    by_name[n.name] = n
    out.append(n)
  for n in out:
    for k in n.params:
      n.params[k] = np.asarray(n.params[k], np.float32)
  return out


def _bn_weights(layer):
  """(gamma, beta, mean, var) of a BatchNormalization without scale/center."""
  w = layer.get_weights()
  i = 0
  c = w[-1].shape[0]
  gamma = w[i] if layer.scale else np.ones(c, np.float32)
  i += int(layer.scale)
  beta = w[i] if layer.center else np.zeros(c, np.float32)
  i += int(layer.center)
  return gamma, beta, w[i], w[i + 1]
