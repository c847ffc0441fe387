"""Paths through tf.io.gfile: a URL (here TensorFlow's in-memory `ram://`
file system, which any TensorFlow has) works wherever a local folder does,
and gives the same models and scores."""

import uuid
from pathlib import Path

import numpy as np
import pytest

from tfmia.audits import audit

from tfmia.infra import fs, io, store

from tfmia import references, variants
from tfmia.data import prepare_data

from tfmia_testing import assert_same_weights, tiny_reference_config


@pytest.fixture()
def ram():
  root = fs.path(f"ram://tfmia-{uuid.uuid4().hex}")
  yield root
  if root.exists():
    fs.rmtree(root)


def test_gpath_keeps_the_url_where_pathlib_mangles_it():
  assert str(Path("gs://bucket/a")) == "gs:/bucket/a"   # why GPath exists
  p = fs.path("gs://bucket/a/b.weights.h5")
  assert isinstance(p, fs.GPath) and str(p) == "gs://bucket/a/b.weights.h5"
  assert p.name == "b.weights.h5"
  assert str(p.parent) == "gs://bucket/a"
  assert str(p.parent / "c" / "d.json") == "gs://bucket/a/c/d.json"
  assert str(p.with_suffix(".json")) == "gs://bucket/a/b.weights.json"
  assert p.relative_to("gs://bucket").as_posix() == "a/b.weights.h5"
  assert [str(q) for q in p.parents] == ["gs://bucket/a", "gs://bucket",
                                         "gs://"]
  assert fs.path("runs/x") == Path("runs/x")           # local stays pathlib
  assert fs.path(p) is p and fs.is_url("s3://b/k") and not fs.is_url("/a")
  with pytest.raises(ValueError, match="Cannot join"):
    p / "/abs"


def test_io_and_store_round_trip_on_a_url(ram):
  d = io.check_output_dir(ram / "out", "--out")
  assert isinstance(d, fs.GPath) and d.is_dir()
  io.atomic_write_json(d / "a.json", {"x": 1, "t": (1, 2)})
  io.atomic_save_npz(d / "b.npz", y=np.arange(5))
  with io.atomic_path(d / "c.npy", suffix=".npy") as tmp:
    np.save(tmp, np.eye(2))
  assert io.read_json(d / "a.json") == {"x": 1, "t": [1, 2]}
  np.testing.assert_array_equal(io.load_npz(d / "b.npz")["y"], np.arange(5))
  np.testing.assert_array_equal(io.load_npy(d / "c.npy"), np.eye(2))
  # Only the final names: no temporary file is left beside them.
  assert sorted(p.name for p in d.iterdir()) == ["a.json", "b.npz", "c.npy"]
  with pytest.raises(FileNotFoundError):
    io.load_npz(d / "missing.npz")
  (d / "bad.npz").write_bytes(b"not a zip")
  with pytest.raises(ValueError, match="bad.npz is not a readable npz"):
    io.load_npz(d / "bad.npz")
  # A store unit: done, then found corrupted by its hash, then redone.
  marker = d / store.DONE_FILE
  store.mark_done(marker, "fp", [d / "a.json", d / "b.npz"])
  assert store.is_done(marker, "fp") and not store.is_done(marker, "other")
  (d / "b.npz").write_bytes(b"x")
  assert "b.npz differs" in store.unit_problem(marker, "fp")
  calls = []
  value = store.cached(d / "v.json", "fp", lambda: calls.append(1) or 7,
                       save=lambda v, p: io.atomic_write_json(p, v),
                       load=io.read_json)
  again = store.cached(d / "v.json", "fp", lambda: calls.append(1) or 8,
                       save=lambda v, p: io.atomic_write_json(p, v),
                       load=io.read_json)
  assert value == again == 7 and calls == [1]
  store.remove_outputs(d, ["*.npz", "v.json*"])
  assert sorted(p.name for p in d.iterdir()) == ["a.json", "c.npy",
                                                 "done.json"]


def test_a_file_where_the_url_folder_should_be_is_refused(ram):
  (ram).mkdir(parents=True)
  (ram / "f").write_text("x")
  with pytest.raises(NotADirectoryError, match="--out must be a folder"):
    io.check_output_dir(ram / "f", "--out")


@pytest.mark.slow
def test_reference_models_variants_and_audit_on_a_url_equal_local(
    tmp_path, ram):
  local_cfg = tiny_reference_config(tmp_path / "refs", num_models=2, epochs=1)
  data = prepare_data(local_cfg.data)
  url_cfg = local_cfg.replace(reference_dir=str(ram / "refs"))
  for cfg in (local_cfg, url_cfg):
    trained = references.train_references(cfg, data=data, progress=False)
    assert sorted(trained["trained"]) == sorted(references.job_names(2))
  again = references.train_references(url_cfg, data=data, progress=False)
  assert again["trained"] == []            # resumes from the URL's markers
  assert_same_weights(tmp_path / "refs", ram / "refs",
                      references.job_names(2))
  pruned = variants.PrunedVariant(
      pruner="l1_unstructured", sparsity=0.5,
      finetune=local_cfg.train.replace(epochs=1), seed=0)
  scores = {}
  for where in (tmp_path / "refs", ram / "refs"):
    refs = references.ReferenceSet.load(where)
    variants.make_variants(refs, data, [pruned], progress=False)
    cells = {"ann": audit.Cell(None, None, name="ann"),
             "pruned": audit.Cell(pruned, pruned, name="pruned")}
    scores[where] = audit.audit_cells(refs, data, cells, ("rmia",),
                                      progress=False)
  for key in ("ann", "pruned"):
    np.testing.assert_array_equal(
        scores[tmp_path / "refs"][key].get("rmia").scores,
        scores[ram / "refs"][key].get("rmia").scores)
