"""The store: fingerprints, done markers, cached files."""

import numpy as np
import pytest

from tfmia.infra import store


def test_fingerprint_is_canonical():
  assert store.fingerprint({"a": 1, "b": (2, 3)}) == store.fingerprint(
      {"b": [2, 3], "a": 1})
  assert store.fingerprint({"a": 1}) != store.fingerprint({"a": 2})


def test_unit_lifecycle(tmp_path):
  f = tmp_path / "w.bin"
  f.write_bytes(b"abc")
  marker = tmp_path / store.DONE_FILE
  assert not store.is_done(marker, "fp", [f])            # never finished
  rec = store.mark_done(marker, "fp", [f], note=1)
  assert rec["sha256"]["w.bin"] == (
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
  assert store.is_done(marker, "fp", [f])
  assert not store.is_done(marker, "other", [f])         # other settings
  f.write_bytes(b"abd")                                  # corrupted
  assert not store.is_done(marker, "fp", [f])
  store.check_fingerprint(marker, "fp", "unit")
  with pytest.raises(ValueError, match="different settings"):
    store.check_fingerprint(marker, "nope", "unit")
  marker.write_text("{not json")                         # damaged marker
  assert not store.is_done(marker, "fp", [f])
  store.clear(marker)
  assert not marker.exists()


def test_cached_computes_once_and_redoes_corrupted(tmp_path):
  calls = []

  def compute():
    calls.append(1)
    return np.arange(3.0)

  kw = dict(save=lambda a, p: np.save(p, a), load=np.load)
  path = tmp_path / "a.npy"
  np.testing.assert_array_equal(store.cached(path, "k", compute, **kw),
                                [0, 1, 2])
  store.cached(path, "k", compute, **kw)
  assert len(calls) == 1
  path.write_bytes(b"garbage")                           # corrupted: redone
  np.testing.assert_array_equal(store.cached(path, "k", compute, **kw),
                                [0, 1, 2])
  assert len(calls) == 2
  store.cached(path, "k2", compute, **kw)                # new key: redone
  assert len(calls) == 3


def test_cached_never_swallows_a_load_error(tmp_path):
  path = tmp_path / "a.npy"

  def bad_load(p):
    raise OSError("disk on fire")

  store.cached(path, "k", lambda: np.zeros(2),
               save=lambda a, p: np.save(p, a), load=np.load)
  with pytest.raises(OSError, match="disk on fire"):
    store.cached(path, "k", lambda: np.zeros(2),
                 save=lambda a, p: np.save(p, a), load=bad_load)
