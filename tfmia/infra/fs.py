"""Paths that are local folders or URLs that TensorFlow's file systems serve.

`path(p)` gives a `pathlib.Path` for a local path and a `GPath` for a URL
(`gs://`, `s3://`, `hdfs://`, or TensorFlow's in-memory `ram://`). A
`GPath` has the part of `pathlib.Path`'s interface that tfmia uses (joining,
`parent`, `name`, `exists`, `open`, `glob`, `mkdir`, `unlink`, `rename`,
`stat().st_size`, ...), and does all its I/O through `tf.io.gfile`. So code
written against `pathlib` runs unchanged on a bucket, where TensorFlow
supports it.

`pathlib` cannot hold a URL: `Path("gs://b/x")` is `gs:/b/x`. Convert with
`path()` wherever a user's string becomes a path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import posixpath
import shutil
import types
from typing import Iterator, Union

PathLike = Union[str, os.PathLike]


def is_url(p: PathLike) -> bool:
  """True for 'scheme://...' (a `GPath`, or a string naming one)."""
  return isinstance(p, GPath) or "://" in os.fspath(p)


def path(p: PathLike) -> Union[pathlib.Path, "GPath"]:
  """A `GPath` for a URL, else a `pathlib.Path`."""
  if isinstance(p, (GPath, pathlib.Path)):
    return p
  s = os.fspath(p)
  return GPath(s) if "://" in s else pathlib.Path(s)


def _gfile():
  import tensorflow as tf
  return tf.io.gfile


@contextlib.contextmanager
def _os_errors(url: str):
  """TensorFlow's file-system errors on `url` as the `OSError` pathlib would
  raise, naming the path: an unknown scheme, an unreachable bucket or a
  refused permission is then one line to the user, like a local error."""
  import tensorflow as tf
  try:
    yield
  except tf.errors.OpError as e:
    first = (e.message or str(e)).strip().splitlines()[0] if (
        e.message or str(e)).strip() else type(e).__name__
    if isinstance(e, tf.errors.NotFoundError):
      raise FileNotFoundError(errno.ENOENT, first, url) from None
    if isinstance(e, tf.errors.PermissionDeniedError):
      raise PermissionError(errno.EACCES, first, url) from None
    if isinstance(e, tf.errors.UnimplementedError):
      raise OSError(errno.EPROTONOSUPPORT,
                    f"TensorFlow has no file system for this scheme "
                    f"({first})", url) from None
    raise OSError(errno.EIO, f"cannot reach it ({first})", url) from None


class GPath(os.PathLike):
  """A URL path whose I/O goes through `tf.io.gfile`. Immutable, like
  `pathlib.PurePosixPath`, with the scheme kept apart."""

  __slots__ = ("_scheme", "_rest")

  def __init__(self, url: PathLike):
    url = os.fspath(url)
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
      raise ValueError(f"A GPath needs 'scheme://...'. Received: {url!r}")
    self._scheme = scheme
    self._rest = posixpath.normpath(rest) if rest else ""
    if self._rest == ".":
      self._rest = ""

  # --- pure path --------------------------------------------------------
  def __fspath__(self) -> str:
    return f"{self._scheme}://{self._rest}"

  __str__ = __fspath__

  def __repr__(self) -> str:
    return f"GPath({str(self)!r})"

  def __eq__(self, other) -> bool:
    return isinstance(other, GPath) and str(self) == str(other)

  def __hash__(self) -> int:
    return hash(str(self))

  def __lt__(self, other: "GPath") -> bool:
    return str(self) < str(other)

  def __truediv__(self, other: PathLike) -> "GPath":
    other = os.fspath(other)
    if "://" in other or other.startswith("/"):
      raise ValueError(f"Cannot join {other!r} to {self}")
    return GPath(f"{self._scheme}://{posixpath.join(self._rest, other)}")

  @property
  def name(self) -> str:
    return posixpath.basename(self._rest)

  @property
  def suffix(self) -> str:
    return pathlib.PurePosixPath(self.name or "x").suffix

  @property
  def parent(self) -> "GPath":
    return GPath(f"{self._scheme}://{posixpath.dirname(self._rest)}")

  @property
  def parents(self) -> tuple:
    out, p = [], self
    while p._rest:
      p = p.parent
      out.append(p)
    return tuple(out)

  def with_suffix(self, suffix: str) -> "GPath":
    stem = self.name[: len(self.name) - len(self.suffix)] if self.suffix \
        else self.name
    return self.parent / (stem + suffix)

  def relative_to(self, other: PathLike) -> pathlib.PurePosixPath:
    other = path(other)
    if not isinstance(other, GPath) or other._scheme != self._scheme:
      raise ValueError(f"{self} is not under {other}")
    return pathlib.PurePosixPath(self._rest).relative_to(other._rest or ".") \
        if other._rest else pathlib.PurePosixPath(self._rest)

  def as_posix(self) -> str:
    return str(self)

  def resolve(self) -> "GPath":
    return self

  # --- I/O through tf.io.gfile ------------------------------------------
  def exists(self) -> bool:
    with _os_errors(str(self)):
      return _gfile().exists(str(self))

  def is_dir(self) -> bool:
    with _os_errors(str(self)):
      return _gfile().isdir(str(self))

  def is_file(self) -> bool:
    return self.exists() and not self.is_dir()

  def is_symlink(self) -> bool:
    return False

  def mkdir(self, mode: int = 0o777, parents: bool = False,
            exist_ok: bool = False) -> None:
    del mode
    if self.exists():
      if exist_ok and self.is_dir():
        return
      raise FileExistsError(errno.EEXIST, "File exists", str(self))
    if not parents and self._rest and not self.parent.is_dir():
      raise FileNotFoundError(errno.ENOENT, "No such folder",
                              str(self.parent))
    with _os_errors(str(self)):
      _gfile().makedirs(str(self))

  def open(self, mode: str = "r", **kwargs):
    del kwargs   # encoding: gfile reads and writes UTF-8 text
    if "r" in mode and not self.is_file():
      raise FileNotFoundError(errno.ENOENT, "No such file", str(self))
    return _gfile().GFile(str(self), mode)

  def read_bytes(self) -> bytes:
    with _os_errors(str(self)), self.open("rb") as f:
      return f.read()

  def read_text(self, encoding: str = "utf-8") -> str:
    return self.read_bytes().decode(encoding)

  def write_bytes(self, data: bytes) -> int:
    with _os_errors(str(self)), self.open("wb") as f:
      f.write(data)
    return len(data)

  def write_text(self, text: str, encoding: str = "utf-8") -> int:
    return self.write_bytes(text.encode(encoding))

  def unlink(self, missing_ok: bool = False) -> None:
    if not self.exists():
      if missing_ok:
        return
      raise FileNotFoundError(errno.ENOENT, "No such file", str(self))
    with _os_errors(str(self)):
      _gfile().remove(str(self))

  def rename(self, target: PathLike) -> "GPath":
    target = path(target)
    with _os_errors(str(self)):
      _gfile().rename(str(self), str(target), overwrite=True)
    return target

  replace = rename

  def iterdir(self) -> Iterator["GPath"]:
    with _os_errors(str(self)):
      names = sorted(_gfile().listdir(str(self)))
    for name in names:
      yield self / name.rstrip("/")

  def glob(self, pattern: str) -> Iterator["GPath"]:
    with _os_errors(str(self)):
      found = sorted(_gfile().glob(str(self / pattern)))
    for p in found:
      yield GPath(p)

  def stat(self):
    try:
      s = _gfile().stat(str(self))
    except Exception as e:   # tf.errors.NotFoundError
      raise FileNotFoundError(errno.ENOENT, str(e), str(self)) from None
    return types.SimpleNamespace(st_size=s.length,
                                 st_mtime=s.mtime_nsec / 1e9)

  def rmtree(self) -> None:
    _gfile().rmtree(str(self))


def rmtree(p: PathLike) -> None:
  """Removes a folder and everything in it, local or not."""
  p = path(p)
  if isinstance(p, GPath):
    p.rmtree()
  else:
    shutil.rmtree(p)


def copy(src: PathLike, dst: PathLike) -> None:
  """Copies a file, overwriting `dst`, between any two places gfile knows
  (a local file included)."""
  _gfile().copy(os.fspath(src), os.fspath(dst), overwrite=True)
