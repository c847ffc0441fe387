"""The store: why a unit is incomplete, caches keyed by the model's content,
and truncated caches recomputed."""

import shutil

import numpy as np
import pytest

from tfmia.infra import io, store


def _unit(tmp_path, data=b"x" * 100):
  f = tmp_path / "w.bin"
  f.write_bytes(data)
  marker = tmp_path / "done.json"
  store.mark_done(marker, "fp", [f])
  return f, marker


def test_unit_problem_says_why(tmp_path):
  f, marker = _unit(tmp_path)
  assert store.unit_problem(marker, "fp", [f]) is None
  assert store.unit_problem(marker, "other", [f]) == \
      "it was made with other settings"
  f.write_bytes(b"x" * 40)
  assert "truncated: 40 of 100 bytes" in store.unit_problem(marker, "fp", [f])
  f.write_bytes(b"y" * 100)
  assert "its content changed" in store.unit_problem(marker, "fp", [f])
  f.unlink()
  assert store.unit_problem(marker, "fp", [f]).endswith("is missing")
  marker.write_text("{garbage")
  assert "unreadable" in store.unit_problem(marker, "fp", [f])
  marker.write_text("[1, 2]")
  assert "not a tfmia done marker" in store.unit_problem(marker, "fp", [f])
  marker.unlink()
  assert store.unit_problem(marker, "fp", [f]).startswith("not finished")


def test_files_none_checks_what_the_marker_recorded(tmp_path):
  sub = tmp_path / "privacy"
  sub.mkdir()
  (sub / "a.json").write_text("{}")
  store.mark_done(tmp_path / "done.json", "fp", [sub / "a.json"])
  assert store.unit_problem(tmp_path / "done.json", "fp") is None
  (sub / "a.json").unlink()
  assert "privacy/a.json is missing" in store.unit_problem(
      tmp_path / "done.json", "fp")


def test_truncated_cache_is_recomputed(tmp_path):
  calls = []
  def compute():
    calls.append(1)
    return np.arange(1000.0)
  save = lambda v, p: io.atomic_save_npz(p, v=v)
  load = lambda p: io.load_npz(p)["v"]
  path = tmp_path / "c.npz"
  store.cached(path, "fp", compute, save=save, load=load)
  data = path.read_bytes()
  path.write_bytes(data[:len(data) // 2])
  out = store.cached(path, "fp", compute, save=save, load=load)
  assert len(calls) == 2 and np.array_equal(out, np.arange(1000.0))


def test_complete_cache_that_fails_to_load_names_the_file(tmp_path):
  path = tmp_path / "c.npz"
  path.write_bytes(b"not an npz")
  store.mark_done(store.file_marker(path), "fp", [path])
  with pytest.raises(ValueError, match="c.npz is not a readable npz"):
    store.cached(path, "fp", lambda: None, save=None,
                 load=lambda p: io.load_npz(p))


def test_claim_names_differences_and_overwrite_clears(tmp_path):
  store.claim(tmp_path, {"a": 1, "b": {"c": 2}}, outputs=("x", "*.png"))
  (tmp_path / "x").mkdir()
  (tmp_path / "f.png").write_text("")
  (tmp_path / "keep.txt").write_text("")
  store.claim(tmp_path, {"a": 1, "b": {"c": 2, "d": "ignored"}},
              outputs=("x",), ignore=("b.d",))
  with pytest.raises(ValueError, match=r"b.c: 2 -> 3; e: \(absent\) -> 4"):
    store.claim(tmp_path, {"a": 1, "b": {"c": 3}, "e": 4}, outputs=(),
                ignore=("b.d",))
  store.claim(tmp_path, {"a": 9}, outputs=("x", "*.png"), overwrite=True)
  assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json",
                                                       "keep.txt"]


@pytest.mark.slow
def test_signal_cache_follows_the_weights(tiny_reference, tmp_path):
  """A retrained model (other weights, same config) never reuses the
  signals cached for the old one."""
  from tfmia.audits import audit
  from tfmia import references
  from tfmia.signals import SignalConfig
  from tfmia.training import loop
  config, data = tiny_reference
  refs_dir = tmp_path / "refs"
  shutil.copytree(config.reference_dir, refs_dir)
  refs = references.ReferenceSet.load(refs_dir)
  before = audit.model_signals(refs, data, "ref_000", None, "population",
                               SignalConfig())
  # Retrain ref_000 in place, as if with a changed training recipe: give it
  # ref_001's weights and re-mark it done.
  shutil.copy(refs_dir / "ref_001" / loop.WEIGHTS_FILE,
              refs_dir / "ref_000" / loop.WEIGHTS_FILE)
  store.mark_done(refs_dir / "ref_000" / "done.json",
                  config.fingerprint(),
                  [refs_dir / "ref_000" / references.MEMBER_FILE,
                   refs_dir / "ref_000" / loop.WEIGHTS_FILE],
                  member_accuracy=0.0, nonmember_accuracy=0.0)
  refs = references.ReferenceSet.load(refs_dir)
  after = audit.model_signals(refs, data, "ref_000", None, "population",
                              SignalConfig())
  other = audit.model_signals(refs, data, "ref_001", None, "population",
                              SignalConfig())
  assert not np.array_equal(before.logits, after.logits)
  np.testing.assert_allclose(after.logits, other.logits, rtol=1e-6)
