"""ε lower bounds: the one-run audit against ML Privacy Meter's code and a
closed form, its corrections, and the ROC bound against tensorflow-privacy."""

import math

import numpy as np
import pytest
import scipy.stats

from tfmia.results import dp_bounds


# ML Privacy Meter's `audit.py` (privacytrustlab/ml_privacy_meter), verbatim
# but for names: Steinke et al.'s code, the reference for ours.
def _mpm_p_value(m, r, v, eps, delta):
  assert 0 <= v <= r <= m
  q = 1 / (1 + math.exp(-eps))
  beta = scipy.stats.binom.sf(v - 1, r, q)
  if delta == 0:
    p = beta
  else:
    alpha = 0
    total = 0
    for i in range(1, v + 1):
      total = total + scipy.stats.binom.pmf(v - i, r, q)
      if total > i * alpha:
        alpha = total / i
    p = beta + alpha * delta * 2 * m
  return min(p, 1)


def _mpm_get_eps_audit(m, r, v, delta, p):
  eps_min, eps_max = 0, 1
  while _mpm_p_value(m, r, v, eps_max, delta) < p:
    eps_max = eps_max + 1
  for _ in range(30):
    if eps_max - eps_min <= 1e-5:
      break
    eps = (eps_min + eps_max) / 2
    if _mpm_p_value(m, r, v, eps, delta) < p:
      eps_min = eps
    else:
      eps_max = eps
  return eps_min


def _mpm_abstain(mia_scores, target_memberships, delta=0, p_value=0.05):
  sorted_idx = np.argsort(mia_scores)
  target_memberships = target_memberships[sorted_idx]
  step_size = int(np.sqrt(len(target_memberships)))
  pairs = sum([[(k_neg, k_pos) for k_neg in range(0, k_pos, step_size)]
               for k_pos in range(0, len(target_memberships), step_size)], [])
  correct = [(1 - target_memberships[:k_neg]).sum()
             + target_memberships[k_pos:].sum() for (k_neg, k_pos) in pairs]
  eps = [_mpm_get_eps_audit(len(target_memberships),
                            k_neg + len(target_memberships) - k_pos, c,
                            delta, p_value)
         for ((k_neg, k_pos), c) in zip(pairs, correct)]
  i = int(np.argmax(eps))
  return eps[i], pairs[i], correct[i]


@pytest.mark.parametrize("m,r,v,delta", [
    (1000, 100, 100, 0.0), (1000, 100, 100, 1e-5), (1000, 500, 400, 1e-5),
    (1000, 1000, 520, 0.0), (5000, 300, 290, 1e-5), (1000, 40, 20, 1e-5),
    (100, 10, 0, 1e-5)])
def test_one_run_epsilon_matches_ml_privacy_meter(m, r, v, delta):
  ours = dp_bounds.one_run_epsilon(m, r, v, delta, 0.05)
  assert ours == pytest.approx(_mpm_get_eps_audit(m, r, v, delta, 0.05),
                               abs=1e-12)
  for eps in (0.0, 0.5, 2.0, 6.0):
    assert dp_bounds.one_run_p_value(m, r, v, eps, delta) == pytest.approx(
        _mpm_p_value(m, r, v, eps, delta), rel=1e-9, abs=1e-15)


def test_one_run_epsilon_closed_form_for_all_correct_guesses():
  # δ = 0 and r = v: the p-value is q^r, q = e^ε/(1+e^ε). Setting q^r = p:
  # q = 0.05^(1/100) = 0.970487, ε = log(q/(1-q)) = log(32.883) = 3.49296.
  eps = dp_bounds.one_run_epsilon(1000, 100, 100, 0.0, 0.05)
  q = 0.05 ** (1 / 100)
  assert eps == pytest.approx(math.log(q / (1 - q)), abs=2e-5)
  assert eps == pytest.approx(3.49296, abs=1e-4)
  # δ > 0 can only lower the bound.
  assert dp_bounds.one_run_epsilon(1000, 100, 100, 1e-5, 0.05) < eps


def test_grid_and_uncorrected_maximum_match_ml_privacy_meter():
  rng = np.random.default_rng(3)
  member = rng.random(400) < 0.5
  scores = rng.normal(size=400) + 1.5 * member   # a fair attack, no ties
  eps, (k_neg, idx_pos), correct = _mpm_abstain(scores, member.astype(int))
  audit = dp_bounds.one_run_bound(scores, member, delta=0.0,
                                  selection="bonferroni")
  assert audit.uncorrected_epsilon == pytest.approx(eps, abs=1e-12)
  assert len(audit.grid_epsilon) == len(dp_bounds.guess_grid(400))
  best = int(np.argmax(audit.grid_epsilon))
  assert (audit.grid_k_neg[best], audit.grid_k_pos[best],
          audit.grid_correct[best]) == (k_neg, 400 - idx_pos, correct)


@pytest.mark.slow
def test_perfect_guesser_gives_a_large_bound_and_random_guesses_near_zero():
  rng = np.random.default_rng(0)
  member = rng.random(1000) < 0.5
  perfect = member + 0.01 * rng.random(1000)
  pure = dp_bounds.one_run_bound(perfect, member, delta=0.0,
                                 selection="bonferroni")
  assert pure.epsilon > 4.5 and pure.num_correct == pure.num_guesses
  assert dp_bounds.one_run_bound(perfect, member).epsilon > 3.0  # holdout
  for selection in ("holdout", "bonferroni"):
    noise = dp_bounds.one_run_bound(rng.random(1000), member,
                                    selection=selection)
    assert noise.epsilon < 0.3
    assert noise.epsilon <= noise.uncorrected_epsilon


@pytest.mark.slow
def test_corrections_never_exceed_the_uncorrected_search():
  rng = np.random.default_rng(1)
  member = rng.random(900) < 0.5
  scores = rng.normal(size=900) + 2.0 * member
  b = dp_bounds.one_run_bound(scores, member, selection="bonferroni")
  h = dp_bounds.one_run_bound(scores, member, selection="holdout", seed=0)
  assert 0 < b.epsilon < b.uncorrected_epsilon
  assert h.num_canaries == 450 and h.num_guesses <= 450
  assert h.epsilon == pytest.approx(dp_bounds.one_run_epsilon(
      450, h.num_guesses, h.num_correct, 1e-5, 0.05), abs=1e-12)
  # Bonferroni: the chosen point's bound at p / |grid| is what is reported.
  g = len(dp_bounds.guess_grid(900))
  assert b.epsilon == pytest.approx(dp_bounds.one_run_epsilon(
      900, b.num_guesses, b.num_correct, 1e-5, 0.05 / g), abs=1e-12)


def test_fixed_guesses_count_by_hand():
  scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
  member = np.array([0, 1, 0, 0, 1, 1, 0, 1], bool)
  # OUT for the 2 lowest (0.1 right, 0.2 wrong); IN for the 3 highest
  # (0.6 right, 0.7 wrong, 0.8 right): 3 correct of 5.
  a = dp_bounds.one_run_bound(scores, member, selection="fixed", k_neg=2,
                              k_pos=3, delta=0.0)
  assert (a.num_guesses, a.num_correct) == (5, 3)
  assert a.epsilon == dp_bounds.one_run_epsilon(8, 5, 3, 0.0, 0.05)


@pytest.mark.parametrize("kwargs,match", [
    (dict(delta=1.0), "`delta` must be in"),
    (dict(delta=-1e-5), "`delta` must be in"),
    (dict(confidence=1.2), "`confidence`"),
    (dict(selection="best"), "`selection`"),
    (dict(selection="fixed", k_neg=5, k_pos=4), "More guesses than canaries"),
    (dict(selection="fixed", k_neg=1), "`k_pos`"),
    (dict(k_neg=1, k_pos=1), "for selection='fixed'"),
])
def test_one_run_bound_refuses_bad_input(kwargs, match):
  scores = np.arange(8.0)
  member = np.array([0, 1] * 4, bool)
  with pytest.raises(ValueError, match=match):
    dp_bounds.one_run_bound(scores, member, **kwargs)


def _tf_privacy_bound(pos, neg, method, alpha=0.05):
  from tensorflow_privacy.privacy.privacy_tests import epsilon_lower_bound as elb
  with np.errstate(divide="ignore", invalid="ignore"):
    b = elb.EpsilonLowerBound(pos, neg, alpha=alpha).compute_epsilon_lower_bound(
        method, k=1)
  return float(b[0])


@pytest.mark.parametrize("method", dp_bounds.ROC_METHODS)
def test_perfectly_separating_attack_matches_tf_privacy(method):
  from tensorflow_privacy.privacy.privacy_tests import epsilon_lower_bound as elb
  pos, neg = np.linspace(1, 2, 200), np.linspace(-2, -1, 300)
  ours = dp_bounds.roc_epsilon_lower_bound(pos, neg, method=method)
  ref = _tf_privacy_bound(pos, neg, elb.BoundMethod(method.replace("_", "-")))
  assert ours == pytest.approx(ref, rel=1e-12)
  assert ours > 3.0


def test_clopper_pearson_with_delta_is_tf_privacy_at_zero_and_lower_above():
  from tensorflow_privacy.privacy.privacy_tests import epsilon_lower_bound as elb
  rng = np.random.default_rng(0)
  pos, neg = rng.normal(1.0, 1, 500), rng.normal(0, 1, 500)
  ref = _tf_privacy_bound(pos, neg, elb.BoundMethod.CLOPPER_PEARSON)
  alpha = 0.05
  assert dp_bounds._clopper_pearson_bound(pos, neg, alpha, 0.0) == \
      pytest.approx(ref, rel=1e-12)
  at_delta = dp_bounds.roc_epsilon_lower_bound(pos, neg, delta=1e-2,
                                               method="clopper_pearson")
  assert 0 < at_delta < ref


def test_roc_bound_refuses_bad_input():
  pos, neg = np.ones(5), np.zeros(5)
  with pytest.raises(ValueError, match="only method='clopper_pearson'"):
    dp_bounds.roc_epsilon_lower_bound(pos, neg, delta=1e-5, method="bailey")
  with pytest.raises(ValueError, match="`method`"):
    dp_bounds.roc_epsilon_lower_bound(pos, neg, method="wald")
  with pytest.raises(ValueError, match="`delta`"):
    dp_bounds.roc_epsilon_lower_bound(pos, neg, delta=float("nan"))


def test_every_attack_result_gives_both_bounds():
  from tfmia.results import AttackResult
  rng = np.random.default_rng(2)
  member = rng.random(300) < 0.5
  scores = rng.normal(size=300) + 1.0 * member
  r = AttackResult("rmia", "entire_dataset", scores, member)
  assert r.epsilon_bound(confidence=0.9) == dp_bounds.roc_epsilon_lower_bound(
      scores[member], scores[~member], confidence=0.9)
  assert r.epsilon_bound(delta=1e-5, method="clopper_pearson") <= \
      r.epsilon_bound(method="clopper_pearson")
  assert r.one_run_bound(delta=0.0, selection="bonferroni") == \
      dp_bounds.one_run_bound(scores, member, delta=0.0, selection="bonferroni")


def test_epsilon_per_epoch_plot_skips_epochs_without_a_bound():
  import matplotlib
  matplotlib.use("Agg")
  from tfmia.reporting import plots as plotting
  from tfmia.results import AttackResult, AttackResults
  member = np.array([1, 0] * 10, bool)
  scores = np.arange(20.0) * 0.0 + member
  def at(epoch, eps):
    return AttackResults(results=(AttackResult("threshold", "entire_dataset",
                                               scores, member,
                                               epsilon_lower_bounds=eps),),
                         epoch=epoch, member_accuracy=1.0,
                         nonmember_accuracy=0.5)
  fig = plotting.plot_privacy_over_epochs(
      {"m": [at(1, ()), at(2, (1.5, 1.0)), at(3, (2.5,))]}, metric="epsilon")
  line = fig.axes[0].lines[0]
  assert list(line.get_xdata()) == [2, 3]
  assert list(line.get_ydata()) == [1.5, 2.5]


def test_corrected_roc_search_is_tf_privacy_at_the_split_level():
  from tensorflow_privacy.privacy.privacy_tests import epsilon_lower_bound as elb
  rng = np.random.default_rng(4)
  pos, neg = rng.normal(1.5, 1, 200), rng.normal(0, 1, 200)
  tests = dp_bounds.num_roc_tests(pos, neg)
  assert tests == 4 * 400          # 400 distinct scores
  ours = dp_bounds.roc_epsilon_lower_bound(pos, neg, method="clopper_pearson",
                                           correct_search=True)
  ref = _tf_privacy_bound(pos, neg, elb.BoundMethod.CLOPPER_PEARSON,
                          alpha=0.05 / tests)
  assert ours == pytest.approx(ref, rel=1e-12)
  assert 0 < ours < dp_bounds.roc_epsilon_lower_bound(
      pos, neg, method="clopper_pearson")
