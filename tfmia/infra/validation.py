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


def check_finite(arr, name: str) -> None:
  """Raises ValueError, naming `name`, if a numeric array holds NaN or inf
  (TensorFlow's fused ReLU turns NaN into 0: an AUC would look finite)."""
  arr = np.asarray(arr)
  if np.issubdtype(arr.dtype, np.number) and not np.all(np.isfinite(arr)):
    bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
    raise ValueError(f"`{name}` contains NaN or inf ({bad} values).")


def as_int_labels(arr, name: str) -> np.ndarray:
  """Returns (n,) integer labels; integer-valued floats (e.g. from np.zeros)
  are cast, anything else is refused."""
  out = np.asarray(arr)
  if out.ndim != 1:
    raise ValueError(f"`{name}` must be 1-D integer labels. "
                     f"Received: shape={out.shape}")
  if out.size == 0:
    raise ValueError(f"`{name}` is empty.")
  if not np.issubdtype(out.dtype, np.integer):
    if (not np.issubdtype(out.dtype, np.number)
        or not np.all(np.isfinite(out)) or np.any(np.mod(out, 1) != 0)):
      raise ValueError(f"`{name}` must be integers (class labels). "
                       f"Received: dtype={out.dtype}")
    out = out.astype(np.int64)
  return out


def as_class_labels(arr, name: str) -> np.ndarray:
  """(n,) integer labels from integer labels, an (n, 1) column, or one-hot
  (n, k) rows (as Keras' categorical losses take them)."""
  out = np.asarray(arr)
  if out.ndim == 2 and out.shape[1] == 1:
    out = out[:, 0]
  elif out.ndim == 2:
    if not (np.isin(out, (0, 1)).all() and (out.sum(axis=1) == 1).all()):
      raise ValueError(f"`{name}` is 2-D but not one-hot: each row must "
                       f"hold a single 1 and zeros. Received: shape="
                       f"{out.shape}")
    out = out.argmax(axis=1)
  return as_int_labels(out, name)


def as_labels(arr, name: str, num_classes: int) -> np.ndarray:
  """Returns integer labels of shape (n,); raises on values outside [0, k)."""
  out = as_int_labels(arr, name)
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


def as_bool_array(arr, name: str, shape: tuple) -> np.ndarray:
  """Returns `arr` as an ndarray if it is bool of exactly `shape` (e.g. a
  (K, N) membership matrix); raises ValueError naming it otherwise."""
  out = np.asarray(arr)
  if out.dtype != bool or out.shape != tuple(shape):
    raise ValueError(f"`{name}` must be a bool array of shape "
                     f"{tuple(shape)}. Received: shape={out.shape}, "
                     f"dtype={out.dtype}")
  return out


def as_membership(arr, name: str = "is_member",
                  n: Optional[int] = None) -> np.ndarray:
  """Returns a (n,) bool membership mask; accepts bools or exact 0/1 values
  and refuses anything else (a 2 or a 0.7 is not silently cast to True), a
  shape other than (n,), and a mask without both members and non-members."""
  out = np.asarray(arr)
  if out.ndim != 1 or (n is not None and out.shape != (n,)):
    want = f"({n},)" if n is not None else "(N,)"
    raise ValueError(f"`{name}` must be a 1-D mask of shape {want}. "
                     f"Received: shape={out.shape}")
  if out.dtype != bool:
    if out.dtype.kind not in "biuf":
      raise ValueError(f"`{name}` must hold booleans or 0/1. "
                       f"Received: dtype={out.dtype}")
    bad = ~np.isin(out, (0, 1))
    if bad.any():
      raise ValueError(f"`{name}` must hold booleans or 0/1 only. Received: "
                       f"{int(bad.sum())} other values, e.g. "
                       f"{out[bad][0]!r}")
    out = out.astype(bool)
  if out.all() or not out.any():
    raise ValueError(f"`{name}` must hold both members and non-members. "
                     f"Received: {int(out.sum())} members of {out.size}")
  return out
