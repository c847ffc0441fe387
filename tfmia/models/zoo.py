"""Keras model builders and their registry.

Every builder is a function `(input_shape, num_classes, *, ...) -> keras.Model`
returning logits (no softmax), with every layer named. Arguments are checked
before anything is built. The layers stay within what a rate-coded spiking
network can express (ReLU, average/max pooling, BatchNorm, Add), so every model
here can later be converted to an SNN.

Spatial layers adapt to small inputs: a pooling layer is skipped when the
feature map is already 1 pixel wide, so every builder also works on 8x8 digits.
"""

from __future__ import annotations

import inspect
from typing import Callable, Optional, Sequence

import tensorflow as tf

layers = tf.keras.layers

_REGISTRY: dict[str, Callable[..., tf.keras.Model]] = {}
POOLINGS = ("max", "avg")


def register(name: str):
  """Decorator: registers a builder under `name`.

  A builder is `fn(input_shape, num_classes, ...)` returning a Keras model
  that ends in logits or in a softmax. Its options are the parameters after
  those two, keyword-only or not (`def mlp(input_shape, num_classes,
  width=64)`), or anything with `**kwargs`.
  """
  def wrap(fn):
    if name in _REGISTRY:
      raise ValueError(f"A model builder named {name!r} is already registered.")
    positional = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                p.VAR_POSITIONAL)]
    if len(positional) < 2 and not any(p.kind is p.VAR_POSITIONAL
                                       for p in positional):
      raise TypeError(f"Model builder {name!r} must take (input_shape, "
                      "num_classes, ...) as its first two arguments. "
                      f"Received: {fn.__name__}{inspect.signature(fn)}")
    _REGISTRY[name] = fn
    return fn
  return wrap


def available_models() -> tuple[str, ...]:
  return tuple(sorted(_REGISTRY))


def get_builder(name: str) -> Callable[..., tf.keras.Model]:
  """The builder registered as `name`; a name "package.module:function"
  imports that function and registers it under the name, so a config file
  or the command line can name a builder from the user's own code."""
  if name not in _REGISTRY and isinstance(name, str) and ":" in name:
    import importlib
    module, _, attr = name.partition(":")
    try:
      fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as e:
      raise ValueError(f"Model builder {name!r} cannot be imported "
                       f"({type(e).__name__}: {e}). It must be "
                       "'package.module:function' on the Python path."
                       ) from None
    if not callable(fn):
      raise ValueError(f"Model builder {name!r} is not a function.")
    register(name)(fn)
  if name not in _REGISTRY:
    raise ValueError(f"Unknown model. Valid models: "
                     f"{', '.join(available_models())}. Received: name={name!r}")
  return _REGISTRY[name]


def options(name: str) -> tuple[str, ...]:
  """The options builder `name` takes: its parameters after `input_shape`
  and `num_classes`, keyword-only or not."""
  params = list(inspect.signature(get_builder(name)).parameters.values())
  return tuple(p.name for i, p in enumerate(params)
               if p.kind is p.KEYWORD_ONLY
               or (p.kind is p.POSITIONAL_OR_KEYWORD and i >= 2))


def check_kwargs(name: str, kwargs: dict) -> None:
  """Raises, naming the option, when builder `name` does not take one of
  `kwargs` (checked without building anything)."""
  params = inspect.signature(get_builder(name)).parameters.values()
  if any(p.kind is p.VAR_KEYWORD for p in params):
    return   # **kwargs: the builder checks its own options
  takes = options(name)
  unknown = sorted(set(kwargs) - set(takes))
  if unknown:
    raise ValueError(
        f"Model {name!r} does not take {', '.join(unknown)} (it takes: "
        f"{', '.join(takes) or 'no options'}). Received: "
        + ", ".join(f"{k}={kwargs[k]!r}" for k in unknown))


def load_saved_model(path) -> tf.keras.Model:
  """A Keras model saved whole (.keras / .h5), local or at a URL, without
  its compile state."""
  import os
  from tfmia.infra import io
  with io.local_file(path) as local:
    return tf.keras.models.load_model(os.fspath(local), compile=False)


def build_model(name: str, input_shape: Sequence[int], num_classes: int,
                **kwargs) -> tf.keras.Model:
  """Builds the registered model `name`; kwargs go to its builder."""
  check_kwargs(name, kwargs)
  try:
    return get_builder(name)(input_shape, num_classes, **kwargs)
  except TypeError as e:  # e.g. a string where a number belongs
    raise ValueError(f"Model {name!r} cannot be built with "
                     f"{kwargs or 'its defaults'}: {e}") from None


# ---- argument checks ------------------------------------------------------


def _check_common(input_shape, num_classes, pooling="max", *, rank=3):
  """The checked input shape; `rank=None` takes any shape (flat, tabular,
  sequence), 3 only images."""
  shape = tuple(input_shape)
  if not shape or not all(isinstance(d, int) and d > 0 for d in shape) or (
      rank is not None and len(shape) != rank):
    what = ("(height, width, channels)" if rank == 3
            else "a tuple")
    raise ValueError(f"`input_shape` must be {what} of positive ints. "
                     f"Received: input_shape={input_shape!r}")
  if not isinstance(num_classes, int) or num_classes < 2:
    raise ValueError("`num_classes` must be an int >= 2. "
                     f"Received: num_classes={num_classes!r}")
  if pooling not in POOLINGS:
    raise ValueError(f"`pooling` must be one of {POOLINGS}. "
                     f"Received: pooling={pooling!r}")
  return shape


def _check_positive(**kwargs):
  for k, v in kwargs.items():
    if not isinstance(v, int) or v < 1:
      raise ValueError(f"`{k}` must be a positive int. Received: {k}={v!r}")


def _check_width(width_multiplier, dropout=0.0):
  if not width_multiplier > 0:
    raise ValueError("`width_multiplier` must be > 0. "
                     f"Received: width_multiplier={width_multiplier!r}")
  if not 0.0 <= dropout < 1.0:
    raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")


def _scaled(width: int, multiplier: float) -> int:
  return max(1, int(round(width * multiplier)))


def _pool(x, pooling: str, name: str):
  if min(x.shape[1], x.shape[2]) < 2:
    return x  # nothing left to pool on tiny inputs
  cls = layers.MaxPooling2D if pooling == "max" else layers.AveragePooling2D
  return cls(2, name=name)(x)


def _check_momentum(momentum):
  if not 0.0 <= momentum < 1.0:
    raise ValueError("`batchnorm_momentum` must be in [0, 1). "
                     f"Received: batchnorm_momentum={momentum!r}")


def _conv_bn_relu(x, filters, name, stride=1, momentum=0.99):
  x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                    name=f"{name}_conv")(x)
  x = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn")(x)
  return layers.ReLU(name=f"{name}_relu")(x)


# ---- the architecture case study's models ---------------------------------


@register("conv")
def conv(input_shape, num_classes, *, conv_layers: int = 3, filters: int = 32,
         dense_layers: int = 1, dense_units: int = 64,
         pooling: str = "max") -> tf.keras.Model:
  """The case study's CNN: `conv_layers` x (Conv3x3 + pool), Dense, logits.

  With the defaults on 32x32x3 and 10 classes this is 3 x (Conv32 + MaxPool) +
  Dense64, 28,298 parameters. Convolutions are 'valid' like the published
  model, and switch to 'same' where the map is too small for a valid 3x3.
  """
  shape = _check_common(input_shape, num_classes, pooling)
  _check_positive(conv_layers=conv_layers, filters=filters,
                  dense_units=dense_units)
  if not isinstance(dense_layers, int) or dense_layers < 0:
    raise ValueError("`dense_layers` must be an int >= 0. "
                     f"Received: dense_layers={dense_layers!r}")
  inputs = tf.keras.Input(shape, name="input")
  x = inputs
  for i in range(conv_layers):
    padding = "valid" if min(x.shape[1], x.shape[2]) >= 3 else "same"
    x = layers.Conv2D(filters, 3, padding=padding, activation="relu",
                      name=f"conv{i + 1}")(x)
    x = _pool(x, pooling, name=f"pool{i + 1}")
  x = layers.Flatten(name="flatten")(x)
  for i in range(dense_layers):
    x = layers.Dense(dense_units, activation="relu", name=f"dense{i + 1}")(x)
  outputs = layers.Dense(num_classes, name="logits")(x)
  return tf.keras.Model(inputs, outputs, name="conv")


@register("dense")
def dense(input_shape, num_classes, *, depth: int = 4,
          units: int = 64) -> tf.keras.Model:
  """A multilayer perceptron: Flatten, `depth` x Dense(units, relu), logits.
  Any input shape: images, or flat and tabular features.

  On 32x32x3 and 10 classes: depth 4 has 209,802 parameters, depth 7 222,282.
  """
  shape = _check_common(input_shape, num_classes, rank=None)
  _check_positive(depth=depth, units=units)
  inputs = tf.keras.Input(shape, name="input")
  x = layers.Flatten(name="flatten")(inputs)
  for i in range(depth):
    x = layers.Dense(units, activation="relu", name=f"dense{i + 1}")(x)
  outputs = layers.Dense(num_classes, name="logits")(x)
  return tf.keras.Model(inputs, outputs, name=f"dense{depth}")


# ---- the SNN and pruning studies' models ----------------------------------

_VGG_CONFIGS = {
    "vgg11": (64, "P", 128, "P", 256, 256, "P", 512, 512, "P", 512, 512, "P"),
    "vgg16": (64, 64, "P", 128, 128, "P", 256, 256, 256, "P", 512, 512, 512,
              "P", 512, 512, 512, "P"),
}


def _vgg(name, input_shape, num_classes, *, width_multiplier, pooling,
         dropout, classifier_units, batchnorm_momentum=0.99):
  shape = _check_common(input_shape, num_classes, pooling)
  _check_width(width_multiplier, dropout)
  _check_momentum(batchnorm_momentum)
  inputs = tf.keras.Input(shape, name="input")
  x, block, conv_i = inputs, 1, 1
  for item in _VGG_CONFIGS[name]:
    if item == "P":
      x = _pool(x, pooling, name=f"block{block}_pool")
      block, conv_i = block + 1, 1
    else:
      x = _conv_bn_relu(x, _scaled(item, width_multiplier),
                        name=f"block{block}_{conv_i}",
                        momentum=batchnorm_momentum)
      conv_i += 1
  x = layers.Flatten(name="flatten")(x)
  for i, units in enumerate(classifier_units):
    x = layers.Dense(_scaled(units, width_multiplier), activation="relu",
                     name=f"fc{i + 1}")(x)
    if dropout:
      x = layers.Dropout(dropout, name=f"fc{i + 1}_dropout")(x)
  outputs = layers.Dense(num_classes, name="logits")(x)
  return tf.keras.Model(inputs, outputs, name=name)


def _vgg_builder(name: str, depth: int):
  def builder(input_shape, num_classes, *, width_multiplier: float = 1.0,
              pooling: str = "max", dropout: float = 0.0,
              classifier_units: Sequence[int] = (512,),
              batchnorm_momentum: float = 0.99) -> tf.keras.Model:
    return _vgg(name, input_shape, num_classes,
                width_multiplier=width_multiplier, pooling=pooling,
                dropout=dropout, classifier_units=tuple(classifier_units),
                batchnorm_momentum=batchnorm_momentum)
  builder.__name__ = builder.__qualname__ = name
  builder.__doc__ = (f"CIFAR-style VGG-{depth} with BatchNorm; "
                     "`width_multiplier` shrinks it. `batchnorm_momentum` "
                     "0.9 is PyTorch's default (its momentum=0.1).")
  return register(name)(builder)


vgg11 = _vgg_builder("vgg11", 11)
vgg16 = _vgg_builder("vgg16", 16)


# HIRE-SNN's `vgg_spiking_nodewise.py` configurations ("A": average pool,
# which replaces the dropout after the conv before it).
_SPIKING_VGG = {
    5: (64, "A", 128, 128, "A"),
    9: (64, "A", 128, 256, "A", 256, 512, "A", 512, "A", 512),
    11: (64, "A", 128, 256, "A", 512, 512, 512, "A", 512, 512),
}


@register("spiking_vgg")
def spiking_vgg(input_shape, num_classes, *, depth: int = 11,
                timesteps: int = 8, encoder: str = "direct",
                neuron: str = "lif", threshold: Optional[float] = None,
                leak: float = 1.0, train_threshold: bool = True,
                train_leak: bool = True, reset: str = "subtract",
                surrogate: str = "linear", dropout: float = 0.2,
                width_multiplier: float = 1.0, hidden: int = 4096,
                pooling: str = "avg") -> tf.keras.Model:
  """HIRE-SNN's directly trained spiking VGG (5, 9 or 11): bias-free 3x3
  convs and IF/LIF neurons, average pooling (max: grad-obf-snn's variant),
  dropout with one mask for all T steps, two hidden spiking Dense layers,
  output = the last layer's membrane accumulated over T. Input pixels in
  [0, 1] go through `encoder` (tfmia.snn.direct). `threshold=None` sets each
  layer's threshold from the data on the first batch (`tfmia.snn.direct.LIF`)."""
  from tfmia.snn import direct as spiking
  shape = _check_common(input_shape, num_classes, pooling)
  _check_width(width_multiplier, dropout)
  _check_positive(hidden=hidden)
  spiking.check_spiking(timesteps=timesteps, encoder=encoder, neuron=neuron,
                        reset=reset, surrogate=surrogate)
  if depth not in _SPIKING_VGG:
    raise ValueError(f"`depth` must be one of {sorted(_SPIKING_VGG)}. "
                     f"Received: depth={depth!r}")
  T = timesteps
  neuron_kw = dict(neuron=neuron, threshold=threshold, leak=leak,
                   train_threshold=train_threshold, train_leak=train_leak,
                   reset=reset, surrogate=surrogate)
  # HIRE-SNN: conv weights N(0, 2 / (k·k·out)), linear N(0, 0.01), no bias.
  def conv_init():   # a fresh initializer per layer: no repeated weights
    return tf.keras.initializers.VarianceScaling(2.0, "fan_out",
                                                 "untruncated_normal")

  inputs = tf.keras.Input(shape, name="input")
  x = spiking.SpikeEncoder(T, encoder, name="encoder")(inputs)
  pending_dropout = None
  for i, item in enumerate(_SPIKING_VGG[depth]):
    if item == "A":
      pending_dropout = None        # HIRE-SNN pops it
      if min(x.shape[1], x.shape[2]) >= 2:
        cls = (layers.AveragePooling2D if pooling == "avg"
               else layers.MaxPooling2D)
        x = cls(2, name=f"pool{i}")(x)
      continue
    if pending_dropout is not None:
      x = pending_dropout(x)
    x = layers.Conv2D(_scaled(item, width_multiplier), 3, padding="same",
                      use_bias=False, kernel_initializer=conv_init(),
                      name=f"conv{i}")(x)
    x = spiking.LIF(T, name=f"lif{i}", **neuron_kw)(x)
    pending_dropout = (spiking.TimeDropout(T, dropout, name=f"drop{i}")
                       if dropout else None)
  if pending_dropout is not None:
    x = pending_dropout(x)
  x = layers.Flatten(name="flatten")(x)
  def dense_init():
    return tf.keras.initializers.RandomNormal(0.0, 0.01)

  for j in (1, 2):
    x = layers.Dense(_scaled(hidden, width_multiplier), use_bias=False,
                     kernel_initializer=dense_init(), name=f"fc{j}")(x)
    x = spiking.LIF(T, name=f"fc{j}_lif", **neuron_kw)(x)
    if dropout:
      x = spiking.TimeDropout(T, dropout, name=f"fc{j}_drop")(x)
  x = layers.Dense(num_classes, use_bias=False, kernel_initializer=dense_init(),
                   name="logits")(x)
  outputs = spiking.TimeSum(T, name="membrane")(x)
  return tf.keras.Model(inputs, outputs, name=f"spiking_vgg{depth}")


@register("spiking_vgg_ann")
def spiking_vgg_ann(input_shape, num_classes, **kwargs) -> tf.keras.Model:
  """The ANN twin (`tfmia.snn.direct.ann_twin`) of `spiking_vgg(**kwargs)`:
  the same layers with ReLU for the spiking neurons, freshly initialised."""
  from tfmia.snn import direct as spiking
  return spiking.ann_twin(spiking_vgg(input_shape, num_classes, **kwargs))


# It takes spiking_vgg's options (shown to `options` and `check_kwargs`).
spiking_vgg_ann.__signature__ = inspect.signature(spiking_vgg)


@register("sew_resnet")
def sew_resnet(input_shape, num_classes, *, depth: int = 18,
               timesteps: int = 4, encoder: str = "direct",
               neuron: str = "if", threshold: Optional[float] = 1.0,
               reset: str = "zero", surrogate: str = "atan",
               width_multiplier: float = 1.0,
               pooling: str = "max") -> tf.keras.Model:
  """SEW-ResNet-18/34 with ADD connections (Fang et al. 2021), as
  grad-obf-snn builds it from SpikingJelly: a 7x7 stride-2 stem, BN, spiking
  neurons and a 3x3 stride-2 pool (`pooling` max or avg), BasicBlocks of
  conv-BN-SN twice whose output spikes are added to the (downsampled and
  spiking) identity, global average pooling, and a Dense output averaged
  over T. IF neurons with threshold 1, reset to zero, ATan surrogate, as
  SpikingJelly's IFNode(detach_reset=True)."""
  from tfmia.snn import direct as spiking
  shape = _check_common(input_shape, num_classes, pooling)
  _check_width(width_multiplier)
  spiking.check_spiking(timesteps=timesteps, encoder=encoder, neuron=neuron,
                        reset=reset, surrogate=surrogate)
  blocks = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
  if depth not in blocks:
    raise ValueError(f"`depth` must be one of {sorted(blocks)}. "
                     f"Received: depth={depth!r}")
  T = timesteps
  counter = iter(range(1000))

  def sn(x, name):
    return spiking.LIF(T, neuron=neuron, threshold=threshold, reset=reset,
                       surrogate=surrogate, train_leak=False,
                       name=f"{name}_sn{next(counter)}")(x)

  def conv_bn(x, filters, kernel, stride, name):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same",
                      use_bias=False, kernel_initializer="he_normal",
                      name=name)(x)
    return layers.BatchNormalization(name=name + "_bn")(x)

  inputs = tf.keras.Input(shape, name="input")
  x = spiking.SpikeEncoder(T, encoder, name="encoder")(inputs)
  width = _scaled(64, width_multiplier)
  x = sn(conv_bn(x, width, 7, 2, "stem"), "stem")
  if min(x.shape[1], x.shape[2]) >= 2:
    pool = (layers.MaxPooling2D if pooling == "max"
            else layers.AveragePooling2D)
    x = pool(3, strides=2, padding="same", name="stem_pool")(x)
  for stage, n in enumerate(blocks[depth]):
    filters = _scaled(64 * 2 ** stage, width_multiplier)
    for b in range(n):
      stride = 2 if stage > 0 and b == 0 and min(x.shape[1], x.shape[2]) >= 2 \
          else 1
      name = f"stage{stage + 1}_block{b + 1}"
      out = sn(conv_bn(x, filters, 3, stride, name + "_conv1"), name)
      out = sn(conv_bn(out, filters, 3, 1, name + "_conv2"), name)
      identity = x
      if stride != 1 or x.shape[-1] != filters:
        identity = sn(conv_bn(x, filters, 1, stride, name + "_down"), name)
      x = layers.Add(name=name + "_add")([identity, out])
  x = layers.GlobalAveragePooling2D(name="gap")(x)
  x = layers.Dense(num_classes, name="logits")(x)
  outputs = spiking.TimeSum(T, mean=True, name="mean_over_time")(x)
  return tf.keras.Model(inputs, outputs, name=f"sew_resnet{depth}")


def _basic_block(x, filters, stride, name, momentum=0.99):
  """ResNet basic block; the residual sum is ReLU'd after the Add."""
  shortcut = x
  y = _conv_bn_relu(x, filters, f"{name}_a", stride=stride, momentum=momentum)
  y = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                    name=f"{name}_b_conv")(y)
  y = layers.BatchNormalization(momentum=momentum, name=f"{name}_b_bn")(y)
  if stride != 1 or x.shape[-1] != filters:
    shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False,
                             name=f"{name}_shortcut_conv")(x)
    shortcut = layers.BatchNormalization(
        momentum=momentum, name=f"{name}_shortcut_bn")(shortcut)
  y = layers.Add(name=f"{name}_add")([y, shortcut])
  return layers.ReLU(name=f"{name}_out")(y)


def _resnet(name, input_shape, num_classes, *, stage_filters, blocks_per_stage,
            width_multiplier, batchnorm_momentum=0.99):
  shape = _check_common(input_shape, num_classes)
  _check_width(width_multiplier)
  _check_momentum(batchnorm_momentum)
  inputs = tf.keras.Input(shape, name="input")
  x = _conv_bn_relu(inputs, _scaled(stage_filters[0], width_multiplier),
                    name="stem", momentum=batchnorm_momentum)
  for s, (filters, blocks) in enumerate(zip(stage_filters, blocks_per_stage)):
    for b in range(blocks):
      small = min(x.shape[1], x.shape[2]) < 2
      stride = 2 if (s > 0 and b == 0 and not small) else 1
      x = _basic_block(x, _scaled(filters, width_multiplier), stride,
                       name=f"stage{s + 1}_block{b + 1}",
                       momentum=batchnorm_momentum)
  x = layers.GlobalAveragePooling2D(name="gap")(x)
  outputs = layers.Dense(num_classes, name="logits")(x)
  return tf.keras.Model(inputs, outputs, name=name)


@register("resnet18")
def resnet18(input_shape, num_classes, *, width_multiplier: float = 1.0,
             batchnorm_momentum: float = 0.99) -> tf.keras.Model:
  """CIFAR ResNet-18: 3x3 stem, 4 stages of 2 basic blocks, 64..512 filters."""
  return _resnet("resnet18", input_shape, num_classes,
                 stage_filters=(64, 128, 256, 512),
                 blocks_per_stage=(2, 2, 2, 2),
                 width_multiplier=width_multiplier,
                 batchnorm_momentum=batchnorm_momentum)


@register("resnet20")
def resnet20(input_shape, num_classes, *, width_multiplier: float = 1.0,
             batchnorm_momentum: float = 0.99) -> tf.keras.Model:
  """CIFAR ResNet-20 (He et al. 2016): 3 stages of 3 blocks, 16..64 filters."""
  return _resnet("resnet20", input_shape, num_classes,
                 stage_filters=(16, 32, 64), blocks_per_stage=(3, 3, 3),
                 width_multiplier=width_multiplier,
                 batchnorm_momentum=batchnorm_momentum)


@register("cifarnet")
def cifarnet(input_shape, num_classes, *, width_multiplier: float = 1.0,
             pooling: str = "avg", dropout: float = 0.0) -> tf.keras.Model:
  """CIFARNet of the SNN literature (Wu et al., AAAI 2019).

  128C3-256C3-P2-512C3-P2-1024C3-512C3-1024FC-512FC-logits, with BatchNorm.
  """
  shape = _check_common(input_shape, num_classes, pooling)
  _check_width(width_multiplier, dropout)
  m = width_multiplier
  inputs = tf.keras.Input(shape, name="input")
  x = _conv_bn_relu(inputs, _scaled(128, m), "conv1")
  x = _conv_bn_relu(x, _scaled(256, m), "conv2")
  x = _pool(x, pooling, "pool1")
  x = _conv_bn_relu(x, _scaled(512, m), "conv3")
  x = _pool(x, pooling, "pool2")
  x = _conv_bn_relu(x, _scaled(1024, m), "conv4")
  x = _conv_bn_relu(x, _scaled(512, m), "conv5")
  x = layers.Flatten(name="flatten")(x)
  for i, units in enumerate((1024, 512)):
    x = layers.Dense(_scaled(units, m), activation="relu", name=f"fc{i + 1}")(x)
    if dropout:
      x = layers.Dropout(dropout, name=f"fc{i + 1}_dropout")(x)
  outputs = layers.Dense(num_classes, name="logits")(x)
  return tf.keras.Model(inputs, outputs, name="cifarnet")


@register("wrn")
def wrn(input_shape, num_classes, *, depth: int = 28, width: int = 2,
        batchnorm_momentum: float = 0.1) -> tf.keras.Model:
  """Wide ResNet (Zagoruyko & Komodakis, 2016) as ML Privacy Meter builds it
  (`models/wide_resnet.py`, after objax's zoo): a 3x3 stem of 16 filters,
  then three groups of (depth - 4) / 6 pre-activation blocks (BN, ReLU,
  3x3 conv; BN, ReLU, 3x3 conv; a 1x1 projection of the first activation
  where the shape changes) at 16·width, 32·width and 64·width filters,
  strides 1, 2, 2; BN, ReLU, global average pooling, logits. Convolutions
  have no bias. WRN-28-2 on 10 classes has 1,467,610 trainable parameters.

  `batchnorm_momentum` 0.1 in Keras' convention is ML Privacy Meter's
  `momentum=0.9` in PyTorch's (which weights the new batch by 0.9).
  Stride-2 convolutions pad 'same' (TensorFlow pads the bottom-right more
  than PyTorch's padding=1 does).
  """
  shape = _check_common(input_shape, num_classes)
  _check_positive(depth=depth, width=width)
  if (depth - 4) % 6:
    raise ValueError(f"`depth` must be 6n + 4 (e.g. 16, 28). "
                     f"Received: depth={depth!r}")
  n = (depth - 4) // 6
  bn = lambda name: layers.BatchNormalization(  # pylint: disable=g-long-lambda
      momentum=batchnorm_momentum, epsilon=1e-5, name=name)
  conv = lambda f, k, stride, name: layers.Conv2D(  # pylint: disable=g-long-lambda
      f, k, strides=stride, padding="same", use_bias=False, name=name)
  inputs = tf.keras.Input(shape, name="input")
  x = conv(16, 3, 1, "stem")(inputs)
  channels = 16
  for g, filters in enumerate(16 * width * 2 ** i for i in range(3)):
    for b in range(n):
      stride = 2 if g > 0 and b == 0 else 1
      p = f"group{g + 1}_block{b + 1}"
      o1 = layers.ReLU(name=f"{p}_relu1")(bn(f"{p}_bn1")(x))
      y = conv(filters, 3, stride, f"{p}_conv1")(o1)
      y = layers.ReLU(name=f"{p}_relu2")(bn(f"{p}_bn2")(y))
      y = conv(filters, 3, 1, f"{p}_conv2")(y)
      shortcut = (conv(filters, 1, stride, f"{p}_proj")(o1)
                  if channels != filters or stride > 1 else x)
      x = layers.Add(name=f"{p}_add")([y, shortcut])
      channels = filters
  x = layers.ReLU(name="final_relu")(bn("final_bn")(x))
  x = layers.GlobalAveragePooling2D(name="gap")(x)
  outputs = layers.Dense(num_classes, name="logits")(x)
  return tf.keras.Model(inputs, outputs, name=f"wrn{depth}_{width}")


# ---- attack networks -------------------------------------------------------


def miafc(input_dim: int, *, hidden: Sequence[int] = (512, 256, 128),
          dropout: float = 0.2, seed: int = 0) -> tf.keras.Model:
  """mia_prune's MIAFC (`models.py`): (F,) features -> two logits
  (non-member, member). Dense-ReLU layers of `hidden` widths, dropout after
  the first two, Glorot-uniform weights seeded from `seed`. The NN attacks
  (`tfmia.attacks.nn_attack`) and the adversarial-regularisation defense
  (`tfmia.training.defenses`) both use it."""
  seeds = iter(range(seed * 1000, seed * 1000 + 100))
  inp = tf.keras.Input((input_dim,), name="features")
  h = inp
  for i, units in enumerate(hidden):
    h = layers.Dense(units, activation="relu", name=f"fc{i + 1}",
                     kernel_initializer=tf.keras.initializers.GlorotUniform(
                         seed=next(seeds)))(h)
    if i < 2:
      h = layers.Dropout(dropout, name=f"dropout{i + 1}")(h)
  out = layers.Dense(2, name=f"fc{len(hidden) + 1}",
                     kernel_initializer=tf.keras.initializers.GlorotUniform(
                         seed=next(seeds)))(h)
  return tf.keras.Model(inp, out, name="miafc")
