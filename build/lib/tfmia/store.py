"""One store for resumable work: fingerprints, done markers and cached files.

Long work (a reference model, a model variant, a study's model, a signals
computation) is a *unit*: some files written atomically (`tfmia.io`), then a
done marker written last. The marker records the unit's fingerprint (a hash
of everything that changes its result) and the SHA-256 of each file, so a
rerun

- skips a unit that is complete, with the same fingerprint and intact files;
- redoes a unit that was interrupted (no marker) or whose files were
  corrupted or half-copied (a hash differs);
- refuses, by name, a unit made under a different fingerprint, rather than
  mixing results (`check_fingerprint`).

A unit in a folder keeps its marker at `folder/done.json`; a single cached
file keeps it beside itself, at `file.done.json`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, TypeVar, Union

from tfmia import io

logger = logging.getLogger(__name__)

DONE_FILE = "done.json"
PathLike = Union[str, os.PathLike]
T = TypeVar("T")


def fingerprint(obj: Any) -> str:
  """SHA-256 of `obj` as canonical JSON (dataclasses, tuples, numpy scalars
  allowed, via `io.to_jsonable`)."""
  text = json.dumps(io.to_jsonable(obj), sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()


def sha256_file(path: PathLike) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def file_marker(path: PathLike) -> Path:
  """The done marker of a single-file unit: `file.done.json`."""
  return Path(f"{path}.{DONE_FILE}")


def read_done(marker: PathLike) -> Optional[dict]:
  """The marker's record, or None when there is none or it is unreadable
  (a half-written marker cannot exist: markers are written atomically, so an
  unreadable one was damaged and the unit is redone)."""
  try:
    record = io.read_json(marker)
  except FileNotFoundError:
    return None
  except (OSError, ValueError) as e:
    logger.warning("Ignoring unreadable done marker %s (%s); the unit is "
                   "redone.", marker, e)
    return None
  return record if isinstance(record, dict) else None


def is_done(marker: PathLike, fingerprint_: str,
            files: Sequence[PathLike]) -> bool:
  """True when `marker` records `fingerprint_` and every one of `files`
  still has the hash it recorded."""
  record = read_done(marker)
  if record is None or record.get("fingerprint") != fingerprint_:
    return False
  hashes = record.get("sha256", {})
  for f in files:
    f = Path(f)
    if not f.is_file() or hashes.get(f.name) != sha256_file(f):
      logger.warning("%s is missing or differs from when it was written; "
                     "redoing its unit.", f)
      return False
  return True


def mark_done(marker: PathLike, fingerprint_: str, files: Sequence[PathLike],
              **info: Any) -> dict:
  """Writes the marker last, atomically: the unit is complete."""
  record = {"fingerprint": fingerprint_,
            "sha256": {Path(f).name: sha256_file(f) for f in files}, **info}
  io.atomic_write_json(marker, record)
  return record


def clear(marker: PathLike) -> None:
  """Removes the marker before a unit is (re)done, so a crash mid-way leaves
  it incomplete."""
  Path(marker).unlink(missing_ok=True)


def check_fingerprint(marker: PathLike, fingerprint_: str, what: str) -> None:
  """Raises when `marker` records a different fingerprint: the unit at that
  place was made from other settings or another source model."""
  record = read_done(marker)
  if record is not None and record.get("fingerprint") != fingerprint_:
    raise ValueError(
        f"{what} at {Path(marker).parent} was made with different settings "
        "or from a different source model (its fingerprint differs). Delete "
        "that folder to rebuild it, or use another output folder.")


def cached(path: PathLike, fingerprint_: str, compute: Callable[[], T], *,
           save: Callable[[T, Path], None], load: Callable[[Path], T],
           **info: Any) -> T:
  """The single-file unit at `path`: loaded when complete, else computed,
  saved (atomically, by `save`) and marked done.

  Errors are never swallowed: a file that is complete by its marker and
  fails to load raises; a file that is incomplete or corrupted is recomputed.
  """
  path = Path(path)
  marker = file_marker(path)
  if is_done(marker, fingerprint_, [path]):
    return load(path)
  clear(marker)
  value = compute()
  save(value, path)
  mark_done(marker, fingerprint_, [path], **info)
  return value
