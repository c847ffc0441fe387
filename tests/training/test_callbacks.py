import numpy as np
import pytest
import tensorflow as tf

from tfmia import data as tfdata
from tfmia import models
from tfmia.attacks.tf_privacy import AttackInput
from tfmia.attacks.tf_privacy import run_tf_privacy as run_attacks
from tfmia.models.adapter import predict_logits
from tfmia.audits.callback import PrivacyMetrics
from tfmia.training import TrainConfig, train_model


@pytest.fixture(scope="module")
def small_digits():
  raw = tfdata.load_dataset("digits")
  return tfdata.prepare_data(tfdata.DataConfig(train_size=150, test_size=150),
                             raw=raw)


def _cb(d, **kw):
  return PrivacyMetrics((d.x_train, d.y_train), (d.x_test, d.y_test), **kw)


@pytest.mark.slow
def test_history_every_n_epochs(small_digits, tmp_path):
  d = small_digits
  tf.keras.utils.set_random_seed(0)
  m = models.dense(d.input_shape, d.num_classes, depth=2, units=64)
  cb = _cb(d, every_n_epochs=2, attacks=("threshold", "threshold_entropy",
                                          "logistic_regression"),
           tensorboard_dir=tmp_path / "tb")
  res = train_model(m, d, TrainConfig(epochs=4, batch_size=32), callbacks=[cb])
  assert [h.epoch for h in cb.history] == [2, 4]
  last = cb.history[-1]
  assert last.attacks == ("threshold", "threshold_entropy",
                          "logistic_regression")
  # The entry's accuracy is the model's accuracy on the member set.
  logits = predict_logits(m, d.x_train)
  assert last.member_accuracy == pytest.approx(
      np.mean(logits.argmax(1) == d.y_train))
  # AUC is added to Keras' logs.
  assert res.history["mia_threshold_auc"][-1] == pytest.approx(
      last.get("threshold").auc)
  assert list((tmp_path / "tb").iterdir()), "TensorBoard events written"


def test_callback_auc_equals_direct_attack(small_digits):
  d = small_digits
  tf.keras.utils.set_random_seed(0)
  m = models.dense(d.input_shape, d.num_classes, depth=2)
  cb = _cb(d, every_n_epochs=1)
  train_model(m, d, TrainConfig(epochs=1, batch_size=32), callbacks=[cb])
  direct = run_attacks(AttackInput(
      predict_logits(m, d.x_train), d.y_train,
      predict_logits(m, d.x_test), d.y_test))
  assert cb.history[0].get("threshold").auc == pytest.approx(
      direct.get("threshold").auc, abs=1e-9)


@pytest.mark.slow
def test_overfitting_model_leaks(small_digits):
  # 150 members, a wide MLP, 60 epochs: training loss ~0, so the loss
  # threshold attack must beat chance clearly.
  d = small_digits
  tf.keras.utils.set_random_seed(0)
  m = models.dense(d.input_shape, d.num_classes, depth=2, units=256)
  cb = _cb(d, every_n_epochs=60)
  train_model(m, d, TrainConfig(epochs=60, batch_size=16), callbacks=[cb])
  assert cb.history[0].get("threshold").auc > 0.6


def test_a_second_fit_appends_and_reset_forgets(small_digits):
  d = small_digits
  m = models.dense(d.input_shape, d.num_classes, depth=1)
  cb = _cb(d)
  m.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(
      from_logits=True))
  m.fit(d.x_train, d.y_train, epochs=2, verbose=0, callbacks=[cb])
  m.fit(d.x_train, d.y_train, epochs=4, initial_epoch=2, verbose=0,
        callbacks=[cb])
  assert [h.epoch for h in cb.history] == [1, 2, 3, 4]
  cb.reset()
  assert cb.history == []


def test_keras_history_has_one_value_per_epoch(small_digits):
  # Evaluated every 2 epochs of 3: NaN at epochs 1 and 3, the AUC at 2.
  d = small_digits
  m = models.dense(d.input_shape, d.num_classes, depth=1)
  m.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(
      from_logits=True))
  cb = _cb(d, every_n_epochs=2)
  h = m.fit(d.x_train, d.y_train, epochs=3, verbose=0, callbacks=[cb])
  auc = h.history["mia_threshold_auc"]
  assert len(auc) == len(h.history["loss"]) == 3
  assert np.isnan(auc[0]) and np.isnan(auc[2])
  assert auc[1] == pytest.approx(cb.history[0].get("threshold").auc)


def test_datasets_and_one_hot_labels_are_read_once(small_digits):
  d = small_digits
  onehot = np.eye(d.num_classes)[d.y_train]
  batched = tf.data.Dataset.from_tensor_slices(
      (d.x_train, onehot)).batch(32)
  flat = tf.data.Dataset.from_tensor_slices((d.x_test, d.y_test))
  cb = PrivacyMetrics(batched, flat)
  np.testing.assert_array_equal(cb.y_member, d.y_train)
  np.testing.assert_array_equal(cb.x_member, d.x_train)
  np.testing.assert_array_equal(cb.y_nonmember, d.y_test)
  with pytest.raises(ValueError, match="2-D but not one-hot"):
    PrivacyMetrics((d.x_train, onehot * 2), (d.x_test, d.y_test))


@pytest.mark.parametrize("kwargs, match", [
    (dict(member_data=(np.zeros((3, 8, 8, 1)), np.zeros(2))), "3 inputs but 2 labels"),
    (dict(member_data=(np.zeros((0, 8, 8, 1)), np.zeros(0))), "`member_data` is empty"),
    (dict(nonmember_data=np.zeros(3)), "`nonmember_data` must be an \\(x, y\\) pair"),
    (dict(every_n_epochs=0), "every_n_epochs=0"),
    (dict(attacks=("lira",)), "'lira' needs reference models"),
    (dict(attacks=("nope",)), "Unknown attack.*'nope'"),
])
def test_bad_arguments(kwargs, match):
  args = dict(member_data=(np.zeros((3, 8, 8, 1)), np.zeros(3)),
              nonmember_data=(np.zeros((3, 8, 8, 1)), np.zeros(3)))
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    PrivacyMetrics(args.pop("member_data"), args.pop("nonmember_data"), **args)


def test_evaluate_outside_fit_keeps_history(small_digits):
  d = small_digits
  m = models.dense(d.input_shape, d.num_classes, depth=1)
  cb = _cb(d)
  train_model(m, d, TrainConfig(epochs=1, batch_size=64), callbacks=[cb])
  extra = cb.evaluate(epoch=None)
  assert len(cb.history) == 1
  assert extra.get("threshold").auc == pytest.approx(
      cb.history[0].get("threshold").auc)


def test_population_attacks_run_every_epoch(small_digits):
  """Attack-P needs only the target and a population: the callback runs it
  through the same front door as the audit, with the same scores."""
  from tfmia.attacks import scores
  d = small_digits
  tf.keras.utils.set_random_seed(0)
  m = models.dense(d.input_shape, d.num_classes, depth=1, units=32)
  pop = (d.x_test[:60], d.y_test[:60])
  cb = PrivacyMetrics((d.x_train, d.y_train), (d.x_test[60:], d.y_test[60:]),
                      population_data=pop, attacks=("attack_p", "threshold"))
  train_model(m, d, TrainConfig(epochs=2, batch_size=32), callbacks=[cb])
  assert [h.epoch for h in cb.history] == [1, 2]
  loss = lambda x, y: -tf.nn.log_softmax(predict_logits(m, x)).numpy()[
      np.arange(len(y)), y]
  expected = scores.attack_p_scores(
      np.concatenate([loss(d.x_train, d.y_train),
                      loss(d.x_test[60:], d.y_test[60:])]), loss(*pop))
  np.testing.assert_allclose(cb.history[-1].get("attack_p").scores, expected,
                             atol=1e-9)
  with pytest.raises(ValueError, match="'attack_p' needs the target's"):
    PrivacyMetrics((d.x_train, d.y_train), pop, attacks=("attack_p",))
