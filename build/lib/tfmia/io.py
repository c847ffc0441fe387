"""Atomic file writing: write to a temporary file beside the target, then rename.

An interrupted run never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Union

import numpy as np

PathLike = Union[str, os.PathLike]


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str = "") -> Iterator[Path]:
  """Yields a temporary path beside `path`; renames it to `path` on success.

  Args:
    path: the final file name.
    suffix: suffix of the temporary name, for writers that check extensions
      (e.g. Keras wants ".h5" or ".keras").
  """
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                             suffix=suffix or ".tmp")
  os.close(fd)
  tmp = Path(tmp)
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if tmp.exists():
      tmp.unlink()


def to_jsonable(obj: Any) -> Any:
  """Converts dataclasses, enums, tuples, paths and numpy scalars for JSON."""
  if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
    return {f.name: to_jsonable(getattr(obj, f.name))
            for f in dataclasses.fields(obj)}
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


def atomic_write_json(path: PathLike, obj: Any) -> None:
  with atomic_path(path) as tmp:
    tmp.write_text(json.dumps(to_jsonable(obj), indent=2, allow_nan=True))


def read_json(path: PathLike) -> Any:
  return json.loads(Path(path).read_text())


def atomic_save_npz(path: PathLike, **arrays: np.ndarray) -> None:
  with atomic_path(path, suffix=".npz") as tmp:
    np.savez_compressed(tmp, **arrays)
