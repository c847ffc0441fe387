"""The variant store: made once beside the source model, reloaded, resumed
after an interruption, redone when corrupted, refused when from another
source; and variants as audit cells."""

import json

import numpy as np
import pytest

from tfmia.audits import audit

from tfmia import references, variants
from tfmia.training.calibration import CalibrationConfig
from tfmia_testing import tiny_reference_config

NO_CALIBRATION = CalibrationConfig(epochs=0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
  from tfmia.data import prepare_data
  config = tiny_reference_config(tmp_path_factory.mktemp("refs"), 2)
  data = prepare_data(config.data)
  references.train_references(config, data=data, progress=False)
  return references.ReferenceSet.load(config.reference_dir), data


def _snn(t=2, **kw):
  return variants.SnnVariant(timesteps=t, calibration=NO_CALIBRATION,
                             calibration_samples=64, **kw)


class _Counting:
  """Counts SnnVariant.apply calls; can fail after saving a partial file."""

  def __init__(self, monkeypatch):
    self.calls = 0
    real = variants.SnnVariant.apply

    def apply(v, *a, **k):
      self.calls += 1
      return real(v, *a, **k)

    monkeypatch.setattr(variants.SnnVariant, "apply", apply)


@pytest.mark.slow
def test_made_once_and_stored_beside_its_source(folder, monkeypatch):
  refs, data = folder
  v = _snn(2)
  count = _Counting(monkeypatch)
  first = variants.load_model(refs, "ref_001", data, v)
  d = refs.directory / "ref_001" / "variants" / v.key()
  assert (d / "model.keras").is_file() and (d / "done.json").is_file()
  assert v.key().startswith("snn_T2-")
  again = variants.load_model(refs, "ref_001", data, v)
  assert count.calls == 1
  x = data.x_test[:20]
  np.testing.assert_array_equal(first.predict(x, verbose=0),
                                again.predict(x, verbose=0))
  # Other settings are another variant, in another folder.
  assert _snn(2, seed=1).key() != v.key()


def test_chain_stores_every_step(folder):
  refs, data = folder
  t1, t3 = variants.SnnVariant.progressive(
      (1, 3), calibration=NO_CALIBRATION, calibration_samples=64)
  assert t3.source == t1 and t3.chain == (t1, t3)
  model = variants.load_model(refs, "target", data, t3)
  assert variants.is_complete(refs, "target", t1)
  assert variants.is_complete(refs, "target", t3)
  from tfmia.snn import network_of
  assert network_of(model).timesteps == 3


def test_interrupted_build_resumes(folder, monkeypatch):
  refs, data = folder
  v = _snn(4)

  def killed(self, model, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half a file")
    raise KeyboardInterrupt

  monkeypatch.setattr(variants.SnnVariant, "save", killed)
  with pytest.raises(KeyboardInterrupt):
    variants.load_model(refs, "ref_000", data, v)
  assert not variants.is_complete(refs, "ref_000", v)
  monkeypatch.undo()
  model = variants.load_model(refs, "ref_000", data, v)
  assert variants.is_complete(refs, "ref_000", v)
  assert model.predict(data.x_test[:4], verbose=0).shape == (4, 10)


def test_corrupted_variant_is_redone(folder, monkeypatch):
  refs, data = folder
  v = _snn(2)
  variants.load_model(refs, "target", data, v)
  path = variants.variant_dir(refs, "target", v) / "model.keras"
  path.write_bytes(path.read_bytes()[:100])
  count = _Counting(monkeypatch)
  variants.load_model(refs, "target", data, v)
  assert count.calls == 1 and variants.is_complete(refs, "target", v)


def test_variant_from_another_source_is_refused(folder):
  refs, data = folder
  v = _snn(2)
  variants.load_model(refs, "ref_001", data, v)
  marker = variants.variant_dir(refs, "ref_001", v) / "done.json"
  record = json.loads(marker.read_text())
  record["fingerprint"] = "0" * 64
  marker.write_text(json.dumps(record))
  with pytest.raises(ValueError, match="Variant snn_T2 of ref_001.*"
                                       "different source model"):
    variants.load_model(refs, "ref_001", data, v)
  marker.unlink()


def test_cells_over_variants(folder):
  """An SNN target with ANN references is just another cell."""
  refs, data = folder
  v = _snn(2)
  attacks = ("attack_p", "attack_r", "rmia")
  mixed = audit.audit_cell(refs, data, audit.Cell(v, None), attacks,
                           progress=False)
  snn = audit.audit_cell(refs, data, audit.Cell(v, v), attacks,
                         progress=False)
  ann = audit.audit_cell(refs, data, audit.Cell(), attacks, progress=False)
  # Attack-P uses no references: the same on both SNN cells.
  np.testing.assert_array_equal(mixed.get("attack_p").scores,
                                snn.get("attack_p").scores)
  assert not np.array_equal(snn.get("rmia").scores, ann.get("rmia").scores)


def test_bad_variants():
  with pytest.raises(ValueError, match="timesteps"):
    variants.SnnVariant(timesteps=0)
  with pytest.raises(ValueError, match="strictly increasing"):
    variants.SnnVariant.progressive((2, 1))
  with pytest.raises(TypeError, match="source"):
    variants.SnnVariant(source="snn_T1")
  assert variants.from_spec("snn:1,4").source.timesteps == 1
  assert variants.from_spec("none") is None
  with pytest.raises(ValueError, match="snn:T"):
    variants.from_spec("quantised:8")
  with pytest.raises(ValueError, match="pruned:PRUNER:SPARSITY"):
    variants.from_spec("pruned:0.5")


def test_the_mia_snn_chain_runs_more_epochs_at_its_first_t():
  recipe = CalibrationConfig.mia_snn()
  chain = variants.SnnVariant.progressive((1, 2, 3, 4), calibration=recipe,
                                          first_epochs=50,
                                          fold_batchnorm=False)
  assert [v.timesteps for v in chain] == [1, 2, 3, 4]
  assert [v.calibration.epochs for v in chain] == [50, 30, 30, 30]
  assert all(v.calibration.batch_size == 16 and v.calibration.augment
             and v.calibration.weight_decay == 0 and not v.fold_batchnorm
             for v in chain)
  assert chain[3].chain == chain
  # Settings are part of the key: another surrogate or BN handling is
  # another variant.
  assert _snn(2).key() != _snn(2, surrogate="atan").key()
  assert _snn(2).key() != _snn(2, fold_batchnorm=False).key()
  with pytest.raises(ValueError, match="surrogate.*Received: surrogate='x'"):
    _snn(2, surrogate="x")
  with pytest.raises(ValueError, match="first_epochs"):
    variants.SnnVariant.progressive((1, 2), first_epochs=-1)


@pytest.mark.slow
def test_calibrated_variant_does_not_depend_on_process_history(folder,
                                                              tmp_path):
  """The same variant made after different global seeds (as when the ANNs
  were trained in the same process, or not) is the same model."""
  import shutil
  import tensorflow as tf
  refs, data = folder
  v = variants.SnnVariant(timesteps=1, calibration_samples=64,
                          calibration=CalibrationConfig(epochs=1))
  outputs = []
  for i, seed in enumerate((123, 999)):
    copy = tmp_path / f"copy{i}"
    shutil.copytree(refs.directory, copy,
                    ignore=shutil.ignore_patterns("variants", "signals"))
    tf.keras.utils.set_random_seed(seed)
    model = variants.load_model(references.ReferenceSet.load(copy), "target",
                                data, v)
    outputs.append(model.predict(data.x_test[:50], verbose=0))
  np.testing.assert_array_equal(outputs[0], outputs[1])


def test_a_variant_kind_must_define_its_methods():
  import dataclasses

  @dataclasses.dataclass(frozen=True)
  class Half(variants.Variant):
    def label(self):
      return "half"

  with pytest.raises(TypeError, match="abstract"):
    Half()


def test_a_kind_without_arguments_or_storage_is_one_class(monkeypatch):
  # A new kind is one module: a Variant subclass and its spec parser; one
  # that is not stored needs no save/load, and its spec may take no argument.
  import dataclasses
  from typing import ClassVar
  from tfmia.variants import base

  @dataclasses.dataclass(frozen=True)
  class Halved(base.Variant):
    kind: ClassVar[str] = "halved"
    stored: ClassVar[bool] = False

    def label(self):
      return "halved"

    def apply(self, model, members, *, name):
      return model

  monkeypatch.setitem(base._SPECS, "halved",
                      ("halved", lambda arg, text, source, train: Halved()))
  assert isinstance(base.from_spec("halved"), Halved)
  with pytest.raises(TypeError, match="halved variant is not stored"):
    Halved().save(None, None)
  with pytest.raises(ValueError, match="timesteps must be integers"):
    base.from_spec("snn")
