"""The one front door, `tfmia.attacks.run_attacks`: tensorflow-privacy's
attacks and tfmia's through one registry, needs checked before any work."""

import numpy as np
import pytest
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import membership_inference_attack as tfp_mia

from tfmia.attacks import (ATTACKS,
                            AttackSignals,
                            Provided,
                            SlicingConfig,
                            check_needs,
                            run_attacks,
                            tf_privacy)
from tfmia.signals import Signals


def _signals(rng, n=200, k=4):
  y = rng.integers(0, k, 2 * n)
  logits = rng.normal(size=(2 * n, k))
  logits[np.arange(n), y[:n]] += 1.5       # members: more confident
  is_member = np.arange(2 * n) < n
  return Signals.from_logits(logits, y), is_member


@pytest.mark.slow
def test_tf_privacy_attacks_match_the_backend(rng):
  sig, is_member = _signals(rng)
  names = ("logistic_regression", "threshold_entropy")
  ours = run_attacks(names, AttackSignals(target=sig), is_member=is_member)
  ai = tf_privacy.AttackInput(sig.logits[is_member, 0], sig.labels[is_member],
                              sig.logits[~is_member, 0],
                              sig.labels[~is_member])
  np.random.seed(0)
  theirs = tfp_mia.run_attacks(
      ai.to_tf_privacy(),
      attack_types=[tf_privacy.attack_type(n) for n in names])
  for name, ref in zip(names, theirs.single_attack_results):
    assert ours.get(name).auc == pytest.approx(ref.get_auc(), abs=1e-12)


def test_threshold_is_negative_loss_with_tf_privacy_epsilon(rng):
  sig, is_member = _signals(rng)
  from tfmia.attacks import AttackConfig
  res = run_attacks(("threshold",), AttackSignals(target=sig),
                    AttackConfig(epsilon_lower_bound=True),
                    is_member=is_member).get("threshold")
  np.testing.assert_allclose(res.scores, -sig.loss[:, 0])
  ai = tf_privacy.AttackInput(sig.logits[is_member, 0], sig.labels[is_member],
                              sig.logits[~is_member, 0],
                              sig.labels[~is_member])
  backend = tf_privacy.run_tf_privacy(ai, attacks=("threshold",)).get(
      "threshold")
  # No probability here is below tensorflow-privacy's 1e-8 clip, so its
  # threshold attack and ours agree exactly, ε included.
  assert res.auc == pytest.approx(backend.auc, abs=1e-12)
  np.testing.assert_allclose(res.epsilon_lower_bounds,
                             backend.epsilon_lower_bounds)


@pytest.mark.slow
def test_slices_match_tensorflow_privacy_names(rng):
  sig, is_member = _signals(rng)
  res = run_attacks(("threshold", "logistic_regression"),
                    AttackSignals(target=sig), is_member=is_member,
                    slicing=SlicingConfig(by_class=True,
                                          by_classification_correctness=True))
  for name in ("threshold", "logistic_regression"):
    assert [r.slice for r in res if r.attack == name] == [
        "entire_dataset", "class=0", "class=1", "class=2", "class=3",
        "correctly_classified=True", "correctly_classified=False"]
  c2 = res.get("threshold", "class=2")
  assert c2.num_members == int(np.sum(is_member & (sig.labels == 2)))
  np.testing.assert_array_equal(
      c2.scores, -sig.loss[sig.labels == 2, 0])


def test_needs_are_checked_without_signals():
  some = np.array([[True, False], [False, True]])
  check_needs(("rmia", "attack_p"), Provided(
      num_examples=2, ref_is_member=some, population=True,
      reference_population=True))
  with pytest.raises(ValueError, match="'rmia' needs reference models"):
    check_needs(("rmia",), Provided(num_examples=2, population=True))
  with pytest.raises(ValueError, match="'attack_p' needs the target's"):
    check_needs(("attack_p",), Provided(num_examples=2))
  with pytest.raises(ValueError, match="'lira' needs at least one IN"):
    check_needs(("lira",), Provided(num_examples=2,
                                    ref_is_member=np.zeros((2, 2), bool)))
  with pytest.raises(ValueError, match="'samia' needs the optional signal 'sensitivity'"):
    check_needs(("samia",), Provided(num_examples=2, ref_is_member=some))
  with pytest.raises(ValueError, match="Unknown attack.*'lria'"):
    check_needs(("lria",), Provided(num_examples=2))


def test_every_registered_attack_declares_a_description():
  for name, spec in ATTACKS.items():
    assert spec.description, name
    assert (spec.fn is None) == spec.membership_labels, name


def test_bad_membership(rng):
  sig, _ = _signals(rng)
  with pytest.raises(ValueError, match="shape \\(400,\\)"):
    run_attacks(("threshold",), AttackSignals(target=sig),
                is_member=np.ones(3, bool))
  with pytest.raises(ValueError, match="both members and non-members"):
    run_attacks(("threshold",), AttackSignals(target=sig),
                is_member=np.ones(400, bool))
