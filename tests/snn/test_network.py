"""The spike simulator: IF dynamics by hand, convergence, residual blocks,
statistics, save/load, thresholds and calibration."""

import numpy as np
import pytest
import tensorflow as tf

from tfmia import snn
from tfmia.snn import thresholds
from tfmia.training import calibration
from tfmia.snn.network import network_of

from tfmia_testing import ann_predict

L = tf.keras.layers


def _one_neuron(weight=0.3):
  inp = tf.keras.Input((1, 1, 1))
  h = L.Dense(1, activation="relu", name="hidden",
              kernel_initializer=tf.keras.initializers.Constant(weight),
              bias_initializer="zeros")(L.Flatten()(inp))
  out = L.Dense(1, name="out", kernel_initializer="ones",
                bias_initializer="zeros")(h)
  return tf.keras.Model(inp, out)


@pytest.mark.parametrize("t, v_init, spikes", [(7, 0.0, 2), (3, 0.0, 0),
                                               (3, 0.5, 1), (10, 0.0, 3)])
def test_integrate_and_fire_by_hand(t, v_init, spikes):
  # Current 0.3 per step, θ = 1, reset by subtraction: with v_0 = 0 the
  # potential runs .3 .6 .9 1.2→.2 .5 .8 1.1→.1 .4 .7 1.0→0, spiking at
  # steps 4, 7 and 10.
  m = snn.convert(_one_neuron(), np.ones((1, 1, 1, 1)), timesteps=t,
                  thresholds="percentile")
  network_of(m).set_thresholds({"hidden_relu": (1.0, v_init)})
  logits = m.predict(np.ones((1, 1, 1, 1)), verbose=0)
  np.testing.assert_allclose(logits, [[spikes / t]], rtol=1e-6)
  r = snn.simulate(m, np.ones((1, 1, 1, 1)))
  np.testing.assert_array_equal(r.spike_counts["hidden_relu"], [spikes])


def test_synaptic_operations_by_hand():
  tf.keras.utils.set_random_seed(0)
  inp = tf.keras.Input((4, 4, 1))
  h = L.Dense(8, activation="relu", name="h")(L.Flatten()(inp))
  model = tf.keras.Model(inp, L.Dense(3, name="out")(h))
  x = np.random.default_rng(0).random((5, 4, 4, 1)).astype(np.float32)
  s = snn.convert(model, x, timesteps=16, thresholds="percentile")
  r = snn.simulate(s, x)
  # The ANN: 16·8 + 8·3 MACs; the first layer reads the analog input (MACs,
  # once); each spike of h reaches the 3 output units (fan-out 24 / 8).
  assert r.ann_macs == 16 * 8 + 8 * 3
  assert r.input_macs == 16 * 8
  np.testing.assert_allclose(r.sops, 3 * r.spike_counts["h_relu"])
  assert r.logits.shape == (5, 3)


@pytest.mark.slow
def test_converges_to_the_ann_as_t_grows(trained_conv, digits_data):
  x = digits_data.x_test[:300]
  ann = ann_predict(trained_conv, x)
  agree = {}
  for t in (8, 256):
    s = snn.convert(trained_conv, digits_data.x_train[:200], timesteps=t,
                    thresholds="percentile")
    agree[t] = np.mean(ann_predict(s, x) == ann)
  assert agree[256] > 0.93
  assert agree[256] > agree[8]


@pytest.mark.slow
def test_residual_block_converts_and_simulates():
  tf.keras.utils.set_random_seed(0)
  from tfmia import models
  m = models.build_model("resnet20", (8, 8, 1), 3, width_multiplier=0.25)
  x = np.random.default_rng(1).random((20, 8, 8, 1)).astype(np.float32)
  nodes = snn.parse(m)
  assert sum(n.kind == "add" for n in nodes) == 9
  s = snn.convert(m, x, timesteps=512, thresholds="percentile",
                  percentile=100.0)
  got, want = s.predict(x, verbose=0), m.predict(x, verbose=0)
  # Rates approach the ANN's logits as T grows.
  assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.95


@pytest.mark.slow
def test_save_load_and_get_config_round_trip(trained_conv, digits_data,
                                             tmp_path):
  s = snn.convert(trained_conv, digits_data.x_train[:100], timesteps=4,
                  input_coding="poisson", max_pool="avg", seed=3)
  snn.save(s, tmp_path / "snn.keras")
  back = snn.load(tmp_path / "snn.keras")
  x = digits_data.x_test[:40]
  np.testing.assert_array_equal(back.predict(x, verbose=0),
                                s.predict(x, verbose=0))
  a, b = network_of(s), network_of(back)
  assert b.timesteps == 4 and b.input_coding == "poisson" and b.max_pool == "avg"
  assert a.thresholds() == b.thresholds()
  assert b.get_config() == a.get_config()
  again = snn.SpikingNetwork.from_config(a.get_config())
  assert again.get_config()["graph"] == a.get_config()["graph"]


def test_building_and_loading_simulate_nothing(trained_conv, digits_data,
                                              tmp_path, monkeypatch):
  """Keras' functional construction (converting, loading) only infers the
  output's shape: the T-step simulation is not traced there, and the
  model's outputs are those it had when it was."""
  from tfmia.snn import neurons
  from tfmia.snn.network import SpikingNetwork
  runs = []
  run = SpikingNetwork.run
  monkeypatch.setattr(SpikingNetwork, "run", lambda self, x, **k: (
      runs.append(k.get("mode")), run(self, x, **k))[1])
  s = snn.convert(trained_conv, digits_data.x_train[:100], timesteps=3)
  snn.save(s, tmp_path / "snn.keras")
  back = snn.load(tmp_path / "snn.keras")
  assert back.output_shape == (None, 10)
  assert "snn" not in runs    # the conversion's own passes are ANN ones
  x = digits_data.x_test[:40]
  ours = back.predict(x, verbose=0)
  assert runs.count("snn") == 1   # one trace, for predict
  monkeypatch.setattr(neurons, "shape_inference_only", lambda: False)
  traced = snn.load(tmp_path / "snn.keras")
  assert runs.count("snn") == 2   # tracing the simulation to build it
  np.testing.assert_array_equal(traced.predict(x, verbose=0), ours)


@pytest.mark.slow
def test_with_timesteps_keeps_weights(trained_conv, digits_data):
  s = snn.convert(trained_conv, digits_data.x_train[:100], timesteps=2)
  s8 = snn.with_timesteps(s, 8)
  assert network_of(s8).timesteps == 8
  for a, b in zip(s.get_weights(), s8.get_weights()):
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_poisson_coding_is_deterministic_and_rate_coded(trained_conv,
                                                        digits_data):
  x = digits_data.x_test[:200]
  s = snn.convert(trained_conv, digits_data.x_train[:200], timesteps=128,
                  thresholds="percentile", input_coding="poisson")
  p1, p2 = s.predict(x, verbose=0), s.predict(x, verbose=0)
  np.testing.assert_array_equal(p1, p2)
  assert np.mean(p1.argmax(1) == ann_predict(trained_conv, x)) > 0.7


def test_data_driven_threshold_known_answers():
  # Two clusters: four at 1.0, two at 0.1: θ = 1 (the median of what is
  # at or above θ/2), τ = 0.5, so the initial potential is 0.5.
  assert thresholds.fit_one_level_quantizer([0.1, 0.1, 1, 1, 1, 1, 0, -3]) == (
      1.0, 0.5)
  # An outlier does not drag θ up: the fit from the median start wins.
  a = np.array([0.2, 0.9, 1.0, 1.1, 3.0])
  theta, tau = thresholds.fit_one_level_quantizer(a)
  assert theta == pytest.approx(1.05) and tau == pytest.approx(0.525)
  assert thresholds.l1_error(a, theta, tau) < thresholds.l1_error(a, 3.0, 1.5)
  # It is the L1 optimum over a fine grid.
  rng = np.random.default_rng(0)
  a = rng.gamma(2.0, 0.5, 2000)
  theta, tau = thresholds.fit_one_level_quantizer(a)
  grid = np.linspace(0.05, 5, 400)
  best = min(thresholds.l1_error(a, g, g / 2) for g in grid)
  assert thresholds.l1_error(a, theta, tau) <= best + 1e-9
  assert thresholds.percentile_threshold([0, 1, 2, 3, 4], 50) == 2.5
  assert thresholds.fit_one_level_quantizer(np.zeros(5)) == (1.0, 0.5)


@pytest.mark.slow
def test_calibration_at_t1_beats_plain_conversion(trained_conv, digits_data):
  s = snn.convert(trained_conv, digits_data.x_train[:200], timesteps=1)
  x, y = digits_data.x_test, digits_data.y_test
  before = np.mean(ann_predict(s, x) == y)
  calibration.calibrate(s, digits_data, calibration.CalibrationConfig(epochs=2))
  after = np.mean(ann_predict(s, x) == y)
  assert after > before + 0.05
  # The (x, y) form and the epochs override, as in the README.
  s2 = snn.convert(trained_conv, digits_data.x_train[:200], timesteps=1)
  h = calibration.calibrate(s2, (digits_data.x_train, digits_data.y_train), epochs=1)
  assert h.epochs == 1
  with pytest.raises(ValueError, match=r"\(x, y\) pair"):
    calibration.calibrate(s2, (digits_data.x_train, digits_data.y_train[:5]))


def _two_step_neuron(surrogate="boxcar", alpha=None):
  # One neuron, θ = 2, v_0 = 1 (so θ_in = 1 and w = θ_in / T = 0.5), T = 2;
  # its input current is the (direct-coded) input i, its output read by a
  # unit-weight linear layer: logits = (s_1 + s_2) / 2.
  m = snn.convert(_one_neuron(weight=1.0), np.ones((1, 1, 1, 1)),
                  timesteps=2, thresholds="percentile", surrogate=surrogate,
                  surrogate_alpha=alpha)
  network_of(m).set_thresholds({"hidden_relu": (2.0, 1.0)})
  return m


def _d_logits_d_input(m, i):
  x = tf.constant([[[[i]]]], tf.float32)
  with tf.GradientTape() as tape:
    tape.watch(x)
    out = m(x, training=True)
  return float(out.numpy()[0, 0]), float(tape.gradient(out, x).numpy().ravel()[0])


@pytest.mark.parametrize("surrogate, alpha, g", [
    # g(x) at x_1 = v_1 − θ = −0.1 and x_2 = v_2 − θ = 0.8 (w = 0.5).
    ("boxcar", None, lambda x: float(abs(x) < 0.5)),
    ("triangle", None, lambda x: max(0.0, 1 - abs(x) / 0.5)),
    ("sigmoid", None, lambda x: 4 / (1 + np.exp(-4 * x))
     * (1 - 1 / (1 + np.exp(-4 * x)))),
    ("sigmoid", 2.0, lambda x: 2 / (1 + np.exp(-2 * x))
     * (1 - 1 / (1 + np.exp(-2 * x)))),
    ("atan", None, lambda x: 1.0 / (1 + (np.pi * x) ** 2)),
])
def test_two_step_neuron_gradient_by_hand(surrogate, alpha, g):
  # i = 0.9: v_1 = 1 + 0.9 = 1.9 < 2, no spike; v_2 = 1.9 + 0.9 = 2.8 ≥ 2,
  # a spike of θ = 2: logits = (0 + 2) / 2 = 1. With no gradient through
  # the reset, d v_1/di = 1 and d v_2/di = 2, so
  #   d logits/di = (g(x_1) · 1 + g(x_2) · 2) / 2.
  logits, grad = _d_logits_d_input(_two_step_neuron(surrogate, alpha), 0.9)
  assert logits == pytest.approx(1.0)
  assert grad == pytest.approx((g(-0.1) + 2 * g(0.8)) / 2, rel=1e-5)


def test_the_reset_passes_no_gradient_and_the_window_is_the_references():
  # i = 1.2: v_1 = 2.2 spikes (x_1 = 0.2, inside w = 0.5), v ← 0.2;
  # v_2 = 1.4, no spike (x_2 = −0.6, outside). The reference: d v_2/di = 2
  # (the reset passes nothing), g_1 = 1, g_2 = 0 → 0.5. tfmia's old form
  # (w = θ/T = 1, reset gradient 1 − g_1 = 0 → d v_2/di = 1, g_2 = 1) gave
  # (1 + 1) / 2 = 1.
  logits, grad = _d_logits_d_input(_two_step_neuron(), 1.2)
  assert logits == pytest.approx(1.0)
  assert grad == pytest.approx(0.5)


def test_surrogate_is_serialised_and_checked(tmp_path):
  m = _two_step_neuron("atan", 3.0)
  cfg = network_of(m).get_config()
  assert cfg["surrogate"] == "atan" and cfg["surrogate_alpha"] == 3.0
  again = snn.SpikingNetwork.from_config(cfg)
  assert (again.surrogate, again.surrogate_alpha) == ("atan", 3.0)
  snn.save(m, tmp_path / "m.keras")
  back = network_of(snn.load(tmp_path / "m.keras"))
  assert (back.surrogate, back.surrogate_alpha) == ("atan", 3.0)
  # with_settings swaps the surrogate, keeping weights and thresholds.
  tri = snn.with_settings(m, surrogate="triangle")
  assert network_of(tri).surrogate == "triangle"
  assert network_of(tri).thresholds() == network_of(m).thresholds()
  assert _d_logits_d_input(tri, 0.9)[1] == pytest.approx(
      (max(0, 1 - 0.1 / 0.5) + 0) / 2)
  with pytest.raises(ValueError, match="surrogate.*Received: surrogate='erf'"):
    _two_step_neuron("erf")
  with pytest.raises(ValueError, match="surrogate_alpha.*Received"):
    _two_step_neuron("sigmoid", -1.0)


def test_conversion_errors(trained_conv, digits_data):
  x = digits_data.x_train[:10]
  with pytest.raises(ValueError, match="thresholds"):
    snn.convert(trained_conv, x, thresholds="max")
  with pytest.raises(ValueError, match="timesteps"):
    snn.convert(trained_conv, x, timesteps=0)
  with pytest.raises(ValueError, match="calibration_data"):
    snn.convert(trained_conv, x[..., 0])
  with pytest.raises(ValueError, match="input_coding"):
    snn.convert(trained_conv, x, input_coding="latency")
  with pytest.raises(TypeError, match="SpikingNetwork"):
    network_of(trained_conv)


@pytest.mark.slow
def test_spiking_model_works_with_privacy_metrics_and_audit(trained_conv,
                                                            digits_data):
  from tfmia.audits import audit
  from tfmia.audits.callback import PrivacyMetrics
  d = digits_data
  s = snn.convert(trained_conv, d.x_train[:100], timesteps=2)
  cb = PrivacyMetrics(member_data=(d.x_train[:200], d.y_train[:200]),
                      nonmember_data=(d.x_test[:200], d.y_test[:200]),
                      every_n_epochs=1, attacks=("threshold",))
  calibration.calibrate(s, d, calibration.CalibrationConfig(epochs=1), callbacks=[cb])
  assert len(cb.history) == 1 and 0 <= cb.history[0].get("threshold").auc <= 1
  is_member = np.r_[np.ones(200, bool), np.zeros(200, bool)]
  res = audit.audit(audit.Target(s, np.concatenate([d.x_train[:200],
                                                    d.x_test[:200]]),
                                 np.concatenate([d.y_train[:200],
                                                 d.y_test[:200]]), is_member),
                    attacks=("threshold",), progress=False)
  assert res.get("threshold").auc > 0.5
