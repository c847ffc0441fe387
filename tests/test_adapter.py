"""The one model adapter: every model kind, softmax detection, and the
signals and attacks computed from a softmax-output model."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn import metrics

from tfmia.models import adapter
from tfmia.attacks import AttackSignals, run_attacks
from tfmia.audits.callback import PrivacyMetrics
from tfmia.signals import SignalConfig, compute_signals

SHAPE = (4, 4, 1)


def _x(n=40, seed=0):
  return np.random.default_rng(seed).normal(size=(n,) + SHAPE).astype(
      np.float32)


def _sequential_softmax():
  tf.keras.utils.set_random_seed(0)
  return tf.keras.Sequential([
      tf.keras.Input(SHAPE), tf.keras.layers.Flatten(),
      tf.keras.layers.Dense(3, activation="softmax")])


def _subclassed(softmax: bool):
  class Net(tf.keras.Model):

    def __init__(self):
      super().__init__()
      self.flat = tf.keras.layers.Flatten()
      self.dense = tf.keras.layers.Dense(3)

    def call(self, x):
      z = self.dense(self.flat(x))
      return tf.nn.softmax(z) if softmax else z

  tf.keras.utils.set_random_seed(0)
  return Net()


def test_structure_detection():
  seq = _sequential_softmax()
  assert adapter.ends_in_softmax(seq) is True
  # input_shape= instead of Input, and a Softmax layer.
  seq2 = tf.keras.Sequential([
      tf.keras.layers.Flatten(input_shape=SHAPE), tf.keras.layers.Dense(3),
      tf.keras.layers.Softmax()])
  assert adapter.ends_in_softmax(seq2) is True
  # An Activation layer, in a functional model.
  inp = tf.keras.Input(SHAPE)
  z = tf.keras.layers.Dense(3)(tf.keras.layers.Flatten()(inp))
  assert adapter.ends_in_softmax(tf.keras.Model(inp, z)) is False
  act = tf.keras.layers.Activation("softmax")(z)
  assert adapter.ends_in_softmax(tf.keras.Model(inp, act)) is True
  # A Sequential nested inside a functional model.
  nested = tf.keras.Model(inp, _sequential_softmax()(inp))
  assert adapter.ends_in_softmax(nested) is True
  assert adapter.ends_in_softmax(_subclassed(False)) is None
  assert adapter.ends_in_softmax(lambda x: x) is None


def test_softmax_model_gives_log_probabilities():
  model, x = _sequential_softmax(), _x()
  probs = model.predict(x, verbose=0).astype(np.float64)
  a = adapter.ModelAdapter(model)
  logits = a(x)
  assert a.outputs == "probabilities"
  np.testing.assert_allclose(logits, np.log(probs), rtol=1e-6)
  # Softmax of the returned logits is the model's own output.
  np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), probs,
                             rtol=1e-5, atol=1e-7)


def test_logit_model_is_returned_as_is_and_batches_agree():
  inp = tf.keras.Input(SHAPE)
  model = tf.keras.Model(inp, tf.keras.layers.Dense(3)(
      tf.keras.layers.Flatten()(inp)))
  x = _x(50)
  ref = model.predict(x, verbose=0)
  for bs in (7, 50, 4096):
    out = adapter.ModelAdapter(model, batch_size=bs)(x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("softmax", [True, False])
def test_subclassed_and_callables_are_checked_at_run_time(softmax):
  model, x = _subclassed(softmax), _x()
  a = adapter.ModelAdapter(model)
  out = a(x)
  assert a.outputs == ("probabilities" if softmax else "logits")
  raw = model(x).numpy().astype(np.float64)
  np.testing.assert_allclose(out, np.log(raw) if softmax else raw, rtol=1e-6)
  fn = adapter.ModelAdapter(lambda b: model(b).numpy())
  np.testing.assert_allclose(fn(x), out, rtol=1e-6)


def test_declared_outputs_win():
  model, x = _sequential_softmax(), _x()
  p = model.predict(x, verbose=0)
  np.testing.assert_allclose(
      adapter.ModelAdapter(model, outputs="logits")(x), p, rtol=1e-6)


def test_bad_arguments():
  with pytest.raises(ValueError, match="outputs.*Received: outputs='probs'"):
    adapter.ModelAdapter(lambda x: x, outputs="probs")
  with pytest.raises(TypeError, match="keras.Model or a callable"):
    adapter.ModelAdapter(3)
  with pytest.raises(ValueError, match="batch_size"):
    adapter.ModelAdapter(lambda x: x, batch_size=0)
  with pytest.raises(ValueError, match=r"\(batch, classes\)"):
    adapter.ModelAdapter(lambda x: np.zeros(len(x)))(_x(3))


def test_softmax_model_signals_and_attacks_use_the_right_numbers():
  """The issue's check: the threshold AUC equals the AUC computed by hand
  from the model's probabilities, and LiRA's φ equals log p_y − log(1 − p_y)."""
  model, x = _sequential_softmax(), _x(60)
  y = np.random.default_rng(1).integers(0, 3, 60)
  is_member = np.arange(60) < 30
  p = model.predict(x, verbose=0).astype(np.float64)
  p_y = p[np.arange(60), y]
  sig = compute_signals(model, x, y, SignalConfig(), progress=False)
  np.testing.assert_allclose(sig.scaled_logit[:, 0],
                             np.log(p_y) - np.log(1 - p_y), rtol=1e-4)
  np.testing.assert_allclose(sig.loss[:, 0], -np.log(p_y), rtol=1e-5)
  res = run_attacks(("threshold",), AttackSignals(target=sig),
                    is_member=is_member)
  by_hand = metrics.roc_auc_score(is_member, np.log(p_y))
  assert res.get("threshold").auc == pytest.approx(by_hand, abs=1e-12)
  # The callback goes through the same adapter.
  cb = PrivacyMetrics((x[:30], y[:30]), (x[30:], y[30:]),
                      attacks=("threshold",))
  cb.set_model(model)
  assert cb.evaluate().get("threshold").auc == pytest.approx(by_hand,
                                                             abs=1e-12)
