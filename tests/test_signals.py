"""Signals: values from logits, querying a model, augmentations, dropout."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tfmia import signals
from tfmia.signals import SignalConfig, Signals, compute_signals


def _linear_model(seed=0, shape=(4, 4, 1), classes=3):
  tf.keras.utils.set_random_seed(seed)
  inp = tf.keras.Input(shape)
  out = tf.keras.layers.Dense(classes)(tf.keras.layers.Flatten()(inp))
  return tf.keras.Model(inp, out)


def test_signals_from_logits_by_hand():
  logits = np.array([[2.0, 1.0, 0.0]])
  s = Signals.from_logits(logits, [0])
  p = np.exp(logits) / np.exp(logits).sum()
  np.testing.assert_allclose(s.probs[:, 0], p)
  np.testing.assert_allclose(s.confidence[:, 0], p[:, 0])
  np.testing.assert_allclose(s.loss[:, 0], -np.log(p[:, 0]))
  np.testing.assert_allclose(s.scaled_logit[:, 0],
                             np.log(p[0, 0]) - np.log(p[0, 1] + p[0, 2]))


def test_scaled_logit_is_finite_when_confident():
  # p_y = 1 - 1e-40: computing from probabilities would give log(0).
  s = signals.scaled_logit(np.array([[100.0, 8.0, 0.0]]), [0])
  assert np.isfinite(s).all() and s[0] == pytest.approx(
      100 - np.log(np.exp(8.0) + 1.0))


def test_compute_signals_matches_the_model():
  model = _linear_model()
  rng = np.random.default_rng(0)
  x = rng.random((10, 4, 4, 1)).astype(np.float32)
  y = rng.integers(0, 3, 10)
  s = compute_signals(model, x, y, SignalConfig(batch_size=3), progress=False)
  np.testing.assert_allclose(s.logits[:, 0], model.predict(x, verbose=0),
                             rtol=1e-5, atol=1e-6)
  assert s.sensitivity is None


def test_augmentations_keep_or_average():
  model = _linear_model()
  x = np.random.default_rng(1).random((6, 4, 4, 1)).astype(np.float32)
  y = np.zeros(6, dtype=int)
  kept = compute_signals(model, x, y, SignalConfig(augmentations="flip"),
                         progress=False)
  assert kept.logits.shape == (6, 2, 3)
  np.testing.assert_allclose(kept.logits[:, 1],
                             model.predict(x[:, :, ::-1], verbose=0),
                             rtol=1e-5, atol=1e-6)
  shifts = compute_signals(model, x, y, SignalConfig(
      augmentations="flip_shift", shift=1), progress=False)
  assert shifts.num_augmentations == 10
  mean = compute_signals(model, x, y, SignalConfig(
      augmentations="flip_shift", shift=1, aggregate="mean"), progress=False)
  np.testing.assert_allclose(mean.loss[:, 0], shifts.loss.mean(axis=1))


def test_shift_by_hand():
  x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
  out = signals._augment(x, False, 1, 0)[0, ..., 0]
  np.testing.assert_array_equal(out, [[0, 0, 1], [0, 3, 4], [0, 6, 7]])
  out = signals._augment(x, False, 0, -1)[0, ..., 0]
  np.testing.assert_array_equal(out, [[3, 4, 5], [6, 7, 8], [0, 0, 0]])


def test_dropout_masks():
  m = signals.dropout_masks(0, 0, 0, (200, 32, 32, 3), 0.01)
  assert m.shape == (200, 32, 32, 1)
  assert abs((1 - m.mean()) - 0.01) < 0.002
  # Independent of the batch a mask is drawn in.
  np.testing.assert_array_equal(signals.dropout_masks(5, 2, 10, (4, 8, 8), .3),
                                signals.dropout_masks(5, 2, 0, (14, 8, 8), .3)[10:])
  assert not np.array_equal(signals.dropout_masks(5, 1, 0, (4, 8, 8), .3),
                            signals.dropout_masks(5, 2, 0, (4, 8, 8), .3))


def test_mia_snn_masks_differ_across_timesteps_channels_and_models():
  m = signals.mia_snn_masks(0, 7, 0, 0, (50, 8, 8, 3), 0.2, timesteps=4)
  assert m.shape == (4, 50, 8, 8, 3) and m.dtype == bool
  assert abs((1 - m.mean()) - 0.2) < 0.01
  assert not np.array_equal(m[0], m[1])                  # per timestep
  assert not np.array_equal(m[..., 0], m[..., 1])        # per channel
  other = signals.mia_snn_masks(0, 8, 0, 0, (50, 8, 8, 3), 0.2, timesteps=4)
  assert not np.array_equal(m, other)                    # per model
  again = signals.mia_snn_masks(0, 7, 0, 0, (50, 8, 8, 3), 0.2, timesteps=4)
  np.testing.assert_array_equal(m, again)                # seeded
  np.testing.assert_array_equal(                         # batch-independent
      signals.mia_snn_masks(0, 7, 0, 10, (5, 8, 8, 3), 0.2, timesteps=4),
      signals.mia_snn_masks(0, 7, 0, 0, (15, 8, 8, 3), 0.2,
                            timesteps=4)[:, 10:])


def test_mia_snn_dropout_averages_confidence_over_copies_per_model():
  model = _linear_model()
  rng = np.random.default_rng(2)
  x = rng.random((5, 4, 4, 1)).astype(np.float32)
  y = rng.integers(0, 3, 5)
  cfg = SignalConfig(dropout_copies=3, dropout_rate=0.25, seed=4,
                     dropout_masks="mia_snn")
  s = compute_signals(model, x, y, cfg, progress=False, mask_key=11)
  conf = [Signals.from_logits(model.predict(
      x * signals.mia_snn_masks(4, 11, c, 0, x.shape, 0.25)[0], verbose=0),
      y).confidence for c in range(3)]
  np.testing.assert_allclose(s.confidence, np.mean(conf, axis=0), rtol=1e-5)
  other = compute_signals(model, x, y, cfg, progress=False, mask_key=12)
  assert not np.allclose(other.confidence, s.confidence)


def test_a_spiking_model_gets_a_fresh_mask_every_timestep():
  from tfmia.models import adapter
  from tfmia import snn
  model = _linear_model()
  rng = np.random.default_rng(3)
  x = rng.random((6, 4, 4, 1)).astype(np.float32)
  y = rng.integers(0, 3, 6)
  inp = tf.keras.Input((4, 4, 1))
  h = tf.keras.layers.Dense(8, activation="relu")(
      tf.keras.layers.Flatten()(inp))
  ann = tf.keras.Model(inp, tf.keras.layers.Dense(3)(h))
  spiking = snn.convert(ann, x, timesteps=3, thresholds="percentile")
  fwd = adapter.as_adapter(spiking)
  assert fwd.timesteps == 3 and adapter.as_adapter(model).timesteps is None
  # The same input at every step is the ordinary simulation.
  np.testing.assert_allclose(fwd.per_step(np.stack([x] * 3)),
                             spiking.predict(x, verbose=0), rtol=1e-5,
                             atol=1e-6)
  cfg = SignalConfig(dropout_copies=2, dropout_rate=0.3, seed=1,
                     dropout_masks="mia_snn")
  s = compute_signals(spiking, x, y, cfg, progress=False, mask_key=5)
  logits = [fwd.per_step(x[None] * signals.mia_snn_masks(
      1, 5, c, 0, x.shape, 0.3, timesteps=3)) for c in range(2)]
  conf = [Signals.from_logits(lg, y).confidence for lg in logits]
  np.testing.assert_allclose(s.confidence, np.mean(conf, axis=0), rtol=1e-5)
  with pytest.raises(ValueError, match="dropout_masks"):
    SignalConfig(dropout_masks="per_pixel")


def test_dropout_calibration_averages_signals():
  model = _linear_model()
  rng = np.random.default_rng(2)
  x = rng.random((5, 4, 4, 1)).astype(np.float32)
  y = rng.integers(0, 3, 5)
  cfg = SignalConfig(dropout_copies=3, dropout_rate=0.25, seed=4)
  s = compute_signals(model, x, y, cfg, progress=False)
  losses = [Signals.from_logits(model.predict(
      x * signals.dropout_masks(4, c, 0, x.shape, 0.25), verbose=0), y).loss
            for c in range(3)]
  np.testing.assert_allclose(s.loss, np.mean(losses, axis=0), rtol=1e-5)
  # Rate 0 drops nothing: the same as no calibration.
  s0 = compute_signals(model, x, y, cfg.replace(dropout_rate=0.0),
                       progress=False)
  np.testing.assert_allclose(s0.loss, compute_signals(
      model, x, y, progress=False).loss, rtol=1e-6)


def test_sensitivity():
  x = np.random.default_rng(3).random((4, 4, 4, 1)).astype(np.float32)
  y = np.zeros(4, dtype=int)
  const = lambda xb: np.tile([[1.0, 2.0, 3.0]], (len(xb), 1))
  s = compute_signals(const, x, y, SignalConfig(sensitivity=True),
                      progress=False)
  np.testing.assert_array_equal(s.sensitivity, np.zeros((4, 3)))
  model = _linear_model()
  s1 = compute_signals(model, x, y, SignalConfig(sensitivity=True),
                       progress=False)
  s2 = compute_signals(model, x, y, SignalConfig(sensitivity=True,
                                                 batch_size=3), progress=False)
  assert (s1.sensitivity > 0).all()
  np.testing.assert_allclose(s1.sensitivity, s2.sensitivity, rtol=1e-3)


def test_sensitivity_on_chosen_rows_equals_the_full_computation_there():
  x = np.random.default_rng(5).random((7, 4, 4, 1)).astype(np.float32)
  y = np.array([0, 1, 2, 0, 1, 2, 0])
  model = _linear_model()
  cfg = SignalConfig(sensitivity=True, batch_size=3)
  full = compute_signals(model, x, y, cfg, progress=False)
  rows = np.array([True, False, False, True, True, False, True])
  part = compute_signals(model, x, y, cfg, progress=False,
                         sensitivity_rows=rows)
  # A row's noise depends on its index only: the same values (up to float32
  # batch effects, scaled by 1/ε as between batch sizes), NaN elsewhere.
  np.testing.assert_allclose(part.sensitivity[rows], full.sensitivity[rows],
                             rtol=1e-3)
  assert np.isnan(part.sensitivity[~rows]).all()
  np.testing.assert_array_equal(part.loss, full.loss)
  with pytest.raises(ValueError, match=r"`sensitivity_rows` must be a bool "
                     r"array of shape \(7,\)"):
    compute_signals(model, x, y, cfg, progress=False,
                    sensitivity_rows=np.ones(6, bool))


def test_save_load_and_take(tmp_path):
  s = Signals.from_logits(np.random.default_rng(4).normal(size=(5, 2, 3)),
                          [0, 1, 2, 0, 1], sensitivity=np.ones((5, 3)))
  s.save(tmp_path / "s.npz")
  t = Signals.load(tmp_path / "s.npz")
  np.testing.assert_array_equal(t.scaled_logit, s.scaled_logit)
  np.testing.assert_array_equal(t.sensitivity, s.sensitivity)
  assert t.boundary_distance is None
  assert s.take(np.array([0, 2])).num_examples == 2
  b = dataclasses.replace(s, boundary_distance=np.arange(5.0))
  b.save(tmp_path / "b.npz")
  np.testing.assert_array_equal(Signals.load(tmp_path / "b.npz")
                                .boundary_distance, np.arange(5.0))
  np.testing.assert_array_equal(b.take(np.array([1, 3])).boundary_distance,
                                [1.0, 3.0])
  with pytest.raises(ValueError, match="`boundary_distance` must be"):
    dataclasses.replace(s, boundary_distance=np.zeros(4))
  # The default boundary settings stay out of records (caches stay valid).
  from tfmia.infra import io
  assert not any(k.startswith("boundary")
                 for k in io.to_jsonable(SignalConfig()))
  with pytest.raises(ValueError, match="`boundary_max_eval` must be"):
    SignalConfig(boundary_max_eval=0)


def test_errors():
  with pytest.raises(ValueError, match="augmentations"):
    SignalConfig(augmentations="rotate")
  with pytest.raises(ValueError, match="dropout_rate"):
    SignalConfig(dropout_rate=1.0)
  with pytest.raises(ValueError, match="one row per example"):
    compute_signals(_linear_model(), np.zeros(3), [0, 0, 0])
  # Flat inputs are fine; the image-only options say so by name.
  with pytest.raises(ValueError, match="`augmentations` works on .*images"):
    compute_signals(_linear_model(), np.zeros((3, 16)), [0, 0, 0],
                    SignalConfig(augmentations="flip"))
  with pytest.raises(TypeError, match="callable"):
    compute_signals(42, np.zeros((3, 4, 4, 1)), [0, 0, 0], progress=False)
