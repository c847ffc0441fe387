"""The audit: end to end on digits, re-rendering, checks before work."""

import numpy as np
import pandas as pd
import pytest

from tfmia.audits import audit

from tfmia import references

from tfmia.reporting import tables as reports
from tfmia.attacks import registry
from tfmia.attacks.inputs import AttackConfig, AttackSignals
from tfmia.audits.audit import AuditConfig
from tfmia import variants
from tfmia.signals import SignalConfig, Signals, compute_signals

# Every attack but tensorflow-privacy's slow trained ones (their parity with
# tensorflow-privacy is tested in tests/attacks); logistic regression stands
# in for them.
# LT-IQR needs a folder trained with loss traces (the attack-budget study's
# tests run it).
ALL = tuple(n for n, s in registry.ATTACKS.items()
            if not s.membership_labels and "boundary_distance" not in s.signals
            and not s.loss_trace) + ("logistic_regression",)
SMALL_QUANTILE = dict(epochs=3, hidden=(16,), conv_filters=(8,))
SMALL_SAMIA = dict(embed_dim=16, num_layers=1, num_heads=2, ff_dim=16,
                   head_units=8, epochs=3)
SMALL_NN = dict(hidden=(32, 16), epochs=5)


@pytest.fixture(scope="module")
def audited(tiny_reference, tmp_path_factory):
  cfg, data = tiny_reference
  out = tmp_path_factory.mktemp("audit")
  config = AuditConfig(attacks=ALL, attack=AttackConfig(
      samia=SMALL_SAMIA, nn=SMALL_NN, quantile=SMALL_QUANTILE))
  res = audit.audit_reference_folder(cfg, config, out_dir=out, data=data,
                                     progress=False)
  return cfg, data, config, res, out


@pytest.mark.slow
def test_end_to_end_audit_writes_the_report(audited):
  cfg, data, config, res, out = audited
  for f in ("report.csv", "roc_loglog.png", "score_hist.png", "config.json",
            "scores.npz", "results.json", "results.npz"):
    assert (out / f).is_file(), f
  df = pd.read_csv(out / "report.csv")
  assert list(df.columns) == list(reports.REPORT_COLUMNS)
  assert list(df.attack) == list(ALL)
  refs = references.ReferenceSet.load(cfg.reference_dir)
  with np.load(out / "scores.npz") as f:
    np.testing.assert_array_equal(f["is_member"], refs.target_is_member)
    np.testing.assert_array_equal(f["rmia"], res.get("rmia").scores)
  # The target overfits 200 digits: the strong attacks must see it.
  assert res.get("rmia").auc > 0.55 and res.get("lira").auc > 0.55
  assert res.member_accuracy > res.nonmember_accuracy


@pytest.mark.slow
def test_render_redraws_without_recomputing(audited):
  *_, res, out = audited
  (out / "roc_loglog.png").unlink()
  (out / "report.csv").unlink()
  again = reports.render_audit(out)
  assert (out / "roc_loglog.png").is_file() and (out / "report.csv").is_file()
  for a, b in zip(res, again):
    np.testing.assert_array_equal(a.scores, b.scores)
  with pytest.raises(FileNotFoundError, match="results.json"):
    reports.render_audit(out / "nowhere")


@pytest.mark.slow
def test_scores_are_deterministic_and_signals_cached(audited):
  cfg, data, config, res, _ = audited
  again = audit.audit_reference_folder(cfg, config, data=data, progress=False)
  for a, b in zip(res, again):
    np.testing.assert_array_equal(a.scores, b.scores, err_msg=a.attack)
  cached = list((references.ReferenceSet.load(cfg.reference_dir).directory
                 / "target" / "signals" / "base").glob("*.npz"))
  assert len(cached) == 2     # pool and population


def test_python_api_on_models_matches_the_folder_audit(tiny_reference, audited):
  cfg, data = tiny_reference
  *_, res, _ = audited
  refs = references.ReferenceSet.load(cfg.reference_dir)
  load = lambda n: refs.load_model(n, data.input_shape, data.num_classes)
  got = audit.audit(
      audit.Target(load("target"), data.x_train, data.y_train, refs.target_is_member),
      audit.References(tuple(load(n) for n in refs.reference_names()),
                       refs.ref_is_member),
      (data.x_test, data.y_test), attacks=("rmia", "attack_r", "lira"),
      progress=False)
  for name in ("rmia", "attack_r", "lira"):
    np.testing.assert_allclose(got.get(name).scores, res.get(name).scores,
                               rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("builder", ["dense", "sequential_softmax"])
def test_folder_models_queried_through_one_graph_equal_each_built(
    tiny_reference, tmp_path, builder):
  """The audit loads each model's weights into one model (one traced graph
  for the K + 1): every model's logits equal, bit for bit, those of the
  model built and queried on its own, and differ from model to model; also
  for a user's Sequential model ending in a softmax."""
  from tfmia.models.adapter import predict_logits
  cfg, data = tiny_reference
  if builder != "dense":
    from tfmia_testing import tiny_reference_config
    cfg = tiny_reference_config(tmp_path, 2, epochs=1).replace(
        model=f"tfmia_testing:{builder}", model_kwargs={})
    references.train_references(cfg, data=data, progress=False)
  refs = references.ReferenceSet.load(cfg.reference_dir)
  x = data.x_train[:100]
  shared, alone = [], []
  for name in [references.TARGET] + refs.reference_names():
    forward = audit._queried(refs, name, data, None, 256, False)
    shared.append(forward(x))
    alone.append(predict_logits(
        refs.load_model(name, data.input_shape, data.num_classes), x,
        batch_size=256))
  assert forward is audit._queried(refs, "ref_000", data, None, 256, False)
  for a, b in zip(shared, alone):
    np.testing.assert_array_equal(a, b)
  assert all(not np.array_equal(shared[0], s) for s in shared[1:])


def test_population_overlapping_members_is_refused(tiny_reference):
  cfg, data = tiny_reference
  refs = references.ReferenceSet.load(cfg.reference_dir)
  members = data.x_train[refs.target_is_member]

  def never(_):
    raise AssertionError("queried a model before checking")

  with pytest.raises(ValueError, match="overlaps the target's members"):
    audit.audit(audit.Target(never, data.x_train, data.y_train, refs.target_is_member),
                None, (np.concatenate([data.x_test, members[:3]]),
                       np.zeros(len(data.x_test) + 3, int)),
                attacks=("attack_p",), progress=False)


def test_missing_inputs_are_refused_before_any_query(tiny_reference):
  cfg, data = tiny_reference
  refs = references.ReferenceSet.load(cfg.reference_dir)

  def never(_):
    raise AssertionError("queried a model before checking")

  target = audit.Target(never, data.x_train, data.y_train, refs.target_is_member)
  with pytest.raises(ValueError, match="'rmia' needs reference models"):
    audit.audit(target, None, (data.x_test, data.y_test), attacks=("rmia",))
  with pytest.raises(ValueError, match="'attack_p' needs the target's signals"):
    audit.audit(target, None, None, attacks=("attack_p",))
  all_in = np.ones((2, len(data.x_train)), bool)
  with pytest.raises(ValueError, match="'lira_offline' needs at least one OUT"):
    audit.audit(target, audit.References((never, never), all_in), None,
                attacks=("lira_offline",))
  with pytest.raises(ValueError, match=r"Unknown attack\(s\) \['lria'\]"):
    audit.audit(target, None, None, attacks=("lria",))
  with pytest.raises(ValueError, match="is_member"):
    audit.audit(target, audit.References((never,), all_in), None,
                attacks=("threshold",))


def test_audit_signals_checks_membership_layout():
  s = Signals.from_logits(np.zeros((4, 2)), [0, 1, 0, 1])
  with pytest.raises(ValueError, match=r"ref_is_member.*\(K, N\)"):
    AttackSignals(target=s, references=(s, s), ref_is_member=np.ones((2, 3), bool))
  with pytest.raises(ValueError, match="is_member"):
    audit.audit_signals(AttackSignals(target=s), np.ones(4, bool),
                        AuditConfig(attacks=("threshold",)))


def test_samia_turns_on_sensitivity():
  assert AuditConfig(attacks=("samia",)).signals.sensitivity
  assert not AuditConfig(attacks=("rmia",)).signals.sensitivity


def test_dropout_calibration_applies_to_every_attack(tiny_reference):
  cfg, data = tiny_reference
  plain = audit.audit_reference_folder(
      cfg, AuditConfig(attacks=("attack_p", "attack_r")), data=data,
      progress=False)
  dropped = audit.audit_reference_folder(
      cfg, AuditConfig(attacks=("attack_p", "attack_r"), signals=SignalConfig(
          dropout_copies=4, dropout_rate=0.05)), data=data, progress=False)
  for name in ("attack_p", "attack_r"):
    assert not np.array_equal(plain.get(name).scores,
                              dropped.get(name).scores)


def test_boundary_distances_are_the_targets_on_the_pool_only(
    tiny_reference, monkeypatch):
  # HopSkipJump is slow and tested in test_robustness: here a stand-in
  # records which models' signals ask for it, through a reference folder.
  from tfmia import robustness
  cfg, data = tiny_reference
  calls = []

  def fake(model, x, y, config):
    calls.append(len(x))
    return np.arange(len(x), dtype=np.float64)
  monkeypatch.setattr(robustness, "boundary_distances", fake)
  config = AuditConfig(attacks=("label_boundary", "rmia"),
                       signals=SignalConfig(boundary_max_iter=2))
  assert config.signals.boundary
  res = audit.audit_reference_folder(cfg, config, data=data, progress=False)
  assert calls == [len(data.x_train)]          # the target, on the pool
  refs = references.ReferenceSet.load(cfg.reference_dir)
  np.testing.assert_array_equal(res.get("label_boundary").scores,
                                np.arange(len(data.x_train))[
                                    refs.evaluated if refs.evaluated
                                    is not None else slice(None)])


def test_an_attack_entry_naming_an_optional_signal_gets_it_computed(
    tiny_reference, monkeypatch):
  # A new attack on an optional signal is a registry entry naming it; the
  # audit switches the signal on, and the signal's registration decides
  # which models compute it (here, re-registered for every model).
  from tfmia import signals as signals_lib
  from tfmia.attacks import registry as reg
  cfg, data = tiny_reference
  calls = []

  def toy(forward, x, base, config, rows, *, progress=False):
    calls.append(len(x))
    return -base.loss[:, 0]
  monkeypatch.setitem(signals_lib.OPTIONAL, "boundary_distance",
                      signals_lib.OptionalSignal("boundary_distance",
                                                 "boundary", toy))
  monkeypatch.setitem(reg.ATTACKS, "toy", reg._Spec(
      lambda s, c: s.target.boundary_distance,
      signals=("boundary_distance",)))
  config = AuditConfig(attacks=("toy", "threshold"))
  assert config.signals.optional_names == ("boundary_distance",)
  res = audit.audit_reference_folder(cfg, config, data=data, progress=False)
  np.testing.assert_allclose(res.get("toy").scores,
                             res.get("threshold").scores)
  assert calls == [len(data.x_train)]   # references are not asked for it
  with pytest.raises(ValueError, match="'toy' needs the optional signal"):
    registry.check_needs(("toy",), registry.Provided(num_examples=3))


def test_signal_config_switches_optional_signals():
  c = SignalConfig()
  assert c.optional_names == ()
  both = c.with_signals(("sensitivity", "boundary_distance"))
  assert both.sensitivity and both.boundary
  assert both.optional_names == ("sensitivity", "boundary_distance")
  assert both.for_other_models().optional_names == ("sensitivity",)
  assert both.uses_rows and not c.uses_rows
  assert c.with_signals(()) is c
  with pytest.raises(ValueError, match="Unknown optional signal.*'margin'"):
    c.with_signals(("margin",))


def test_a_variant_is_loaded_once_for_both_splits_and_every_cell(
    tiny_reference, tmp_path, monkeypatch):
  """The audit keeps the adapters of the last K + 1 variant models queried:
  cells that differ only in how a variant is queried, on the pool and the
  population, load each model once, and its signals equal those of the
  model loaded afresh."""
  import shutil
  cfg, data = tiny_reference
  shutil.copytree(cfg.reference_dir, tmp_path / "refs")
  cfg = cfg.replace(reference_dir=str(tmp_path / "refs"))
  refs = references.ReferenceSet.load(cfg.reference_dir)
  pruned = variants.from_spec("pruned:l1_unstructured:0.5")
  variants.make_variants(refs, data, [pruned], progress=False)
  loads = []
  load = variants.load_model
  monkeypatch.setattr(variants, "load_model",
                      lambda *a, **k: loads.append(a[1]) or load(*a, **k))
  plain = SignalConfig()
  cells = [audit.Cell(pruned, pruned, s) for s in
           (plain, SignalConfig(augmentations="flip"))]
  for cell in cells:
    audit.cell_signals(refs, data, cell, ("rmia",), progress=False)
  models = [references.TARGET] + refs.reference_names()
  assert sorted(loads) == sorted(models)   # once each, for 2 cells x 2 splits
  x, y = data.x_test, data.y_test
  for name in models:
    got = audit.model_signals(refs, data, name, pruned, "population", plain)
    afresh = compute_signals(load(refs, name, data, pruned), x, y, plain,
                             progress=False)
    np.testing.assert_array_equal(got.logits, afresh.logits)
