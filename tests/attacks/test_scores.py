"""Score functions: hand-checked answers, brute-force and tensorflow-privacy parity."""

import numpy as np
import pytest
from sklearn import metrics

from tfmia.attacks import scores

amia = pytest.importorskip(
    "tensorflow_privacy.privacy.privacy_tests.membership_inference_attack."
    "advanced_mia")


def _complementary(n, k, rng):
  rows = []
  for _ in range(k // 2):
    m = rng.random(n) < 0.5
    rows += [m, ~m]
  return np.stack(rows)


# ---- RMIA -----------------------------------------------------------------


def test_rmia_identical_outputs_give_every_point_the_same_score():
  # a = 1, γ = 1: Pr(x) = P_OUT(x) = Pr(x|θ), so every ratio is 1 and every
  # x dominates every z.
  rng = np.random.default_rng(0)
  p = rng.uniform(0.1, 0.9, 20)
  pz = rng.uniform(0.1, 0.9, 15)
  ref_is_member = _complementary(20, 4, rng)
  s = scores.rmia_scores(p, np.tile(p, (4, 1)), ref_is_member, pz,
                         np.tile(pz, (4, 1)), offline=True, a=1.0, gamma=1.0)
  np.testing.assert_array_equal(s, np.ones(20))


def test_rmia_by_hand():
  # K = 2: x0 is OUT for model 1, x1 is OUT for model 0. Online averages both.
  target_x = np.array([0.8, 0.2])
  ref_x = np.array([[0.4, 0.4],
                    [0.4, 0.1]])
  ref_is_member = np.array([[True, False], [False, True]])
  target_z = np.array([0.5, 0.5, 0.5])
  ref_z = np.array([[0.5, 0.25, 0.5], [0.5, 0.25, 1.0]])
  # Offline, a = 1: ratio_x = [0.8/0.4, 0.2/0.4] = [2, 0.5];
  # ratio_z = [1, 2, 0.5/0.75 = 2/3].
  s = scores.rmia_scores(target_x, ref_x, ref_is_member, target_z, ref_z,
                         offline=True, a=1.0, gamma=1.0)
  np.testing.assert_allclose(s, [3 / 3, 0 / 3])
  # γ = 2 halves what x must beat: 2 ≥ 2·[1, 2, 2/3] holds for z0 and z2.
  s = scores.rmia_scores(target_x, ref_x, ref_is_member, target_z, ref_z,
                         offline=True, a=1.0, gamma=2.0)
  np.testing.assert_allclose(s, [2 / 3, 0])
  # Offline, a = 0: Pr(x) = (P_OUT + 1)/2 = [0.7, 0.7]; ratio_x = [8/7, 2/7];
  # Pr(z) = ([0.5, 0.25, 0.75] + 1)/2 = [0.75, 0.625, 0.875];
  # ratio_z = [2/3, 0.8, 4/7].
  s = scores.rmia_scores(target_x, ref_x, ref_is_member, target_z, ref_z,
                         offline=True, a=0.0, gamma=1.0)
  np.testing.assert_allclose(s, [1, 0])
  # Online: Pr(x) = [0.4, 0.25]; ratio_x = [2, 0.8]; ratio_z as a = 1.
  s = scores.rmia_scores(target_x, ref_x, ref_is_member, target_z, ref_z,
                         offline=False, gamma=1.0)
  np.testing.assert_allclose(s, [1, 1 / 3])


@pytest.mark.parametrize("offline", [True, False])
@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0])
def test_sorted_rmia_equals_bruteforce_with_ties(offline, gamma):
  rng = np.random.default_rng(1)
  n, z, k = 300, 200, 4
  # Few distinct values: many exact ties between ratio_x and γ·ratio_z.
  levels = np.array([0.1, 0.2, 0.4, 0.5, 0.8, 1.0])
  tx, tz = rng.choice(levels, n), rng.choice(levels, z)
  rx, rz = rng.choice(levels, (k, n)), rng.choice(levels, (k, z))
  ref_is_member = _complementary(n, k, rng)
  args = (tx, rx, ref_is_member, tz, rz)
  fast = scores.rmia_scores(*args, offline=offline, a=1.0, gamma=gamma)
  slow = scores.rmia_scores_bruteforce(*args, offline=offline, a=1.0,
                                       gamma=gamma)
  np.testing.assert_array_equal(fast, slow)
  # And on continuous random values.
  args = (rng.random(n), rng.random((k, n)), ref_is_member, rng.random(z),
          rng.random((k, z)))
  np.testing.assert_array_equal(
      scores.rmia_scores(*args, offline=offline, gamma=gamma),
      scores.rmia_scores_bruteforce(*args, offline=offline, gamma=gamma))


def test_rmia_separated_members_give_auc_one():
  rng = np.random.default_rng(2)
  n = 100
  is_member = np.arange(n) < 50
  ref_is_member = _complementary(n, 4, rng)
  ref_x = np.full((4, n), 0.5)
  target_x = np.where(is_member, 0.9, 0.1)
  s = scores.rmia_scores(target_x, ref_x, ref_is_member, rng.uniform(0.1, 0.9, 50),
                         np.full((4, 50), 0.5))
  assert metrics.roc_auc_score(is_member, s) == 1.0


def test_rmia_errors():
  p, ref, ref_is_member = np.full(4, .5), np.full((2, 4), .5), np.array(
      [[True, False] * 2, [False, True] * 2])
  z, rz = np.full(3, .5), np.full((2, 3), .5)
  with pytest.raises(ValueError, match="ref_is_member"):
    scores.rmia_scores(p, ref, ref_is_member[:, :3], z, rz)
  with pytest.raises(ValueError, match="probabilities"):
    scores.rmia_scores(p * 3, ref, ref_is_member, z, rz)
  with pytest.raises(ValueError, match="gamma"):
    scores.rmia_scores(p, ref, ref_is_member, z, rz, gamma=0)
  with pytest.raises(ValueError, match=r"ref_z.*\(K, Z\)"):
    scores.rmia_scores(p, ref, ref_is_member, z, rz[:1])
  with pytest.raises(ValueError, match="OUT reference model"):
    scores.rmia_scores(p, ref, np.ones((2, 4), bool), z, rz)
  with pytest.raises(ValueError, match="bool"):
    scores.rmia_scores(p, ref, ref_is_member.astype(int), z, rz)


# ---- LiRA ------------------------------------------------------------------


def _per_example_lists(ref, ref_is_member):
  """tensorflow-privacy's layout: per example an (m, A) array."""
  stat_in = [ref[ref_is_member[:, i], i] for i in range(ref.shape[1])]
  stat_out = [ref[~ref_is_member[:, i], i] for i in range(ref.shape[1])]
  return stat_in, stat_out


@pytest.mark.parametrize("fix_variance", [True, False])
@pytest.mark.parametrize("center", ["median", "mean"])
def test_lira_matches_tensorflow_privacy(fix_variance, center):
  rng = np.random.default_rng(3)
  n, k, a = 60, 8, 2
  ref_is_member = _complementary(n, k, rng)
  ref = rng.normal(size=(k, n, a)) + 2.0 * ref_is_member[..., None]
  target = rng.normal(size=(n, a)) + 1.0
  stat_in, stat_out = _per_example_lists(ref, ref_is_member)
  ours = scores.lira_scores(target, ref, ref_is_member, online=True,
                            fix_variance=fix_variance, center=center)
  theirs = amia.compute_score_lira(target, stat_in, stat_out, option="both",
                                   fix_variance=fix_variance,
                                   median_or_mean=center)
  np.testing.assert_allclose(ours, -theirs, rtol=1e-10)
  ours = scores.lira_scores(target, ref, ref_is_member, online=False,
                            fix_variance=fix_variance, center=center,
                            offline_test="two_sided")
  theirs = amia.compute_score_lira(target, stat_in, stat_out, option="out",
                                   fix_variance=fix_variance,
                                   median_or_mean=center)
  np.testing.assert_allclose(ours, -theirs, rtol=1e-10)


def test_lira_by_hand():
  # One example, K = 2: IN value 2, OUT value 0, global σ = 0 + 1e-30 would
  # blow up, so use K = 4: IN {1, 3}, OUT {-1, 1}; medians 2 and 0; global σ
  # over the deviations {-1, 1, -1, 1} is 1.
  ref = np.array([[1.0], [-1.0], [3.0], [1.0]])
  ref_is_member = np.array([[True], [False], [True], [False]])
  s = scores.lira_scores(np.array([2.0]), ref, ref_is_member, online=True)
  # log N(2; 2, 1) - log N(2; 0, 1) = 0 - (-2) = 2.
  np.testing.assert_allclose(s, [2.0])
  s = scores.lira_scores(np.array([0.0]), ref, ref_is_member, online=False)
  np.testing.assert_allclose(s, [np.log(0.5)])   # log Φ(0)


def test_lira_with_one_model_per_class_takes_the_spread_of_all():
  # K = 2, two examples: OUT values {0, 2} (one per example), IN {3, 1}.
  # About their own centres they do not spread (σ would be 0 and every
  # score ±inf); about their mean they spread by 1 (OUT: mean 1, std 1; IN:
  # mean 2, std 1), as np.std(dat_in) in Carlini et al.'s code.
  ref = np.array([[0.0, 1.0], [3.0, 2.0]])
  ref_is_member = np.array([[False, True], [True, False]])
  off = scores.lira_scores(np.array([1.0, 2.0]), ref, ref_is_member,
                           online=False)
  # Example 0: log Φ((1 − 0)/1); example 1: log Φ((2 − 2)/1).
  np.testing.assert_allclose(off, [np.log(0.8413447460685429), np.log(0.5)])
  on = scores.lira_scores(np.array([1.0, 2.0]), ref, ref_is_member)
  # Example 0: log N(1; 3, 1) − log N(1; 0, 1) = −2 + 0.5 = −1.5.
  np.testing.assert_allclose(on[0], -1.5)


def test_lira_follows_the_paper_equations():
  """Carlini et al., S&P 2022, worked by hand from the paper's text.

  Algorithm 1, lines 10-13 (per-example mean and variance) and line 15, the
  Gaussian form of Eq. (2): OUT confidences {0, 2} give mu_out = 1,
  sigma_out = 1; IN confidences {3, 5} give mu_in = 4, sigma_in = 1. At
  phi = 1: log Lambda = log N(1; 4, 1) - log N(1; 1, 1) = -4.5.
  Eq. (4), the offline one-sided test: Lambda = 1 - Pr[Z > phi] with
  Z ~ N(mu_out, sigma_out^2); at phi = mu_out + 1 that is Phi(1).
  """
  ref = np.array([[0.0], [3.0], [2.0], [5.0]])
  ref_is_member = np.array([[False], [True], [False], [True]])
  kw = dict(fix_variance=False, center="mean")
  online = scores.lira_scores(np.array([1.0]), ref, ref_is_member, online=True, **kw)
  np.testing.assert_allclose(online, [-4.5])
  offline = scores.lira_scores(np.array([2.0]), ref, ref_is_member, online=False, **kw)
  # 1 - Pr[Z > 2] for Z ~ N(1, 1) is 0.8413447460685429 (Phi(1)).
  np.testing.assert_allclose(np.exp(offline), [0.8413447460685429])


def test_logit_scaling_is_the_papers_stable_form():
  """Section VI-A: phi_stable = log f(x)_y - log sum_{y' != y} f(x)_{y'}."""
  from tfmia import signals
  p = np.array([[0.7, 0.2, 0.1]])
  logits = np.log(p)
  np.testing.assert_allclose(signals.scaled_logit(logits, np.array([0])),
                             [np.log(0.7 / 0.3)])
  np.testing.assert_allclose(signals.scaled_logit(logits, np.array([2])),
                             [np.log(0.1 / 0.9)])


def test_lira_errors():
  ref_is_member = np.array([[True, False], [False, True]])
  with pytest.raises(ValueError, match="at least 2 IN"):
    scores.lira_scores(np.zeros(2), np.zeros((2, 2)), ref_is_member,
                       fix_variance=False)
  with pytest.raises(ValueError, match="center"):
    scores.lira_scores(np.zeros(2), np.zeros((2, 2)), ref_is_member, center="mode")
  with pytest.raises(ValueError, match=r"shape \(K,\)"):
    scores.lira_scores(np.zeros(3), np.zeros((2, 2)), ref_is_member)


# ---- Attack-P / Attack-R ------------------------------------------------------


def test_attack_p_by_hand_and_inverts_np_quantile():
  pop = np.array([5.0, 1.0, 3.0, 2.0, 4.0])
  # 2.5 sits at position 1.5 of 0..4 -> quantile rank 0.375 -> score 0.625.
  np.testing.assert_allclose(
      scores.attack_p_scores(np.array([2.5, 0.0, 9.0, 3.0]), pop),
      [0.625, 1.0, 0.0, 0.5])
  rng = np.random.default_rng(4)
  pop = rng.random(101)
  x = rng.uniform(pop.min(), pop.max(), 50)
  q = 1.0 - scores.attack_p_scores(x, pop)
  np.testing.assert_allclose(np.quantile(pop, q, method="linear"), x)


def test_attack_p_ties_take_the_mean_position():
  pop = np.array([1.0, 2.0, 2.0, 2.0, 3.0])
  np.testing.assert_allclose(scores.attack_p_scores(np.array([2.0]), pop),
                             [0.5])


def test_attack_r_by_hand():
  # K = 4; each example has 2 OUT models.
  ref_loss = np.array([[1.0, 9.0, 0.0],
                       [9.0, 1.0, 5.0],
                       [3.0, 9.0, 9.0],
                       [9.0, 3.0, 7.0]])
  ref_is_member = np.array([[False, True, True],
                     [True, False, False],
                     [False, True, True],
                     [True, False, False]])
  # Example 0: OUT losses {1, 3}, target 2 -> rank 0.5 -> 0.5.
  # Example 1: OUT losses {1, 3}, target 0.5 -> below all -> 1.
  # Example 2: OUT losses {5, 7}, target 8 -> above all -> 0.
  np.testing.assert_allclose(
      scores.attack_r_scores(np.array([2.0, 0.5, 8.0]), ref_loss, ref_is_member),
      [0.5, 1.0, 0.0])


def test_attack_r_with_one_out_model():
  ref_is_member = np.array([[True, False, True], [False, True, False]])
  ref_loss = np.array([[0.0, 2.0, 0.0], [2.0, 0.0, 2.0]])
  np.testing.assert_allclose(
      scores.attack_r_scores(np.array([1.0, 2.0, 3.0]), ref_loss, ref_is_member),
      [1.0, 0.5, 0.0])


def test_attack_r_separated_members_give_auc_one():
  rng = np.random.default_rng(5)
  n = 80
  is_member = np.arange(n) % 2 == 0
  ref_is_member = _complementary(n, 4, rng)
  ref_loss = rng.uniform(1.0, 2.0, (4, n))
  target = np.where(is_member, 0.1, 3.0)
  assert metrics.roc_auc_score(
      is_member, scores.attack_r_scores(target, ref_loss, ref_is_member)) == 1.0


def test_threshold_matches_tensorflow_privacy():
  from tfmia.attacks import tf_privacy
  rng = np.random.default_rng(6)
  loss_in, loss_out = rng.exponential(0.5, 200), rng.exponential(1.0, 300)
  data_structures, mia = tf_privacy._mia()
  res = mia.run_attacks(
      data_structures.AttackInputData(loss_train=loss_in, loss_test=loss_out),
      attack_types=[data_structures.AttackType.THRESHOLD_ATTACK])
  theirs = res.single_attack_results[0].get_auc()
  ours = metrics.roc_auc_score(
      np.r_[np.ones(200), np.zeros(300)],
      scores.loss_threshold_scores(np.r_[loss_in, loss_out]))
  assert ours == pytest.approx(theirs, abs=1e-12)


def test_tune_rmia_a_picks_the_best_mean_auc_over_reference_models():
  rng = np.random.default_rng(7)
  n, z, k = 200, 100, 4
  ref_is_member = _complementary(n, k, rng)
  ref_x = np.clip(0.5 + 0.3 * ref_is_member + rng.normal(0, 0.1, (k, n)), 0.01, 1)
  ref_z = np.clip(0.5 + rng.normal(0, 0.1, (k, z)), 0.01, 1)
  a = scores.tune_rmia_a(ref_x, ref_is_member, ref_z)
  def mean_auc(g):   # each model attacked with the other three
    return np.mean([metrics.roc_auc_score(ref_is_member[j], scores.rmia_scores(
        ref_x[j], np.delete(ref_x, j, 0), np.delete(ref_is_member, j, 0),
        ref_z[j], np.delete(ref_z, j, 0), a=g)) for j in range(k)])
  aucs = {g: mean_auc(g) for g in scores.RMIA_A_GRID}
  assert a in scores.RMIA_A_GRID
  assert aucs[a] == max(aucs.values())
  with pytest.raises(ValueError, match="K >= 4"):
    scores.tune_rmia_a(ref_x[:2], ref_is_member[:2], ref_z[:2])


def test_rmia_negative_zero_compares_as_zero():
  """A zero probability given as -0.0 scores as +0.0 does: the sorted search
  agrees with the brute force (before, -0.0's bit pattern sorted below
  every threshold, +0.0 included)."""
  import numpy as np
  from tfmia.attacks import scores
  ref_is_member = np.array([[True, False], [False, True]])
  ref_x = np.full((2, 2), 0.5)
  target_x = np.array([-0.0, 0.5])
  target_z = np.array([0.0, 0.2, 0.9])
  ref_z = np.full((2, 3), 0.5)
  fast = scores.rmia_scores(target_x, ref_x, ref_is_member, target_z, ref_z,
                            a=1.0)
  slow = scores.rmia_scores_bruteforce(target_x, ref_x, ref_is_member,
                                       target_z, ref_z, a=1.0)
  assert fast.tolist() == slow.tolist() == [1 / 3, 2 / 3]


def test_online_rmia_weights_in_and_out_halves_equally():
  """Worked by hand: example 0 has one IN model (0.9) and two OUT models
  (0.1, 0.3): Pr(x) = ½(0.9 + 0.2) = 0.55, not the plain mean 0.433."""
  import numpy as np
  from tfmia.attacks import scores
  ref_is_member = np.array([[True, False], [False, True], [False, True]])
  ref_x = np.array([[0.9, 0.2], [0.1, 0.8], [0.3, 0.6]])
  ratio_x, _ = scores.rmia_ratios(np.array([0.55, 0.5]), ref_x, ref_is_member,
                                  np.array([0.5]), np.full((3, 1), 0.5),
                                  offline=False)
  assert ratio_x[0] == pytest.approx(1.0)               # 0.55 / 0.55
  assert ratio_x[1] == pytest.approx(0.5 / (0.5 * (0.7 + 0.2)))


def test_taylor_soft_margin_by_hand():
  """Logits (1, 0), y = 0, T = 2, m = 0.6, order 4: z = (0.5, 0);
  T(v) = 1 + v + v²/2 + v³/6; Pr = T(-0.1) / (T(0) + T(-0.1))."""
  from tfmia.attacks import scores
  t = lambda v: 1 + v + v ** 2 / 2 + v ** 3 / 6
  want = t(-0.1) / (t(0.0) + t(-0.1))
  got = scores.taylor_soft_margin(np.array([[1.0, 0.0]]), np.array([0]))
  assert got[0] == pytest.approx(want)
  assert want == pytest.approx(0.47502, abs=1e-5)


def _authors_main_py(target_x, ref_out_x, target_z, ref_z, a, gamma, cut):
  """The authors' research/2024_rmia/main.py offline augmented branch, in
  numpy (torch.outer -> np.outer, torch.mode over booleans -> True only
  with a strict majority)."""
  from scipy.stats import trim_mean
  all_mean_x = trim_mean(ref_out_x, proportiontocut=cut, axis=0)   # (N, A)
  all_mean_z = trim_mean(ref_z, proportiontocut=cut, axis=0)
  augmented_gammas = []
  for k in range(target_x.shape[1]):
    mean_x, mean_z = all_mean_x[:, k], all_mean_z[:, k]
    prob_ratio_x = target_x[:, k] / ((1 + a) / 2 * mean_x + (1 - a) / 2)
    prob_ratio_z_rev = 1 / (target_z[:, k] / ((1 + a) / 2 * mean_z
                                              + (1 - a) / 2))
    augmented_gammas.append(np.outer(prob_ratio_x, prob_ratio_z_rev) > gamma)
  stacked = np.stack(augmented_gammas).astype(int)
  mode = (2 * stacked.sum(0) > len(augmented_gammas)) * 1.0
  return mode.mean(1)


@pytest.mark.parametrize("num_aug", [1, 2, 3])
def test_rmia_authors_matches_their_main_py(num_aug):
  from tfmia.attacks import scores
  from tfmia.references import membership_matrix
  rng = np.random.default_rng(num_aug)
  n, z, k = 60, 40, 6
  ref_is_member = membership_matrix(n, k, 0)
  tx = rng.uniform(0.01, 1, (num_aug, n))
  rx = rng.uniform(0.01, 1, (k, num_aug, n))
  tz = rng.uniform(0.01, 1, (num_aug, z))
  rz = rng.uniform(0.01, 1, (k, num_aug, z))
  ours = scores.rmia_authors_scores(tx, rx, ref_is_member, tz, rz, a=0.3,
                                    gamma=2.0, proportiontocut=0.2, chunk=7)
  # Their layout: (models, examples, augmentations), OUT models only for x.
  out_x = np.stack([rx[~ref_is_member[:, i], :, i] for i in range(n)], 1)
  theirs = _authors_main_py(tx.T, out_x, tz.T, np.transpose(rz, (0, 2, 1)),
                            0.3, 2.0, 0.2)
  np.testing.assert_allclose(ours, theirs)


def test_rmia_authors_corrects_targets_that_are_population_points():
  """Their main.py: `prediction = -fraction`, then for targets in the
  population `prediction = (prediction * |Z| - 1) / (|Z| - 1)`."""
  from tfmia.attacks import scores
  from tfmia.references import membership_matrix
  rng = np.random.default_rng(5)
  n, z, k = 30, 20, 4
  ref_is_member = membership_matrix(n, k, 0)
  tx, rx = rng.uniform(0.01, 1, (1, n)), rng.uniform(0.01, 1, (k, 1, n))
  tz, rz = rng.uniform(0.01, 1, (1, z)), rng.uniform(0.01, 1, (k, 1, z))
  both = np.arange(n) % 3 == 0
  plain = scores.rmia_authors_scores(tx, rx, ref_is_member, tz, rz)
  fixed = scores.rmia_authors_scores(tx, rx, ref_is_member, tz, rz,
                                     in_population=both)
  prediction = -plain.copy()
  prediction[both] = (prediction[both] * z - 1.0) / (z - 1)
  np.testing.assert_allclose(fixed, -prediction)
  assert (fixed[both] > plain[both]).all()
  np.testing.assert_array_equal(fixed[~both], plain[~both])
