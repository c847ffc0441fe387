"""One store for resumable work: fingerprints, done markers and cached files.

Long work (a reference model, a model variant, a study's model, a signals
computation) is a *unit*: some files written atomically (`tfmia.infra.io`), then a
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

from tfmia.infra import fs, io

logger = logging.getLogger(__name__)

# The file names of tfmia's folders, spelled once.
DONE_FILE = "done.json"            # a unit's marker: fingerprint + file hashes
CONFIG_FILE = "config.json"        # the settings that made a folder
HISTORY_FILE = "history.json"      # a training run's per-epoch history
WEIGHTS_FILE = "model.weights.h5"  # a trained Keras model's weights
MEMBERSHIP_FILE = "membership.npz" # a reference folder's membership masks
PathLike = Union[str, os.PathLike]
T = TypeVar("T")


def fingerprint(obj: Any) -> str:
  """SHA-256 of `obj` as canonical JSON (dataclasses, tuples, numpy scalars
  allowed, via `io.to_jsonable`)."""
  text = json.dumps(io.to_jsonable(obj), sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()


def sha256_file(path: PathLike) -> str:
  h = hashlib.sha256()
  with fs.path(path).open("rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def file_marker(path: PathLike) -> Path:
  """The done marker of a single-file unit: `file.done.json`."""
  return fs.path(f"{path}.{DONE_FILE}")


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


def _key(marker: Path, f: Path) -> str:
  """How a marker names a file: its path relative to the marker's folder
  (just the name for files beside it)."""
  try:
    return f.relative_to(marker.parent).as_posix()
  except ValueError:
    return f.name


def unit_problem(marker: PathLike, fingerprint_: str,
                 files: Optional[Sequence[PathLike]] = None) -> Optional[str]:
  """Why the unit of `marker` is not complete, or None when it is.

  `files` are the unit's files; None checks every file the marker recorded
  (for units whose file list is only known once they are done).

  The reasons, for the user: not finished (no marker), an unreadable
  marker, other settings, a missing file, or a file that changed since it
  was written (truncated, when it is shorter than recorded).
  """
  marker = fs.path(marker)
  if not marker.exists():
    return "not finished (no done marker)"
  try:
    record = io.read_json(marker)
  except (OSError, ValueError) as e:
    return f"its done marker {marker} is unreadable ({e})"
  if not isinstance(record, dict) or not isinstance(record.get("sha256"),
                                                     dict):
    return f"its done marker {marker} is not a tfmia done marker"
  if record.get("fingerprint") != fingerprint_:
    return "it was made with other settings"
  hashes, sizes = record["sha256"], record.get("bytes", {})
  if files is None:
    files = [marker.parent / k for k in hashes]
  for f in map(fs.path, files):
    key = _key(marker, f)
    if not f.is_file():
      return f"{f} is missing"
    if hashes.get(key) != sha256_file(f):
      size, want = f.stat().st_size, sizes.get(key)
      how = (f"truncated: {size} of {want} bytes" if want and size < want
             else "its content changed")
      return f"{f} differs from when it was written ({how})"
  return None


def is_done(marker: PathLike, fingerprint_: str,
            files: Optional[Sequence[PathLike]] = None) -> bool:
  """True when `marker` records `fingerprint_` and every one of `files`
  still has the hash it recorded. A unit found corrupted (not merely
  unfinished) is logged with the reason."""
  problem = unit_problem(marker, fingerprint_, files)
  if problem is not None and fs.path(marker).exists():
    logger.warning("Redoing the unit of %s: %s.", marker, problem)
  return problem is None


def mark_done(marker: PathLike, fingerprint_: str, files: Sequence[PathLike],
              **info: Any) -> dict:
  """Writes the marker last, atomically: the unit is complete."""
  marker = fs.path(marker)
  files = [fs.path(f) for f in files]
  record = {"fingerprint": fingerprint_,
            "sha256": {_key(marker, f): sha256_file(f) for f in files},
            "bytes": {_key(marker, f): f.stat().st_size for f in files},
            **info}
  io.atomic_write_json(marker, record)
  return record


def clear(marker: PathLike) -> None:
  """Removes the marker before a unit is (re)done, so a crash mid-way leaves
  it incomplete."""
  fs.path(marker).unlink(missing_ok=True)


def check_fingerprint(marker: PathLike, fingerprint_: str, what: str) -> None:
  """Raises when `marker` records a different fingerprint: the unit at that
  place was made from other settings or another source model."""
  record = read_done(marker)
  if record is not None and record.get("fingerprint") != fingerprint_:
    raise ValueError(
        f"{what} at {fs.path(marker).parent} was made with different settings "
        "or from a different source model (its fingerprint differs). Delete "
        "that folder to rebuild it, or use another output folder.")


def unit(marker: PathLike, fingerprint_: str, files: Sequence[PathLike],
         compute: Callable[[], T], *, load: Callable[[], T],
         info: Union[dict, Callable[[T], dict], None] = None) -> T:
  """The store's one unit of resumable work.

  When `marker` records `fingerprint_` and every one of `files` is intact,
  returns `load()`. Otherwise the marker is removed, `compute()` runs and
  writes `files` (each atomically), and the marker is written last, with
  `info` (a dict, or a function of compute's value giving one). A crash at
  any point leaves the unit incomplete, so a rerun redoes it.

  Errors are never swallowed: a unit complete by its marker that fails to
  load raises; one incomplete or corrupted is recomputed.
  """
  if is_done(marker, fingerprint_, files):
    return load()
  clear(marker)
  value = compute()
  extra = info(value) if callable(info) else (info or {})
  mark_done(marker, fingerprint_, files, **extra)
  return value


def cached(path: PathLike, fingerprint_: str, compute: Callable[[], T], *,
           save: Callable[[T, Path], None], load: Callable[[Path], T],
           **info: Any) -> T:
  """The single-file unit at `path` (`unit`): loaded when complete, else
  computed and saved atomically by `save`."""
  path = fs.path(path)

  def make():
    value = compute()
    save(value, path)
    return value

  return unit(file_marker(path), fingerprint_, [path], make,
              load=lambda: load(path), info=info)


# ---------------------------------------------------------------------------
# Run folders: one folder holds one run



def differences(old: Any, new: Any, prefix: str = "") -> list[str]:
  """Where two JSON-like configs differ, as 'train.epochs: 3 -> 5'."""
  if isinstance(old, dict) and isinstance(new, dict):
    out = []
    for k in sorted(set(old) | set(new), key=str):
      key = f"{prefix}.{k}" if prefix else str(k)
      if k not in old:
        out.append(f"{key}: (absent) -> {new[k]!r}")
      elif k not in new:
        out.append(f"{key}: {old[k]!r} -> (absent)")
      else:
        out += differences(old[k], new[k], key)
    return out
  return [] if old == new else [f"{prefix or 'config'}: {old!r} -> {new!r}"]


def _drop(record: Any, ignore: Sequence[str]) -> Any:
  record = json.loads(json.dumps(io.to_jsonable(record)))
  for dotted in ignore:
    *parents, last = dotted.split(".")
    node = record
    for p in parents:
      node = node.get(p, {}) if isinstance(node, dict) else {}
    if isinstance(node, dict):
      node.pop(last, None)
  return record


def comparable(record: Any, ignore: Sequence[str] = ()) -> Any:
  """A run's config record as JSON values, keys in `ignore` aside: what its
  fingerprint hashes, kept in its done marker to say later what changed."""
  return _drop(record, ignore)


def record_fingerprint(record: Any, ignore: Sequence[str] = ()) -> str:
  """The fingerprint of a run's config record, keys in `ignore` aside."""
  return fingerprint(_drop(record, ignore))


def remove_outputs(directory: PathLike, outputs: Sequence[str]) -> None:
  """Deletes the named files and folders of `directory` (a run's outputs;
  names may be glob patterns, e.g. "*.png")."""
  directory = fs.path(directory)
  for pattern in outputs:
    for p in directory.glob(pattern):
      if p.is_dir() and not p.is_symlink():
        fs.rmtree(p)
      else:
        p.unlink()


def claim(directory: PathLike, record: Any, *, outputs: Sequence[str],
          overwrite: bool = False, ignore: Sequence[str] = (),
          what: str = "run") -> Path:
  """Makes `directory` the folder of the run that `record` describes.

  A folder holds one run. Its config file is the record it was made with:

  - no config yet: the record is written (call this only once the settings
    are known to be valid, so a bad setting leaves no folder behind);
  - the same record (keys in `ignore`, e.g. a data directory, aside): the
    run resumes;
  - a different record: refused, naming what differs, unless `overwrite`;
  - `overwrite`: every output of the old run (`outputs`, names relative to
    the folder) is deleted first, then the record is written.

  Returns:
    The config file's path.
  """
  directory = fs.path(directory)
  path = directory / CONFIG_FILE
  new = io.to_jsonable(record)
  if path.exists() and not overwrite:
    try:
      old = io.read_json(path)
    except ValueError as e:
      raise ValueError(f"{e}. Pass --overwrite (overwrite=True) to replace "
                       f"the {what} in {directory}.") from None
    diff = differences(_drop(old, ignore), _drop(new, ignore))
    if diff:
      shown = "; ".join(diff[:6]) + (f"; and {len(diff) - 6} more"
                                      if len(diff) > 6 else "")
      raise ValueError(
          f"{directory} holds a different {what} ({shown}). Pass "
          "--overwrite (overwrite=True) to replace it, which deletes its "
          "outputs, or choose another output folder.")
  if overwrite:
    remove_outputs(directory, [CONFIG_FILE, *outputs])
  directory.mkdir(parents=True, exist_ok=True)
  io.atomic_write_json(path, new)
  return path
