"""Parsing Keras models for conversion: BN folding and clear errors."""

import numpy as np
import pytest
import tensorflow as tf

from tfmia import models, snn
from tfmia.snn import graph
from tfmia.training import calibration
from tfmia.snn.network import network_of

L = tf.keras.layers


def _bn_model():
  tf.keras.utils.set_random_seed(1)
  m = models.build_model("vgg11", (8, 8, 1), 4, width_multiplier=0.125)
  _randomise_bn(m)   # non-trivial BN statistics, so folding is exercised
  return m


@pytest.mark.slow
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


# ---- Sequential and nested models -----------------------------------------


def _seq_layers():
  return [L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), L.ReLU(),
          L.AveragePooling2D(), L.Flatten(), L.Dense(16, activation="relu"),
          L.Dense(3)]


def _randomise_bn(model):
  rng = np.random.default_rng(0)
  for layer in model.submodules:
    if isinstance(layer, L.BatchNormalization):
      g, b, mu, var = layer.get_weights()
      layer.set_weights([rng.uniform(0.5, 2, g.shape),
                         rng.normal(0, .5, b.shape),
                         rng.normal(0, .5, mu.shape),
                         rng.uniform(.5, 2, var.shape)])


@pytest.mark.parametrize("build", ["input", "input_shape", "build"])
def test_sequential_models_convert(build):
  tf.keras.utils.set_random_seed(3)
  layers = _seq_layers()
  if build == "input":
    m = tf.keras.Sequential([tf.keras.Input((6, 6, 2))] + layers)
  elif build == "input_shape":
    layers[0] = L.Conv2D(4, 3, padding="same", input_shape=(6, 6, 2))
    m = tf.keras.Sequential(layers)
  else:
    m = tf.keras.Sequential(layers)
    m.build((None, 6, 6, 2))
  _randomise_bn(m)
  kinds = [n.kind for n in graph.parse(m)]
  assert kinds == ["input", "conv", "neuron", "avgpool", "flatten", "dense",
                   "neuron", "dense"]
  x = np.random.default_rng(4).random((8, 6, 6, 2)).astype(np.float32)
  s = snn.convert(m, x, timesteps=1, thresholds="percentile")
  folded = network_of(s).run(tf.constant(x), mode="ann")[0].numpy()
  np.testing.assert_allclose(folded, m.predict(x, verbose=0), rtol=1e-4,
                             atol=1e-4)


def test_sequential_nested_in_a_functional_model_converts():
  tf.keras.utils.set_random_seed(5)
  features = tf.keras.Sequential(
      [L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), L.ReLU(),
       L.AveragePooling2D()], name="features")
  inp = tf.keras.Input((6, 6, 2))
  x = features(inp)
  x = L.Flatten()(x)
  out = L.Dense(3)(x)
  m = tf.keras.Model(inp, out)
  _randomise_bn(m)
  flat = graph.as_functional(m)
  assert not any(isinstance(la, tf.keras.Model) for la in flat.layers)
  data = np.random.default_rng(6).random((8, 6, 6, 2)).astype(np.float32)
  np.testing.assert_allclose(flat.predict(data, verbose=0),
                             m.predict(data, verbose=0), rtol=1e-6)
  s = snn.convert(m, data, timesteps=1, thresholds="percentile")
  folded = network_of(s).run(tf.constant(data), mode="ann")[0].numpy()
  np.testing.assert_allclose(folded, m.predict(data, verbose=0), rtol=1e-4,
                             atol=1e-4)


def test_a_flat_functional_model_is_returned_as_it_is():
  m = models.build_model("conv", (8, 8, 1), 3, filters=4)
  assert graph.as_functional(m) is m


def test_subclassed_and_unbuilt_models_are_refused_by_name():
  class Net(tf.keras.Model):
    def __init__(self):
      super().__init__(name="my_net")
      self.d = L.Dense(3)

    def call(self, x):
      return self.d(L.Flatten()(x))

  net = Net()
  net(np.zeros((1, 4, 4, 1), np.float32))
  with pytest.raises(TypeError, match="'my_net'.*subclassed"):
    graph.parse(net)
  with pytest.raises(TypeError, match="Sequential model without an input "
                                      "shape"):
    graph.parse(tf.keras.Sequential([L.Flatten(), L.Dense(3)]))
  with pytest.raises(TypeError, match="keras.Model.*Received: str"):
    graph.parse("model")


# ---- BatchNorm kept as a layer for calibration -----------------------------


@pytest.mark.slow
def test_unfolded_batchnorm_matches_folded_and_folds_back():
  m = _bn_model()
  x = np.random.default_rng(2).random((16, 8, 8, 1)).astype(np.float32)
  kinds = [n.kind for n in graph.parse(m, fold_batchnorm=False)]
  assert kinds.count("batchnorm") == 8          # one per conv
  folded = snn.convert(m, x, timesteps=4, thresholds="percentile")
  kept = snn.convert(m, x, timesteps=4, thresholds="percentile",
                     fold_batchnorm=False)
  assert any(n["kind"] == "batchnorm" for n in network_of(kept).graph)
  ann = m.predict(x, verbose=0)
  np.testing.assert_allclose(
      network_of(kept).run(tf.constant(x), mode="ann")[0].numpy(), ann,
      rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(kept.predict(x, verbose=0),
                             folded.predict(x, verbose=0), atol=1e-4)
  back = snn.fold_batchnorm(kept)
  assert not any(n["kind"] == "batchnorm" for n in network_of(back).graph)
  assert network_of(back).thresholds() == network_of(kept).thresholds()
  np.testing.assert_allclose(back.predict(x, verbose=0),
                             kept.predict(x, verbose=0), atol=1e-5)
  assert snn.fold_batchnorm(folded) is folded


@pytest.mark.slow
def test_calibration_trains_unfolded_batchnorm_on_batch_statistics():
  m = _bn_model()
  rng = np.random.default_rng(3)
  x = rng.random((64, 8, 8, 1)).astype(np.float32)
  y = rng.integers(0, 4, 64)
  kept = snn.convert(m, x, timesteps=2, thresholds="percentile",
                     fold_batchnorm=False)
  net = network_of(kept)
  bn = next(n["name"] for n in net.graph if n["kind"] == "batchnorm")
  before = net.params(bn)
  # A training-mode pass moves the running statistics toward the batch's
  # (momentum 0.99: new = 0.99·old + 0.01·batch); inference leaves them.
  net.run(tf.constant(x))
  np.testing.assert_array_equal(net.params(bn)["moving_mean"],
                                before["moving_mean"])
  net.run(tf.constant(x), training=True)
  after = net.params(bn)
  first = next(n for n in net.graph if n["kind"] == "conv")
  w = net.params(first["name"])
  conv = tf.nn.conv2d(x, w["kernel"], 1, "SAME").numpy() + w["bias"]
  np.testing.assert_allclose(
      after["moving_mean"],
      0.99 * before["moving_mean"] + 0.01 * conv.mean(axis=(0, 1, 2)),
      rtol=1e-4, atol=1e-6)
  net.set_synapses({bn: before})
  calibration.calibrate(kept, (x, y),
                        calibration.CalibrationConfig(epochs=1, batch_size=32))
  trained = net.params(bn)
  assert not np.allclose(trained["gamma"], before["gamma"])
  folded = snn.fold_batchnorm(kept)
  np.testing.assert_allclose(folded.predict(x, verbose=0),
                             kept.predict(x, verbose=0), atol=1e-4)
  # The next T of a chain continues with the trained BN layer.
  t3 = snn.with_timesteps(kept, 3)
  for name, value in network_of(t3).params(bn).items():
    np.testing.assert_array_equal(value, trained[name])


@pytest.mark.parametrize("ending", ["dense_softmax", "activation", "layer"])
def test_a_model_ending_in_softmax_converts_to_logits(ending):
  tf.keras.utils.set_random_seed(7)
  layers = [tf.keras.Input((6, 6, 2)), L.Flatten(),
            L.Dense(8, activation="relu")]
  if ending == "dense_softmax":
    layers.append(L.Dense(3, activation="softmax"))
  else:
    layers += [L.Dense(3), L.Activation("softmax") if ending == "activation"
               else L.Softmax()]
  m = tf.keras.Sequential(layers)
  x = np.random.default_rng(8).random((8, 6, 6, 2)).astype(np.float32)
  s = snn.convert(m, x, timesteps=1, thresholds="percentile")
  logits = network_of(s).run(tf.constant(x), mode="ann")[0].numpy()
  np.testing.assert_allclose(tf.nn.softmax(logits).numpy(),
                             m.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
