import numpy as np
import pytest
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import data_structures as tfp_ds
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import membership_inference_attack as tfp_mia

from tfmia.attacks.tf_privacy import (TF_PRIVACY_ATTACKS,
                                       AttackInput,
                                       SlicingConfig)
from tfmia.attacks.tf_privacy import run_tf_privacy as run_attacks
from tfmia.attacks import tf_privacy
from tfmia.data import MembershipSplit


def _leaky_input(rng, n=300, k=4):
  """Members get a boosted true-class logit, so they have lower loss."""
  y_in, y_out = rng.integers(0, k, n), rng.integers(0, k, n)
  l_in, l_out = rng.normal(size=(n, k)), rng.normal(size=(n, k))
  l_in[np.arange(n), y_in] += 1.5
  l_out[np.arange(n), y_out] += 0.5
  return AttackInput(l_in, y_in, l_out, y_out)


@pytest.mark.slow
@pytest.mark.parametrize("attack", TF_PRIVACY_ATTACKS)
def test_auc_parity_with_tensorflow_privacy(rng, attack, monkeypatch):
  n = 300
  if attack == "random_forest":
    # tensorflow-privacy grid-searches 72 forests (216 fits, a minute); both
    # sides run its trainer, so one grid point per option keeps the parity
    # check and drops the search.
    from sklearn import model_selection
    from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack \
        import models as tfp_models
    search = model_selection.GridSearchCV
    monkeypatch.setattr(
        tfp_models.model_selection, "GridSearchCV",
        lambda est, param_grid, **kw: search(
            est, {k: v[-1:] for k, v in param_grid.items()}, **kw))
  ai = _leaky_input(rng, n=n)
  ours = run_attacks(ai, attacks=(attack,), seed=7).get(attack)
  np.random.seed(7)
  theirs = tfp_mia.run_attacks(
      ai.to_tf_privacy(), attack_types=[tf_privacy.attack_type(attack)])
  ref = theirs.single_attack_results[0]
  assert ours.auc == pytest.approx(ref.get_auc(), abs=1e-12)
  assert ours.advantage == pytest.approx(ref.get_attacker_advantage(), abs=1e-12)
  np.testing.assert_allclose(ours.epsilon_lower_bounds,
                             ref.get_epsilon_lower_bound())
  assert ours.num_members == n and ours.num_nonmembers == n


def test_threshold_scores_are_negative_loss(rng):
  ai = _leaky_input(rng, n=50)
  r = run_attacks(ai).get("threshold")
  loss = ai.to_tf_privacy().get_loss_train()
  np.testing.assert_allclose(r.scores[:50], -loss)
  assert r.auc > 0.6  # members have lower loss by construction


@pytest.mark.slow
def test_seeded_trained_attack_is_deterministic_and_restores_rng(rng):
  ai = _leaky_input(rng)
  np.random.seed(123)
  before = np.random.random()
  np.random.seed(123)
  a = run_attacks(ai, attacks=("logistic_regression",), seed=1)
  after = np.random.random()
  b = run_attacks(ai, attacks=("logistic_regression",), seed=1)
  assert before == after  # the global RNG is left as it was
  np.testing.assert_array_equal(a.results[0].scores, b.results[0].scores)


def test_slicing(rng):
  ai = _leaky_input(rng)
  res = run_attacks(ai, attacks=("threshold",), slicing=SlicingConfig(
      by_class=True, by_classification_correctness=True))
  slices = [r.slice for r in res]
  assert slices == ["entire_dataset", "class=0", "class=1", "class=2",
                    "class=3", "correctly_classified=True",
                    "correctly_classified=False"]
  c1 = res.get("threshold", "class=1")
  assert c1.num_members == int((ai.labels_member == 1).sum())


def test_results_carry_accuracy(rng):
  ai = _leaky_input(rng)
  res = run_attacks(ai, model="m", epoch=2)
  assert res.model == "m" and res.epoch == 2
  assert res.member_accuracy == pytest.approx(
      np.mean(ai.logits_member.argmax(1) == ai.labels_member))


def test_from_split():
  logits = np.eye(3)[[0, 1, 2, 0]] * 5
  split = MembershipSplit(is_member=np.array([1, 0, 1, 0], bool), seed=None)
  ai = AttackInput.from_split(logits, np.array([0, 1, 2, 0]), split)
  np.testing.assert_array_equal(ai.labels_member, [0, 2])
  with pytest.raises(ValueError, match="same length"):
    AttackInput.from_split(logits[:3], np.array([0, 1, 2]), split)


class TestValidation:

  def test_mismatched_lengths(self):
    with pytest.raises(ValueError, match="logits_member.*labels_member.*5 and 4"):
      AttackInput(np.zeros((5, 2)), np.zeros(4, int), np.zeros((3, 2)),
                  np.zeros(3, int))

  def test_nan_logits(self):
    bad = np.zeros((3, 2))
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="`logits_nonmember` contains NaN or inf"):
      AttackInput(np.zeros((3, 2)), np.zeros(3, int), bad, np.zeros(3, int))

  def test_inf_loss(self):
    with pytest.raises(ValueError, match="`loss_member` contains NaN or inf"):
      AttackInput(np.zeros((2, 2)), np.zeros(2, int), np.zeros((2, 2)),
                  np.zeros(2, int), loss_member=np.array([0, np.inf]),
                  loss_nonmember=np.zeros(2))

  def test_labels_out_of_range(self):
    with pytest.raises(ValueError, match=r"`labels_member` must lie in \[0, num_classes=2\).*from 0 to 2"):
      AttackInput(np.zeros((3, 2)), np.array([0, 1, 2]), np.zeros((3, 2)),
                  np.zeros(3, int))

  def test_negative_labels(self):
    with pytest.raises(ValueError, match="labels_nonmember"):
      AttackInput(np.zeros((3, 2)), np.zeros(3, int), np.zeros((3, 2)),
                  np.array([0, -1, 0]))

  def test_empty_sets(self):
    with pytest.raises(ValueError, match="`logits_member` is empty"):
      AttackInput(np.zeros((0, 2)), np.zeros(0, int), np.zeros((3, 2)),
                  np.zeros(3, int))
    with pytest.raises(ValueError, match="`logits_nonmember` is empty"):
      AttackInput(np.zeros((3, 2)), np.zeros(3, int), np.zeros((0, 2)),
                  np.zeros(0, int))

  def test_class_count_mismatch(self):
    with pytest.raises(ValueError, match="same number of classes"):
      AttackInput(np.zeros((3, 2)), np.zeros(3, int), np.zeros((3, 3)),
                  np.zeros(3, int))

  def test_one_sided_loss(self):
    with pytest.raises(ValueError, match="both"):
      AttackInput(np.zeros((2, 2)), np.zeros(2, int), np.zeros((2, 2)),
                  np.zeros(2, int), loss_member=np.zeros(2))

  def test_unknown_attack(self, rng):
    with pytest.raises(ValueError, match=r"Valid attacks: threshold.*Received: 'lira'"):
      run_attacks(_leaky_input(rng), attacks=("lira",))

  def test_wrong_input_type(self):
    with pytest.raises(TypeError, match="AttackInput"):
      run_attacks({"logits": 1})

  def test_no_slice(self):
    with pytest.raises(ValueError, match="at least one slice"):
      SlicingConfig(entire_dataset=False)
