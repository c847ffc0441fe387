"""snntoolbox 0.6.0 through tfmia: per-example outputs, agreement, errors."""

import numpy as np
import pytest
import tensorflow as tf

from tfmia import models, snn
from tfmia.snn import snntoolbox_adapter

from tfmia_testing import ann_predict


@pytest.fixture(scope="module")
def toolbox(trained_conv, digits_data):
  import matplotlib
  before = dict(matplotlib.rcParams)
  conv = snn.convert_with_snntoolbox(trained_conv, digits_data.x_train[:200],
                                     timesteps=64, batch_size=100)
  # snntoolbox's set-up sets matplotlib's rcParams for its own plots
  # (xx-large fonts); the user's figures must not change with a conversion.
  changed = {k for k, v in matplotlib.rcParams.items() if before.get(k) != v}
  assert changed == set(), changed
  yield conv
  conv.cleanup()


@pytest.mark.slow
def test_agrees_with_tfmia_simulator_at_t64(toolbox, trained_conv,
                                            digits_data):
  x = digits_data.x_test[:300]
  counts = toolbox.spike_counts(x)
  assert counts.shape == (300, 10)
  assert counts.max() <= 64 and counts.min() >= 0      # at most one per step
  ours = snn.convert(trained_conv, digits_data.x_train[:200], timesteps=64,
                     thresholds="percentile")
  agree = np.mean(counts.argmax(1) == ann_predict(ours, x))
  assert agree >= 0.95, agree
  assert np.mean(toolbox.predict(x) == ann_predict(trained_conv, x)) > 0.85


def test_each_conversion_gets_a_fresh_folder(toolbox, trained_conv,
                                             digits_data, tmp_path):
  assert (toolbox.workdir / "config.ini").is_file()
  assert "percentile = 99.9" in (toolbox.workdir / "config.ini").read_text()
  assert "softmax_to_relu = True" in (toolbox.workdir /
                                      "config.ini").read_text()
  assert set(toolbox.seconds) == {"parse", "normalize", "convert"}
  (tmp_path / "used").mkdir()
  (tmp_path / "used" / "leftover").write_text("x")
  with pytest.raises(ValueError, match="empty or new"):
    snn.convert_with_snntoolbox(trained_conv, digits_data.x_train[:10],
                                workdir=tmp_path / "used")


def test_np_bool_alias_is_set():
  snntoolbox_adapter._np_bool_alias()
  assert np.bool is bool


def test_residual_add_without_relu_is_refused():
  m = models.build_model("resnet20", (8, 8, 1), 3, width_multiplier=0.25)
  with pytest.raises(snn.UnsupportedLayerError,
                     match=r"residual Add 'stage1_block1_add'.*tfmia\.snn\.convert"):
    snn.convert_with_snntoolbox(m, np.zeros((4, 8, 8, 1), np.float32))


def test_bad_inputs(trained_conv):
  with pytest.raises(ValueError, match="x_norm"):
    snn.convert_with_snntoolbox(trained_conv, np.zeros((4, 8, 8)))
  with pytest.raises(ValueError, match="timesteps"):
    snn.convert_with_snntoolbox(trained_conv, np.zeros((4, 8, 8, 1)),
                                timesteps=0)


@pytest.mark.slow
def test_a_sequential_model_converts_through_snntoolbox(toolbox, trained_conv,
                                                        digits_data):
  # The trained conv net's layers as a Sequential model: snntoolbox gives the
  # same spike counts as for the functional model (the module's conversion).
  seq = tf.keras.Sequential([tf.keras.Input(digits_data.input_shape)]
                            + trained_conv.layers[1:])
  x = digits_data.x_test[:50]
  np.testing.assert_allclose(seq.predict(x, verbose=0),
                             trained_conv.predict(x, verbose=0), rtol=1e-6)
  conv = snn.convert_with_snntoolbox(seq, digits_data.x_train[:200],
                                     timesteps=64, batch_size=100)
  try:
    np.testing.assert_array_equal(conv.spike_counts(x),
                                  toolbox.spike_counts(x))
  finally:
    conv.cleanup()


def test_a_softmax_output_is_refused_by_the_snntoolbox_path():
  inp = tf.keras.Input((4, 4, 1))
  out = tf.keras.layers.Dense(3, activation="softmax")(
      tf.keras.layers.Flatten()(inp))
  with pytest.raises(snn.UnsupportedLayerError, match="softmax.*logits"):
    snntoolbox_adapter.check_convertible(tf.keras.Model(inp, out))
