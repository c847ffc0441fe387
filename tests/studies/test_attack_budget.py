"""The attack-budget study end to end on digits, tiny, and its resumability."""

import numpy as np
import pandas as pd
import pytest

from tfmia.studies import attack_budget as study


def _config(**kw):
  setting = study.DatasetSetting("digits", "dense", (("depth", 1),
                                                     ("units", 32)),
                                 pool_size=240, population_size=120,
                                 epochs=4, batch_size=32)
  base = dict(settings=(setting,), ks=(0, 1, 2), seeds=2, together=3,
              bootstrap=20,
              quantile=dict(epochs=3, hidden=(16,), conv_filters=(8,)))
  base.update(kw)
  return study.BudgetConfig.quick_mode(**base)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
  out = tmp_path_factory.mktemp("budget")
  return study.run(_config(), out, progress=False), out


@pytest.mark.slow
def test_outputs_rows_and_budgets(ran):
  res, out = ran
  for name in study.OUTPUTS:
    assert (out / name).exists(), name
  df = res.results
  config = _config()
  # 2 reference models plus one for the second seed's target, in pairs: 4.
  assert config.num_models == 4 and config.targets() == ["target", "ref_002"]
  names = set(config.attack_names())
  from tfmia.attacks import registry
  no_refs = {n for n in names if not registry.ATTACKS[n].references}
  assert set(df[df.k == 0].attack) == no_refs
  k1 = df[df.k == 1]
  both = {n for n in names if registry.ATTACKS[n].need_in
          and registry.ATTACKS[n].need_out}
  assert not set(k1.attack) & both
  assert set(k1[k1.attack == "bavaria_t"].judged_on) == {"all"}
  assert set(k1[k1.attack == "lira_offline"].judged_on) == {"out"}
  assert set(df[df.k == 2].attack) == names
  assert "lt_iqr" not in names and "lt_iqr" in study.EXCLUDED
  # The attacks without reference models score the same at every budget.
  q = df[(df.attack == "quantile") & (df.seed == 0)]
  assert len(q) == 3 and q.auc.nunique() == 1
  assert set(df.seed) == {0, 1}
  assert df.auc.between(0, 1).all()
  assert (df.auc_low <= df.auc + 1e-12).all() and (df.auc <= df.auc_high + 1e-12).all()
  best = res.best()
  assert list(best.k) == [0, 1, 2]
  import json
  training = json.loads((out / "training.json").read_text())
  assert training["digits"]["models"] == 5
  assert training["digits"]["training_seconds"] > 0
  lt = res.lt_iqr
  assert set(lt.score) == {"lt_iqr", "final_loss"}
  assert lt.precision.between(0, 1).all()


@pytest.mark.slow
def test_references_are_nested_trained_together_with_traces(ran):
  res, out = ran
  from tfmia import references
  from tfmia.infra import io
  refs = references.ReferenceSet.load(out / "models" / "digits")
  assert refs.num_models == 4 and refs.config.together == 3
  trace = refs.loss_trace("ref_002")
  assert trace.shape == (240, 5)          # 4 epochs + the start
  done = io.read_json(out / "models" / "digits" / "ref_000" / "done.json")
  assert done["together"] == 3
  # K = 2's attack on seed 1 reads the first 2 references, not itself.
  assert "ref_002" not in refs.reference_names()[:2]


@pytest.mark.slow
def test_rerun_trains_and_attacks_nothing(ran, monkeypatch):
  res, out = ran
  from tfmia import references
  calls = []
  monkeypatch.setattr(references.training, "train_stack",
                      lambda *a, **k: calls.append("train"))
  from tfmia.studies.attack_budget import study as module
  monkeypatch.setattr(module, "attack_cell",
                      lambda *a, **k: calls.append("attack"))
  again = study.run(_config(), out, progress=False)
  assert calls == []
  pd.testing.assert_frame_equal(again.results, res.results)


def test_no_target_has_its_complement_among_its_references():
  # Models come in complementary pairs (2j, 2j + 1): with max(ks) odd the
  # extra targets start at the next pair, past every reference.
  config = _config(ks=(0, 1, 3), seeds=3)
  assert config.targets() == ["target", "ref_004", "ref_005"]
  assert config.num_models == 6
  assert _config(ks=(0, 2, 16), seeds=3).targets()[1:] == ["ref_016",
                                                          "ref_017"]


def test_config_errors():
  with pytest.raises(ValueError, match="ks"):
    _config(ks=(2, 1))
  with pytest.raises(ValueError, match="cannot run"):
    _config(attacks=("rmia", "label_boundary"))
  with pytest.raises(ValueError, match="at least 2"):
    _config(ks=(0, 1))
