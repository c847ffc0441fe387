"""The SNN-MIA case study end to end on digits, tiny, and its resumability."""

import numpy as np
import pandas as pd
import pytest

from tfmia.studies import snn_mia


def _config():
  return snn_mia.SnnMiaConfig.quick_mode(
      dataset="digits", models=("conv",), pool_size=600, population_size=200,
      epochs=25, batch_size=32, timesteps=(1, 2), calibration_epochs=1,
      dropout_copies=2,
      calibration_samples=64)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
  out = tmp_path_factory.mktemp("snn_mia")
  return snn_mia.run(_config(), out, progress=False), out


def test_outputs(study):
  res, out = study
  for f in ("config.json", "results.csv", "table.csv", "table_auc.csv",
            "summary.json",
            "conv_auc_tpr_vs_T.png", "conv_roc_loglog.png",
            "conv_accuracy_sops_vs_T.png"):
    assert (out / f).is_file(), f
  df = pd.read_csv(out / "results.csv")
  assert set(df.setting) == {"ann", "snn_T1", "snn_T2", "snn_T1_ann_refs",
                             "snn_T2_ann_refs"}
  assert set(df.attack) == {"attack_p", "attack_r", "rmia"}
  assert set(df.dropout_calibration) == {True, False}
  assert len(df) == 5 * 3 * 2
  wide = res.wide_table("auc")
  assert list(wide.index) == [("conv", False), ("conv", True)]
  assert ("rmia", "snn_T2_ann_refs") in wide.columns
  assert np.isfinite(df.auc).all()
  cells = res.cell_table()
  assert cells.shape == wide.shape
  row = df[(df.setting == "ann") & (df.attack == "rmia") & ~df.dropout_calibration]
  assert cells.loc[("conv", False), ("rmia", "ann")] == (
      f"{row.auc.item():.3f} / {row['tpr_at_1%_fpr'].item():.3f} / "
      f"{row['tpr_at_0.1%_fpr'].item():.3f} / {row['tpr_at_0%_fpr'].item():.3f}")
  acc = res.accuracy["conv"]
  assert set(acc) == {"ann", 1, 2} and acc["ann"] > 0.5
  assert res.sops["conv"][2] > res.sops["conv"][1] > 0   # more steps, more spikes


def test_rerun_resumes_without_training(study, monkeypatch):
  res, out = study
  from tfmia import reference, snn

  def boom(*args, **kwargs):
    raise AssertionError("a finished model was trained again")

  monkeypatch.setattr(reference, "train_one", boom)
  monkeypatch.setattr(snn, "calibrate", boom)
  again = snn_mia.run(_config(), out, progress=False)
  pd.testing.assert_frame_equal(again.table(), res.table())


def test_config_errors():
  with pytest.raises(ValueError, match="timesteps"):
    snn_mia.SnnMiaConfig(timesteps=(2, 1))
  with pytest.raises(ValueError, match="num_references"):
    snn_mia.SnnMiaConfig(num_references=3)
  with pytest.raises(ValueError, match="Unknown attack"):
    snn_mia.SnnMiaConfig(attacks=("rmia", "nope"))
