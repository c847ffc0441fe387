"""Defenses: PPB's value by hand and its effect, DP-SGD's ε against
tensorflow-privacy's statement, adversarial regularisation's training, and
errors before any work."""

import re

import numpy as np
import pytest
import tensorflow as tf

from tfmia.training import defenses

from tfmia import models
from tfmia.training import TrainConfig


def test_ppb_penalty_by_hand():
  # Halves: B1 = [2, 0, 1] sorts to [2, 1, 0]; B2 = [0, 3, 0] to [3, 0, 0].
  # KL(softmax([3,0,0]) || softmax([2,1,0])) worked out by hand:
  # p = [.90944, .04528, .04528], q = [.66524, .24473, .09003], KL = .17684.
  logits = np.array([[2., 0, 1], [0, 3, 0]], "float32")
  assert float(defenses.ppb_penalty(logits)) == pytest.approx(0.17684,
                                                              abs=2e-5)
  # An odd last example is left out; a batch of one has no pair.
  odd = np.vstack([logits, [[9., -9, 0]]]).astype("float32")
  assert float(defenses.ppb_penalty(odd)) == pytest.approx(0.17684, abs=2e-5)
  assert float(defenses.ppb_penalty(logits[:1])) == 0.0
  # The loss adds λ times it to the mean cross-entropy.
  y = np.array([0, 1])
  ce = -np.mean([np.log(np.exp(2) / (np.exp(2) + 1 + np.e)),
                 np.log(np.exp(3) / (np.exp(3) + 2))])
  assert float(defenses.PpbLoss(4.0)(y, logits)) == pytest.approx(
      ce + 4 * 0.17684, abs=1e-4)


def _sorted_gap(model, data):
  """L1 distance between the mean sorted posteriors of members and of
  non-members."""
  def mean_sorted(x):
    p = tf.nn.softmax(model.predict(x, verbose=0)).numpy()
    return -np.sort(-p, axis=1).mean(0)
  return float(np.abs(mean_sorted(data.x_train)
                      - mean_sorted(data.x_test)).sum())


@pytest.mark.slow
def test_ppb_brings_member_and_nonmember_posteriors_closer(digits):
  from tfmia.data import DataConfig, prepare_data
  data = prepare_data(DataConfig(train_size=200, test_size=300), raw=digits)
  gaps = {}
  for defense in (defenses.Defense(), defenses.Defense("ppb", 4.0)):
    tf.keras.utils.set_random_seed(0)
    model = models.build_model("dense", data.input_shape, 10, depth=1,
                               units=64)
    out = defenses.train_with_defense(
        model, data, TrainConfig(epochs=30, batch_size=32), defense)
    gaps[defense.name] = _sorted_gap(out.model, data)
  assert gaps["ppb"] < 0.8 * gaps["none"], gaps


@pytest.mark.parametrize("accountant, micro", [("rdp", False), ("pld", False),
                                               ("rdp", True)])
@pytest.mark.slow
def test_dp_epsilon_matches_tensorflow_privacys_statement(accountant, micro):
  from tensorflow_privacy.privacy.analysis import compute_dp_sgd_privacy_lib \
      as lib
  kw = dict(number_of_examples=10_000, batch_size=128, num_epochs=5,
            noise_multiplier=1.1, delta=1e-5)
  text = lib.compute_dp_sgd_privacy_statement(
      **kw, used_microbatching=micro,
      accountant_type=lib.AccountantType[accountant.upper()])
  stated = float(re.search(r"Poisson sampling \(\*\):\s+([0-9.]+)",
                           text).group(1))
  ours = defenses.dp_epsilon(10_000, 128, 5, 1.1, 1e-5, accountant,
                             used_microbatching=micro)
  assert ours == pytest.approx(stated, abs=5e-4)
  # More noise, less ε.
  assert defenses.dp_epsilon(10_000, 128, 5, 2.0, 1e-5, accountant,
                             used_microbatching=micro) < ours


@pytest.mark.slow
def test_dp_training_falls_back_to_the_vectorised_optimizer(digits):
  # A layer fast clipping has no rule for (LayerNormalization): the model
  # trains with tensorflow-privacy's vectorised optimizer, one microbatch
  # per example, and stores ε.
  from tfmia.data import DataConfig, prepare_data
  data = prepare_data(DataConfig(train_size=64, test_size=32), raw=digits)
  tf.keras.utils.set_random_seed(0)
  L = tf.keras.layers
  inp = L.Input(data.input_shape)
  h = L.LayerNormalization()(L.Dense(8)(L.Flatten()(inp)))
  model = tf.keras.Model(inp, L.Dense(10)(h))
  before = [w.copy() for w in model.get_weights()]
  config = TrainConfig(epochs=2, batch_size=16, optimizer="sgd",
                       learning_rate=0.1)
  out = defenses.train_with_defense(model, data, config,
                                    defenses.Defense("dp", 1.5))
  assert out.epsilon == pytest.approx(
      defenses.dp_epsilon(64, 16, 2, 1.5, 1e-5))
  assert any(np.abs(a - b).max() > 0 for a, b in
             zip(before, out.model.get_weights()))
  opt = out.model.optimizer
  import tensorflow_privacy as tfp
  assert isinstance(opt, tfp.VectorizedDPKerasSGDOptimizer)
  assert opt._num_microbatches is None   # one microbatch per example


def test_dp_training_with_mia_prunes_two_microbatches(digits):
  from tfmia.data import DataConfig, prepare_data
  data = prepare_data(DataConfig(train_size=70, test_size=32), raw=digits)
  tf.keras.utils.set_random_seed(0)
  model = models.build_model("dense", data.input_shape, 10, depth=1, units=8)
  config = TrainConfig(epochs=1, batch_size=16, optimizer="sgd")
  steps = []
  out = defenses.train_with_defense(
      model, data, config, defenses.Defense("dp", 1.5, num_microbatches=2),
      callbacks=[tf.keras.callbacks.LambdaCallback(
          on_train_batch_end=lambda b, logs: steps.append(b))])
  # 70 = 4 batches of 16 and a remainder of 6, which is dropped.
  assert len(steps) == 4
  assert out.epsilon == pytest.approx(defenses.dp_epsilon(
      70, 16, 1, 1.5, 1e-5, used_microbatching=True))
  with pytest.raises(ValueError, match="must split into"):
    defenses.train_with_defense(
        model, data, config.replace(batch_size=15),
        defenses.Defense("dp", 1.5, num_microbatches=2))


@pytest.mark.slow
def test_adversarial_regularisation_trains_the_classifier_alone(digits):
  from tfmia.data import DataConfig, prepare_data
  data = prepare_data(DataConfig(train_size=64, test_size=64), raw=digits)
  tf.keras.utils.set_random_seed(0)
  model = models.build_model("dense", data.input_shape, 10, depth=1, units=8)
  names = [w.name for w in model.weights]
  before = [w.copy() for w in model.get_weights()]
  out = defenses.train_with_defense(
      model, data, TrainConfig(epochs=1, batch_size=32),
      defenses.Defense("adv", 1.0, inference_steps=2))
  assert out.model is model
  assert [w.name for w in out.model.weights] == names   # no inference model
  assert any(np.abs(a - b).max() > 0 for a, b in
             zip(before, model.get_weights()))
  assert np.isfinite(out.history["inference_loss"]).all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="dropout"), "`defense` must be one of"),
    (dict(name="ppb", arg=0), r"`defense_arg` \(λ of 'ppb'\) must be > 0"),
    (dict(name="adv", arg=-1), r"privacy weight θ of 'adv'\) must be > 0"),
    (dict(name="dp", arg=0.0), r"noise multiplier σ of 'dp'\) must be > 0"),
    (dict(name="dp", arg=float("nan")), "`defense_arg` must be a finite"),
    (dict(name="dp", delta=0), r"`delta` must be in \(0, 1\)"),
    (dict(name="dp", accountant="moments"), "`accountant` must be one of"),
    (dict(name="dp", num_microbatches=0), "`num_microbatches` must be"),
])
def test_bad_defense_settings_are_refused(kwargs, match):
  with pytest.raises(ValueError, match=match):
    defenses.Defense(**kwargs)


@pytest.mark.slow
def test_noise_for_epsilon_inverts_the_accountant():
  sigma = defenses.noise_for_epsilon(4.0, 1000, 50, 10, 1e-5)
  assert defenses.dp_epsilon(1000, 50, 10, sigma, 1e-5) == pytest.approx(
      4.0, rel=2e-3)
  assert defenses.dp_epsilon(1000, 50, 10, sigma, 1e-5) <= 4.0
  assert defenses.noise_for_epsilon(1.0, 1000, 50, 10, 1e-5) > sigma
  with pytest.raises(ValueError, match="target_epsilon"):
    defenses.noise_for_epsilon(float("inf"), 1000, 50, 10, 1e-5)


def test_ppb_loss_on_probabilities_equals_it_on_logits():
  z = tf.constant(np.random.default_rng(0).normal(size=(8, 5)), tf.float32)
  y = tf.constant([0, 1, 2, 3, 4, 0, 1, 2])
  on_logits = defenses.PpbLoss(2.0)(y, z)
  on_probs = defenses.PpbLoss(2.0, from_logits=False)(y, tf.nn.softmax(z))
  np.testing.assert_allclose(on_probs, on_logits, rtol=1e-5)


@pytest.mark.parametrize("defense", [defenses.Defense("ppb", 2.0),
                                     defenses.Defense("adv", 1.0, inference_steps=1)])
def test_a_softmax_model_is_defended_as_its_logits_twin(digits, defense):
  from tfmia.data import DataConfig, prepare_data
  data = prepare_data(DataConfig(train_size=64, test_size=32), raw=digits)

  def build(activation):
    tf.keras.utils.set_random_seed(0)
    return tf.keras.Sequential([
        tf.keras.layers.Flatten(input_shape=data.input_shape),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(10, activation=activation)])
  config = TrainConfig(epochs=1, batch_size=32, seed=3)
  a = defenses.train_with_defense(build(None), data, config, defense)
  b = defenses.train_with_defense(build("softmax"), data, config, defense)
  np.testing.assert_allclose(b.history["loss"], a.history["loss"], rtol=1e-3)


def test_dp_on_a_softmax_model_uses_the_vectorised_optimizer(digits):
  # Fast clipping needs the pre-softmax outputs, so a softmax model takes
  # tensorflow-privacy's path, with the loss on probabilities.
  from tfmia.data import DataConfig, prepare_data
  from tfmia.training import dp_clipping
  data = prepare_data(DataConfig(train_size=64, test_size=32), raw=digits)
  tf.keras.utils.set_random_seed(0)
  model = tf.keras.Sequential([
      tf.keras.layers.Flatten(input_shape=data.input_shape),
      tf.keras.layers.Dense(10, activation="softmax", name="out")])
  assert dp_clipping.unsupported_layers(model) == ["out (a softmax output)"]
  out = defenses.train_with_defense(
      model, data, TrainConfig(epochs=1, batch_size=16, optimizer="sgd",
                               learning_rate=0.1),
      defenses.Defense("dp", 1.0))
  assert np.isfinite(out.history["loss"]).all()
  assert not out.model.loss.get_config()["from_logits"]


def test_dp_sgd_reaches_its_target_epsilon():
  d = defenses.Defense("dp_sgd", 8.0, l2_norm_clip=2.0)
  assert d.is_dp and d.label() == "dp_sgd8"
  plain = d.at_noise(750, 64, 6)
  assert plain.name == "dp" and plain.l2_norm_clip == 2.0
  eps = defenses.dp_epsilon(750, 64, 6, plain.arg, d.delta)
  assert eps == pytest.approx(8.0, rel=2e-3)
  assert defenses.Defense("dp", 1.0).at_noise(750, 64, 6).arg == 1.0
  with pytest.raises(ValueError, match="num_microbatches"):
    defenses.Defense("dp_sgd", 8.0, num_microbatches=2)
  with pytest.raises(ValueError, match="target ε"):
    defenses.Defense("dp_sgd", 0.0)


@pytest.mark.slow
def test_dp_sgd_fine_tuning_reports_its_epsilon(digits):
  from tfmia import data as data_lib
  d = data_lib.scale_pixels(digits, "unit")
  d = d.replace(x_train=d.x_train[:256], y_train=d.y_train[:256],
                x_test=d.x_test[:64], y_test=d.y_test[:64])
  tf.keras.utils.set_random_seed(0)
  m = models.build_model("dense", d.input_shape, d.num_classes)
  cfg = TrainConfig(optimizer="sgd", learning_rate=0.05, momentum=0.9,
                    epochs=2, batch_size=64)
  out = defenses.train_with_defense(m, d, cfg, defenses.Defense("dp_sgd", 4.0))
  assert out.epsilon == pytest.approx(4.0, rel=5e-3)
