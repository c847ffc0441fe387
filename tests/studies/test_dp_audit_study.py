"""The DP-audit case study: end to end on digits through the CLI, resumed
without retraining, the crossing check, and errors before any training."""

import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from tfmia import cli

from tfmia.studies import dp_audit as study
from tfmia.studies.dp_audit import report


@pytest.mark.slow
def test_cli_quick_study_on_digits_writes_a_table_and_figures(tmp_path,
                                                              monkeypatch):
  out = tmp_path / "dpa"
  assert cli.main(["case-study", "dp-audit", "--quick", "--epochs", "2",
                   "--canaries", "100", "--epsilons", "inf,4",
                   "--num-references", "2", "--out", str(out),
                   "--no-progress"]) == 0
  for name in ("results.csv", "results.json", "dp_audit.png", "guesses.png",
               "config.json"):
    assert (out / name).exists(), name
  table = pd.read_csv(out / "results.csv")
  assert list(table["model"]) == ["nondp", "eps4"]
  assert math.isnan(table["accountant_epsilon"][0])
  assert table["accountant_epsilon"][1] == pytest.approx(4.0, rel=0.02)
  for col in study.EMPIRICAL:
    assert (table[col] >= 0).all()
  assert table["one_run_natural"][1] <= table["accountant_epsilon"][1]
  saved = json.loads((out / "results.json").read_text())
  assert {(a["model"], a["canaries"]) for a in saved["audits"]} == {
      ("nondp", "mislabelled"), ("nondp", "natural"),
      ("eps4", "mislabelled"), ("eps4", "natural")}
  # Every model is a finished unit: a rerun trains nothing.
  # Every model, the audits' and the references', trains through here.
  from tfmia import references
  monkeypatch.setattr(references, "train_member_model",
                      lambda *a, **k: pytest.fail("retrained a model"))
  config = study.DpAuditStudyConfig.quick_mode(
      epochs=2, num_canaries=100, epsilons=(None, 4.0), references=2)
  again = study.run(config, out, progress=False)
  pd.testing.assert_frame_equal(again.table().reset_index(drop=True),
                                pd.read_csv(out / "results.csv"),
                                check_dtype=False, atol=1e-4)
  with pytest.raises(ValueError, match="epochs"):
    study.run(study.DpAuditStudyConfig.quick_mode(
        epochs=3, num_canaries=100, epsilons=(None, 4.0), references=2),
              out, progress=False)


def test_a_bound_above_the_accountant_is_reported_as_a_bug():
  config = study.DpAuditStudyConfig.quick_mode()
  rows = ({"model": "nondp", "accountant_epsilon": None,
           "one_run_natural": 9.0},
          {"model": "eps1", "accountant_epsilon": 1.0,
           "one_run_natural": 0.2, "rmia_roc_epsilon": 1.3})
  bad = study.DpAuditStudyResult(config, rows, {}).violations()
  assert bad == ["eps1: rmia_roc_epsilon = 1.300 > accountant ε 1.000"]


@pytest.mark.parametrize("kwargs,match", [
    (dict(delta=0.0), r"`delta` must be in \(0, 1\)"),
    (dict(epsilons=(8.0, 8.0)), "repeats"),
    (dict(epsilons=(-1.0,)), "finite numbers > 0"),
    (dict(references=3), "even int"),
    (dict(canary_kinds=("mislabelled",)), "must include 'natural'"),
    (dict(canary_kinds=("odd",), references=0), "`canaries` must be one of"),
    (dict(selection="best"), "`selection`"),
    (dict(num_canaries=2), "num_canaries"),
])
def test_bad_settings_are_refused_by_name(kwargs, match):
  with pytest.raises(ValueError, match=match):
    study.DpAuditStudyConfig.quick_mode(**kwargs)


def test_too_many_canaries_for_the_split_is_refused_before_training(tmp_path):
  config = study.DpAuditStudyConfig.quick_mode(num_canaries=1300)
  with pytest.raises(ValueError, match="cannot hold 1300 canaries"):
    study.run(config, tmp_path / "x", progress=False)
  assert not (tmp_path / "x" / "config.json").exists()


def test_dp_audit_plot_puts_no_dp_at_infinity_and_draws_the_diagonal():
  table = pd.DataFrame({"model": ["nondp", "eps4", "eps1"],
                        "accountant_epsilon": [None, 4.0, 1.0],
                        "one_run_natural": [2.5, 0.5, 0.1],
                        "rmia_roc_epsilon": [1.0, 0.0, 0.0]})
  fig = report.plot_dp_audit(table)
  ax = fig.axes[0]
  inf_x = 1.25 * 4.0
  first = ax.collections[1].get_offsets()        # after the shaded region
  second = ax.collections[2].get_offsets()
  # Side by side around each model's accountant ε, so equal bounds (the 0s)
  # do not hide each other.
  np.testing.assert_allclose((first[:, 0] + second[:, 0]) / 2,
                             [inf_x, 4.0, 1.0])
  assert (second[:, 0] > first[:, 0]).all()
  np.testing.assert_allclose(first[:, 1], [2.5, 0.5, 0.1])
  diag = ax.lines[0]
  np.testing.assert_allclose(diag.get_xdata(), diag.get_ydata())
  assert diag.get_xdata().max() == 4.0       # not drawn to the ∞ column
  assert [t.get_text() for t in ax.get_xticklabels()][-1] == "∞ (no DP)"
  plt.close(fig)
