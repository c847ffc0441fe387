"""A converted SNN rebuilt from tfmia.snn.direct's layers: the same logits and
input gradients as the simulator, and trainable / attackable as a directly
trained SNN."""

import numpy as np
import pytest
import tensorflow as tf

from tfmia import snn

from tfmia.snn import direct as spiking


def _grads(model, x, y):
  x = tf.constant(x)
  with tf.GradientTape() as tape:
    tape.watch(x)
    loss = tf.keras.losses.sparse_categorical_crossentropy(
        y, model(x), from_logits=True)
  return tape.gradient(loss, x).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("max_pool", ["gate", "avg"])
def test_converted_conv_net_matches_the_simulator(trained_conv, digits_data,
                                                  max_pool):
  x, y = digits_data.x_test[:32], digits_data.y_test[:32]
  conv = snn.convert(trained_conv, digits_data.x_train[:200], timesteps=4,
                     max_pool=max_pool)
  # An initial potential, as data-driven conversion can set, must carry over.
  net = snn.network_of(conv)
  net.set_thresholds({n: (th, 0.25 * th)
                      for n, (th, _) in net.thresholds().items()})
  layered = snn.as_spiking_layers(conv)
  kinds = {type(l).__name__ for l in layered.layers}
  assert {"SpikeEncoder", "LIF", "TimeSum"} <= kinds
  # conv's max pooling follows ReLUs: spikes, gated or averaged.
  assert ("GatedMaxPool" in kinds) == (max_pool == "gate")
  assert "MaxPooling2D" not in kinds
  want = conv.predict(x, verbose=0)
  got = layered.predict(x, verbose=0)
  np.testing.assert_allclose(got, want, atol=1e-5)
  # The same surrogate: the input gradients agree too.
  np.testing.assert_allclose(_grads(layered, x, y), _grads(conv, x, y),
                             atol=1e-5)
  # The LIF layers hold the simulator's thresholds, fixed.
  lifs = [l for l in layered.layers if isinstance(l, spiking.LIF)]
  assert [l.name for l in lifs] == net.neuron_names()
  for l in lifs:
    th, v0 = net.thresholds()[l.name]
    assert float(l.threshold.numpy()) == pytest.approx(th)
    assert l.v_init == pytest.approx(v0) and not l.threshold.trainable


def _residual_net():
  """A residual block with BatchNorm (folded by the conversion)."""
  L = tf.keras.layers
  tf.keras.utils.set_random_seed(0)
  inp = tf.keras.Input((8, 8, 1))
  a = L.ReLU()(L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(inp)))
  b = L.Conv2D(8, 3, padding="same")(a)
  h = L.ReLU()(L.Add()([a, b]))
  h = L.GlobalAveragePooling2D()(L.AveragePooling2D()(h))
  return tf.keras.Model(inp, L.Dense(10)(h))


@pytest.mark.slow
def test_converted_resnet_matches_and_trains_like_a_direct_snn(digits_data):
  ann = _residual_net()
  x, y = digits_data.x_train[:64], digits_data.y_train[:64]
  conv = snn.convert(ann, x, timesteps=3)
  layered = snn.as_spiking_layers(conv)
  assert sum(isinstance(l, tf.keras.layers.Add) for l in layered.layers) == 1
  np.testing.assert_allclose(layered.predict(x, verbose=0),
                             conv.predict(x, verbose=0), atol=1e-4)
  # The same model kind as direct training: train_model fine-tunes it.
  from tfmia.training import TrainConfig, train_model
  before = [w.numpy().copy() for w in layered.trainable_weights]
  train_model(layered, digits_data.replace(x_train=x, y_train=y,
                                           x_test=x[:16], y_test=y[:16]),
              TrainConfig(epochs=1, batch_size=32, optimizer="sgd",
                          learning_rate=0.01))
  assert any(np.abs(a - b.numpy()).max() > 0
             for a, b in zip(before, layered.trainable_weights))


def test_only_the_boxcar_surrogate_carries_over(trained_conv, digits_data):
  conv = snn.convert(trained_conv, digits_data.x_train[:50], timesteps=2,
                     surrogate="sigmoid")
  with pytest.raises(ValueError, match="boxcar"):
    snn.as_spiking_layers(conv)
  with pytest.raises(TypeError, match="SpikingNetwork"):
    snn.as_spiking_layers(trained_conv)


def test_lif_options_by_hand():
  # θ = 2, v_init = 1, spikes carry θ, firing at equality: currents 1, 0, 2
  # give v = 2 -> spike (2), v = 0; v = 0; v = 2 -> spike (2), v = 0.
  s, u = spiking.lif_simulate(np.array([[1.0], [0.0], [2.0]], "float32"),
                              2.0, amplitude="threshold", v_init=1.0,
                              fire_on_equal=True)
  np.testing.assert_allclose(s.numpy().ravel(), [2.0, 0.0, 2.0])
  np.testing.assert_allclose(u.numpy().ravel(), [0.0, 0.0, 0.0])
  # Without firing at equality, v = 2 = θ does not spike.
  s, _ = spiking.lif_simulate(np.array([[1.0]], "float32"), 2.0, v_init=1.0)
  assert s.numpy().ravel().tolist() == [0.0]
  with pytest.raises(ValueError, match="amplitude"):
    spiking.lif_simulate(np.zeros((1, 1), "float32"), 1.0, amplitude="big")


def test_a_sequential_softmax_model_converts_to_layers(digits_data):
  L = tf.keras.layers
  tf.keras.utils.set_random_seed(1)
  seq = tf.keras.Sequential([
      tf.keras.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"),
      L.Flatten(), L.Dense(10, activation="softmax")])
  x = digits_data.x_train[:32]
  conv = snn.convert(seq, x, timesteps=2)
  layered = snn.as_spiking_layers(conv)
  np.testing.assert_allclose(layered.predict(x, verbose=0),
                             conv.predict(x, verbose=0), atol=1e-5)
