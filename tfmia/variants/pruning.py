"""Pruning a trained Keras model, as Yuan & Zhang's pruning study does it.

Four pruners, after mia_prune's `pruner.py` (which uses NNI's pruners):

- "l1_unstructured": magnitude pruning of every Conv2D and Dense kernel to
  the requested sparsity, layer by layer (NNI's LevelPruner), with
  tensorflow-model-optimization's `prune_low_magnitude`. The masks are set
  once, at the first fine-tuning step, and kept (NNI's masks are one-shot
  too); `strip` removes the wrappers after fine-tuning.
- "l1_structured" / "l2_structured": whole Conv2D filters removed by their
  L1 / L2 norm (NNI's L1FilterPruner / L2FilterPruner), the same fraction in
  every conv layer.
- "slim": network slimming (Liu et al. 2017; NNI's SlimPruner): the channels
  with the smallest BatchNorm scales |γ|, one threshold over all BatchNorm
  layers.

Where we differ from mia_prune: NNI masks filters and keeps the model's
shape; here the structured pruners rebuild a genuinely smaller Keras model
(its parameter count and FLOPs drop), which is what a user deploying a
pruned model runs. To stay a valid model, channels joined by a residual
`Add` are pruned together, scored by the sum of their convs' norms (NNI's
dependency-aware mode does the same); NNI's default mode prunes each conv
on its own, because masks never have to agree. A removed filter takes its
BatchNorm channel and the matching input channels of the next layers with
it, so the pruned model computes exactly what the original computes with
those channels zeroed (tested).

Sizes are counted as NNI's `count_flops_params` counts them: FLOPs are
multiply-accumulates of Conv2D and Dense layers.
"""

from __future__ import annotations

import dataclasses
import numpy as np
import tensorflow as tf

from tfmia.infra import extras

PRUNERS = ("l1_unstructured", "l1_structured", "l2_structured", "slim")
STRUCTURED = ("l1_structured", "l2_structured", "slim")

# Layers that keep the channels of their (single) input.
_CHANNEL_PRESERVING = (
    tf.keras.layers.BatchNormalization, tf.keras.layers.ReLU,
    tf.keras.layers.Activation, tf.keras.layers.Dropout,
    tf.keras.layers.MaxPooling2D, tf.keras.layers.AveragePooling2D,
    tf.keras.layers.ZeroPadding2D, tf.keras.layers.GlobalAveragePooling2D,
    tf.keras.layers.GlobalMaxPooling2D, tf.keras.layers.SpatialDropout2D,
    tf.keras.layers.GaussianNoise, tf.keras.layers.LeakyReLU)


@dataclasses.dataclass(frozen=True)
class PruneStats:
  """What pruning did to a model.

  Attributes:
    pruner: the pruner's name.
    requested_sparsity: the fraction asked for.
    sparsity: the fraction achieved: of Conv2D/Dense kernel weights that are
      zero (unstructured), of conv filters removed (l1/l2_structured) or of
      BatchNorm channels removed (slim).
    params_before / params_after: parameter counts (every weight, BatchNorm
      statistics included, as Keras counts them).
    nonzero_params_after: the pruned model's non-zero parameters.
    flops_before / flops_after: multiply-accumulates of one example.
  """

  pruner: str
  requested_sparsity: float
  sparsity: float
  params_before: int
  params_after: int
  nonzero_params_after: int
  flops_before: int
  flops_after: int


def check_pruner(pruner: str, sparsity: float, model=None) -> None:
  """Raises, naming the argument, on an unknown pruner, a sparsity outside
  (0, 1), or a structured pruner on a model it cannot prune. Cheap: called
  before any training starts."""
  if pruner not in PRUNERS:
    raise ValueError(f"`pruner` must be one of {PRUNERS}. "
                     f"Received: pruner={pruner!r}")
  if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) \
      or not 0 < sparsity < 1:
    raise ValueError("`sparsity` must be a number in (0, 1). "
                     f"Received: sparsity={sparsity!r}")
  if model is None:
    return
  layers = _flat_layers(model)
  if pruner in STRUCTURED and not any(
      isinstance(l, tf.keras.layers.Conv2D) for l in layers):
    raise ValueError(f"Pruner {pruner!r} removes conv filters, but model "
                     f"{model.name!r} has no Conv2D layer. Use "
                     "pruner='l1_unstructured'.")
  if pruner == "slim" and not any(
      isinstance(l, tf.keras.layers.BatchNormalization) for l in layers):
    raise ValueError(f"Pruner 'slim' ranks BatchNorm scales, but model "
                     f"{model.name!r} has no BatchNormalization layer.")


def _flat_layers(model):
  out = []
  for layer in model.layers:
    out += _flat_layers(layer) if isinstance(layer, tf.keras.Model) else [layer]
  return out


# ---------------------------------------------------------------------------
# Sizes


def count_params(model: tf.keras.Model) -> tuple[int, int]:
  """(all parameters, non-zero parameters)."""
  ws = [w.numpy() for w in model.weights]
  return (int(sum(w.size for w in ws)),
          int(sum(np.count_nonzero(w) for w in ws)))


def count_flops(model: tf.keras.Model) -> int:
  """Multiply-accumulates of one example through the Conv2D, DepthwiseConv2D
  and Dense layers (NNI's `count_flops_params` convention)."""
  total = 0
  for layer in _flat_layers(model):
    if isinstance(layer, tf.keras.layers.DepthwiseConv2D):
      _, h, w, c = layer.output_shape
      kh, kw = layer.kernel_size
      total += h * w * c * kh * kw
    elif isinstance(layer, tf.keras.layers.Conv2D):
      _, h, w, cout = layer.output_shape
      kh, kw, cin, _ = layer.kernel.shape
      total += h * w * cout * kh * kw * cin // layer.groups
    elif isinstance(layer, tf.keras.layers.Dense):
      total += int(np.prod(layer.kernel.shape))
  return int(total)


def kernel_sparsity(model: tf.keras.Model) -> float:
  """Fraction of zero weights in the Conv2D and Dense kernels."""
  ks = [l.kernel.numpy() for l in _flat_layers(model)
        if isinstance(l, (tf.keras.layers.Conv2D, tf.keras.layers.Dense))]
  size = sum(k.size for k in ks)
  return float(sum(k.size - np.count_nonzero(k) for k in ks) / max(size, 1))


def stats(original: tf.keras.Model, pruned: tf.keras.Model, pruner: str,
          requested: float, achieved: float) -> PruneStats:
  before, _ = count_params(original)
  after, nonzero = count_params(pruned)
  return PruneStats(pruner=pruner, requested_sparsity=float(requested),
                    sparsity=float(achieved), params_before=before,
                    params_after=after, nonzero_params_after=nonzero,
                    flops_before=count_flops(original),
                    flops_after=count_flops(pruned))


# ---------------------------------------------------------------------------
# Unstructured: tensorflow-model-optimization


def wrap_unstructured(model: tf.keras.Model, sparsity: float) -> tf.keras.Model:
  """`model` with tfmot's magnitude-pruning wrappers on every Conv2D and
  Dense layer, set to mask `sparsity` of each kernel at the first training
  step and keep those masks. Train it with `unstructured_callbacks()`, then
  `strip` it."""
  tfmot = extras.require("tensorflow_model_optimization", "Pruning")
  check_pruner("l1_unstructured", sparsity)
  # Masks are computed at steps 0 and 1 only (tfmot cannot stop at step 0),
  # then kept: the one-shot masks of NNI's LevelPruner, up to one update.
  schedule = tfmot.sparsity.keras.ConstantSparsity(
      sparsity, begin_step=0, end_step=1, frequency=1)

  def wrap(layer):
    fresh = layer.__class__.from_config(layer.get_config())  # no shared weights
    if isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.Dense)):
      return tfmot.sparsity.keras.prune_low_magnitude(
          fresh, pruning_schedule=schedule)
    return fresh

  from tfmia.snn.graph import as_functional
  wrapped = tf.keras.models.clone_model(as_functional(model),
                                        clone_function=wrap)
  _copy_into_wrapped(wrapped, model)
  return wrapped


def magnitude_masks(model: tf.keras.Model, sparsity: float) -> dict:
  """{layer name: 0/1 mask} for every Conv2D and Dense kernel: tfmot's
  magnitude rule (`pruning_impl._update_mask`) on the current weights,
  keeping the round((1 - sparsity)·n) (at least 1) largest |w| and every
  tie with the smallest of them. The DP-SGD fine-tuning route of
  `prune_and_finetune` applies these once, like NNI's LevelPruner."""
  check_pruner("l1_unstructured", sparsity)
  masks = {}
  for layer in model.layers:
    if isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.Dense)):
      w = np.abs(layer.kernel.numpy())
      k = max(int(np.round(np.float32(w.size) * np.float32(1 - sparsity))), 1)
      threshold = np.sort(w, axis=None)[::-1][k - 1]
      masks[layer.name] = (w >= threshold).astype(np.float32)
  return masks


def _copy_into_wrapped(wrapped: tf.keras.Model, model: tf.keras.Model) -> None:
  from tfmia.snn.graph import as_functional
  src = {l.name: l for l in _flat_layers(as_functional(model))}
  for layer in wrapped.layers:
    inner = getattr(layer, "layer", layer)  # inside a tfmot wrapper
    if inner.name in src and inner.weights:
      inner.set_weights(src[inner.name].get_weights())


def unstructured_callbacks() -> list:
  tfmot = extras.require("tensorflow_model_optimization", "Pruning")
  return [tfmot.sparsity.keras.UpdatePruningStep()]


def strip(wrapped: tf.keras.Model) -> tf.keras.Model:
  """The plain Keras model inside tfmot's wrappers (masked weights kept)."""
  tfmot = extras.require("tensorflow_model_optimization", "Pruning")
  return tfmot.sparsity.keras.strip_pruning(wrapped)


# ---------------------------------------------------------------------------
# Structured: channel groups and a rebuilt, smaller model


class _Groups:
  """Union-find over channel groups. A group is a set of tensors whose
  channels must be kept or removed together (joined by an Add)."""

  def __init__(self):
    self.parent: dict[int, int] = {}
    self.size: dict[int, int] = {}
    self.prunable: dict[int, bool] = {}

  def new(self, channels: int, prunable: bool) -> int:
    g = len(self.parent)
    self.parent[g], self.size[g], self.prunable[g] = g, channels, prunable
    return g

  def find(self, g: int) -> int:
    while self.parent[g] != g:
      self.parent[g] = self.parent[self.parent[g]]
      g = self.parent[g]
    return g

  def union(self, a: int, b: int) -> int:
    a, b = self.find(a), self.find(b)
    if a != b:
      if self.size[a] != self.size[b]:
        raise ValueError("An Add joins tensors with different channel counts.")
      self.parent[b] = a
      self.prunable[a] = self.prunable[a] and self.prunable[b]
    return a


def _inbound_names(model) -> dict[str, list[str]]:
  """Layer name -> the names of the layers feeding it, from the functional
  model's config (a layer's own `inbound_nodes` may belong to another
  model that shares it)."""
  names = {}
  for spec in model.get_config()["layers"]:
    nodes = spec["inbound_nodes"]
    if len(nodes) > 1:
      raise ValueError(f"Layer {spec['config']['name']!r} is called more "
                       "than once; structured pruning needs each layer "
                       "used once.")
    names[spec["config"]["name"]] = [t[0] for t in nodes[0]] if nodes else []
  return names


def _channel_groups(model):
  """For every layer: the group of its output channels (or, after a
  Flatten, ("flat", group, spatial size)), and the layers by group."""
  groups = _Groups()
  out: dict[str, object] = {}
  convs: dict[int, list] = {}  # group -> producing Conv2D layers (raw ids)
  bns: dict[int, list] = {}
  inbound = _inbound_names(model)
  for layer in model.layers:
    if isinstance(layer, tf.keras.layers.InputLayer):
      out[layer.name] = groups.new(layer.output_shape[0][-1]
                                   if isinstance(layer.output_shape, list)
                                   else layer.output_shape[-1], False)
      continue
    inputs = [out[n] for n in inbound[layer.name]]
    if isinstance(layer, tf.keras.layers.DepthwiseConv2D) or getattr(
        layer, "groups", 1) != 1:
      raise ValueError(f"Structured pruning does not support layer "
                       f"{layer.name!r} ({type(layer).__name__}).")
    if isinstance(layer, tf.keras.layers.Conv2D):
      g = groups.new(layer.filters, True)
      convs.setdefault(g, []).append(layer)
      out[layer.name] = g
    elif isinstance(layer, tf.keras.layers.Dense):
      out[layer.name] = groups.new(layer.units, False)
    elif isinstance(layer, tf.keras.layers.Add):
      g = inputs[0]
      for other in inputs[1:]:
        g = groups.union(g, other)
      out[layer.name] = g
    elif isinstance(layer, tf.keras.layers.Flatten):
      _, h, w, _ = layer.input_shape
      out[layer.name] = ("flat", inputs[0], h * w)
    elif isinstance(layer, _CHANNEL_PRESERVING):
      out[layer.name] = inputs[0]
      if isinstance(layer, tf.keras.layers.BatchNormalization):
        bns.setdefault(inputs[0], []).append(layer)
    else:
      raise ValueError(f"Structured pruning does not support layer "
                       f"{layer.name!r} ({type(layer).__name__}).")
  for name in model.output_names:
    g = out[name]
    if isinstance(g, int):
      groups.prunable[groups.find(g)] = False
  return groups, out, convs, bns, inbound


def _merged(groups, by_group):
  merged: dict[int, list] = {}
  for g, layers in by_group.items():
    merged.setdefault(groups.find(g), []).extend(layers)
  return merged


def _filter_norms(convs, order: int) -> np.ndarray:
  total = 0.0
  for conv in convs:
    w = conv.kernel.numpy()
    flat = w.reshape(-1, w.shape[-1])
    total = total + (np.abs(flat).sum(0) if order == 1
                     else np.sqrt((flat ** 2).sum(0)))
  return total


def _keep_by_filter_norm(groups, convs, sparsity, order):
  keep = {}
  for g, layers in _merged(groups, convs).items():
    if not groups.prunable[g]:
      continue
    n = groups.size[g]
    drop = min(int(n * sparsity), n - 1)   # NNI: int(filters * sparsity)
    score = _filter_norms(layers, order)
    keep[g] = np.sort(np.argsort(-score, kind="stable")[:n - drop])
  return keep


def _keep_by_slimming(groups, bns, sparsity):
  merged = {g: layers for g, layers in _merged(groups, bns).items()
            if groups.prunable[g]}
  if not merged:
    raise ValueError("Pruner 'slim' found no BatchNorm channel it can remove.")
  # A channel shared by several BatchNorms (across a residual Add) is scored
  # by their mean |γ| and counted once per BatchNorm, so that the threshold
  # removes `sparsity` of all BatchNorm channels.
  scores = {g: np.mean([np.abs(bn.gamma.numpy()) for bn in layers], axis=0)
            for g, layers in merged.items()}
  allv = np.concatenate([np.repeat(s, len(merged[g]))
                         for g, s in scores.items()])
  k = int(len(allv) * sparsity)
  # NNI's SlimPruner: one threshold, the k-th smallest scale; channels with a
  # scale strictly above it are kept.
  threshold = np.sort(allv)[k - 1] if k > 0 else -np.inf
  keep = {}
  for g, s in scores.items():
    kept = np.flatnonzero(s > threshold)
    keep[g] = kept if len(kept) else np.array([int(np.argmax(s))])
  return keep


def channels_to_keep(model: tf.keras.Model, pruner: str,
                     sparsity: float) -> tuple[dict, dict]:
  """(layer name -> kept output channels of each pruned conv / BN, and the
  achieved sparsity) for a structured pruner. Exposed for tests."""
  check_pruner(pruner, sparsity, model)
  from tfmia.snn.graph import as_functional
  model = as_functional(model)
  groups, out, convs, bns, inbound = _channel_groups(model)
  if pruner == "slim":
    keep = _keep_by_slimming(groups, bns, sparsity)
    base = _merged(groups, bns)
  else:
    keep = _keep_by_filter_norm(groups, convs, sparsity,
                                1 if pruner == "l1_structured" else 2)
    base = _merged(groups, convs)
  total = sum(groups.size[g] * len(layers) for g, layers in base.items())
  removed = sum((groups.size[g] - len(keep[g])) * len(base[g]) for g in keep)
  per_layer = {}
  for layer in model.layers:
    g = out.get(layer.name)
    if isinstance(g, int) and groups.find(g) in keep:
      per_layer[layer.name] = keep[groups.find(g)]
  return per_layer, {"sparsity": removed / max(total, 1), "groups": groups,
                     "out": out, "keep": keep, "inbound": inbound}


def prune_structured(model: tf.keras.Model, pruner: str, sparsity: float
                     ) -> tuple[tf.keras.Model, PruneStats]:
  """A smaller copy of `model` without the pruned channels.

  Args:
    model: a functional or Sequential Keras model (ResNet `Add` blocks
      included).
    pruner: "l1_structured", "l2_structured" or "slim".
    sparsity: in (0, 1): the fraction of filters removed from every conv
      layer, or (slim) of all BatchNorm channels.

  Returns:
    (the pruned model, its PruneStats).
  """
  if pruner not in STRUCTURED:
    raise ValueError(f"`pruner` must be one of {STRUCTURED} here. "
                     f"Received: pruner={pruner!r}")
  from tfmia.snn.graph import as_functional
  model = as_functional(model)
  _, info = channels_to_keep(model, pruner, sparsity)
  groups, out, keep = info["groups"], info["out"], info["keep"]
  inbound = info["inbound"]

  def kept(g):
    """Kept channel indices of tensor group `g` (None: all)."""
    if isinstance(g, tuple):  # flattened: ("flat", group, spatial)
      inner = kept(g[1])
      if inner is None:
        return None
      c = groups.size[groups.find(g[1])]
      return (np.arange(g[2])[:, None] * c + inner[None, :]).ravel()
    return keep.get(groups.find(g))

  config = model.get_config()
  for spec in config["layers"]:
    g = out[spec["config"]["name"]]
    if spec["class_name"] == "Conv2D" and kept(g) is not None:
      spec["config"]["filters"] = int(len(kept(g)))
  pruned = tf.keras.Model.from_config(config)

  for layer in model.layers:
    if not layer.weights:
      continue
    new = pruned.get_layer(layer.name)
    weights = layer.get_weights()
    ins = [out[n] for n in inbound[layer.name]]
    k_out = kept(out[layer.name]) if isinstance(out[layer.name], int) else None
    k_in = kept(ins[0]) if ins else None
    if isinstance(layer, tf.keras.layers.Conv2D):
      kernel = weights[0]
      if k_in is not None:
        kernel = kernel[:, :, k_in, :]
      if k_out is not None:
        kernel = kernel[..., k_out]
        weights = [kernel] + [b[k_out] for b in weights[1:]]
      else:
        weights = [kernel] + weights[1:]
    elif isinstance(layer, tf.keras.layers.Dense):
      if k_in is not None:
        weights = [weights[0][k_in, :]] + weights[1:]
    elif isinstance(layer, tf.keras.layers.BatchNormalization):
      if k_out is not None:
        weights = [w[k_out] for w in weights]
    new.set_weights(weights)
  achieved = info["sparsity"]
  return pruned, stats(model, pruned, pruner, sparsity, achieved)


def unstructured_stats(original, pruned, sparsity: float) -> PruneStats:
  return stats(original, pruned, "l1_unstructured", sparsity,
               kernel_sparsity(pruned))


def describe(s: PruneStats) -> str:
  return (f"{s.pruner} at {s.requested_sparsity:g}: sparsity "
          f"{s.sparsity:.3f}, parameters {s.params_before:,} -> "
          f"{s.params_after:,} ({s.nonzero_params_after:,} non-zero), "
          f"FLOPs {s.flops_before:,} -> {s.flops_after:,}")


# ---------------------------------------------------------------------------
# Prune, then fine-tune (with a defense)


@dataclasses.dataclass(frozen=True)
class PruneResult:
  """A pruned, fine-tuned model and what it cost.

  Attributes:
    model: the pruned Keras model (plain layers, no tfmot wrappers).
    stats: sparsity, parameters and FLOPs (`PruneStats`).
    epsilon: DP-SGD's ε when the fine-tuning was DP, else None.
    history: the fine-tuning's per-epoch metrics.
  """

  model: object
  stats: PruneStats
  epsilon: object = None
  history: object = None


def prune_and_finetune(model: tf.keras.Model, members, pruner: str,
                       sparsity: float, finetune, defense=None, *,
                       callbacks=()) -> PruneResult:
  """Prunes `model` and fine-tunes it on `members` (a ClassificationData
  whose train split is the model's training set and whose test split
  validates), with `defense` (a `tfmia.training.defenses.Defense`) during the
  fine-tuning, as mia_prune's `prune.py` / `prune_dp.py` do.

  Everything is checked before any training starts: the pruner, the
  sparsity, the model (a structured pruner needs conv layers), the defense.
  """
  from tfmia.training import defenses
  from tfmia.models.adapter import ends_in_softmax
  defense = defense or defenses.Defense()
  check_pruner(pruner, sparsity, model)
  if ends_in_softmax(model):
    # Fine-tuning (and PPB, adversarial regularisation) work on logits.
    raise ValueError(f"`model` {model.name!r} ends in a softmax; fine-tuning "
                     "after pruning trains on logits. Prune the model "
                     "without its softmax (`prune_structured` and "
                     "`wrap_unstructured` take it as it is).")
  if not isinstance(defense, defenses.Defense):
    raise TypeError("`defense` must be a tfmia.training.defenses.Defense. "
                    f"Received: {type(defense).__name__}")
  if pruner == "l1_unstructured" and defense.is_dp and not \
      defenses.fast_dp_unsupported(model):
    # DP-SGD clips fast on plain layers: fixed masks instead of wrappers.
    from tfmia.snn.graph import as_functional
    plain = tf.keras.models.clone_model(as_functional(model))
    plain.set_weights(as_functional(model).get_weights())
    masks = magnitude_masks(plain, sparsity)
    out = defenses.train_with_defense(plain, members, finetune, defense,
                                      callbacks=callbacks, masks=masks)
    return PruneResult(out.model, unstructured_stats(model, out.model,
                                                     sparsity),
                       out.epsilon, out.history)
  if pruner == "l1_unstructured":
    wrapped = wrap_unstructured(model, sparsity)
    out = defenses.train_with_defense(
        wrapped, members, finetune, defense,
        callbacks=list(callbacks) + unstructured_callbacks())
    pruned = strip(out.model)
    return PruneResult(pruned, unstructured_stats(model, pruned, sparsity),
                       out.epsilon, out.history)
  pruned, st = prune_structured(model, pruner, sparsity)
  out = defenses.train_with_defense(pruned, members, finetune, defense,
                                    callbacks=callbacks)
  return PruneResult(out.model, st, out.epsilon, out.history)
