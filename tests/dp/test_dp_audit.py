"""The one-run audit: seeded, recorded canaries; the bound recomputed from
the saved scores; errors before any training; a real run on digits."""

import dataclasses

import numpy as np
import pytest

from tfmia import data as tfdata
from tfmia.audits import one_run as dp_audit
from tfmia.results import dp_bounds
from tfmia.training.defenses import Defense
from tfmia.training import TrainConfig


@pytest.fixture(scope="module")
def digits():
  raw = tfdata.scale_pixels(tfdata.load_dataset("digits", seed=0))
  fixed = dataclasses.replace(raw, x_train=raw.x_train[:600],
                              y_train=raw.y_train[:600],
                              x_test=raw.x_test[500:], y_test=raw.y_test[500:])
  return fixed, (raw.x_test[:500], raw.y_test[:500])


def test_canaries_are_seeded_and_mislabelled_ones_never_keep_their_label():
  rng = np.random.default_rng(0)
  x, y = rng.random((300, 4, 4, 1)), rng.integers(0, 10, 300)
  a = dp_audit.draw_canaries(x, y, 10, dp_audit.CanaryConfig("mislabelled",
                                                             200, seed=3))
  b = dp_audit.draw_canaries(x, y, 10, dp_audit.CanaryConfig("mislabelled",
                                                             200, seed=3))
  np.testing.assert_array_equal(a.source_index, b.source_index)
  np.testing.assert_array_equal(a.included, b.included)
  np.testing.assert_array_equal(a.labels, b.labels)
  assert np.all(a.labels != a.true_labels)
  np.testing.assert_array_equal(a.true_labels, y[a.source_index])
  assert 70 < a.included.sum() < 130
  n = dp_audit.draw_canaries(x, y, 10, dp_audit.CanaryConfig("natural", 200))
  np.testing.assert_array_equal(n.labels, n.true_labels)
  other = dp_audit.draw_canaries(x, y, 10, dp_audit.CanaryConfig(
      "mislabelled", 200, seed=4))
  assert not np.array_equal(other.included, a.included)


def test_canaries_overlapping_the_fixed_members_are_refused():
  rng = np.random.default_rng(0)
  x, y = rng.random((50, 4, 4, 1)), rng.integers(0, 3, 50)
  with pytest.raises(ValueError, match="overlap the training set's fixed"):
    dp_audit.draw_canaries(x, y, 3, dp_audit.CanaryConfig("natural", 10),
                           fixed_x=x[:25].astype(np.float64))
  with pytest.raises(ValueError, match="more than the canary source holds"):
    dp_audit.draw_canaries(x, y, 3, dp_audit.CanaryConfig("natural", 60))


@pytest.mark.parametrize("kwargs,match", [
    (dict(delta=0.0), r"`delta` must be in \(0, 1\)"),
    (dict(delta=1.0), r"`delta` must be in \(0, 1\)"),
    (dict(confidence=0.3), "`confidence`"),
    (dict(selection="fixed", k_neg=60, k_pos=50), "More guesses than canaries"),
    (dict(attack="rmia"), "'rmia' needs reference models"),
    (dict(attack="nope"), "nope"),
    (dict(canaries=dict(kind="poisoned")), "`canaries` must be one of"),
])
def test_one_run_config_refuses_bad_input(kwargs, match):
  kwargs.setdefault("canaries", dp_audit.CanaryConfig(num_canaries=100))
  with pytest.raises(ValueError, match=match):
    dp_audit.OneRunConfig(**kwargs)


def test_overlap_is_refused_before_training(digits, monkeypatch):
  fixed, _ = digits
  from tfmia import references
  monkeypatch.setattr(references, "train_member_model",
                      lambda *a, **k: pytest.fail("trained"))
  with pytest.raises(ValueError, match="overlap"):
    dp_audit.one_run_audit(
        "dense", {}, fixed, (fixed.x_train, fixed.y_train),
        TrainConfig(epochs=1), config=dp_audit.OneRunConfig(
            canaries=dp_audit.CanaryConfig("natural", 100)))


@pytest.mark.slow
def test_one_run_audit_on_digits_is_recorded_and_recomputable(digits,
                                                              tmp_path):
  fixed, source = digits
  config = dp_audit.OneRunConfig(canaries=dp_audit.CanaryConfig(
      "mislabelled", 400, seed=1))
  train = TrainConfig(epochs=25, batch_size=32)
  res = dp_audit.one_run_audit("dense", {}, fixed, source, train,
                               config=config, out_dir=tmp_path / "a")
  # A memorising model gives its mislabelled canaries away.
  assert res.auc > 0.7 and res.bound.epsilon > 0.5
  assert res.accountant_epsilon is None and res.test_accuracy > 0.8
  assert res.num_fixed == 600 and res.bound.num_canaries == 200  # holdout half
  saved = np.load(tmp_path / "a" / dp_audit.CANARY_FILE)
  again = dp_audit.draw_canaries(source[0], source[1], 10, config.canaries)
  np.testing.assert_array_equal(saved["included"], again.included)
  np.testing.assert_array_equal(saved["labels"], again.labels)
  assert res.num_included == int(again.included.sum())
  # The bound, recomputed from the saved scores, is the reported one.
  assert dp_audit.bound_from_file(tmp_path / "a" / dp_audit.CANARY_FILE,
                                  config) == res.bound
  assert dp_bounds.one_run_bound(saved["scores"], saved["included"],
                                 **config.bound_kwargs()) == res.bound
  # A rerun loads it; other settings are refused.
  assert dp_audit.one_run_audit("dense", {}, fixed, source, train,
                                config=config, out_dir=tmp_path / "a") == res
  with pytest.raises(ValueError, match="different settings"):
    dp_audit.one_run_audit("dense", {}, fixed, source,
                           dataclasses.replace(train, epochs=2),
                           config=config, out_dir=tmp_path / "a")


@pytest.mark.slow
def test_dp_training_reports_the_accountants_epsilon(digits):
  fixed, source = digits
  res = dp_audit.one_run_audit(
      "dense", {}, fixed, source, TrainConfig(epochs=2, batch_size=50),
      Defense("dp", arg=2.0), config=dp_audit.OneRunConfig(
          canaries=dp_audit.CanaryConfig("natural", 200)))
  from tfmia.training.defenses import dp_epsilon
  n = 600 + res.num_included
  assert res.accountant_epsilon == pytest.approx(
      dp_epsilon(n, 50, 2, 2.0, 1e-5))
  assert res.bound.epsilon <= res.accountant_epsilon


@pytest.mark.slow
def test_any_users_keras_model_can_be_audited_from_one_run(digits):
  # The do-it-yourself path: draw canaries, train your own model your way,
  # score the canaries, bound ε. A Sequential model ending in a softmax and
  # the same functional model ending in logits give the same scores.
  import tensorflow as tf
  fixed, source = digits
  canaries = dp_audit.draw_canaries(source[0], source[1], 10,
                                    dp_audit.CanaryConfig("mislabelled", 300))
  x = np.concatenate([fixed.x_train, canaries.x[canaries.included]])
  y = np.concatenate([fixed.y_train, canaries.labels[canaries.included]])
  results = {}
  for kind in ("sequential_softmax", "functional_logits"):
    tf.keras.utils.set_random_seed(0)
    if kind == "sequential_softmax":
      model = tf.keras.Sequential([
          tf.keras.layers.Flatten(input_shape=x.shape[1:]),
          tf.keras.layers.Dense(128, activation="relu"),
          tf.keras.layers.Dense(10, activation="softmax")])
      loss = "sparse_categorical_crossentropy"
    else:
      inputs = tf.keras.Input(x.shape[1:])
      h = tf.keras.layers.Dense(128, activation="relu")(
          tf.keras.layers.Flatten()(inputs))
      model = tf.keras.Model(inputs, tf.keras.layers.Dense(10)(h))
      loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile("adam", loss)
    model.fit(x, y, epochs=40, batch_size=32, verbose=0)
    results[kind] = dp_audit.score_canaries(model, canaries, "threshold")
  soft, logit = results["sequential_softmax"], results["functional_logits"]
  np.testing.assert_array_equal(soft.is_member, canaries.included)
  np.testing.assert_allclose(soft.scores, logit.scores, atol=1e-4)
  assert soft.auc > 0.7        # its mislabelled canaries are memorised
  bound = soft.one_run_bound(delta=1e-5)
  assert bound.epsilon > 0 and bound.num_correct <= bound.num_guesses
