"""The pruning study: settings refused before any work, a tiny end-to-end
run on digits (cells, adaptive attacks, tables and figures), and the
figures drawn from a table alone."""

import json

import numpy as np
import pandas as pd
import pytest

from tfmia.studies import pruning as study
from tfmia.studies.pruning import report


@pytest.mark.parametrize("kwargs, match", [
    (dict(pruners=("l1_structured", "magnitude")), "`pruner` must be one of"),
    (dict(sparsities=(0.5, 1.0)), r"`sparsity` must be a number in \(0, 1\)"),
    (dict(defenses=(("dp", 0.0),)), "noise multiplier"),
    (dict(defenses=(("distillation", 1.0),)), "`defense` must be one of"),
    (dict(defenses=(("none", 1.0),)), "besides 'none'"),
    (dict(attacks=("samia", "rmia2")), "rmia2"),
    (dict(num_shadows=0), "`num_shadows` must be a positive int"),
])
def test_bad_settings_are_refused(kwargs, match):
  with pytest.raises(ValueError, match=match):
    study.PruningStudyConfig(**kwargs)


def test_cells_follow_the_defended_pairs():
  config = study.PruningStudyConfig.quick_mode()
  cells = config.variants()
  assert ("l1_structured", 0.7, "ppb4") in cells
  assert ("l1_structured", 0.5, "ppb4") not in cells
  assert ("l1_unstructured", 0.9, "none") in cells
  dp = cells["l1_structured", 0.7, "dp0.5"]
  assert dp.defense.num_microbatches == 2         # mia_prune's DP-SGD
  assert dp.finetune.epochs == config.epochs // 2  # half, as prune.py
  assert config.reference_config("x").split == "mia_prune"


@pytest.mark.slow
def test_tiny_study_end_to_end(tmp_path, digits):
  config = study.PruningStudyConfig.quick_mode(
      split_sizes=(len(digits.y_train), len(digits.y_test)), image_size=8,
      dataset="digits", pool_size=600, epochs=2, num_shadows=1,
      pruners=("l1_structured",), sparsities=(0.5,),
      defenses=(("ppb", 4.0),), defended=(("l1_structured", 0.5),),
      attacks=("sm_entropy", "rmia"))
  result = study.run(config, tmp_path / "s", progress=False)
  table = result.table()
  assert set(table["cell"]) == {"original", "l1_structured_0.5_none",
                                "l1_structured_0.5_ppb4"}
  # Pruned cells are attacked adaptively and not; the original once.
  assert sorted(table[table["cell"] == "original"]["adaptive"]) == [False] * 2
  assert sorted(table[table["cell"] != "original"]["adaptive"].unique()) == \
      [False, True]
  pruned = table[table["cell"] == "l1_structured_0.5_none"].iloc[0]
  assert pruned["params"] < table[table["cell"] == "original"].iloc[0][
      "params"]
  assert pruned["achieved_sparsity"] == 0.5
  for name in ("results.csv", "table.csv", "summary.json", "histograms.npz",
               "attack_vs_sparsity.png", "tradeoff.png", "histograms.png"):
    assert (tmp_path / "s" / name).is_file(), name
  summary = json.loads((tmp_path / "s" / "summary.json").read_text())
  assert len(summary["cells"]) == 5     # original + 2 cells x 2
  # The adaptive shadow was pruned with the target's pruner and defense.
  shadow = tmp_path / "s" / "models" / "ref_000" / "variants"
  keys = sorted(p.name for p in shadow.iterdir())
  assert any(k.startswith("l1_structured_0.5_ppb4-") for k in keys)
  # A rerun resumes: nothing is retrained, the numbers are the same.
  again = study.run(config, tmp_path / "s", progress=False)
  pd.testing.assert_frame_equal(again.table(), table)


def test_figures_draw_from_a_table_alone():
  rows = []
  for cell, pruner, sp, d, eps in (
      ("original", "none", 0.0, "none", None),
      ("l1_structured_0.5_none", "l1_structured", 0.5, "none", None),
      ("l1_structured_0.9_none", "l1_structured", 0.9, "none", None),
      ("l1_structured_0.5_dp1", "l1_structured", 0.5, "dp1", 3.2)):
    for adaptive in ((False,) if pruner == "none" else (False, True)):
      for attack, acc in (("sm_entropy", 0.6), ("rmia", np.nan)):
        rows.append(dict(cell=cell, pruner=pruner, sparsity=sp, defense=d,
                         adaptive=adaptive, attack=attack, auc=0.6,
                         auc_ci_low=0.55, auc_ci_high=0.65,
                         **{"tpr_at_1%_fpr": 0.02,
                            "tpr_at_1%_fpr_ci_low": 0.01,
                            "tpr_at_1%_fpr_ci_high": 0.03},
                         attack_accuracy=acc, attack_accuracy_ci_low=acc,
                         attack_accuracy_ci_high=acc, test_accuracy=0.7,
                         epsilon=eps, params=10, flops=10))
  summary = report.summary_table(pd.DataFrame(rows))
  assert len(summary) == 7
  dp = summary[summary["cell"] == "l1_structured_0.5_dp1"].iloc[0]
  assert dp["best_attack"] == "sm_entropy" and dp["epsilon"] == 3.2
  for fig in (report.plot_attack_vs_sparsity(summary),
              report.plot_privacy_tradeoff(summary)):
    assert fig.axes
  hist = {f"{m}_{w}_{k}": np.random.default_rng(0).random(20)
          for m in ("original", "pruned") for w in ("member", "nonmember")
          for k in ("confidence", "sensitivity")}
  assert len(report.plot_member_histograms(hist).axes) == 4
