"""The SNN-robustness study end to end on digits (tiny), its outputs, the
reuse of trained models, and errors before any work."""

import dataclasses
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from tfmia.studies import snn_robustness as study
from tfmia.studies.snn_robustness import report


def _tiny(**kw):
  settings = dict(split_sizes=(898, 899), dataset="digits", pool_size=120,
                  population_size=40, hidden=32, timesteps=2, epochs=1,
                  sweep_epochs=1,
                  attacks=("fgsm",), attack_examples=10,
                  sweep_encoders=("poisson",), sweep_pooling=("max",),
                  sweep_examples=8, square_queries=5, eot_samples=2)
  settings.update(kw)
  return study.SnnRobustnessConfig.quick_mode(**settings)


@pytest.mark.slow
def test_snn_robustness_study_end_to_end(tmp_path, monkeypatch):
  from tfmia import references
  from tfmia.data import prepare_data
  # T = 1 in one HIRE period: the study's whole path at half the tracing of
  # T = 2 (HIRE's noise over periods is tested in tests/snn/test_spiking.py).
  config = _tiny(timesteps=1, hire_periods=1)
  data = prepare_data(config.data_config())
  res = study.run(config, tmp_path, data=data, progress=False)
  t = res.table()
  assert set(t["model"]) == set(study.MODELS)
  assert set(t["setting"]) == {"clean", "white-box", "black-box"}
  assert len(t) == 3 * (1 + 2 * 1)
  assert t["accuracy"].between(0, 1).all()
  for name in study.OUTPUTS:
    assert (tmp_path / name).exists(), name
  p = res.privacy_table()
  assert set(zip(p["model"], p["attack"])) == {
      (m, a) for m in study.MODELS for a in study.PRIVACY_ATTACKS}
  assert p["auc"].between(0, 1).all()
  # Each kind is a reference folder: the target and 2 references, trained
  # the kind's way (HIRE only for hire_snn), all on halves of one pool.
  for kind in study.MODELS:
    refs = references.ReferenceSet.load(tmp_path / "references" / kind)
    assert refs.num_models == 2
    assert refs.ref_is_member.shape == (2, 120)
    assert (refs.config.hire is not None) == (kind == "hire_snn")
    assert refs.config.model == ("spiking_vgg_ann" if kind == "ann"
                                 else "spiking_vgg")
  hire_run = json.loads((tmp_path / "references" / "hire_snn" / "target" /
                         "config.json").read_text())
  assert hire_run["hire"]["periods"] == config.hire_periods
  sw = res.sweep_table()
  assert list(zip(sw["pooling"], sw["encoder"])) == [("max", "poisson")]
  assert sw["eot_samples"].tolist() == [2]   # EOT through Poisson coding
  assert sw[["clean", "pgd", "square"]].stack().between(0, 1).all()
  saved = json.loads((tmp_path / "config.json").read_text())
  assert saved["timesteps"] == 1 and saved["references"] == 2

  # A rerun trains and attacks nothing and reports the same numbers.
  def boom(*a, **k):
    raise AssertionError("finished work was done again")
  monkeypatch.setattr(references.training, "train_one", boom)
  import tfmia.training
  from tfmia import robustness
  monkeypatch.setattr(tfmia.training, "train_model", boom)
  monkeypatch.setattr(robustness, "evaluate", boom)
  before = {f: (tmp_path / f).read_bytes() for f in ("results.csv",
                                                     "sweep.csv")}
  again = study.run(config, tmp_path, data=data, progress=False)
  assert {f: (tmp_path / f).read_bytes() for f in before} == before
  assert again.privacy_table()["auc"].tolist() == p["auc"].tolist()
  pd.testing.assert_frame_equal(again.table(), t)
  # Other settings in the same folder are refused before any work.
  with pytest.raises(ValueError, match="epochs: 1 -> 2"):
    study.run(_tiny(timesteps=1, hire_periods=1, epochs=2), tmp_path,
              data=data, progress=False)


@pytest.mark.parametrize("kwargs, match", [
    (dict(attacks=("fgsm", "cw")), "`attacks` must be"),
    (dict(eps=2.0), r"`eps` must be a number in \[0, 1\]"),
    (dict(pgd_steps=-1), "`pgd_steps` must be a positive int"),
    (dict(timesteps=6, hire_periods=4), "must divide"),
    (dict(hire_eps=-0.1), r"`eps` must be a number in \[0, 1\]"),
    (dict(references=3), "`references` must be an even int"),
    (dict(sweep_encoders=("direct", "morse")), "`encoder` must be one of"),
    (dict(sweep_pooling=("min",)), "`sweep_pooling` must hold"),
    (dict(privacy_attacks=("rmia", "nope")), "nope"),
    (dict(sweep_design="diagonal"), "`sweep_design` must be one of"),
])
def test_bad_settings_are_refused(kwargs, match):
  with pytest.raises(ValueError, match=match):
    study.SnnRobustnessConfig(**kwargs)


def test_sweep_designs():
  grid = study.SnnRobustnessConfig(sweep_pooling=("avg", "max"),
                                   sweep_encoders=("direct", "poisson",
                                                   "latency"))
  assert grid.sweep_cells() == [
      ("avg", "direct"), ("avg", "poisson"), ("avg", "latency"),
      ("max", "direct"), ("max", "poisson"), ("max", "latency")]
  # One factor at a time through (first pooling, first encoder).
  axes = dataclasses.replace(grid, sweep_design="axes")
  assert axes.sweep_cells() == [
      ("avg", "direct"), ("avg", "poisson"), ("avg", "latency"),
      ("max", "direct")]
  quick = study.SnnRobustnessConfig.quick_mode()
  assert quick.sweep_design == "axes" and len(quick.sweep_cells()) == 5
  assert study.SnnRobustnessConfig().sweep_design == "grid"
  assert len(study.SnnRobustnessConfig().sweep_cells()) == 8
  assert dataclasses.replace(grid, sweep_pooling=()).sweep_cells() == []
  # The default design is left out of the saved config, so studies saved
  # before the setting existed resume.
  from tfmia.infra import io
  assert "sweep_design" not in io.to_jsonable(grid)
  assert io.to_jsonable(axes)["sweep_design"] == "axes"


def test_gradient_sparsity_rings_the_masked_points():
  table = pd.DataFrame({
      "pooling": ["avg", "max", "avg"],
      "encoder": ["direct", "direct", "latency"],
      "zero_input_gradient": [0.02, 0.03, 1.0],
      "clean": [0.4, 0.38, 0.35], "pgd": [0.1, 0.14, 0.35],
      "square_beats_pgd": [0.0, np.nan, 0.2]})
  fig = report.plot_gradient_sparsity(table)
  left, right = fig.axes[:2]
  # Per panel: one point per model, plus one ring for the one row where
  # Square beat PGD, drawn at that model's point.
  for ax, col in ((left, "pgd"), (right, "clean")):
    offsets = [c.get_offsets()[0].tolist() for c in ax.collections]
    assert len(offsets) == 4
    assert offsets.count([1.0, table[col][2]]) == 2
  plt.close(fig)


def test_privacy_models_bars_with_intervals():
  table = pd.DataFrame({
      "model": ["ann", "ann", "snn", "snn"],
      "attack": ["rmia", "threshold"] * 2,
      "auc": [0.55, 0.54, 0.72, 0.70],
      "auc_ci_low": [0.53, 0.52, 0.70, 0.68],
      "auc_ci_high": [0.57, 0.56, 0.74, 0.72],
      "tpr_at_1%_fpr": [0.0, 0.02, 0.04, 0.03]})
  fig = report.plot_privacy_models(table)
  auc_ax, tpr_ax = fig.axes[:2]
  heights = sorted(round(p.get_height(), 2) for p in auc_ax.patches)
  assert heights == [0.54, 0.55, 0.70, 0.72]
  # TPR at 1% FPR: a point per model and attack on a log axis, 0 at 1e-3.
  ys = sorted(float(y) for c in tpr_ax.containers
              for y in c.lines[0].get_ydata())
  assert ys == [1e-3, 0.02, 0.03, 0.04]
  plt.close(fig)
