"""Helpers shared by tests (import them; fixtures live in conftest.py)."""

import numpy as np


def tiny_reference_config(directory, num_models=2, **train):
  """A target and `num_models` reference MLPs on digits: seconds to train."""
  from tfmia.data import DataConfig
  from tfmia.references import ReferenceConfig
  from tfmia.training import TrainConfig
  return ReferenceConfig(
      data=DataConfig(dataset="digits", train_size=400, test_size=200),
      model="dense", model_kwargs={"depth": 1, "units": 64},
      train=TrainConfig(**{"epochs": 8, "batch_size": 32, **train}),
      num_models=num_models, reference_dir=str(directory))


def tiny_architecture_config(**changes):
  """The architecture study on digits at its smallest: 5 models, 2 epochs."""
  from tfmia.studies import architectures
  settings = dict(dataset="digits", epochs=2, every_n_epochs=1, batch_size=64,
                  train_size=200, test_size=200, attacks=("threshold",))
  settings.update(changes)
  return architectures.ArchitectureStudyConfig(**settings)


def ann_predict(model, x):
  return np.asarray(model.predict(x, verbose=0)).argmax(1)


def spy_trained(monkeypatch, module):
  """Names of the models `module.train_with_privacy` trains (rather than
  loads from a complete run folder) from now on."""
  trained = []
  real = module.train_with_privacy

  def spy(*a, **k):
    run = real(*a, **k)
    if not run.resumed:
      trained.append(k["name"])
    return run
  monkeypatch.setattr(module, "train_with_privacy", spy)
  return trained


def assert_same_weights(folder_a, folder_b, names):
  """Every h5 dataset of each model's weights file is equal, bit for bit,
  in the two reference folders (either may be a URL)."""
  import h5py
  from tfmia.infra import fs, io
  from tfmia import references

  def read(path):
    out = {}
    with io.local_file(path) as local, h5py.File(local, "r") as f:
      f.visititems(lambda k, v: out.__setitem__(k, v[()])
                   if isinstance(v, h5py.Dataset) else None)
    return out

  for name in names:
    a = read(fs.path(folder_a) / name / references.WEIGHTS_FILE)
    b = read(fs.path(folder_b) / name / references.WEIGHTS_FILE)
    assert a.keys() == b.keys() and a, name
    for k in a:
      np.testing.assert_array_equal(a[k], b[k], err_msg=f"{name}:{k}")


def masked_copy(model, per_layer: dict):
  """A same-shaped copy of `model` whose pruned channels are zeroed: the
  filters (and bias) of each pruned Conv2D and the scale and shift of each
  pruned BatchNorm. `per_layer` is `channels_to_keep`'s first value. This
  is what NNI's masks compute; a structured pruning must match it on the
  kept channels. A test oracle for `tfmia.variants.pruning`."""
  import tensorflow as tf
  from tfmia.snn.graph import as_functional
  model = as_functional(model)
  copy = tf.keras.models.clone_model(model)
  copy.set_weights(model.get_weights())
  for name, keep in per_layer.items():
    layer = copy.get_layer(name)
    if isinstance(layer, tf.keras.layers.Conv2D):
      ws = layer.get_weights()
      drop = np.setdiff1d(np.arange(ws[0].shape[-1]), keep)
      ws[0][..., drop] = 0
      for b in ws[1:]:
        b[drop] = 0
      layer.set_weights(ws)
    elif isinstance(layer, tf.keras.layers.BatchNormalization):
      gamma, beta, mean, var = layer.get_weights()
      drop = np.setdiff1d(np.arange(len(gamma)), keep)
      gamma[drop], beta[drop] = 0, 0
      layer.set_weights([gamma, beta, mean, var])
  return copy


def bn_dropout_mlp(input_shape, num_classes, *, dropout: float = 0.0):
  """A small MLP with BatchNorm (and dropout when asked): a builder the
  tests name as "tfmia_testing:bn_dropout_mlp"."""
  import tensorflow as tf
  layers = tf.keras.layers
  inp = tf.keras.Input(tuple(input_shape))
  x = layers.Flatten()(inp)
  x = layers.Dense(32)(x)
  x = layers.ReLU()(layers.BatchNormalization()(x))
  if dropout:
    x = layers.Dropout(dropout)(x)
  return tf.keras.Model(inp, layers.Dense(num_classes)(x), name="bn_mlp")


def sequential_softmax(input_shape, num_classes):
  """A user's Sequential model ending in a softmax: a builder the tests
  name as "tfmia_testing:sequential_softmax"."""
  import tensorflow as tf
  return tf.keras.Sequential([
      tf.keras.layers.Flatten(input_shape=tuple(input_shape)),
      tf.keras.layers.Dense(16, activation="relu"),
      tf.keras.layers.Dense(num_classes, activation="softmax")],
      name="seq_softmax")
