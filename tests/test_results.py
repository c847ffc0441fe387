import numpy as np
import pytest

from tfmia.results import AttackResult, AttackResults, load_history, save_history


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
