"""Reference models: membership matrix, resumable and sharded training, loading."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tfmia.infra import io

from tfmia import references
from tfmia.references import ReferenceConfig, ReferenceSet

from tfmia_testing import tiny_reference_config


def test_membership_matrix_properties():
  m = references.membership_matrix(11, 6, seed=3)
  assert m.shape == (6, 11) and m.dtype == bool
  np.testing.assert_array_equal(m.sum(axis=0), np.full(11, 3))  # IN for half
  for j in range(3):                                             # pairs
    np.testing.assert_array_equal(m[2 * j], ~m[2 * j + 1])
  # Adding models keeps the earlier rows; another seed changes them.
  np.testing.assert_array_equal(references.membership_matrix(11, 10, 3)[:6], m)
  assert not np.array_equal(references.membership_matrix(11, 6, 4), m)
  t = references.target_membership(11, 3)
  assert t.sum() == 5 and not any(np.array_equal(t, r) for r in m)


@pytest.mark.parametrize("k", [0, 3, -2, 2.0])
def test_membership_matrix_rejects_odd_or_bad_k(k):
  with pytest.raises(ValueError, match="num_models"):
    references.membership_matrix(10, k, 0)


def test_shards_partition_the_jobs():
  for n in (1, 2, 3, 9, 12):
    parts = [references.shard_jobs(8, (i, n)) for i in range(1, n + 1)]
    flat = sorted(j for p in parts for j in p)
    assert flat == sorted(references.job_names(8))
  assert references.parse_shard("3/8") == (3, 8)
  for bad in ("0/8", "9/8", "3", "a/b"):
    with pytest.raises(ValueError, match="shard"):
      references.parse_shard(bad)


def test_config_round_trip_and_errors(tmp_path):
  cfg = tiny_reference_config(tmp_path)
  io.atomic_write_json(tmp_path / "c.json", cfg)
  back = ReferenceConfig.load(tmp_path / "c.json")
  assert back == cfg and back.fingerprint() == cfg.fingerprint()
  # K and the folder do not change what a model learns.
  assert cfg.replace(num_models=8, reference_dir="x").fingerprint() == (
      cfg.fingerprint())
  assert cfg.replace(seed=1).fingerprint() != cfg.fingerprint()
  with pytest.raises(ValueError, match="Unknown `reference config` keys"):
    ReferenceConfig.from_dict({"modle": "conv"})
  with pytest.raises(ValueError, match="Unknown `train` keys"):
    ReferenceConfig.from_dict({"train": {"epoch": 3}})
  with pytest.raises(ValueError, match="model"):
    ReferenceConfig(model="transformer")
  with pytest.raises(ValueError, match="num_models"):
    ReferenceConfig(num_models=3)
  with pytest.raises(FileNotFoundError):
    ReferenceConfig.load(tmp_path / "missing.json")
  # save writes the builder options as the dict users write by hand.
  opts = cfg.replace(model="dense", model_kwargs={"units": 8, "depth": 1})
  opts.save(tmp_path / "opts.json")
  assert json.loads((tmp_path / "opts.json").read_text())[
      "model_kwargs"] == {"units": 8, "depth": 1}
  assert ReferenceConfig.load(tmp_path / "opts.json") == opts
  plain = cfg.replace(model_kwargs=())
  plain.save(tmp_path / "plain.json")
  assert json.loads((tmp_path / "plain.json").read_text())[
      "model_kwargs"] == {}


def test_hire_training_is_part_of_the_config(tmp_path):
  from tfmia.training.hire import HireConfig
  cfg = tiny_reference_config(tmp_path)
  # Absent at its default: folders made before the field keep their
  # fingerprint (and their config.json has no "hire" key).
  assert "hire" not in io.to_jsonable(cfg)
  hire = cfg.replace(hire=HireConfig(periods=2, eps=0.03, step=0.01))
  assert hire.fingerprint() != cfg.fingerprint()
  io.atomic_write_json(tmp_path / "h.json", hire)
  back = ReferenceConfig.load(tmp_path / "h.json")
  assert back == hire and back.hire == HireConfig(2, 0.03, 0.01)
  with pytest.raises(TypeError, match="`hire` must be"):
    cfg.replace(hire={"periods": 2})
  with pytest.raises(ValueError, match="not kept under HIRE"):
    hire.replace(checkpoints=("target",))
  with pytest.raises(ValueError, match="Unknown `hire` keys"):
    ReferenceConfig.from_dict({"hire": {"period": 2}})


@pytest.mark.slow
def test_interrupted_run_resumes_and_corrupt_files_are_redone(tmp_path):
  cfg = tiny_reference_config(tmp_path / "refs", 2, epochs=1)
  calls = []

  def stop_after_first(*args, **kwargs):
    if calls:
      raise KeyboardInterrupt("simulated interruption")
    calls.append(args[3])
    return references.train_one(*args, **kwargs)

  with pytest.raises(KeyboardInterrupt):
    references.train_references(cfg, progress=False, train_fn=stop_after_first)
  assert calls == ["target"]
  assert references.is_complete(tmp_path / "refs" / "target", cfg.fingerprint())
  assert not (tmp_path / "refs" / "ref_000" / "done.json").exists()

  out = references.train_references(cfg, progress=False)
  assert out == {"trained": ["ref_000", "ref_001"], "skipped": ["target"],
                 "redone": {}}

  # A half-written weights file is detected and redone.
  w = tmp_path / "refs" / "ref_001" / "model.weights.h5"
  w.write_bytes(w.read_bytes()[:100])
  assert not references.is_complete(w.parent, cfg.fingerprint())
  out = references.train_references(cfg, progress=False)
  assert out["trained"] == ["ref_001"]
  assert "model.weights.h5 differs from when it was written (truncated: " \
      "100 of" in out["redone"]["ref_001"]
  assert references.is_complete(w.parent, cfg.fingerprint())
  ReferenceSet.load(tmp_path / "refs")   # and the folder loads


@pytest.mark.slow
def test_shards_fill_one_folder(tmp_path):
  cfg = tiny_reference_config(tmp_path / "refs", 2, epochs=1)
  a = references.train_references(cfg, shard=(1, 2), progress=False)
  b = references.train_references(cfg, shard=(2, 2), progress=False)
  assert sorted(a["trained"] + b["trained"]) == ["ref_000", "ref_001", "target"]
  refs = ReferenceSet.load(tmp_path / "refs")
  assert refs.num_models == 2


def test_different_config_in_the_same_folder_is_refused(tmp_path):
  cfg = tiny_reference_config(tmp_path / "refs", 2, epochs=1)
  references.train_references(cfg, shard=(1, 3), progress=False)
  with pytest.raises(ValueError, match="different configuration"):
    references.train_references(cfg.replace(seed=5), progress=False)


def test_load_errors(tiny_reference, tmp_path):
  cfg, _ = tiny_reference
  d = tmp_path / "nothing"
  with pytest.raises(FileNotFoundError, match="reference train"):
    ReferenceSet.load(d)
  with pytest.raises(FileNotFoundError, match=r"ref_004 \(not finished.*ref_005"):
    ReferenceSet.load(cfg.reference_dir, num_models=6)
  # A membership matrix that does not match the models.
  import shutil
  copy = tmp_path / "copy"
  shutil.copytree(cfg.reference_dir, copy)
  with np.load(copy / "membership.npz") as f:
    arrays = dict(f)
  arrays["ref_is_member"] = arrays["ref_is_member"][::-1]
  np.savez(copy / "membership.npz", **arrays)
  with pytest.raises(ValueError, match="does not match 4 reference models"):
    ReferenceSet.load(copy)


def test_loaded_models_reproduce_training_accuracy(tiny_reference):
  cfg, data = tiny_reference
  refs = ReferenceSet.load(cfg.reference_dir)
  assert refs.ref_is_member.shape == (4, 400) and refs.target_is_member.sum() == 200
  model = refs.load_model("ref_002", data.input_shape, data.num_classes)
  keep = refs.ref_is_member[2]
  pred = model.predict(data.x_train[keep], verbose=0).argmax(1)
  train_acc, _ = refs.accuracy("ref_002")
  # Keras' logged epoch accuracy averages over the epoch's steps, so it is
  # close to, not equal to, the accuracy after the last step.
  assert abs(np.mean(pred == data.y_train[keep]) - train_acc) < 0.1
  np.testing.assert_array_equal(
      np.load(refs.directory / "ref_002" / "is_member.npy"), keep)
  saved = json.loads((refs.directory / "config.json").read_text())
  assert saved["num_models"] == 4


def test_training_uses_the_active_strategy(tmp_path, monkeypatch):
  from tfmia import training
  seen = []

  original = training.train_model

  def spy(model, *args, **kwargs):
    seen.append(tf.distribute.get_strategy())
    return original(model, *args, **kwargs)

  monkeypatch.setattr(training, "train_model", spy)
  cfg = tiny_reference_config(tmp_path / "refs", 2, epochs=1)
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  with strategy.scope():
    references.train_references(cfg, shard=(1, 3), progress=False)
  assert seen and seen[0] is strategy
  assert references.one_model._strategy() is tf.distribute.get_strategy()  # one device


@pytest.mark.slow
def test_growing_k_keeps_the_models_already_trained(tmp_path):
  cfg = tiny_reference_config(tmp_path / "refs", 2, epochs=1)
  references.train_references(cfg, progress=False)
  out = references.train_references(cfg.replace(num_models=4), progress=False)
  assert out == {"trained": ["ref_002", "ref_003"],
                 "skipped": ["target", "ref_000", "ref_001"], "redone": {}}
  refs = ReferenceSet.load(tmp_path / "refs")
  assert refs.num_models == 4
  # Fewer models can still be used: the first K rows.
  assert ReferenceSet.load(tmp_path / "refs", num_models=2).ref_is_member.shape[0] == 2
