"""Checks at the boundary of every stage (signals, attacks, results): raised
before any work starts. Shared by `tfmia.signals` and `tfmia.attacks`, so it
sits below both."""

from __future__ import annotations

from typing import Optional

import numpy as np


def as_finite_array(arr, name: str, *, ndim: Optional[int] = None,
                    dtype=np.float64) -> np.ndarray:
  """Returns `arr` as an ndarray; raises if it has the wrong rank or NaN/inf."""
  try:
    out = np.asarray(arr, dtype=dtype)
  except (TypeError, ValueError) as e:
    raise TypeError(f"`{name}` must be a numeric array. Received: "
                    f"{type(arr).__name__}") from e
  if ndim is not None and out.ndim != ndim:
    raise ValueError(f"`{name}` must be {ndim}-D. Received: shape={out.shape}")
  if out.size == 0:
    raise ValueError(f"`{name}` is empty. Received: shape={out.shape}")
  if not np.all(np.isfinite(out)):
    bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
    raise ValueError(f"`{name}` contains NaN or inf ({bad} values). "
                     f"Received: shape={out.shape}")
  return out


def as_labels(arr, name: str, num_classes: int) -> np.ndarray:
  """Returns integer labels of shape (n,); raises on values outside [0, k)."""
  out = np.asarray(arr)
  if out.ndim != 1:
    raise ValueError(f"`{name}` must be 1-D integer labels. "
                     f"Received: shape={out.shape}")
  if out.size == 0:
    raise ValueError(f"`{name}` is empty.")
  if not np.issubdtype(out.dtype, np.integer):
    if not np.all(np.equal(np.mod(out, 1), 0)):
      raise ValueError(f"`{name}` must hold integer class labels. "
                       f"Received: dtype={out.dtype}")
    out = out.astype(np.int64)
  lo, hi = int(out.min()), int(out.max())
  if lo < 0 or hi >= num_classes:
    raise ValueError(f"`{name}` must lie in [0, num_classes={num_classes}). "
                     f"Received: values from {lo} to {hi}")
  return out


def check_same_length(a: np.ndarray, a_name: str, b: np.ndarray,
                      b_name: str) -> None:
  if len(a) != len(b):
    raise ValueError(f"`{a_name}` and `{b_name}` must have the same length. "
                     f"Received: {len(a)} and {len(b)}")
