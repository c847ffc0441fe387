"""The SNN-MIA case study end to end on digits, tiny, and its resumability."""

import numpy as np
import pandas as pd
import pytest

from tfmia.studies import snn_mia


EPOCHS = 15


def _config():
  return snn_mia.SnnMiaConfig.quick_mode(
      dataset="digits", models=("conv",), pool_size=400, population_size=150,
      epochs=EPOCHS, batch_size=32, timesteps=(1, 2), calibration_epochs=1,
      dropout_copies=2,
      calibration_samples=64)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
  out = tmp_path_factory.mktemp("snn_mia")
  return snn_mia.run(_config(), out, progress=False), out


@pytest.mark.slow
def test_outputs(study):
  res, out = study
  for f in ("config.json", "results.csv", "table.csv", "table_auc.csv",
            "summary.json",
            "conv_auc_tpr_vs_T.png", "conv_roc_loglog.png",
            "conv_accuracy_sops_vs_T.png"):
    assert (out / f).is_file(), f
  df = pd.read_csv(out / "results.csv")
  assert set(df.setting) == {"ann", "snn_T1", "snn_T2", "snn_T1_ann_refs",
                             "snn_T2_ann_refs", "ann_matched_T1",
                             "ann_matched_T2"}
  assert set(df.attack) == {"attack_p", "attack_r", "rmia"}
  assert set(df.dropout_calibration) == {True, False}
  assert len(df) == 7 * 3 * 2
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


@pytest.mark.slow
def test_rerun_resumes_without_training(study, monkeypatch):
  res, out = study
  from tfmia import references
  from tfmia.training import calibration

  def boom(*args, **kwargs):
    raise AssertionError("a finished model was trained again")

  monkeypatch.setattr(references.training, "train_one", boom)
  monkeypatch.setattr(calibration, "calibrate", boom)
  again = snn_mia.run(_config(), out, progress=False)
  pd.testing.assert_frame_equal(again.table(), res.table())


def test_config_errors():
  with pytest.raises(ValueError, match="timesteps"):
    snn_mia.SnnMiaConfig(timesteps=(2, 1))
  with pytest.raises(ValueError, match="num_references"):
    snn_mia.SnnMiaConfig(num_references=3)
  with pytest.raises(ValueError, match="Unknown attack"):
    snn_mia.SnnMiaConfig(attacks=("rmia", "nope"))


# ---- the mia_snn protocol --------------------------------------------------


def test_protocol_settings():
  quick = snn_mia.SnnMiaConfig.quick_mode(protocol="mia_snn")
  assert quick.attacks == snn_mia.MIA_SNN_ATTACKS
  assert quick.timesteps == (1, 2, 3, 4)
  assert quick.dropout_masks == "mia_snn" and not quick.fold_batchnorm
  cal = quick.calibration_config()
  assert (cal.batch_size, cal.weight_decay, cal.augment) == (16, 0.0, True)
  full = snn_mia.SnnMiaConfig.full_mode(protocol="mia_snn")
  assert (full.optimizer, full.learning_rate, full.momentum,
          full.weight_decay, full.epochs, full.batch_size) == (
              "sgd", 0.02, 0.1, 0.0, 250, 256)
  assert full.scaling == "standardize" and full.augment
  assert (full.calibration_first_epochs, full.calibration_epochs) == (50, 30)
  assert full.pool_test and full.data_config().pool_test
  # The default protocol is unchanged.
  assert snn_mia.SnnMiaConfig.full_mode() == snn_mia.SnnMiaConfig()
  with pytest.raises(ValueError, match="protocol"):
    snn_mia.SnnMiaConfig.quick_mode(protocol="seed")
  with pytest.raises(ValueError, match="calibration_recipe"):
    snn_mia.SnnMiaConfig(calibration_recipe="long")


@pytest.mark.slow
def test_mia_snn_protocol_end_to_end(tmp_path):
  cfg = snn_mia.SnnMiaConfig.quick_mode(
      protocol="mia_snn", dataset="digits", models=("conv",), pool_size=200,
      population_size=60, epochs=5, batch_size=32, timesteps=(1, 2),
      calibration_epochs=1, calibration_first_epochs=1, dropout_copies=2,
      calibration_samples=64, matched_accuracy=False, pool_test=True)
  res = snn_mia.run(cfg, tmp_path, progress=False)
  df = pd.read_csv(tmp_path / "results.csv")
  assert set(df.attack) == set(snn_mia.MIA_SNN_ATTACKS)
  wide = res.wide_table("auc")
  # The seed's layout: SNN columns, then the ANN, then the mixed ones.
  settings = [s for a, s in wide.columns
              if a == "rmia (confidence_ratio)"]
  assert settings == ["snn_T1", "snn_T2", "ann", "snn_T1_ann_refs",
                      "snn_T2_ann_refs"]
  assert "attack_p (target_confidence)" in wide.columns.get_level_values(0)
  # The target-confidence attack's scores are the target's confidences.
  from tfmia.audits import audit
  from tfmia import references, variants
  refs = references.ReferenceSet.load(tmp_path / "models" / "conv" / "ann")
  from tfmia.data import prepare_data
  data = prepare_data(cfg.data_config())
  sig = audit.model_signals(refs, data, references.TARGET, None, "pool",
                            cfg.signal_config())
  np.testing.assert_array_equal(
      res.attacks["conv", "ann", False].get("target_confidence").scores,
      sig.mean().confidence[:, 0])
  # The seed's split: train and test pooled (digits: 898 + 899 examples, of
  # which the first 200 shuffled form the pool); accuracy on the target's
  # held-out half of the pool.
  assert len(data.y_train) == 200 and cfg.data_config().pool_test
  held_out = ~refs.is_member_of(references.TARGET)
  right = sig.mean().probs[:, 0].argmax(1) == sig.labels
  assert res.accuracy["conv"]["ann"] == pytest.approx(right[held_out].mean())
  snn1 = variants.load_model(refs, references.TARGET, data,
                             snn_mia.snn_variants(cfg)[1])
  from tfmia.snn import network_of
  assert network_of(snn1).surrogate == "boxcar"


def test_closest_checkpoint():
  acc = {1: 0.30, 2: 0.45, 3: 0.50, 4: 0.55, 5: 0.50}
  assert snn_mia.closest_checkpoint(acc, 0.44) == 2
  assert snn_mia.closest_checkpoint(acc, 0.50) == 5     # a tie: the latest
  assert snn_mia.closest_checkpoint(acc, 0.90) == 4
  assert snn_mia.closest_checkpoint(acc, 0.0) == 1
  with pytest.raises(ValueError, match="checkpoints"):
    snn_mia.closest_checkpoint({}, 0.5)


def test_matched_accuracy_column(study):
  res, out = study
  from tfmia import references
  refs = references.ReferenceSet.load(out / "models" / "conv" / "ann")
  assert refs.checkpoint_epochs("target") == list(range(1, EPOCHS + 1))
  assert refs.checkpoint_epochs("ref_000") == []
  ckpt = res.checkpoint_accuracy["conv"]
  assert set(ckpt) == set(range(1, EPOCHS + 1))
  # The last checkpoint is the trained target itself.
  assert ckpt[EPOCHS] == pytest.approx(res.accuracy["conv"]["ann"])
  for t in (1, 2):
    m = res.matched["conv"][t]
    assert m["epoch"] == snn_mia.closest_checkpoint(ckpt,
                                                    res.accuracy["conv"][t])
    assert m["accuracy"] == ckpt[m["epoch"]]
    assert ("rmia", f"ann_matched_T{t}") in res.wide_table("auc").columns
  import json
  summary = json.loads((out / "summary.json").read_text())
  assert summary["matched_accuracy"]["conv"]["1"]["epoch"] == \
      res.matched["conv"][1]["epoch"]


def test_cli_protocol_and_matched_accuracy_flags(tmp_path, monkeypatch):
  from tfmia import cli
  seen = []

  class Stop(Exception):
    pass

  def fake_run(config, out, **kwargs):
    seen.append(config)
    raise Stop

  monkeypatch.setattr(snn_mia, "run", fake_run)
  for argv in (["--protocol", "mia_snn"], ["--no-matched-accuracy"]):
    with pytest.raises(Stop):
      cli.main(["case-study", "snn-mia", "--dataset", "digits", "--quick",
                "--out", str(tmp_path / argv[0])] + argv)
  mia, plain = seen
  assert mia.protocol == "mia_snn" and mia.attacks == snn_mia.MIA_SNN_ATTACKS
  assert mia.timesteps == (1, 2, 3, 4) and mia.matched_accuracy
  assert plain.protocol == "default" and not plain.matched_accuracy
