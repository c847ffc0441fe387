"""Parsing Keras models for conversion: BN folding and clear errors."""

import numpy as np
import pytest
import tensorflow as tf

from tfmia import models, snn
from tfmia.snn import graph
from tfmia.snn.network import network_of

L = tf.keras.layers


def _bn_model():
  tf.keras.utils.set_random_seed(1)
  m = models.build_model("vgg11", (8, 8, 1), 4, width_multiplier=0.125)
  # Non-trivial BatchNorm statistics, so folding is really exercised.
  rng = np.random.default_rng(0)
  for layer in m.layers:
    if isinstance(layer, L.BatchNormalization):
      g, b, mu, var = layer.get_weights()
      layer.set_weights([rng.uniform(0.5, 2, g.shape), rng.normal(0, .5, b.shape),
                         rng.normal(0, .5, mu.shape), rng.uniform(.5, 2, var.shape)])
  return m


def test_batchnorm_is_folded_exactly():
  m = _bn_model()
  nodes = graph.parse(m)
  assert not any(n.kind == "batchnorm" for n in nodes)
  assert [n.kind for n in nodes].count("neuron") == 9   # 8 convs + fc1
  x = np.random.default_rng(2).random((16, 8, 8, 1)).astype(np.float32)
  s = snn.convert(m, x, timesteps=1, thresholds="percentile")
  folded = network_of(s).run(tf.constant(x), mode="ann")[0].numpy()
  np.testing.assert_allclose(folded, m.predict(x, verbose=0), rtol=1e-4,
                             atol=1e-4)


def test_dropout_is_ignored_and_relu_layers_become_neurons():
  inp = tf.keras.Input((4, 4, 1), name="image")
  x = L.Conv2D(2, 3, name="c")(inp)
  x = L.ReLU(name="r")(x)
  x = L.Flatten(name="f")(x)
  x = L.Dropout(0.5, name="drop")(x)
  out = L.Dense(3, name="out")(x)
  nodes = graph.parse(tf.keras.Model(inp, out))
  assert [(n.name, n.kind) for n in nodes] == [
      ("image", "input"),
      ("c", "conv"), ("r", "neuron"), ("f", "flatten"), ("out", "dense")]


@pytest.mark.parametrize("make, name", [
    (lambda x: L.Dense(3, activation="sigmoid", name="sig")(L.Flatten()(x)),
     "sig"),
    (lambda x: L.Dense(3, name="o")(L.Flatten()(L.LeakyReLU(name="leaky")(
        L.Conv2D(2, 3)(x)))), "leaky"),
    (lambda x: L.Dense(3, name="o")(L.Flatten()(L.BatchNormalization(
        name="bn_after_relu")(L.Conv2D(2, 3, activation="relu")(x)))),
     "bn_after_relu"),
])
def test_unsupported_layers_are_named(make, name):
  inp = tf.keras.Input((8, 8, 1))
  model = tf.keras.Model(inp, make(inp))
  with pytest.raises(snn.UnsupportedLayerError, match=f"'{name}'"):
    graph.parse(model)


def test_lstm_is_named():
  inp = tf.keras.Input((8, 8))
  model = tf.keras.Model(inp, L.Dense(3)(L.LSTM(4, name="my_lstm")(inp)))
  with pytest.raises(snn.UnsupportedLayerError, match="'my_lstm'.*LSTM"):
    graph.parse(model)


def test_relu_output_is_refused():
  inp = tf.keras.Input((4, 4, 1))
  out = L.Dense(3, activation="relu", name="probs")(L.Flatten()(inp))
  with pytest.raises(snn.UnsupportedLayerError, match="linear output"):
    graph.parse(tf.keras.Model(inp, out))
