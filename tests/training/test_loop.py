import json

import numpy as np
import pytest
import tensorflow as tf

from tfmia import data as tfdata
from tfmia import models
from tfmia.training import TrainConfig, TrainingHistory, train_model
from tfmia.training import config as cfgmod
from tfmia.training import loop


@pytest.fixture(scope="module")
def small_digits():
  raw = tfdata.load_dataset("digits")
  return tfdata.prepare_data(tfdata.DataConfig(train_size=200, test_size=100),
                             raw=raw)


def _model(d, seed=0):
  tf.keras.utils.set_random_seed(seed)
  return models.dense(d.input_shape, d.num_classes, depth=2, units=32)


def test_train_writes_config_history_weights(small_digits, tmp_path):
  cfg = TrainConfig(epochs=3, batch_size=32, seed=1)
  res = train_model(_model(small_digits), small_digits, cfg, out_dir=tmp_path,
                    extra_config={"note": "x"})
  assert res.history.epochs == 3
  assert set(res.history.metrics) >= {"loss", "accuracy", "val_loss",
                                      "val_accuracy"}
  saved = json.loads((tmp_path / loop.CONFIG_FILE).read_text())
  assert saved["train"]["epochs"] == 3 and saved["note"] == "x"
  h = TrainingHistory.load(tmp_path / loop.HISTORY_FILE)
  assert h["loss"] == pytest.approx(res.history["loss"])
  fresh = _model(small_digits, seed=99)
  fresh.load_weights(str(tmp_path / loop.WEIGHTS_FILE))
  x = small_digits.x_test[:5]
  np.testing.assert_allclose(fresh(x), res.model(x), rtol=1e-6)
  assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
      [loop.CONFIG_FILE, loop.HISTORY_FILE, loop.WEIGHTS_FILE])


def test_training_learns(small_digits):
  cfg = TrainConfig(epochs=15, batch_size=32)
  res = train_model(_model(small_digits), small_digits, cfg)
  assert res.history["loss"][-1] < res.history["loss"][0]
  assert res.history["val_accuracy"][-1] > 0.5  # chance is 0.1


@pytest.mark.slow
def test_same_seed_same_result(small_digits):
  cfg = TrainConfig(epochs=2, batch_size=32, seed=3, augment=True)
  a = train_model(_model(small_digits), small_digits, cfg).history
  b = train_model(_model(small_digits), small_digits, cfg).history
  assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)


@pytest.mark.parametrize("overrides", [
    dict(optimizer="sgd", lr_schedule="cosine", weight_decay=1e-4),
    dict(optimizer="rmsprop", lr_schedule="step"),
    dict(optimizer="adam", weight_decay=1e-4, augment=True),
])
@pytest.mark.slow
def test_optimizers_and_schedules_run(small_digits, overrides):
  cfg = TrainConfig(epochs=1, batch_size=64, **overrides)
  res = train_model(_model(small_digits), small_digits, cfg)
  assert np.isfinite(res.history["loss"][0])


def test_early_stopping_stops(small_digits):
  # A learning rate this large diverges; val_loss stops improving at once.
  cfg = TrainConfig(epochs=30, batch_size=32, early_stopping=True, patience=1,
                    learning_rate=5.0, optimizer="sgd")
  res = train_model(_model(small_digits), small_digits, cfg)
  assert res.history.epochs < 30


def test_custom_optimizer_and_loss_override(small_digits):
  cfg = TrainConfig(epochs=1, batch_size=32)
  opt = tf.keras.optimizers.SGD(0.01)
  res = train_model(_model(small_digits), small_digits, cfg, optimizer=opt,
                    loss=tf.keras.losses.SparseCategoricalCrossentropy(
                        from_logits=True))
  assert res.model.optimizer is opt


def test_register_optimizer():
  @cfgmod.register_optimizer("test_sgd_plain")
  def _plain(lr, config):
    return tf.keras.optimizers.SGD(lr)
  assert "test_sgd_plain" in cfgmod.available_optimizers()
  assert TrainConfig(optimizer="test_sgd_plain").optimizer == "test_sgd_plain"


@pytest.mark.parametrize("kwargs, match", [
    (dict(optimizer="adagrad"), "optimizer='adagrad'"),
    (dict(epochs=0), "epochs=0"),
    (dict(batch_size=2.5), "batch_size=2.5"),
    (dict(learning_rate=-1.0), "learning_rate=-1.0"),
    (dict(lr_schedule="linear"), "lr_schedule='linear'"),
])
def test_config_validation(kwargs, match):
  with pytest.raises(ValueError, match=match):
    TrainConfig(**kwargs)


def test_mismatched_model_and_data(small_digits):
  m = models.dense((8, 8, 1), 3)
  with pytest.raises(ValueError, match="3 outputs but `data` has 10 classes"):
    train_model(m, small_digits, TrainConfig(epochs=1))
  raw = tfdata.load_dataset("digits")
  with pytest.raises(ValueError, match="scale_pixels"):
    train_model(models.dense((8, 8, 1), 10),
                raw.replace(x_train=raw.x_train.astype(np.uint8)),
                TrainConfig(epochs=1))


def test_augment_batch_flips_and_shifts_deterministically():
  x = tf.reshape(tf.range(2 * 4 * 4, dtype=tf.float32), (2, 4, 4, 1))
  seed = tf.constant([1, 2], tf.int64)
  a = loop.augment_batch(x, seed, 0.25).numpy()
  b = loop.augment_batch(x, seed, 0.25).numpy()
  np.testing.assert_array_equal(a, b)
  # Shifts of at most 1 pixel keep a 3x3 (or larger) block of each image's
  # values, possibly mirrored; zeros fill the rest.
  for i in range(2):
    kept = set(a[i].ravel()) - {0.0}
    assert kept <= set(x[i].numpy().ravel())
    assert len(kept) >= 8
  zero_shift = loop.augment_batch(x, seed, 0.0).numpy()
  for i in range(2):
    orig = x[i].numpy()
    assert (np.array_equal(zero_shift[i], orig) or
            np.array_equal(zero_shift[i], orig[:, ::-1]))


@pytest.mark.slow
def test_validation_batch_size_divides_by_the_timesteps():
  from tfmia import models
  from tfmia.training.loop import validation_batch_size
  ann = models.build_model("spiking_vgg_ann", (8, 8, 1), 3, depth=5,
                           timesteps=4, width_multiplier=0.25, hidden=32)
  assert validation_batch_size(ann, 64) == 1024
  assert validation_batch_size(ann, 2048) == 2048
  for t, expected in ((4, 128), (8, 64), (16, 64)):
    snn = models.build_model("spiking_vgg", (8, 8, 1), 3, depth=5,
                             timesteps=t, width_multiplier=0.25, hidden=32)
    assert validation_batch_size(snn, 64) == expected


def _twins(d, seed=0):
  """The same network twice, with the same initial weights: once ending in
  logits, once in a softmax."""
  def build(activation):
    tf.keras.utils.set_random_seed(seed)
    return tf.keras.Sequential([
        tf.keras.layers.Flatten(input_shape=d.input_shape),
        tf.keras.layers.Dense(32, activation="relu"),
        tf.keras.layers.Dense(d.num_classes, activation=activation)])
  return build(None), build("softmax")


def test_a_softmax_model_trains_as_its_logits_twin(small_digits):
  # Cross-entropy on softmax(z) probabilities is cross-entropy on logits z:
  # trained on the right loss, the two follow the same path.
  logits_model, softmax_model = _twins(small_digits)
  assert loop.classification_loss(logits_model).get_config()["from_logits"]
  assert not loop.classification_loss(
      softmax_model).get_config()["from_logits"]
  cfg = TrainConfig(epochs=3, batch_size=32, seed=1)
  a = train_model(logits_model, small_digits, cfg)
  b = train_model(softmax_model, small_digits, cfg)
  np.testing.assert_allclose(b.history["loss"], a.history["loss"], rtol=1e-4)
  np.testing.assert_allclose(b.history["val_accuracy"],
                             a.history["val_accuracy"])


def test_a_softmax_builder_trains_as_plain_keras_does(small_digits):
  # The reference-training path against plain Keras `fit` on probabilities,
  # full-batch SGD (so the shuffle order cannot matter): the same weights.
  from tfmia import references
  d = small_digits.replace(x_train=small_digits.x_train[:64],
                           y_train=small_digits.y_train[:64])
  config = TrainConfig(epochs=3, batch_size=64, optimizer="sgd",
                       learning_rate=0.5, momentum=0.0)
  if "softmax_mlp_for_test" not in models.available_models():
    models.register("softmax_mlp_for_test")(_softmax_mlp)
  ours = references.train_member_model("softmax_mlp_for_test", {}, d, config,
                                       seed=7).model
  tf.keras.utils.set_random_seed(7)
  plain = _softmax_mlp(d.input_shape, d.num_classes)
  plain.compile(tf.keras.optimizers.SGD(0.5),
                tf.keras.losses.SparseCategoricalCrossentropy(
                    from_logits=False))
  plain.fit(d.x_train, d.y_train, batch_size=64, epochs=3, shuffle=False,
            verbose=0)
  for a, b in zip(ours.get_weights(), plain.get_weights()):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _softmax_mlp(input_shape, num_classes):
  return tf.keras.Sequential([
      tf.keras.layers.Flatten(input_shape=input_shape),
      tf.keras.layers.Dense(16, activation="relu"),
      tf.keras.layers.Dense(num_classes, activation="softmax")])


def _train_path(path, d):
  """Trains a tiny model along one of tfmia's training paths; returns the
  trained weights."""
  from tfmia.attacks import nn_attack, quantile
  from tfmia.training import defenses, together
  import dataclasses
  sub = dataclasses.replace(d, x_train=d.x_train[:64], y_train=d.y_train[:64],
                            x_test=d.x_test[:32], y_test=d.y_test[:32])
  cfg = TrainConfig(epochs=1, batch_size=16, optimizer="sgd", momentum=0.9)
  if path == "together":
    res = together.train_together(lambda: _model(sub), [sub, sub], cfg,
                                  seeds=[0, 1])
    return [w for r in res for w in r.model.get_weights()]
  if path == "nn_attack":
    from tfmia.models import miafc
    tf.keras.utils.set_random_seed(0)
    feats = sub.x_train.reshape(len(sub.x_train), -1)[:, :20]
    return nn_attack.fit_two_logits(
        miafc(20, hidden=(16,), seed=0), feats, sub.y_train % 2, epochs=2,
        batch_size=16,
        learning_rate=0.1, weight_decay=5e-4, seed=0).get_weights()
  if path == "quantile":
    return quantile.fit_regressor(
        sub.x_train, sub.y_train, sub.x_train.mean((1, 2, 3)), 10,
        quantile.QuantileConfig(epochs=2, hidden=(8,), conv_filters=(4,))
    ).get_weights()
  if path == "user_sequential_softmax":
    from tfmia_testing import sequential_softmax
    tf.keras.utils.set_random_seed(0)
    return train_model(sequential_softmax(sub.input_shape, 10), sub, cfg
                       ).model.get_weights()
  m = _model(sub)
  if path == "adam":
    return train_model(m, sub, cfg.replace(optimizer="adam")
                       ).model.get_weights()
  defense = {"dp_fast": defenses.Defense("dp", 1.0),
             "dp_tf_privacy": defenses.Defense("dp", 1.0),
             "adv": defenses.Defense("adv", 1.0, inference_steps=1)}[path]
  if path == "dp_tf_privacy":   # a layer the fast clipping cannot handle
    L = tf.keras.layers
    inp = L.Input(sub.input_shape)
    h = L.LayerNormalization()(L.Dense(8)(L.Flatten()(inp)))
    m = tf.keras.Model(inp, L.Dense(10)(h))
  return defenses.train_with_defense(m, sub, cfg, defense
                                     ).model.get_weights()


@pytest.mark.slow
@pytest.mark.parametrize("path", ["adam", "user_sequential_softmax",
                                  "together", "dp_fast",
                                  "nn_attack", "quantile",
                                  "dp_tf_privacy", "adv"])
def test_each_training_path_traces_its_step_once(path, small_digits,
                                                  monkeypatch):
  """Keras creates the optimizer's slots and the metrics' totals inside the
  first step, and a tf.function that creates variables while traced is
  traced again. `build_step_variables` creates them first: one trace, and
  the same weights to the bit as Keras' own two-trace path. (HIRE-SNN and
  the other custom steps compile through `compile_model` as "adam" does.)"""
  traces = []
  fit = tf.keras.Model.fit

  def counting_fit(self, *a, **k):
    out = fit(self, *a, **k)
    traces.append(self.train_function.experimental_get_tracing_count())
    return out
  monkeypatch.setattr(tf.keras.Model, "fit", counting_fit)
  ours = _train_path(path, small_digits)
  assert traces == [1]
  from tfmia.training import together
  for module in (loop, together):
    monkeypatch.setattr(module, "build_step_variables", lambda model: None)
  monkeypatch.setattr(loop, "build_optimizer", lambda opt, v: None)
  keras_own = _train_path(path, small_digits)
  assert traces[1] == 2
  assert len(ours) == len(keras_own)
  for a, b in zip(ours, keras_own):
    np.testing.assert_array_equal(a, b)
