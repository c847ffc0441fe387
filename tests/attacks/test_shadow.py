"""Song–Mittal thresholds and the NN attacks."""

import numpy as np
import pytest
from sklearn import metrics

from tfmia.attacks import shadow


def test_metric_values_by_hand():
  p = np.array([[0.7, 0.2, 0.1]])
  y = np.array([0])
  assert shadow.metric_values("confidence", p, y)[0] == pytest.approx(0.7)
  assert shadow.metric_values("cross_entropy", p, y)[0] == pytest.approx(
      np.log(0.7))
  mentr = -(0.3 * np.log(0.7)) - (0.2 * np.log(0.8) + 0.1 * np.log(0.9))
  assert shadow.metric_values("modified_entropy", p, y)[0] == pytest.approx(
      -mentr)


def test_best_threshold_by_hand_and_against_song_mittal_loop():
  # t = 3: TPR 1, TNR 2/3; t = 4: TPR 2/3, TNR 1; both 5/6: the smaller wins.
  assert shadow.best_threshold([3, 4, 5], [1, 2, 3.5]) == 3.0
  rng = np.random.default_rng(0)
  tr, te = rng.normal(1, 1, 200), rng.normal(0, 1, 300)
  t = shadow.best_threshold(tr, te)

  def acc(v):   # Song & Mittal's _thre_setting objective
    return 0.5 * (np.mean(tr >= v) + np.mean(te < v))

  best = max(acc(v) for v in np.r_[tr, te])
  assert acc(t) == pytest.approx(best)


def test_class_thresholds_fall_back_to_global():
  values = np.array([0.9, 0.8, 0.2, 0.1, 0.95, 0.85])
  labels = np.array([0, 0, 0, 0, 1, 1])
  is_member = np.array([True, True, False, False, True, True])
  thr = shadow.class_thresholds(values, labels, is_member, 3)
  glob = shadow.best_threshold(values[is_member], values[~is_member])
  assert thr[0] == 0.8                   # class 0 has both
  assert thr[1] == thr[2] == glob        # class 1 has no non-members, 2 none


def test_song_mittal_separated_gives_auc_one_and_margin_sign():
  rng = np.random.default_rng(1)
  n, c = 200, 4
  y = rng.integers(0, c, n)
  member = np.arange(n) % 2 == 0
  conf = np.where(member, 0.9, 0.4)
  probs = np.full((n, c), 0.0)
  probs[np.arange(n), y] = conf
  probs[np.arange(n), (y + 1) % c] = 1 - conf
  for metric in shadow.SONG_MITTAL_METRICS:
    s = shadow.song_mittal_scores(metric, probs, y, member, probs, y)
    assert metrics.roc_auc_score(member, s) == 1.0
    # score >= 0 is Song & Mittal's member decision: here it is exact.
    np.testing.assert_array_equal(s >= 0, member)


def test_top1_threshold():
  p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
  m = np.array([True, True, False, False])
  np.testing.assert_allclose(shadow.top1_threshold_scores(p, m, p),
                             [0.1, 0.0, -0.2, -0.3])


def test_nn_features():
  p = np.array([[0.1, 0.6, 0.3, 0.0]])
  np.testing.assert_array_equal(shadow.nn_features("nn", p, [1]), p)
  np.testing.assert_array_equal(shadow.nn_features("nn_top3", p, [1]),
                                [[0.6, 0.3, 0.1]])
  np.testing.assert_array_equal(shadow.nn_features("nn_cls", p, [2]),
                                [[0.1, 0.6, 0.3, 0.0, 0, 0, 1, 0]])
  with pytest.raises(ValueError, match="kind"):
    shadow.nn_features("cnn", p, [1])


def test_nn_attack_learns_and_is_deterministic():
  rng = np.random.default_rng(2)
  n = 400
  member = rng.random(n) < 0.5
  conf = np.where(member, rng.uniform(0.8, 1.0, n), rng.uniform(0.3, 0.7, n))
  feats = np.stack([conf, 1 - conf], axis=1)
  s1 = shadow.nn_attack_scores(feats, member, feats, hidden=(16,), seed=3)
  s2 = shadow.nn_attack_scores(feats, member, feats, hidden=(16,), seed=3)
  np.testing.assert_array_equal(s1, s2)
  assert metrics.roc_auc_score(member, s1) > 0.99


def test_errors():
  with pytest.raises(ValueError, match="probabilities"):
    shadow.metric_values("confidence", np.array([[2.0, -1.0]]), [0])
  with pytest.raises(ValueError, match="metric"):
    shadow.metric_values("entropy2", np.array([[0.5, 0.5]]), [0])
  with pytest.raises(ValueError, match="both members and non-members"):
    shadow.class_thresholds([0.1, 0.2], [0, 1], [True, True], 2)
  with pytest.raises(ValueError, match="columns"):
    shadow.nn_attack_scores(np.zeros((4, 2)), [True, False] * 2,
                            np.zeros((3, 3)))


def test_balanced_sample():
  m = np.array([True] * 10 + [False] * 4)
  idx = shadow.balanced_sample(m, None, 0)
  assert m[idx].sum() == 4 and (~m[idx]).sum() == 4
  idx = shadow.balanced_sample(m, 4, 0)
  assert len(idx) == 4 and m[idx].sum() == 2
