"""The SNN-robustness study end to end on digits (tiny), its outputs, the
reuse of trained models, and errors before any work."""

import json

import pytest

from tfmia.studies import snn_robustness as study


def test_snn_robustness_study_end_to_end(tmp_path):
  from tfmia.data import DataConfig, prepare_data
  config = study.SnnRobustnessConfig.quick_mode(
      split_sizes=(898, 899), dataset="digits", train_size=60,
      test_size=20, hidden=32, timesteps=2, epochs=1, attack_examples=10)
  data = prepare_data(config.data_config())
  res = study.run(config, tmp_path, data=data, progress=False)
  t = res.table()
  assert set(t["model"]) == set(study.MODELS)
  assert set(t["setting"]) == {"clean", "white-box", "black-box"}
  assert len(t) == 3 * (1 + 2 * 2)
  assert t["accuracy"].between(0, 1).all()
  for name in study.OUTPUTS:
    assert (tmp_path / name).exists(), name
  p = res.privacy_table()
  assert set(zip(p["model"], p["attack"])) == {
      (m, a) for m in study.MODELS for a in study.PRIVACY_ATTACKS}
  assert p["auc"].between(0, 1).all()
  assert json.loads((tmp_path / "config.json").read_text())["timesteps"] == 2
  # A rerun reuses the trained models (same weights, same clean accuracy).
  mtime = (tmp_path / "models" / "snn" / "model.weights.h5").stat().st_mtime
  again = study.run(config, tmp_path, data=data, progress=False).table()
  assert (tmp_path / "models" / "snn" /
          "model.weights.h5").stat().st_mtime == mtime
  clean = lambda df: df[df["setting"] == "clean"]["accuracy"].tolist()
  assert clean(again) == clean(t)


@pytest.mark.parametrize("kwargs, match", [
    (dict(attacks=("fgsm", "cw")), "`attacks` must be"),
    (dict(eps=2.0), r"`eps` must be a number in \[0, 1\]"),
    (dict(pgd_steps=-1), "`pgd_steps` must be a positive int"),
    (dict(timesteps=6, hire_periods=4), "must divide"),
    (dict(hire_eps=-0.1), r"`eps` must be a number in \[0, 1\]"),
])
def test_bad_settings_are_refused(kwargs, match):
  with pytest.raises(ValueError, match=match):
    study.SnnRobustnessConfig(**kwargs)
