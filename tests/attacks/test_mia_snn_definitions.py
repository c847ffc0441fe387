"""tfmia's attacks beside MIA_SNN's definitions (sharmaabhijith/MIA_SNN,
`Attacks/main.py` at c675229), as the README's comparison table states them.

The three `_mia_snn_*` functions are numpy ports of that code:
  Attack_P:    the target's true-class confidence c_t;
  Attack_R:    mean over all K reference models of [c_t / c_k >= 1];
  Attack_RMIA: c_t / mean_k c_k (no population, no γ, no offline a).
"""

import numpy as np
import pytest
from sklearn import metrics

from tfmia.attacks import scores


def _mia_snn_attack_p(c_target):
  return c_target


def _mia_snn_attack_r(c_target, c_refs):
  return np.mean((c_target[None] / c_refs >= 1).astype(np.float32), axis=0)


def _mia_snn_rmia(c_target, c_refs):
  return c_target / np.mean(c_refs, axis=0)


def _setting(seed=0, n=400, z=300, k=4):
  rng = np.random.default_rng(seed)
  member = rng.random(n) < 0.5
  c_target = np.clip(rng.beta(2, 2, n) + 0.15 * member, 1e-3, 1 - 1e-3)
  rows = []
  for _ in range(k // 2):
    m = rng.random(n) < 0.5
    rows += [m, ~m]
  ref_is_member = np.stack(rows)
  c_refs = np.clip(rng.beta(2, 2, (k, n)) + 0.15 * ref_is_member, 1e-3,
                   1 - 1e-3)
  c_z = rng.uniform(0.05, 0.95, z)
  c_refs_z = rng.uniform(0.05, 0.95, (k, z))
  return member, c_target, c_refs, ref_is_member, c_z, c_refs_z


def test_their_attack_p_ranks_as_the_loss_threshold():
  member, c_target, *_ = _setting()
  theirs = metrics.roc_auc_score(member, _mia_snn_attack_p(c_target))
  ours = metrics.roc_auc_score(
      member, scores.loss_threshold_scores(-np.log(c_target)))
  assert theirs == ours


def test_their_attack_p_and_ours_agree_inside_the_population_range():
  # Ye et al.'s Attack-P is a monotone function of the loss while every
  # target loss lies inside the population's range, so the AUC is equal.
  member, c_target, *_ = _setting()
  population = np.random.default_rng(1).uniform(1e-4, 1 - 1e-4, 5000)
  ours = scores.attack_p_scores(-np.log(c_target), -np.log(population))
  assert (metrics.roc_auc_score(member, ours)
          == metrics.roc_auc_score(member, _mia_snn_attack_p(c_target)))


def test_their_rmia_is_ours_online_without_the_population_comparison():
  # With as many IN as OUT models per example, ½(P_IN + P_OUT) is the plain
  # mean over all K models, and Pr_z[ratio_x / ratio_z >= 1] is a
  # non-decreasing function of ratio_x: ours is theirs up to ties.
  _, c_target, c_refs, ref_is_member, c_z, c_refs_z = _setting()
  theirs = _mia_snn_rmia(c_target, c_refs)
  ours = scores.rmia_scores(c_target, c_refs, ref_is_member, c_z, c_refs_z,
                            offline=False, gamma=1.0)
  order = np.argsort(theirs, kind="stable")
  assert np.all(np.diff(ours[order]) >= 0)
  assert len(np.unique(ours)) < len(np.unique(theirs))   # coarser: ties


def test_their_attack_r_counts_all_models_where_ours_uses_the_out_models():
  # One example, K = 2: the IN model is more confident than the target, the
  # OUT model less. Theirs: 1 of 2 models below the target -> 0.5. Ours: the
  # target's loss is below its only OUT model's loss -> 1.
  c_target = np.array([0.5])
  c_refs = np.array([[0.9], [0.3]])
  ref_is_member = np.array([[True], [False]])
  assert _mia_snn_attack_r(c_target, c_refs)[0] == 0.5
  ours = scores.attack_r_scores(-np.log(c_target), -np.log(c_refs),
                                ref_is_member)
  assert ours[0] == 1.0


# ---- tfmia's registered MIA_SNN attacks equal the ports --------------------


def test_registered_mia_snn_scores_equal_the_ports():
  _, c_target, c_refs, *_ = _setting(seed=3)
  c_refs[0, :5] = c_target[:5]           # exact ties count (>= 1)
  np.testing.assert_array_equal(
      scores.reference_fraction_scores(c_target, c_refs),
      _mia_snn_attack_r(c_target, c_refs))
  np.testing.assert_allclose(scores.confidence_ratio_scores(c_target, c_refs),
                             _mia_snn_rmia(c_target, c_refs), rtol=1e-12)


def test_mia_snn_scores_by_hand():
  c_t = np.array([0.5, 0.2, 0.0])
  c_refs = np.array([[0.25, 0.4, 0.0],
                     [0.5, 0.1, 0.3]])
  # x0: 0.5/0.25 = 2, 0.5/0.5 = 1 -> both >= 1; x1: 0.5, 2 -> one;
  # x2: 0/0 is NaN (not >= 1), 0/0.3 = 0 -> none.
  np.testing.assert_array_equal(
      scores.reference_fraction_scores(c_t, c_refs), [1.0, 0.5, 0.0])
  # 0.5 / 0.375, 0.2 / 0.25, 0 / 0.15
  np.testing.assert_allclose(scores.confidence_ratio_scores(c_t, c_refs),
                             [4 / 3, 0.8, 0.0])
  with pytest.raises(ValueError, match="ref_conf"):
    scores.reference_fraction_scores(c_t, c_refs[:, :2])


def test_mia_snn_attacks_through_the_front_door():
  from tfmia.attacks import run_attacks
  from tfmia.attacks.inputs import AttackSignals, AttackConfig
  from tfmia.signals import Signals
  signals_from_logits = Signals.from_logits
  rng = np.random.default_rng(4)
  n, k = 200, 4
  labels = rng.integers(0, 3, n)
  member = rng.random(n) < 0.5
  target = signals_from_logits(rng.normal(size=(n, 3)) + 2 * member[:, None]
                               * np.eye(3)[labels], labels)
  refs = [signals_from_logits(rng.normal(size=(n, 3)), labels)
          for _ in range(k)]
  ref_is_member = np.stack([rng.random(n) < 0.5 for _ in range(k)])
  results = run_attacks(
      ("target_confidence", "reference_fraction", "confidence_ratio"),
      AttackSignals(target=target, references=tuple(refs),
                    ref_is_member=ref_is_member),
      AttackConfig(), is_member=member)
  c_t = target.confidence[:, 0]
  c_refs = np.stack([r.confidence[:, 0] for r in refs])
  np.testing.assert_array_equal(results.get("target_confidence").scores, c_t)
  np.testing.assert_array_equal(results.get("reference_fraction").scores,
                                _mia_snn_attack_r(c_t, c_refs))
  np.testing.assert_allclose(results.get("confidence_ratio").scores,
                             _mia_snn_rmia(c_t, c_refs))
