import numpy as np
import pytest

from tfmia.results import (AttackResult,
                            AttackResults,
                            load_history,
                            save_history)


def _result(scores, is_member, attack="threshold", slice="entire_dataset"):
  return AttackResult(attack=attack, slice=slice, scores=np.asarray(scores, float),
                      is_member=np.asarray(is_member, bool))


def test_perfect_separation():
  r = _result([0.9, 0.8, 0.7, 0.1, 0.2], [1, 1, 1, 0, 0])
  assert r.auc == 1.0
  assert r.advantage == 1.0
  assert r.balanced_accuracy == 1.0
  assert r.tpr_at_fpr(0.0) == 1.0


def test_hand_checked_metrics():
  # members 4,3,1 ; non-members 2,0.  Thresholds: >=4: tpr 1/3 fpr 0;
  # >=3: 2/3, 0; >=2: 2/3, 1/2; >=1: 1, 1/2; >=0: 1, 1.
  r = _result([4, 3, 1, 2, 0], [1, 1, 1, 0, 0])
  # Pairs (member > non-member): 4>2,4>0,3>2,3>0,1>0 = 5 of 6.
  assert r.auc == pytest.approx(5 / 6)
  assert r.advantage == pytest.approx(2 / 3)
  assert r.balanced_accuracy == pytest.approx(0.5 * (2 / 3 + 1))
  assert r.tpr_at_fpr(0.0) == pytest.approx(2 / 3)
  assert r.tpr_at_fpr(0.49) == pytest.approx(2 / 3)
  assert r.tpr_at_fpr(0.5) == pytest.approx(1.0)


def test_inverted_scores_give_auc_zero():
  r = _result([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0])
  assert r.auc == 0.0
  assert r.advantage == 1.0  # |tpr - fpr|, as in tensorflow-privacy


def test_validation():
  with pytest.raises(ValueError, match="differ in length"):
    _result([1, 2, 3], [1, 0])
  with pytest.raises(ValueError, match="NaN or inf"):
    _result([1, np.nan], [1, 0])
  with pytest.raises(ValueError, match="both members and non-members"):
    _result([1, 2], [1, 1])
  with pytest.raises(ValueError, match="fpr"):
    _result([1, 2], [1, 0]).tpr_at_fpr(2)


def test_frozen():
  r = _result([1, 0], [1, 0])
  with pytest.raises(Exception):
    r.attack = "x"


def test_results_table_and_roundtrip(tmp_path):
  res = AttackResults(
      results=(_result([4, 3, 1, 2, 0], [1, 1, 1, 0, 0]),
               _result([1, 0], [1, 0], attack="logistic_regression",
                       slice="class=1")),
      model="m", epoch=3, member_accuracy=0.9, nonmember_accuracy=0.6)
  df = res.to_dataframe()
  assert list(df["attack"]) == ["threshold", "logistic_regression"]
  assert df.loc[0, "auc"] == pytest.approx(5 / 6)
  assert df.loc[1, "slice"] == "class=1"
  assert set(df["epoch"]) == {3}
  res.save(tmp_path / "r")
  assert (tmp_path / "r.json").exists() and (tmp_path / "r.npz").exists()
  loaded = AttackResults.load(tmp_path / "r")
  assert loaded.model == "m" and loaded.epoch == 3
  np.testing.assert_array_equal(loaded.results[0].scores, res.results[0].scores)
  assert loaded.get("logistic_regression", "class=1").auc == 1.0
  with pytest.raises(KeyError):
    loaded.get("random_forest")


def test_history_roundtrip(tmp_path):
  hist = [AttackResults(results=(_result([1, 0, 2], [1, 0, 1]),), epoch=e)
          for e in (2, 4)]
  save_history(hist, tmp_path / "h")
  back = load_history(tmp_path / "h")
  assert [h.epoch for h in back] == [2, 4]


def test_empty_results_rejected():
  with pytest.raises(ValueError, match="at least one"):
    AttackResults(results=())


def test_tied_scores_keep_every_operating_point():
  """Worked by hand. Members score 3, 2, 1; non-members 2, 1, 0: the ROC
  points are (0, 1/3), (1/3, 2/3), (2/3, 1), (1, 1). The middle one lies on
  the straight run from (0, 1/3) to (2/3, 1), which scikit-learn's reduced
  ROC drops; TPR at FPR <= 1/3 is 2/3 there, not 1/3."""
  r = AttackResult("a", "s", scores=[3, 2, 1, 2, 1, 0],
                   is_member=[1, 1, 1, 0, 0, 0])
  assert r.tpr_at_fpr(1 / 3) == pytest.approx(2 / 3)
  assert r.tpr_at_fpr(0.0) == pytest.approx(1 / 3)
  assert r.tpr_at_fpr(0.5) == pytest.approx(2 / 3)
  assert r.auc == pytest.approx(7 / 9)   # 3 + 2.5 + 1.5 of 9 pairs (ties: half)


def test_ppv_at_an_operating_point_by_hand():
  # Members score {9, 7, 5, 3}, non-members {8, 6, 4, 2, 1, 0, -1, -2}: 4 of
  # 12 are members (prior 1/3). At FPR <= 1/8 the threshold 7 calls two
  # members and one non-member member: TPR 1/2, FPR 1/8.
  is_member = np.r_[np.ones(4, bool), np.zeros(8, bool)]
  scores = np.r_[9, 7, 5, 3, 8, 6, 4, 2, 1, 0, -1, -2.0]
  r = AttackResult("a", "s", scores, is_member)
  assert r.operating_point(1 / 8) == (0.5, 0.125)
  # PPV = (1/3 * 1/2) / (1/3 * 1/2 + 2/3 * 1/8) = 2/3: two of the three.
  assert r.ppv(1 / 8) == pytest.approx(2 / 3)
  # At prior 1/2: 0.25 / (0.25 + 0.0625) = 0.8.
  assert r.ppv(1 / 8, prior=0.5) == pytest.approx(0.8)
  # Below 1/8 the attack calls only the top member: PPV 1.
  assert r.ppv(0.0) == pytest.approx(1.0)
  with pytest.raises(ValueError, match="prior"):
    r.ppv(prior=1.0)


def test_ppv_is_not_one_for_a_powerless_attack():
  """tensorflow-privacy's PPV, the largest over every threshold, is 1 as
  soon as the single highest score is a member's; at 1% FPR an attack with
  AUC near 0.5 has a PPV near the prior."""
  rng = np.random.default_rng(0)
  is_member = np.r_[np.ones(2000, bool), np.zeros(2000, bool)]
  scores = rng.normal(size=4000)
  scores[0] = 10.0                     # the top score is a member's
  r = AttackResult("a", "s", scores, is_member)
  assert abs(r.auc - 0.5) < 0.03
  assert 0.3 < r.ppv() < 0.75
  row = r.summary()
  assert row["ppv_at_1%_fpr"] == r.ppv() and row["ppv_prior"] == 0.5
  # Undefined where nothing is called a member: all members score lowest.
  low = AttackResult("a", "s", np.r_[0, 0, 1, 1.0], np.r_[1, 1, 0, 0] > 0)
  assert np.isnan(low.ppv(0.0))


def test_one_epsilon_with_its_delta_and_confidence():
  is_member = np.r_[np.ones(200, bool), np.zeros(200, bool)]
  scores = np.r_[np.full(200, 1.0), np.zeros(200)]
  r = AttackResult("a", "s", scores, is_member, epsilon_lower_bounds=(2.0, 1.5))
  row = r.summary()
  assert row["epsilon_lower_bound"] == 2.0 == r.epsilon
  assert (row["epsilon_delta"], row["epsilon_confidence"]) == (0.0, 0.95)
  plain = AttackResult("a", "s", scores, is_member).summary()
  assert np.isnan(plain["epsilon_lower_bound"]) and np.isnan(plain["epsilon_delta"])


def test_tables_have_no_empty_columns():
  """`tfmia attack` on a logits file has no epoch, no accuracies of its own
  and no ε: those columns are left out, not written empty."""
  from tfmia.results import AttackResults
  is_member = np.r_[np.ones(20, bool), np.zeros(20, bool)]
  res = AttackResults(results=(AttackResult("a", "entire_dataset",
                                            -np.arange(40.0), is_member),))
  df = res.to_dataframe()
  assert not {"epoch", "member_accuracy", "epsilon_lower_bound",
              "epsilon_delta", "decision_accuracy"} & set(df.columns)
  assert not df.isna().all().any()
  from tfmia.reporting import tables
  rep = tables.report(res)
  assert "decision_accuracy" not in rep.columns and "ppv_at_1%_fpr" in rep.columns


def test_bootstrap_is_exact_on_each_resample():
  """Every resample's AUC and TPR@FPR equal scikit-learn's and
  `tpr_at_fpr` on the resampled data, built from the same draws (ties
  included)."""
  from sklearn import metrics
  from tfmia.results import bootstrap
  rng = np.random.default_rng(1)
  is_member = np.r_[np.ones(25, bool), np.zeros(40, bool)]
  scores = np.round(rng.normal(size=65) + 0.8 * is_member, 0)  # many ties
  b = bootstrap(scores, is_member, num_resamples=5, seed=7,
                fprs=(0.0, 0.05, 0.3))
  draws = np.random.default_rng(7)
  ms, ns = np.sort(scores[is_member]), np.sort(scores[~is_member])
  for i in range(5):
    cm = np.bincount(draws.integers(0, 25, 25, dtype=np.int32), minlength=25)
    cn = np.bincount(draws.integers(0, 40, 40, dtype=np.int32), minlength=40)
    x = np.r_[np.repeat(ms, cm), np.repeat(ns, cn)]
    again = AttackResult("a", "s", x, is_member)
    assert b.auc[i] == pytest.approx(metrics.roc_auc_score(is_member, x))
    for f in (0.0, 0.05, 0.3):
      assert b.tpr[f][i] == pytest.approx(again.tpr_at_fpr(f))


def test_confidence_intervals():
  rng = np.random.default_rng(0)
  is_member = np.r_[np.ones(200, bool), np.zeros(200, bool)]
  r = AttackResult("a", "s", rng.normal(size=400) + is_member, is_member)
  ci = r.confidence_intervals
  assert ci["auc"][0] < r.auc < ci["auc"][1]
  assert 0.03 < ci["auc"][1] - ci["auc"][0] < 0.15
  assert set(ci) == {"auc", "tpr_at_0%_fpr", "tpr_at_0.1%_fpr",
                     "tpr_at_1%_fpr"}
  assert r.bootstrap(50, seed=3).auc.tolist() == \
      r.bootstrap(50, seed=3).auc.tolist()
  perfect = AttackResult("a", "s", [1, 1, 0, 0], [1, 1, 0, 0])
  assert perfect.confidence_intervals["auc"] == (1.0, 1.0)
  row = r.summary()
  assert row["auc_ci_low"] == ci["auc"][0] and "ppv_at_1%_fpr" in row
