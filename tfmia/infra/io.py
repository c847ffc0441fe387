"""Files: atomic writes, checked reads, and output folders.

Writes go to a temporary file beside the target, then are renamed, so an
interrupted run never leaves a half-written file under the final name. The
temporary file is removed on any failure, a full disk included, and written
files get the permissions the umask gives (not `mkstemp`'s 0600), so a
folder shared on a cluster stays readable to the group.

Reads (`read_json`, `load_npz`, `load_npy`) raise a `ValueError` that names
the file when it is truncated or not what it should be, instead of a bare
`JSONDecodeError` or `BadZipFile`.

Every path may also be a URL that TensorFlow's file systems serve (`gs://`,
`ram://`, ...; `tfmia.infra.fs`): the file is then written locally, copied beside
the target through `tf.io.gfile` and renamed, and reads go through gfile.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import errno
import io as _io
import json
import os
import shutil
import tempfile
import typing
import uuid
import zipfile
from pathlib import Path
from typing import Any, Iterator, Union

import numpy as np

from tfmia.infra import fs

PathLike = Union[str, os.PathLike]
_NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


class NoSpaceError(OSError):
  """The disk (or quota) filled up while writing a file."""


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str = "") -> Iterator[Path]:
  """Yields a temporary local path; on success its file becomes `path`.

  For a local `path` the temporary file is beside it and is renamed. For a
  URL (`tfmia.infra.fs`) it is in the local temporary folder, then copied beside
  `path` through `tf.io.gfile` and renamed there. The temporary files are
  removed whatever happens. A full disk raises `NoSpaceError` naming `path`.

  Args:
    path: the final file name.
    suffix: suffix of the temporary name, for writers that check extensions
      (e.g. Keras wants ".h5" or ".keras").
  """
  if fs.is_url(path):
    with _atomic_url(fs.path(path), suffix) as tmp:
      yield tmp
    return
  path = Path(path)
  tmp = None
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                               suffix=suffix or ".tmp")
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o666 & ~_umask())
    yield tmp
    os.replace(tmp, path)
  except OSError as e:
    if e.errno in _NO_SPACE and not isinstance(e, NoSpaceError):
      raise NoSpaceError(
          e.errno, "No space left on the device while writing "
          f"{path}; its partial file was removed. Free some space and run "
          "again: finished work is kept", os.fspath(path)) from e
    if tmp is not None and e.filename in (os.fspath(tmp), tmp):
      # Name the file the user asked for, not our temporary one.
      raise type(e)(e.errno, f"{e.strerror} (while writing)",
                    os.fspath(path)) from e
    raise
  finally:
    if tmp is not None and tmp.exists():
      tmp.unlink()


@contextlib.contextmanager
def _atomic_url(path: "fs.GPath", suffix: str) -> Iterator[Path]:
  fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp")
  os.close(fd)
  tmp, remote = Path(tmp), None
  try:
    yield tmp
    path.parent.mkdir(parents=True, exist_ok=True)
    remote = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    fs.copy(tmp, remote)
    remote.rename(path)
    remote = None
  finally:
    tmp.unlink(missing_ok=True)
    if remote is not None:
      remote.unlink(missing_ok=True)


@contextlib.contextmanager
def local_file(path: PathLike) -> Iterator[Path]:
  """`path` itself when local; for a URL, a local copy (removed after), for
  readers that need a real file (Keras, h5py)."""
  if not fs.is_url(path):
    yield Path(path)
    return
  path = fs.path(path)
  if not path.is_file():
    raise FileNotFoundError(errno.ENOENT, "No such file", os.fspath(path))
  # The whole name as the suffix: Keras reads ".weights.h5" and ".h5" apart.
  fd, tmp = tempfile.mkstemp(prefix=".tfmia-", suffix=f".{path.name}")
  os.close(fd)
  try:
    fs.copy(path, tmp)
    yield Path(tmp)
  finally:
    Path(tmp).unlink(missing_ok=True)


# Field metadata for a setting added to a config after folders were written
# with it: at its default it is left out of the JSON (and so of records and
# fingerprints), so those folders stay valid. Use it only when the default
# reproduces the behaviour from before the field existed.
ADDED_LATER = {"added_later": True}


def to_jsonable(obj: Any) -> Any:
  """Converts dataclasses, enums, tuples, paths and numpy scalars for JSON.
  Dataclass fields marked `ADDED_LATER` are left out at their default."""
  if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
    return {f.name: to_jsonable(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not (f.metadata.get("added_later")
                    and getattr(obj, f.name) == f.default)}
  if isinstance(obj, enum.Enum):
    return obj.value
  if isinstance(obj, dict):
    return {str(k): to_jsonable(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [to_jsonable(v) for v in obj]
  if isinstance(obj, os.PathLike):
    return os.fspath(obj)
  if isinstance(obj, np.generic):
    return obj.item()
  if isinstance(obj, np.ndarray):
    return obj.tolist()
  return obj


def from_dict(cls, value: Any, name: str, *, where: str = ""):
  """The dataclass `cls` from its JSON form (`to_jsonable`'s inverse).

  Nested dataclass fields (also `Optional` ones) are built the same way,
  and JSON arrays become tuples where the field is a tuple, so a config
  read back equals the one saved. A value that is not an object, or has
  unknown keys, is refused with an error naming `name` (and the file,
  `where`)."""
  if isinstance(value, cls):
    return value
  at = f" in {where}" if where else ""
  if not isinstance(value, dict):
    raise ValueError(f"`{name}`{at} must be a JSON object. "
                     f"Received: {value!r}")
  known = {f.name for f in dataclasses.fields(cls)}
  unknown = sorted(set(value) - known)
  if unknown:
    raise ValueError(f"Unknown `{name}` keys {unknown}{at}. "
                     f"Known: {sorted(known)}")
  try:
    hints = typing.get_type_hints(cls)
  except (NameError, TypeError):   # an annotation that cannot be resolved
    hints = {}
  return cls(**{k: _from_json(hints.get(k), v, k, where)
                for k, v in value.items()})


def _from_json(tp, value: Any, name: str, where: str) -> Any:
  """`value` read from JSON, as the annotation `tp` wants it."""
  if tp is None or value is None:
    return value
  origin, args = typing.get_origin(tp), typing.get_args(tp)
  if origin is Union:
    inner = [a for a in args if a is not type(None)]
    return _from_json(inner[0], value, name, where) if len(inner) == 1 \
        else value
  if dataclasses.is_dataclass(tp) and isinstance(value, dict):
    return from_dict(tp, value, name, where=where)
  if (tp is tuple or origin is tuple) and isinstance(value, list):
    if len(args) == 2 and args[1] is Ellipsis:
      return tuple(_from_json(args[0], v, name, where) for v in value)
    if args and len(args) == len(value):
      return tuple(_from_json(a, v, name, where) for a, v in zip(args, value))
    return tuple(value)
  _check_scalar(tp, value, name, where)
  return value


def _check_scalar(tp, value: Any, name: str, where: str) -> None:
  """A JSON scalar of the wrong kind for an int, float, bool or str field
  is refused naming the field (and the file): `"seed": "x"` must not reach
  NumPy as a seed string."""
  if tp not in (int, float, bool, str):
    return
  ok = {int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float))
        and not isinstance(v, bool),
        bool: lambda v: isinstance(v, bool),
        str: lambda v: isinstance(v, str)}[tp](value)
  if not ok:
    at = f" in {where}" if where else ""
    raise ValueError(f"`{name}`{at} must be {_KIND[tp]}. Received: "
                     f"{name}={value!r}")


_KIND = {int: "an integer", float: "a number", bool: "true or false",
         str: "a string"}


def atomic_write_json(path: PathLike, obj: Any) -> None:
  with atomic_path(path) as tmp:
    tmp.write_text(json.dumps(to_jsonable(obj), indent=2, allow_nan=True))


def atomic_write_csv(df, path: PathLike, **kwargs) -> None:
  """Writes a pandas DataFrame as CSV (`df.to_csv(**kwargs)`), atomically."""
  with atomic_path(path, suffix=".csv") as tmp:
    df.to_csv(tmp, **kwargs)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
  with atomic_path(path) as tmp:
    with open(tmp, "wb") as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())


def read_json(path: PathLike) -> Any:
  """The JSON in `path`; a `ValueError` naming the file when it is not JSON
  (truncated, garbage, or not text)."""
  path = fs.path(path)
  try:
    return json.loads(path.read_text())
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise ValueError(f"{path} is not valid JSON (truncated or corrupted?): "
                     f"{e}") from None


CONFIG_SUFFIXES = (".json", ".yaml", ".yml")


def read_config(path: PathLike) -> dict:
  """A config file's mapping: JSON, or YAML (.yaml / .yml); a ValueError
  naming the file when it is neither, or not a mapping."""
  path = fs.path(path)
  if not path.is_file():
    raise FileNotFoundError(f"Config file not found: {path}")
  if path.suffix.lower() in (".yaml", ".yml"):
    import yaml  # pylint: disable=g-import-not-at-top
    try:
      out = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
      raise ValueError(f"{path} is not valid YAML: "
                       f"{' '.join(str(e).split())}") from None
  else:   # .json, or any other name: JSON
    out = read_json(path)
  if not isinstance(out, dict):
    raise ValueError(f"{path} must hold a mapping of settings. Received: "
                     f"{type(out).__name__}")
  return out


def atomic_save_npz(path: PathLike, **arrays: np.ndarray) -> None:
  with atomic_path(path, suffix=".npz") as tmp:
    np.savez_compressed(tmp, **arrays)


def _readable(path):
  """What `np.load` reads: the local path, or a URL's bytes in memory."""
  return _io.BytesIO(path.read_bytes()) if fs.is_url(path) else path


def load_npz(path: PathLike) -> dict:
  """Every array of the npz at `path`, read eagerly; a `ValueError` naming
  the file when it is truncated or not an npz."""
  path = fs.path(path)
  if not path.is_file():
    raise FileNotFoundError(errno.ENOENT, "No such npz file", os.fspath(path))
  try:
    f = np.load(_readable(path), allow_pickle=False)
    if not isinstance(f, np.lib.npyio.NpzFile):
      raise ValueError("it holds a single .npy array")
    with f:
      return {k: f[k] for k in f.files}
  except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as e:
    raise ValueError(f"{path} is not a readable npz file (truncated or "
                     f"corrupted?): {e}") from None


def load_npy(path: PathLike) -> np.ndarray:
  """The array in the .npy at `path`; a `ValueError` naming the file when it
  is truncated or not an .npy."""
  path = fs.path(path)
  try:
    if fs.is_url(path) and not path.is_file():
      raise FileNotFoundError(errno.ENOENT, "No such file", os.fspath(path))
    return np.load(_readable(path), allow_pickle=False)
  except FileNotFoundError:
    raise
  except (EOFError, ValueError, OSError) as e:
    raise ValueError(f"{path} is not a readable .npy file (truncated or "
                     f"corrupted?): {e}") from None


# Folders `check_output_dir` created in this process, outermost first, so
# that a command refused before it wrote anything can take them away again
# (`remove_created_if_empty`).
_CREATED: list = []


def check_output_dir(directory: PathLike, what: str = "output folder") -> Path:
  """Creates `directory` if needed and checks that files can be written in
  it, before any work starts. The folders it creates are remembered, so
  that a command refused afterwards leaves none behind empty
  (`remove_created_if_empty`).

  Raises:
    NotADirectoryError: `directory` (or a parent) is a file.
    PermissionError: the folder cannot be written (read-only, no rights).
  """
  directory = fs.path(directory)
  if fs.is_url(directory):
    return _check_url_dir(directory, what)
  first_new = None
  for p in [directory, *directory.parents]:
    if p.exists():
      if not p.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, f"{what} must be a folder, but this is a file",
            os.fspath(p))
      break
    first_new = p
  try:
    directory.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=directory, prefix=".tfmia-write-check.")
    os.close(fd)
    os.unlink(probe)
  except OSError as e:
    raise type(e)(e.errno, f"{what} is not writable ({e.strerror})",
                  os.fspath(directory)) from None
  if first_new is not None:
    _CREATED.append(first_new)
  return directory


def forget_created() -> None:
  """Starts a new command: the folders created so far are its caller's."""
  _CREATED.clear()


def remove_created_if_empty() -> None:
  """Removes the folders `check_output_dir` created in this process that
  are still empty (of files: empty subfolders go too). A command calls it
  when it is refused, so a refused run leaves no empty folder behind."""
  while _CREATED:
    top = _CREATED.pop()
    try:
      if not top.is_dir() or any(p.is_file() for p in top.rglob("*")):
        continue
      shutil.rmtree(top)
    except OSError:
      pass


def _check_url_dir(directory: "fs.GPath", what: str) -> "fs.GPath":
  if directory.exists() and not directory.is_dir():
    raise NotADirectoryError(
        errno.ENOTDIR, f"{what} must be a folder, but this is a file",
        os.fspath(directory))
  probe = directory / f".tfmia-write-check.{uuid.uuid4().hex}"
  try:
    directory.mkdir(parents=True, exist_ok=True)
    probe.write_bytes(b"")
    probe.unlink()
  except Exception as e:  # gfile raises tf.errors, not OSError
    raise PermissionError(errno.EACCES, f"{what} is not writable ({e})",
                          os.fspath(directory)) from None
  return directory


def describe_error(e: BaseException) -> str:
  """One line for an expected failure: the message, and the file for
  `OSError`s (which put it apart, in `filename`)."""
  if isinstance(e, OSError) and e.strerror:
    return e.strerror + (f": {e.filename}" if e.filename else "")
  text = str(e).strip()
  if type(e).__module__.startswith("tensorflow") and text:
    text = text.splitlines()[0]      # TensorFlow appends its own context
  return text or type(e).__name__
