"""Inputs are checked before work, and errors name the real argument."""

import numpy as np
import pytest
import tensorflow as tf

from tfmia.audits import audit

from tfmia import data as data_lib
from tfmia import models
from tfmia.audits.callback import PrivacyMetrics


def _xy(n=20, k=3, seed=0):
  rng = np.random.default_rng(seed)
  return rng.normal(size=(n, 4, 4, 1)).astype(np.float32), rng.integers(0, k, n)


def test_evaluate_before_a_model_is_set():
  cb = PrivacyMetrics(_xy(), _xy(seed=1))
  with pytest.raises(ValueError, match=r"needs a model.*set_model"):
    cb.evaluate()


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_nan_or_inf_inputs_are_refused(bad):
  x, y = _xy()
  x[3, 0, 0, 0] = float(bad)
  with pytest.raises(ValueError, match="member_data inputs` contains NaN"):
    PrivacyMetrics((x, y), _xy(seed=1))
  model = models.build_model("dense", (4, 4, 1), 3, depth=1)
  target = audit.Target(model=model, x=np.concatenate([x, _xy(seed=1)[0]]),
                        y=np.concatenate([y, _xy(seed=1)[1]]),
                        is_member=np.arange(40) < 20)
  with pytest.raises(ValueError, match="target.x` contains NaN or inf"):
    audit.audit(target, attacks=("threshold",), progress=False)


def test_labels_outside_the_model_fail_before_the_first_epoch():
  """Checked in on_train_begin against the model's outputs: no epoch runs."""
  x, y = _xy(k=5)          # labels up to 4, for a 3-output model
  model = models.build_model("dense", (4, 4, 1), 3, depth=1)
  model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(True))
  epochs = []
  cb = PrivacyMetrics((x, y % 3), (x, y))
  with pytest.raises(ValueError, match=r"nonmember_data` labels must lie in "
                                       r"\[0, 3\)"):
    model.fit(x, y % 3, epochs=2, verbose=0, callbacks=[
        cb, tf.keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda e, l: epochs.append(e))])
  assert epochs == []


def test_input_shape_mismatch_fails_at_train_begin():
  x, y = _xy()
  model = models.build_model("dense", (8, 8, 1), 3, depth=1)
  cb = PrivacyMetrics((x, y), (x, y))
  with pytest.raises(ValueError, match=r"inputs have shape \(4, 4, 1\) but "
                                       r"the model takes \(8, 8, 1\)"):
    cb.check_model(model)


def test_float_labels_are_refused():
  x, y = _xy()
  with pytest.raises(ValueError, match="labels` must be integers"):
    PrivacyMetrics((x, y.astype(float) + 0.5), _xy(seed=1))


@pytest.mark.parametrize("mask, needle", [
    (np.r_[np.full(10, 2), np.zeros(10)], "booleans or 0/1"),
    (np.r_[np.full(10, 0.7), np.zeros(10)], "booleans or 0/1"),
    (np.ones((20, 1), bool), "1-D mask"),
    (np.array(["1"] * 10 + ["0"] * 10), "booleans or 0/1"),
])
def test_is_member_must_be_boolean_or_zero_one(mask, needle):
  x, y = _xy()
  model = models.build_model("dense", (4, 4, 1), 3, depth=1)
  with pytest.raises(ValueError, match=needle):
    audit.audit(audit.Target(model=model, x=x, y=y, is_member=mask),
                attacks=("threshold",), progress=False)


def test_zero_one_masks_are_accepted():
  x, y = _xy()
  model = models.build_model("dense", (4, 4, 1), 3, depth=1)
  res = audit.audit(audit.Target(model=model, x=x, y=y,
                                 is_member=np.r_[np.ones(10), np.zeros(10)]),
                    attacks=("threshold",), progress=False)
  assert res.get("threshold").num_members == 10


@pytest.mark.parametrize("copy", [lambda m: m.astype(np.float64),
                                  lambda m: m * 1.0 - 0.0,
                                  lambda m: np.where(m == 0, -0.0, m)])
def test_population_overlap_is_found_by_value(copy):
  x, y = _xy()
  x[0, 0, 0, 0] = 0.0
  members = x[:10]
  with pytest.raises(ValueError, match="overlaps the target's members: 10"):
    data_lib.check_population(members, copy(members))
  data_lib.check_population(members, x[10:])   # disjoint: fine


def test_snn_quick_mode_is_scaled_to_the_dataset():
  from tfmia.studies import snn_mia
  cfg = snn_mia.SnnMiaConfig.quick_mode(split_sizes=(1437, 360))
  assert (cfg.pool_size, cfg.population_size) == (1437, 360)
  cifar = snn_mia.SnnMiaConfig.quick_mode(split_sizes=(50000, 10000))
  assert (cifar.pool_size, cifar.population_size) == (6000, 2000)
  mine = snn_mia.SnnMiaConfig.quick_mode(split_sizes=(1437, 360),
                                         pool_size=100)
  assert mine.pool_size == 100
  # 8x8 digits: the quick VGG cannot learn them (10% accuracy); conv can.
  assert snn_mia.SnnMiaConfig.quick_mode(image_size=8).models == ("conv",)
  assert snn_mia.SnnMiaConfig.quick_mode(image_size=32).models == ("vgg11",)
  assert snn_mia.SnnMiaConfig.quick_mode(
      image_size=8, models=("vgg11",)).models == ("vgg11",)


@pytest.mark.parametrize("field", ["calibration_epochs", "epochs",
                                   "calibration_samples"])
def test_snn_config_names_the_setting(field):
  from tfmia.studies import snn_mia
  with pytest.raises(ValueError, match=f"`{field}` must be a positive int"):
    snn_mia.SnnMiaConfig(**{field: 0})


def test_architecture_config_names_epochs_first():
  from tfmia.studies import architectures
  with pytest.raises(ValueError, match="`epochs` must be a positive int"):
    architectures.ArchitectureStudyConfig(epochs=0)
  q = architectures.ArchitectureStudyConfig.quick_mode(epochs=1)
  assert (q.epochs, q.every_n_epochs) == (1, 1)
  d = architectures.ArchitectureStudyConfig.quick_mode(split_sizes=(1437, 360))
  assert (d.train_size, d.test_size) == (1437, 360)
