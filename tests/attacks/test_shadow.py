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


@pytest.mark.slow
def test_nn_attack_learns_and_is_deterministic():
  rng = np.random.default_rng(2)
  n = 400
  member = rng.random(n) < 0.5
  conf = np.where(member, rng.uniform(0.8, 1.0, n), rng.uniform(0.3, 0.7, n))
  feats = np.stack([conf, 1 - conf], axis=1)
  from tfmia.attacks import nn_attack
  cfg = nn_attack.MiafcConfig(hidden=(32, 16), epochs=40, batch_size=64,
                              learning_rate=0.05, seed=3)
  s1 = nn_attack.nn_attack_scores(feats, member, feats, cfg)
  nn_attack.clear_trained()            # a second training, not the kept one
  s2 = nn_attack.nn_attack_scores(feats, member, feats, cfg)
  np.testing.assert_array_equal(s1, s2)
  assert metrics.roc_auc_score(member, s1) > 0.99


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["nn", "samia"])
def test_attack_network_is_trained_once_per_shadow_data(kind):
  """Many targets against the same shadows (the non-adaptive cells) train
  the attack network once; its scores equal a fresh training's."""
  from tfmia.attacks import nn_attack, samia
  rng = np.random.default_rng(4)
  member = rng.random(300) < 0.5
  if kind == "nn":
    cfg = nn_attack.MiafcConfig(hidden=(16,), epochs=3, seed=1)
    x = rng.random((300, 3))
    score = lambda shadow, t: nn_attack.nn_attack_scores(shadow, member, t,
                                                         cfg)
    t1, t2 = rng.random((50, 3)), rng.random((60, 3))
  else:
    cfg = samia.SamiaConfig(embed_dim=8, num_layers=1, num_heads=2, ff_dim=8,
                            head_units=8, epochs=2, seed=1)
    x = rng.random((300, 4, 3))
    score = lambda shadow, t: samia.samia_scores(shadow, member, t, cfg)
    t1, t2 = rng.random((50, 4, 3)), rng.random((60, 4, 3))
  nn_attack.clear_trained()
  before = nn_attack.trainings
  score(x, t1)
  kept = score(x, t2)
  assert nn_attack.trainings == before + 1
  score(x + 1e-3, t2)                  # other shadow data: trained anew
  assert nn_attack.trainings == before + 2
  nn_attack.clear_trained()
  np.testing.assert_array_equal(kept, score(x, t2))
  assert nn_attack.trainings == before + 3


def test_miafc_is_mia_prunes_network():
  """mia_prune's MIAFC for nn_cls on 10 classes (20 inputs): Linear(20, 512),
  Linear(512, 256), Linear(256, 128), Linear(128, 2), dropout 0.2 after the
  first two: 10,752 + 131,328 + 32,896 + 258 = 175,234 parameters."""
  from tfmia.attacks import nn_attack
  m = nn_attack.build_miafc(20)
  assert m.count_params() == 175_234
  assert [l.rate for l in m.layers if "dropout" in l.name] == [0.2, 0.2]
  cfg = nn_attack.MiafcConfig()
  assert (cfg.epochs, cfg.batch_size, cfg.learning_rate, cfg.weight_decay) \
      == (100, 128, 1e-3, 5e-4)


def test_errors():
  with pytest.raises(ValueError, match="probabilities"):
    shadow.metric_values("confidence", np.array([[2.0, -1.0]]), [0])
  with pytest.raises(ValueError, match="metric"):
    shadow.metric_values("entropy2", np.array([[0.5, 0.5]]), [0])
  with pytest.raises(ValueError, match="both members and non-members"):
    shadow.class_thresholds([0.1, 0.2], [0, 1], [True, True], 2)
  from tfmia.attacks import nn_attack
  with pytest.raises(ValueError, match="columns"):
    nn_attack.nn_attack_scores(np.zeros((4, 2)), [True, False] * 2,
                               np.zeros((3, 3)))


def test_balanced_sample():
  m = np.array([True] * 10 + [False] * 4)
  idx = shadow.balanced_sample(m, None, 0)
  assert m[idx].sum() == 4 and (~m[idx]).sum() == 4
  idx = shadow.balanced_sample(m, 4, 0)
  assert len(idx) == 4 and m[idx].sum() == 2


class _MiaPruneThresholdAttacker:
  """mia_prune's `attacker_threshold.ThresholdAttacker` (Machine-Learning-
  Security-Lab/mia_prune, from inspire-group/membership-inference-
  evaluation), the parts that compute its reported accuracies, copied with
  only the printing removed."""

  def __init__(self, shadow_train, shadow_test, target_train, target_test,
               num_classes):
    self.num_classes = num_classes
    self.s_tr_outputs, self.s_tr_labels = shadow_train
    self.s_te_outputs, self.s_te_labels = shadow_test
    self.t_tr_outputs, self.t_tr_labels = target_train
    self.t_te_outputs, self.t_te_labels = target_test
    conf = lambda o, l: np.array([o[i, l[i]] for i in range(len(l))])
    self.s_tr_conf = conf(self.s_tr_outputs, self.s_tr_labels)
    self.s_te_conf = conf(self.s_te_outputs, self.s_te_labels)
    self.t_tr_conf = conf(self.t_tr_outputs, self.t_tr_labels)
    self.t_te_conf = conf(self.t_te_outputs, self.t_te_labels)
    self.s_tr_entr = self._entr_comp(self.s_tr_outputs)
    self.s_te_entr = self._entr_comp(self.s_te_outputs)
    self.t_tr_entr = self._entr_comp(self.t_tr_outputs)
    self.t_te_entr = self._entr_comp(self.t_te_outputs)
    self.s_tr_m_entr = self._m_entr_comp(self.s_tr_outputs, self.s_tr_labels)
    self.s_te_m_entr = self._m_entr_comp(self.s_te_outputs, self.s_te_labels)
    self.t_tr_m_entr = self._m_entr_comp(self.t_tr_outputs, self.t_tr_labels)
    self.t_te_m_entr = self._m_entr_comp(self.t_te_outputs, self.t_te_labels)

  def _log_value(self, probs, small_value=1e-30):
    return -np.log(np.maximum(probs, small_value))

  def _entr_comp(self, probs):
    return np.sum(np.multiply(probs, self._log_value(probs)), axis=1)

  def _m_entr_comp(self, probs, true_labels):
    log_probs = self._log_value(probs)
    reverse_probs = 1 - probs
    log_reverse_probs = self._log_value(reverse_probs)
    modified_probs = np.copy(probs)
    modified_probs[range(true_labels.size), true_labels] = reverse_probs[
        range(true_labels.size), true_labels]
    modified_log_probs = np.copy(log_reverse_probs)
    modified_log_probs[range(true_labels.size), true_labels] = log_probs[
        range(true_labels.size), true_labels]
    return np.sum(np.multiply(modified_probs, modified_log_probs), axis=1)

  def _thre_setting(self, tr_values, te_values):
    value_list = np.concatenate((tr_values, te_values))
    thre, max_acc = 0, 0
    for value in value_list:
      tr_ratio = np.sum(tr_values >= value) / (len(tr_values) + 0.0)
      te_ratio = np.sum(te_values < value) / (len(te_values) + 0.0)
      acc = 0.5 * (tr_ratio + te_ratio)
      if acc > max_acc:
        thre, max_acc = value, acc
    return thre

  def _mem_inf_thre(self, s_tr_values, s_te_values, t_tr_values, t_te_values):
    t_tr_mem, t_te_non_mem = 0, 0
    for num in range(self.num_classes):
      thre = self._thre_setting(s_tr_values[self.s_tr_labels == num],
                                s_te_values[self.s_te_labels == num])
      t_tr_mem += np.sum(t_tr_values[self.t_tr_labels == num] >= thre)
      t_te_non_mem += np.sum(t_te_values[self.t_te_labels == num] < thre)
    return 0.5 * (t_tr_mem / (len(self.t_tr_labels) + 0.0)
                  + t_te_non_mem / (len(self.t_te_labels) + 0.0))

  def _mem_inf_thre_non_cls(self, s_tr_values, s_te_values, t_tr_values,
                            t_te_values):
    thre = self._thre_setting(s_tr_values, s_te_values)
    t_tr_mem = np.sum(t_tr_values >= thre)
    t_te_non_mem = np.sum(t_te_values < thre)
    return 0.5 * (t_tr_mem / (len(self.t_tr_labels) + 0.0)
                  + t_te_non_mem / (len(self.t_te_labels) + 0.0))

  def benchmarks(self):
    return {
        "confidence": self._mem_inf_thre(self.s_tr_conf, self.s_te_conf,
                                         self.t_tr_conf, self.t_te_conf),
        "entropy": self._mem_inf_thre(-self.s_tr_entr, -self.s_te_entr,
                                      -self.t_tr_entr, -self.t_te_entr),
        "modified_entropy": self._mem_inf_thre(
            -self.s_tr_m_entr, -self.s_te_m_entr, -self.t_tr_m_entr,
            -self.t_te_m_entr),
        "global_confidence": self._mem_inf_thre_non_cls(
            self.s_tr_conf, self.s_te_conf, self.t_tr_conf, self.t_te_conf)}


def _softmax_data(rng, n, c, member_boost):
  logits = rng.normal(0, 1.5, (n, c))
  y = rng.integers(0, c, n)
  logits[np.arange(n), y] += member_boost
  p = np.exp(logits - logits.max(1, keepdims=True))
  return p / p.sum(1, keepdims=True), y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decision_accuracy_equals_mia_prune(seed):
  """Our decision accuracies (score >= 0 on the margins) equal the numbers
  mia_prune's ThresholdAttacker reports, for confidence, entropy, modified
  entropy (per class) and its global "Top1-conf"."""
  from tfmia.results import AttackResult
  rng = np.random.default_rng(seed)
  c = 4
  s_in, s_out = _softmax_data(rng, 120, c, 2.0), _softmax_data(rng, 120, c, 1.0)
  t_in, t_out = _softmax_data(rng, 100, c, 2.0), _softmax_data(rng, 100, c, 1.0)
  theirs = _MiaPruneThresholdAttacker(s_in, s_out, t_in, t_out, c).benchmarks()
  sp = np.r_[s_in[0], s_out[0]]
  sy = np.r_[s_in[1], s_out[1]]
  sm = np.r_[np.ones(120, bool), np.zeros(120, bool)]
  tp = np.r_[t_in[0], t_out[0]]
  ty = np.r_[t_in[1], t_out[1]]
  tm = np.r_[np.ones(100, bool), np.zeros(100, bool)]
  for name, metric, per_class in (
      ("confidence", "confidence", True), ("entropy", "entropy", True),
      ("modified_entropy", "modified_entropy", True),
      ("global_confidence", "confidence", False)):
    s = shadow.song_mittal_scores(metric, sp, sy, sm, tp, ty,
                                  per_class=per_class)
    ours = AttackResult(name, "all", s, tm, decision_threshold=0.0)
    assert ours.decision_accuracy == pytest.approx(theirs[name]), name


def test_entropy_by_hand_and_not_confidence():
  p = np.array([[0.7, 0.2, 0.1], [0.7, 0.3, 0.0]])
  y = np.array([0, 0])
  ent = shadow.metric_values("entropy", p, y)
  assert ent[0] == pytest.approx(0.7 * np.log(0.7) + 0.2 * np.log(0.2)
                                 + 0.1 * np.log(0.1))
  assert ent[1] == pytest.approx(0.7 * np.log(0.7) + 0.3 * np.log(0.3))
  # Same p_y, different entropy: the entropy attack sees what confidence
  # (and log p_y, "cross_entropy") cannot.
  assert ent[0] != ent[1]
  conf = shadow.metric_values("cross_entropy", p, y)
  assert conf[0] == conf[1]


@pytest.mark.slow
def test_trained_attacks_decide_as_their_networks_argmax():
  """mia_prune reports the NN attacks' and SAMIA's accuracy from the attack
  network's argmax; their scores are member log-odds, so that decision is
  a score >= 0, and the front door reports its balanced accuracy."""
  from tfmia.attacks import AttackSignals, run_attacks
  from tfmia.attacks.registry import ATTACKS
  from tfmia.signals import Signals
  for name in ("nn", "nn_top3", "nn_cls", "samia"):
    assert ATTACKS[name].decision_threshold == 0.0, name
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 3, 160)
  is_member = np.r_[np.ones(80, bool), np.zeros(80, bool)]

  def logits(members):   # the true class boosted on a model's members
    out = rng.normal(0, 1.5, (160, 3))
    out[np.arange(160), labels] += np.where(members, 3.0, 0.5)
    return out

  target = Signals.from_logits(logits(is_member), labels)
  shadow_ = Signals.from_logits(logits(~is_member), labels)
  res = run_attacks(("nn",), AttackSignals(target, (shadow_,),
                                           ~is_member[None]),
                    is_member=is_member)
  r = res.results[0]
  member = r.scores >= 0
  expected = 0.5 * (member[is_member].mean() + (~member[~is_member]).mean())
  assert np.isfinite(r.decision_accuracy)
  assert r.decision_accuracy == pytest.approx(expected)
