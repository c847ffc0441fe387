import json

import pandas as pd
import pytest

from tfmia.studies import architectures as study

FIGURES = [f"{key}_{kind}.png" for key, _, _ in study.EXPERIMENTS
           for kind in ("training", "mia")] + ["sample_data.png", "roc_final.png"]


from tfmia_testing import tiny_architecture_config as _tiny


@pytest.fixture
def finished(tiny_architecture_study):
  return tiny_architecture_study


@pytest.mark.slow
def test_outputs(finished):
  out, result = finished
  for name in FIGURES + ["results.json", "summary.csv", "config.json"]:
    assert (out / name).exists(), name
  assert len(FIGURES) == 8
  assert set(result.outcomes) == {"conv", "dense4", "dense7",
                                  "dense4_4classes", "dense7_4classes"}
  table = pd.read_csv(out / "summary.csv")
  assert len(table) == 5  # one attack x five models
  four = table[table.model == "dense4_4classes"].iloc[0]
  assert four.num_classes == 4
  saved = json.loads((out / "config.json").read_text())
  assert saved["dataset"] == "digits" and saved["epochs"] == 2
  res = json.loads((out / "results.json").read_text())
  assert len(res["models"]["conv"]["per_epoch"]) == 2


def test_summary_matches_stored_results(finished):
  out, result = finished
  table = pd.read_csv(out / "summary.csv")
  conv = result.outcomes["conv"]
  row = table[(table.model == "conv") & (table.attack == "threshold")].iloc[0]
  assert row.auc == pytest.approx(conv.privacy[-1].get("threshold").auc)
  assert row.epoch == 2


def _spy_trained(monkeypatch):
  from tfmia_testing import spy_trained
  from tfmia.studies.architectures import study as study_module
  return spy_trained(monkeypatch, study_module)


def test_rerun_skips_finished_models(finished, digits, monkeypatch):
  out, result = finished
  trained = _spy_trained(monkeypatch)
  again = study.run(_tiny(), out, raw=digits, progress=False)
  assert trained == []
  assert again.outcomes["dense7"].privacy[-1].get("threshold").auc == \
      pytest.approx(result.outcomes["dense7"].privacy[-1].get("threshold").auc)


@pytest.mark.slow
def test_interrupted_model_is_redone(finished, tmp_path, digits, monkeypatch):
  import shutil
  out, result = finished
  shutil.copytree(out, tmp_path, dirs_exist_ok=True)   # the fixture stays whole
  (tmp_path / "models" / "dense7" / "done.json").unlink()  # as if killed
  trained = _spy_trained(monkeypatch)
  again = study.run(_tiny(), tmp_path, raw=digits, progress=False)
  assert trained == ["dense7"]
  # Redone from its seed: the same model, so the same leakage.
  assert again.outcomes["dense7"].privacy[-1].get("threshold").auc == \
      result.outcomes["dense7"].privacy[-1].get("threshold").auc


# Other settings in the same folder: tests/reliability/test_studies.py.


def test_quick_mode_settings():
  q = study.ArchitectureStudyConfig.quick_mode(dataset="digits")
  assert q.quick and q.epochs < 40 and q.train_size == 5000
  full = study.ArchitectureStudyConfig()
  assert (full.epochs, full.batch_size, full.learning_rate,
          full.every_n_epochs) == (40, 50, 1e-3, 2)
  assert full.train_size is None and full.test_size is None


def test_bad_config():
  with pytest.raises(ValueError, match="every_n_epochs"):
    _tiny(epochs=2, every_n_epochs=3)
  with pytest.raises(ValueError, match="'lira' needs reference models"):
    _tiny(attacks=("lira",))


@pytest.mark.slow
@pytest.mark.cifar10
def test_cifar10_end_to_end(tmp_path, cifar10_raw):
  cfg = study.ArchitectureStudyConfig(
      dataset="cifar10", epochs=2, every_n_epochs=2, train_size=500,
      test_size=500, attacks=("threshold", "logistic_regression"))
  result = study.run(cfg, tmp_path, raw=cifar10_raw, progress=False)
  table = result.to_dataframe()
  assert len(table) == 10
  assert table[table.model == "conv"].num_params.iloc[0] == 28_298
  assert table.auc.between(0.3, 1.0).all()
  assert (tmp_path / "exp1_conv_vs_dense_mia.png").exists()


def test_case_study_script_is_the_cli():
  import subprocess
  import sys
  from pathlib import Path
  script = Path(__file__).resolve().parents[2] / "case_studies" / "architectures.py"
  proc = subprocess.run([sys.executable, str(script), "--help"],
                        capture_output=True, text=True, check=True)
  assert "usage: tfmia case-study architectures" in proc.stdout
  assert "--quick" in proc.stdout


@pytest.mark.slow
def test_models_as_executor_units_give_the_same_study(finished, digits,
                                                      tmp_path):
  import pickle
  from tfmia.infra import executors
  _, result = finished
  again = study.run(_tiny(), tmp_path / "units", raw=digits, progress=False,
                    executor=executors.LocalExecutor())
  pd.testing.assert_frame_equal(
      again.to_dataframe().drop(columns="train_seconds"),
      result.to_dataframe().drop(columns="train_seconds"))
  # What a Ray worker sends back must pickle (the outcome has no model).
  assert pickle.loads(pickle.dumps(again.outcomes["conv"])).num_params == \
      result.outcomes["conv"].num_params
