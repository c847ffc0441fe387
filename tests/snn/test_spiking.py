"""Directly trained spiking networks: LIF membrane traces by hand, the
encoders' spike trains on hand-made inputs, surrogate gradients, the spiking
VGG's data-driven thresholds, training and saving, and bad options."""

import numpy as np
import pytest
import tensorflow as tf

from tfmia import models

from tfmia.snn import direct as spiking


@pytest.mark.parametrize("leak, reset, spikes, trace", [
    # u: 0.6; 1.2 → spike, −1 → 0.2; 0.8; 0.9.
    (1.0, "subtract", [0, 1, 0, 0], [0.6, 0.2, 0.8, 0.9]),
    # u: 0.6; 0.3 + 0.6 = 0.9; 0.45 + 0.6 = 1.05 → spike → 0.05;
    # 0.025 + 0.1 = 0.125.
    (0.5, "subtract", [0, 0, 1, 0], [0.6, 0.9, 0.05, 0.125]),
    # u: 0.6; 1.2 → spike → 0; 0.6; 0.7.
    (1.0, "zero", [0, 1, 0, 0], [0.6, 0.0, 0.6, 0.7]),
    # u: 0.6; 0.9; 1.05 → spike → 0; 0.1.
    (0.5, "zero", [0, 0, 1, 0], [0.6, 0.9, 0.0, 0.1]),
])
def test_lif_membrane_by_hand(leak, reset, spikes, trace):
  currents = np.array([[0.6], [0.6], [0.6], [0.1]], "float32")
  s, u = spiking.lif_simulate(currents, 1.0, leak, reset=reset)
  np.testing.assert_array_equal(s.numpy().ravel(), spikes)
  np.testing.assert_allclose(u.numpy().ravel(), trace, atol=1e-6)


def test_a_neuron_fires_only_above_threshold_and_theta_scales():
  # u = 0.5, then exactly 1.0 = θ: x = 0, no spike (HIRE: mem/θ − 1 > 0).
  s, u = spiking.lif_simulate(np.array([[0.5], [0.5]], "float32"), 1.0)
  np.testing.assert_array_equal(s.numpy().ravel(), [0, 0])
  np.testing.assert_allclose(u.numpy().ravel(), [0.5, 1.0])
  # θ = 2: the same currents doubled give the same spikes.
  currents = np.array([[0.6], [0.6], [0.6], [0.1]], "float32")
  s, u = spiking.lif_simulate(2 * currents, 2.0, 1.0)
  np.testing.assert_array_equal(s.numpy().ravel(), [0, 1, 0, 0])
  np.testing.assert_allclose(u.numpy().ravel(), [1.2, 0.4, 1.6, 1.8],
                             atol=1e-6)


def test_surrogates_by_hand_and_through_the_neuron():
  x = tf.constant([-1.5, -0.5, 0.0, 0.25, 0.5, 2.0])
  np.testing.assert_allclose(spiking.surrogate_gradient(x, "linear"),
                             [0, 0.15, 0.3, 0.225, 0.15, 0], atol=1e-6)
  np.testing.assert_allclose(spiking.surrogate_gradient(x, "boxcar"),
                             [0, 0, 1, 1, 0, 0])
  np.testing.assert_allclose(spiking.surrogate_gradient(x, "triangle"),
                             [0, 0.5, 1, 0.75, 0.5, 0], atol=1e-6)
  np.testing.assert_allclose(spiking.surrogate_gradient(x[2:3], "sigmoid"),
                             [1.0], atol=1e-6)    # α/4 with α = 4
  np.testing.assert_allclose(spiking.surrogate_gradient(x[2:3], "atan"),
                             [1.0], atol=1e-6)    # α/2 with α = 2
  # One step, θ = 2: d s / d I = g(I/θ − 1) / θ; I = 1.5 → x = −0.25.
  cur = tf.Variable([[1.5]])
  with tf.GradientTape() as tape:
    s, _ = spiking.lif_simulate(cur[None], 2.0, 1.0)
  assert float(tape.gradient(s, cur)) == pytest.approx(0.3 * 0.75 / 2)


@pytest.mark.parametrize("leak, d_i0", [(1.0, 0.48), (0.5, 0.36)])
def test_bptt_through_two_steps_by_hand(leak, d_i0):
  # θ = 1, linear surrogate g(x) = 0.3·max(0, 1 − |x|), reset detached.
  # Step 0: u = 0.8, x = −0.2, no spike, g = 0.24. Step 1: u = λ·0.8 + 0.4
  # (1.2 or 0.8), x = ±0.2, g = 0.24. d(s0 + s1)/d I0 = 0.24 + λ·0.24;
  # d/d I1 = 0.24.
  cur = tf.Variable([[0.8], [0.4]])
  with tf.GradientTape() as tape:
    s, _ = spiking.lif_simulate(cur, 1.0, leak)
    total = tf.reduce_sum(s)
  np.testing.assert_allclose(tape.gradient(total, cur).numpy().ravel(),
                             [d_i0, 0.24], atol=1e-6)


def test_encoders_on_a_hand_made_input():
  x = np.array([[0.0, 0.5, 1.0, 0.75]], "float32")
  d = spiking.encode(x, 3, "direct").numpy()
  np.testing.assert_array_equal(d, np.repeat(x[None], 3, 0))
  # Latency, T = 5: t_f = round(4·(1 − x)) = 4, 2, 0, 1.
  lat = spiking.encode(x, 5, "latency").numpy()[:, 0]
  np.testing.assert_array_equal(lat.argmax(0), [4, 2, 0, 1])
  np.testing.assert_array_equal(lat.sum(0), [1, 1, 1, 1])
  # Phase, K = 8, dividing by 255 (x itself): 0.75 = 0.11₂, 0.5 = 0.1₂;
  # 1.0 clips to 1 − 2⁻⁸ = all ones; T = 10 wraps to phases 0, 1.
  ph = spiking.encode(x, 10, "phase", phase_divisor=255).numpy()[:, 0]
  np.testing.assert_array_equal(ph[:, 3], [1, 1, 0, 0, 0, 0, 0, 0, 1, 1])
  np.testing.assert_array_equal(ph[:, 1], [1, 0, 0, 0, 0, 0, 0, 0, 1, 0])
  np.testing.assert_array_equal(ph[:8, 2], np.ones(8))
  np.testing.assert_array_equal(ph[:, 0], np.zeros(10))
  # grad-obf-snn's default, p/256 of the pixel p = 255·x: x = 0.75 is
  # p = 191.25, 191.25/256 = 0.10111111₂ (SpikingJelly's weighted phase
  # encoder subtracts 2⁻ᵏ greedily); 0.5 is p = 127.5 -> 0.01111111₂.
  ph = spiking.encode(x, 8, "phase").numpy()[:, 0]
  np.testing.assert_array_equal(ph[:, 3], [1, 0, 1, 1, 1, 1, 1, 1])
  np.testing.assert_array_equal(ph[:, 1], [0, 1, 1, 1, 1, 1, 1, 1])
  # On integer pixels both divisors give the pixel's 8 bits.
  pix = np.array([[0, 1, 128, 200, 255]], "float32")
  bits = ((pix[..., None].astype(int) >> np.arange(7, -1, -1)) & 1)[0].T
  for divisor in (255, 256):
    np.testing.assert_array_equal(
        spiking.encode(pix / 255, 8, "phase", phase_divisor=divisor
                       ).numpy()[:, 0], bits)
  with pytest.raises(ValueError, match="phase_divisor"):
    spiking.encode(x, 8, "phase", phase_divisor=100)
  # Poisson: 0 never fires, 1 always; seeded draws repeat; rate ≈ x.
  big = np.full((1, 20000), 0.3, "float32")
  p1 = spiking.encode(big, 4, "poisson", seed=7).numpy()
  p2 = spiking.encode(big, 4, "poisson", seed=7).numpy()
  np.testing.assert_array_equal(p1, p2)
  assert p1.mean() == pytest.approx(0.3, abs=0.01)
  p = spiking.encode(x, 50, "poisson", seed=1).numpy()[:, 0]
  assert p[:, 0].sum() == 0 and p[:, 2].sum() == 50


def test_encoder_gradients():
  x = tf.Variable(np.full((1, 4), 0.4, "float32"))
  for enc, want in (("direct", 3.0), ("poisson", 3.0), ("latency", 0.0),
                    ("phase", 0.0)):
    with tf.GradientTape() as tape:
      out = tf.reduce_sum(spiking.encode(x, 3, enc, seed=0))
    g = tape.gradient(out, x, unconnected_gradients="zero").numpy()
    np.testing.assert_allclose(g, np.full((1, 4), want), err_msg=enc)


def _digits(n=200):
  from tfmia.data import DataConfig, prepare_data
  return prepare_data(DataConfig(dataset="digits", train_size=n,
                                 test_size=100))


@pytest.mark.slow
def test_spiking_vgg_thresholds_from_data_training_and_saving(tmp_path):
  from tfmia.training import TrainConfig
  from tfmia.training.loop import train_model
  data = _digits()
  tf.keras.utils.set_random_seed(0)
  m = models.build_model("spiking_vgg", data.input_shape, 10, depth=5,
                         timesteps=3, width_multiplier=0.25, hidden=256)
  lifs = [l for l in m.layers if isinstance(l, spiking.LIF)]
  assert len(lifs) == 5
  assert all(float(l.initialized) == 0 for l in lifs)
  rates = spiking.spiking_rate(m, data.x_train[:64])   # the first call
  assert all(float(l.initialized) == 1 for l in lifs)
  assert all(0 < r < 0.5 for r in rates.values()), rates
  before = [w.copy() for w in m.get_weights()]
  train_model(m, data, TrainConfig(epochs=1, batch_size=50,
                                   optimizer="adam", learning_rate=1e-3))
  changed = [np.abs(a - b).max() > 0 for a, b in zip(before, m.get_weights())]
  assert sum(changed) >= 8
  path = tmp_path / "w.weights.h5"
  m.save_weights(path)
  again = models.build_model("spiking_vgg", data.input_shape, 10, depth=5,
                             timesteps=3, width_multiplier=0.25, hidden=256)
  again.load_weights(path)
  x = data.x_test[:8]
  np.testing.assert_allclose(again(x), m(x), atol=1e-5)
  assert [float(l.threshold) for l in again.layers
          if isinstance(l, spiking.LIF)] == [float(l.threshold) for l in lifs]


def test_building_traces_no_threshold_initialisation(monkeypatch):
  """Keras' functional construction (a scratch graph, never run) traces no
  data-threshold initialisation; the first real call does it, with the
  hybrid-conversion rule: 0.7 x the 99.7th percentile of the layer's input
  currents."""
  calls = []
  real = spiking._percentile
  monkeypatch.setattr(spiking, "_percentile",
                      lambda *a, **k: calls.append(1) or real(*a, **k))
  data = _digits(64)
  m = models.build_model("spiking_vgg", data.input_shape, 10, depth=5,
                         timesteps=1, width_multiplier=0.25, hidden=32)
  assert calls == []
  lif0 = next(l for l in m.layers if isinstance(l, spiking.LIF))
  x = data.x_train[:64]
  currents = np.sort(tf.keras.Model(m.input, lif0.input)(x).numpy().ravel())
  m(x)
  assert len(calls) == 5 and float(lif0.initialized) == 1
  k = int(np.round(np.float32(0.997) * np.float32(currents.size - 1)))
  assert float(lif0.threshold) == pytest.approx(0.7 * currents[k], rel=1e-6)


def test_gradients_through_a_spiking_vgg_follow_the_surrogate():
  data = _digits()
  x = tf.constant(data.x_train[:16])
  y = data.y_train[:16]
  grads = {}
  for surrogate in ("linear", "atan"):
    tf.keras.utils.set_random_seed(0)
    m = models.build_model("spiking_vgg", data.input_shape, 10, depth=5,
                           timesteps=3, width_multiplier=0.25, hidden=256,
                           surrogate=surrogate, dropout=0.0)
    m(x)   # thresholds from the data
    with tf.GradientTape() as tape:
      tape.watch(x)
      loss = tf.keras.losses.sparse_categorical_crossentropy(
          y, m(x), from_logits=True)
    g = tape.gradient(loss, x).numpy()
    assert np.isfinite(g).all() and np.abs(g).max() > 0
    grads[surrogate] = g
  assert np.abs(grads["linear"] - grads["atan"]).max() > 1e-6


@pytest.mark.parametrize("kwargs, match", [
    (dict(encoder="rank"), "`encoder` must be one of"),
    (dict(neuron="izhikevich"), "`neuron` must be one of"),
    (dict(reset="soft"), "`reset` must be one of"),
    (dict(surrogate="erf"), "`surrogate` must be one of"),
    (dict(timesteps=0), "`timesteps` must be a positive int"),
    (dict(depth=7), "`depth` must be one of"),
])
def test_bad_spiking_options_are_refused(kwargs, match):
  with pytest.raises(ValueError, match=match):
    models.build_model("spiking_vgg", (32, 32, 3), 10, **kwargs)
  with pytest.raises(ValueError, match="`leak` must be in"):
    spiking.LIF(4, leak=1.5)


@pytest.mark.slow
def test_hire_training_steps_and_noise():
  from tfmia.training import TrainConfig
  from tfmia.training.hire import (HireConfig,
                                   HireTraining,
                                   _timesteps,
                                   train_hire)
  data = _digits(100)
  config = TrainConfig(epochs=2, batch_size=25, optimizer="sgd",
                       learning_rate=0.01)

  def build():
    # T = 8 in 2 periods of 4: fewer steps leave this net's output silent.
    tf.keras.utils.set_random_seed(0)
    m = models.build_model("spiking_vgg", data.input_shape, 10, depth=5,
                           timesteps=8, width_multiplier=0.25, hidden=128,
                           dropout=0.0)
    m(data.x_train[:50])   # thresholds from the data
    return m

  m = build()
  before = [w.copy() for w in m.get_weights()]
  counted = []
  r = train_hire(m, data, config, HireConfig(periods=2, eps=0.03, step=0.03),
                 callbacks=[tf.keras.callbacks.LambdaCallback(
                     on_train_batch_end=lambda b, logs: counted.append(b))])
  assert r.model is m
  assert any(np.abs(a - b).max() > 0 for a, b in zip(before, m.get_weights()))
  # Standard training: 2 epochs of 100 / 25 = 4 batches, one update each.
  # HIRE: ⌈2 / 2⌉ = 1 epoch of 4 batches (counted), two updates each.
  standard_updates = config.epochs * (100 // config.batch_size)
  assert len(counted) == 4
  assert len(counted) * 2 == standard_updates
  # Evaluation is back at the full T.
  assert all(l.timesteps == 8 for l in m.layers if hasattr(l, "timesteps"))

  # The noise, by hand, with a learning rate of 0 (weights fixed):
  # δ₁ = step·sign(∇ₓL(x)), δ₂ = clip(δ₁ + step·sign(∇ₓL(clip(x + δ₁))), ±ε),
  # each gradient taken at T/N = 4 steps.
  m = build()
  h = HireTraining(m, HireConfig(periods=2, eps=0.05, step=0.03))
  h.compile(tf.keras.optimizers.SGD(0.0),
            tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  x, y = data.x_train[:8], data.y_train[:8]
  h.train_on_batch(x, y)

  def input_grad(xin):
    xin = tf.constant(xin)
    with tf.GradientTape() as tape:
      tape.watch(xin)
      with _timesteps(m, 4):
        loss = tf.keras.losses.SparseCategoricalCrossentropy(
            from_logits=True)(y, m(xin, training=True))
    return tape.gradient(loss, xin).numpy()

  d1 = 0.03 * np.sign(input_grad(x))
  d2 = np.clip(d1 + 0.03 * np.sign(input_grad(np.clip(x + d1, 0, 1))),
               -0.05, 0.05)
  assert np.abs(d1).max() > 0
  np.testing.assert_allclose(h.last_noise, d2, atol=1e-6)

  with pytest.raises(ValueError, match="must divide"):
    HireTraining(m, HireConfig(periods=3))
  with pytest.raises(ValueError, match="`eps` must be a number in"):
    HireConfig(eps=2.0)
  with pytest.raises(ValueError, match="no spiking layers"):
    inp = tf.keras.Input((4,))
    HireTraining(tf.keras.Model(inp, tf.keras.layers.Dense(2)(inp)),
                 HireConfig())


@pytest.mark.slow
def test_sew_resnet_adds_spikes_and_trains():
  from tfmia.training import TrainConfig
  from tfmia.training.loop import train_model
  data = _digits()
  tf.keras.utils.set_random_seed(0)
  m = models.build_model("sew_resnet", data.input_shape, 10, depth=18,
                         timesteps=2, width_multiplier=0.125)
  adds = [l for l in m.layers if isinstance(l, tf.keras.layers.Add)]
  assert len(adds) == 8                      # 2 blocks in each of 4 stages
  lifs = [l for l in m.layers if isinstance(l, spiking.LIF)]
  assert all(l.neuron == "if" and l.reset == "zero" and
             l.surrogate == "atan" for l in lifs)
  # SEW ADD: a block's output is the sum of two spike trains, so in {0,1,2}.
  probe = tf.keras.Model(m.inputs, adds[0].output)
  vals = np.unique(probe(data.x_train[:8]).numpy())
  assert set(vals) <= {0.0, 1.0, 2.0} and len(vals) >= 2
  before = [w.copy() for w in m.get_weights()]
  train_model(m, data, TrainConfig(epochs=1, batch_size=50,
                                   optimizer="adam"))
  assert any(np.abs(a - b).max() > 0 for a, b in zip(before, m.get_weights()))
  with pytest.raises(ValueError, match="`depth` must be one of"):
    models.build_model("sew_resnet", (32, 32, 3), 10, depth=50)
