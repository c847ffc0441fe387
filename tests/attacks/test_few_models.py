"""Attacks that need few reference models or none: BaVarIA and BASE3, the
quantile-regression attack, LT-IQR. Known answers worked by hand from the
papers' definitions."""

import numpy as np
import pytest

from tfmia.attacks import bavaria, loss_trace, quantile, registry
from tfmia.attacks import AttackSignals, run_attacks
from tfmia.signals import Signals

# Two examples, two reference models: example 0 is IN for model 0 (φ = 2)
# and OUT for model 1 (φ = 0); example 1 IN for model 1 (φ = 1), OUT for
# model 0 (φ = −1). The IN observations {2, 1}: μ0 = 1.5, s² = 0.25; OUT
# {0, −1}: μ0 = −0.5, s² = 0.25.
REF = np.array([[2.0, -1.0], [0.0, 1.0]])
IN = np.array([[True, False], [False, True]])


def test_bavaria_n_by_hand():
  # α0 = 1, κ0 = 1, β0 = s² = 0.25. Example 0, IN: n = 1, x̄ = 2, κn = 2,
  # αn = 1.5, βn = 0.25 + 1·1·(2 − 1.5)²/(2·2) = 0.3125, σ̂² = βn/(αn − 1)
  # = 0.625; OUT: x̄ = 0, βn = 0.25 + (0 + 0.5)²/4 = 0.3125, σ̂² = 0.625.
  # φ = 2: ½ log 1 − ½ (2 − 2)²/0.625 + ½ (2 − 0)²/0.625 = 3.2.
  s = bavaria.bavaria_scores([2.0, 0.0], REF, IN, variant="n")
  assert s[0] == pytest.approx(3.2)
  # Offline: IN is the prior, N(1.5, 0.25):
  # ½ log(0.625/0.25) − ½ (0.5)²/0.25 + 3.2.
  off = bavaria.bavaria_scores([2.0, 0.0], REF, IN, variant="n", online=False)
  assert off[0] == pytest.approx(0.5 * np.log(2.5) - 0.5 + 3.2)


def test_bavaria_t_by_hand():
  # α0 = 2, β0 = s²(α0 − 1) = 0.25. Example 0, IN: κn = 2, μn = 1.75,
  # αn = 2.5, βn = 0.3125, scale² = βn(κn + 1)/(αn κn) = 0.1875, ν = 5;
  # OUT: μn = −0.25, the same scale. The t log-density ratio at φ = 2 is
  # −(ν + 1)/2 · [log(1 + 0.25²/(ν s²)) − log(1 + 2.25²/(ν s²))].
  nu_s2 = 5 * 0.1875
  want = -3 * (np.log1p(0.0625 / nu_s2) - np.log1p(5.0625 / nu_s2))
  s = bavaria.bavaria_scores([2.0, 0.0], REF, IN, variant="t")
  assert s[0] == pytest.approx(want)
  assert want == pytest.approx(5.37528, abs=1e-5)


def test_base3_by_hand():
  ref = np.array([[2.0], [3.0], [0.0], [1.0]])
  is_in = np.array([[True], [True], [False], [False]])
  # μ_in = 2.5, μ_out = 0.5, pooled variance 0.25:
  # (2.5 − 0.5)/0.25 · (2 − 1.5) = 4.
  assert bavaria.base3_scores([2.0], ref, is_in)[0] == pytest.approx(4.0)


def test_bavaria_refuses_what_it_cannot_score():
  with pytest.raises(ValueError, match="variant"):
    bavaria.bavaria_scores([0.0, 0.0], REF, IN, variant="x")
  with pytest.raises(ValueError, match="IN observations"):
    bavaria.bavaria_scores([0.0, 0.0], REF, np.zeros_like(IN))


def test_quantile_pieces_by_hand():
  logits = np.array([[3.0, 1.0, 2.0], [3.0, 1.0, 2.0]])
  np.testing.assert_allclose(quantile.hinge_scores(logits, [0, 1]),
                             [1.0, -2.0])
  assert quantile.gaussian_nll([1.0], [0.0], [0.0]) == pytest.approx(0.5)
  assert quantile.gaussian_nll([3.0], [1.0], [np.log(2)]) == pytest.approx(
      np.log(2) + 0.5)
  assert quantile.quantile_scores(3.0, 1.0, np.log(2.0)) == pytest.approx(1.0)


@pytest.mark.slow
def test_quantile_regression_learns_what_a_global_threshold_cannot():
  # The non-member score depends on the input: s = 4 x0 + noise. Members
  # score 1 higher. A global threshold sees mostly x0; the regressor's
  # residual sees the shift.
  rng = np.random.default_rng(0)

  def draw(n, shift):
    x = rng.normal(size=(n, 4)).astype(np.float32)
    s = 4 * x[:, 0] + 0.3 * rng.normal(size=n) + shift
    logits = np.stack([s, np.zeros(n)], axis=1)   # hinge = s for label 0
    return x, logits
  xp, lp = draw(600, 0.0)
  xm, lm = draw(200, 1.0)
  xn, ln = draw(200, 0.0)
  x, logits = np.concatenate([xm, xn]), np.concatenate([lm, ln])
  labels = np.zeros(400, int)
  is_member = np.arange(400) < 200
  cfg = quantile.QuantileConfig(epochs=40, hidden=(32,), batch_size=32)
  s = quantile.quantile_attack(logits, labels, x, lp, np.zeros(600, int), xp,
                               cfg)
  from sklearn.metrics import roc_auc_score
  auc_qr = roc_auc_score(is_member, s)
  auc_raw = roc_auc_score(is_member, quantile.hinge_scores(logits, labels))
  assert auc_qr > 0.9 > auc_raw + 0.2


def test_lt_iqr_and_precision_at_k_by_hand():
  trace = np.array([[0, 1, 2, 3, 4], [5, 5, 5, 5, 5], [4, 0, 0, 0, 0.0]])
  np.testing.assert_allclose(loss_trace.lt_iqr_scores(trace), [2.0, 0.0, 0.0])
  scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 4.5, 0.1])
  is_member = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
  # Non-members' scores, high to low: 4.5, 1, 0.5, 0.1. At FPR 0.25 the
  # threshold is the second highest (1.0): members above it: all four.
  np.testing.assert_array_equal(
      loss_trace.vulnerable_members(scores, is_member, fpr=0.25), is_member)
  # At FPR 0: above 4.5 only the member at 5.0.
  np.testing.assert_array_equal(
      loss_trace.vulnerable_members(scores, is_member, fpr=0.0),
      [1, 0, 0, 0, 0, 0, 0, 0])
  vulnerable = np.array([1, 0, 1, 0, 0, 0, 0, 0], bool)
  risk = np.array([0.9, 0.8, 0.1, 0.2, 9, 9, 9, 9])
  # Top half of the 4 members by risk: 0 and 1; one of them is vulnerable.
  assert loss_trace.precision_at_k(risk, vulnerable, is_member, 0.5) == (
      0.5, 0.5, 2)


@pytest.mark.slow
def test_the_new_attacks_run_through_the_front_door():
  rng = np.random.default_rng(1)
  n, z, k = 40, 30, 4
  labels = rng.integers(0, 3, n)
  target = Signals.from_logits(rng.normal(size=(n, 3)), labels)
  refs = [Signals.from_logits(rng.normal(size=(n, 3)), labels)
          for _ in range(k)]
  ref_in = np.stack([rng.random(n) < 0.5 for _ in range(k)])
  ref_in[0], ref_in[1] = ref_in[0], ~ref_in[0]
  ref_in[2], ref_in[3] = ref_in[2], ~ref_in[2]
  pop = Signals.from_logits(rng.normal(size=(z, 3)), rng.integers(0, 3, z))
  sig = AttackSignals(
      target=target, references=refs, ref_is_member=ref_in,
      target_population=pop, loss_trace=rng.random((n, 5)),
      features=rng.normal(size=(n, 2)),
      population_features=rng.normal(size=(z, 2)))
  names = ("bavaria_t", "bavaria_n", "bavaria_t_offline",
           "bavaria_n_offline", "base3", "lt_iqr", "quantile")
  from tfmia.attacks import AttackConfig
  res = run_attacks(names, sig, AttackConfig(
      quantile=quantile.QuantileConfig(epochs=2, hidden=(8,))),
      is_member=np.arange(n) < n // 2)
  for name in names:
    assert 0 <= res.get(name).auc <= 1, name
  np.testing.assert_allclose(res.get("lt_iqr").scores,
                             loss_trace.lt_iqr_scores(sig.loss_trace))
  bare = AttackSignals(target=target, target_population=pop)
  for name, what in (("lt_iqr", "loss trace"), ("quantile", "inputs")):
    with pytest.raises(ValueError, match=what):
      run_attacks((name,), bare, is_member=np.arange(n) < n // 2)
  with pytest.raises(ValueError, match="loss_trace"):
    AttackSignals(target=target, loss_trace=np.zeros((n + 1, 3)))


@pytest.mark.slow
def test_privacy_metrics_records_the_loss_trace_for_lt_iqr():
  import tensorflow as tf
  from tfmia.audits.callback import PrivacyMetrics
  from tfmia.data import DataConfig, prepare_data
  from tfmia.models import build_model
  d = prepare_data(DataConfig(dataset="digits", train_size=200,
                              test_size=100))
  tf.keras.utils.set_random_seed(0)
  m = build_model("dense", d.input_shape, d.num_classes, depth=1, units=32)
  m.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(True))
  cb = PrivacyMetrics((d.x_train[:100], d.y_train[:100]),
                      (d.x_test, d.y_test), attacks=("threshold", "lt_iqr"))
  m.fit(d.x_train[:100], d.y_train[:100], epochs=3, verbose=0,
        callbacks=[cb])
  trace = cb.loss_trace
  assert trace.shape == (200, 3)
  last = cb.history[-1]
  # The last column is the threshold attack's loss at the last epoch.
  np.testing.assert_allclose(-trace[:, -1], last.get("threshold").scores)
  np.testing.assert_allclose(last.get("lt_iqr").scores,
                             loss_trace.lt_iqr_scores(trace))
  assert "lt_iqr" in registry.ATTACKS


def test_lt_iqr_is_the_authors_pandas_reduction():
  """computationalprivacy/loss_traces `_reduction_iqr`: pandas' quantiles
  (linear interpolation) of each trace, Q0.75 − Q0.25."""
  import pandas as pd
  trace = np.random.default_rng(3).gamma(2.0, size=(50, 21))
  df = pd.DataFrame(trace)
  theirs = (df.quantile(0.75, axis=1) - df.quantile(0.25, axis=1)).to_numpy()
  np.testing.assert_allclose(loss_trace.lt_iqr_scores(trace), theirs,
                             rtol=1e-12)
