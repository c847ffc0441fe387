"""The mia_prune data split: its proportions as the paper's code makes them,
and audits that judge the victim's balanced train and test sets while the
shadow attacks learn from the shadows' own splits."""

import numpy as np
import pytest

from tfmia.audits import audit

from tfmia import references
from tfmia.attacks import AttackSignals, run_attacks
from tfmia.signals import Signals


def test_split_proportions_and_disjointness():
  s = references.mia_prune_split(10_000, 3, seed=7)
  t = s["target_is_member"], s["target_test"], s["target_dev"]
  # pretrain.py: half the data is the victim's; its test set is 45% of
  # that half, its dev set 18.18% of the rest: 22.5% / 22.5% / 5%.
  assert [int(m.sum()) for m in t] == [2250, 2250, 500]
  assert not (t[0] & t[1]).any() and not (t[0] & t[2]).any()
  victim = t[0] | t[1] | t[2]
  for k in range(3):
    parts = s["ref_is_member"][k], s["ref_test"][k], s["ref_dev"][k]
    assert [int(m.sum()) for m in parts] == [2250, 2250, 500]
    assert not ((parts[0] | parts[1] | parts[2]) & victim).any()
  # Each shadow resplits the shadow half with its own random state.
  assert not np.array_equal(s["ref_is_member"][0], s["ref_is_member"][1])
  again = references.mia_prune_split(10_000, 3, seed=7)
  for key in s:
    np.testing.assert_array_equal(s[key], again[key])


def test_mia_prune_split_config_errors():
  from tfmia.references import ReferenceConfig
  with pytest.raises(ValueError, match="`split` must be one of"):
    ReferenceConfig(split="halves")
  ReferenceConfig(split="mia_prune", num_models=5)  # any K, as mia_prune's 5
  with pytest.raises(ValueError, match="even int"):
    ReferenceConfig(num_models=5)


@pytest.fixture(scope="module")
def split_folder(tmp_path_factory):
  from tfmia.data import DataConfig, prepare_data
  from tfmia.references import ReferenceConfig
  from tfmia.training import TrainConfig
  config = ReferenceConfig(
      data=DataConfig(dataset="digits", train_size=600, test_size=50),
      model="dense", model_kwargs={"depth": 1, "units": 32},
      train=TrainConfig(epochs=4, batch_size=32), num_models=2,
      split="mia_prune",
      reference_dir=str(tmp_path_factory.mktemp("split")))
  data = prepare_data(config.data)
  references.train_references(config, data=data, progress=False)
  return audit.load_reference_folder(config, data=data)


@pytest.mark.slow
def test_audit_judges_the_victims_examples(split_folder):
  refs, data = split_folder
  res = audit.audit_cell(refs, data, audit.Cell(),
                         ("sm_entropy", "rmia", "lira_offline"),
                         progress=False)
  judged = refs.evaluated
  for r in res.results:
    assert len(r.scores) == judged.sum()
    assert r.is_member.sum() == refs.target_is_member.sum()
  # Each model validated on its own dev set (recorded when it finished).
  done = refs.directory / "target" / "history.json"
  assert done.is_file()


def test_shadow_attacks_learn_from_the_shadows_own_split():
  # Shadow 0 on 4 examples: members 0, 1 (confident), non-members 2, 3;
  # the target is judged on examples 4..7 only, where shadow 0 trained on
  # nothing. A threshold learned on the shadow's split separates them.
  n = 8
  conf = np.array([.99, .98, .4, .3, .995, .99, .35, .2])
  probs = np.stack([conf, 1 - conf], axis=1)[:, None, :]
  labels = np.zeros(n, int)
  target = Signals.from_logits(np.log(probs[:, 0]), labels)
  shadow = Signals.from_logits(np.log(probs[:, 0]), labels)
  ref_is_member = np.array([[1, 1, 0, 0, 0, 0, 0, 0]], bool)
  in_split = np.array([[1, 1, 1, 1, 0, 0, 0, 0]], bool)
  is_member = np.array([0, 0, 0, 0, 1, 1, 0, 0], bool)
  evaluate = np.array([0, 0, 0, 0, 1, 1, 1, 1], bool)
  sig = AttackSignals(target=target, references=(shadow,),
                      ref_is_member=ref_is_member, ref_in_split=in_split)
  res = run_attacks(("sm_confidence",), sig, is_member=is_member,
                    evaluate=evaluate)
  (r,) = res.results
  assert len(r.scores) == 4 and r.auc == 1.0
  assert r.decision_accuracy == 1.0
  with pytest.raises(ValueError, match="must contain every reference"):
    AttackSignals(target=target, references=(shadow,),
                  ref_is_member=ref_is_member, ref_in_split=~in_split)


@pytest.mark.slow
def test_samia_sensitivity_is_computed_on_each_models_own_split(split_folder):
  from tfmia.signals import SignalConfig
  refs, data = split_folder
  cfg = SignalConfig(sensitivity=True, sensitivity_samples=2)
  for name in ("target", "ref_001"):
    own = refs.own_split(name)
    assert own.sum() < len(own)     # not the whole pool
    sig = audit.model_signals(refs, data, name, None, "pool", cfg)
    finite = np.isfinite(sig.sensitivity).all(1)
    np.testing.assert_array_equal(finite, own)
  np.testing.assert_array_equal(refs.own_split("target"), refs.evaluated)
  np.testing.assert_array_equal(refs.own_split("ref_000"),
                                refs.ref_in_split[0])
  # SAMIA runs on them: every row it reads is finite.
  from tfmia.attacks.samia import SamiaConfig
  from tfmia.attacks.inputs import AttackConfig
  tiny = SamiaConfig(embed_dim=8, num_layers=1, num_heads=2, ff_dim=8,
                     head_units=8, epochs=1)
  res = audit.audit_cell(refs, data, audit.Cell(signals=cfg), ("samia",),
                         AttackConfig(samia=tiny), progress=False)
  assert np.isfinite(res.get("samia").scores).all()
