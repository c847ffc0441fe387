"""Per-example signals from any model: logits, probabilities, true-class
confidence, loss, LiRA's scaled logit and SAMIA's sensitivity.

`compute_signals` runs the model in compiled batches, with a progress bar.
Two query-time options apply to every attack built on the signals:

- **augmentations** (flips and small shifts), whose signals are kept per
  augmentation (LiRA uses them that way) or averaged;
- the **input-dropout calibration** of the SNN-MIA work: each signal is the
  mean over `dropout_copies` copies of the input, each with a fraction
  `dropout_rate` of its pixels (all channels of a position) set to zero.
  With `dropout_masks="shared"` (the default) the masks depend only on the
  seed, the copy and the example's position, so the target and every
  reference model see the same queries, and a spiking model sees one mask
  for all T steps. With `"mia_snn"` they are drawn as MIA_SNN's code draws
  them: each element (every channel) on its own, afresh at every timestep
  of a spiking model, and afresh for each model queried (`mask_key`); still
  seeded, so a rerun gives the same signals.

Shapes: N examples, A augmentations, C classes.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Optional, Union

import numpy as np
from tfmia.models import adapter
from tfmia.infra import io
from tfmia.infra.validation import as_int_labels, as_labels

AUGMENTATIONS = ("none", "flip", "flip_shift")
AGGREGATES = ("mean", "keep")
DROPOUT_MASKS = ("shared", "mia_snn")
_ARRAYS = ("labels", "logits", "probs", "confidence", "loss", "scaled_logit")
# What saved model outputs can be (`Signals.from_outputs`).
OUTPUT_KINDS = ("logits", "probabilities", "loss")


@dataclasses.dataclass(frozen=True)
class SignalConfig:
  """How signals are queried. Saved with every audit."""

  augmentations: str = "none"   # none | flip | flip_shift
  shift: int = 2                # pixels, for flip_shift
  aggregate: str = "keep"       # keep per augmentation, or mean over them
  dropout_copies: int = 0       # input-dropout calibration; 0 disables it
  dropout_rate: float = 0.01    # fraction of pixels dropped per copy
  # shared | mia_snn (see the module docstring); left out of records at its
  # default, so signal caches written before it existed stay valid.
  dropout_masks: str = dataclasses.field(default="shared",
                                         metadata=io.ADDED_LATER)
  sensitivity: bool = False     # SAMIA's sensitivity (10 extra passes)
  sensitivity_samples: int = 10
  sensitivity_epsilon: float = 1e-3
  # The label-only decision-boundary attack's distances (HopSkipJump from
  # predicted labels, `tfmia.robustness.boundary_distances`), with its
  # budget. Left out of records at their defaults.
  boundary: bool = dataclasses.field(default=False, metadata=io.ADDED_LATER)
  boundary_max_iter: int = dataclasses.field(default=10,
                                             metadata=io.ADDED_LATER)
  boundary_max_eval: int = dataclasses.field(default=1000,
                                             metadata=io.ADDED_LATER)
  boundary_init_eval: int = dataclasses.field(default=100,
                                              metadata=io.ADDED_LATER)
  batch_size: int = 1024
  seed: int = 0

  def __post_init__(self):
    if self.augmentations not in AUGMENTATIONS:
      raise ValueError(f"`augmentations` must be one of {AUGMENTATIONS}. "
                       f"Received: augmentations={self.augmentations!r}")
    if self.dropout_masks not in DROPOUT_MASKS:
      raise ValueError(f"`dropout_masks` must be one of {DROPOUT_MASKS}. "
                       f"Received: dropout_masks={self.dropout_masks!r}")
    if self.aggregate not in AGGREGATES:
      raise ValueError(f"`aggregate` must be one of {AGGREGATES}. "
                       f"Received: aggregate={self.aggregate!r}")
    for name in ("shift", "dropout_copies"):
      v = getattr(self, name)
      if not isinstance(v, int) or v < 0:
        raise ValueError(f"`{name}` must be an int >= 0. Received: {name}={v!r}")
    for name in ("batch_size", "sensitivity_samples", "boundary_max_iter",
                 "boundary_max_eval", "boundary_init_eval"):
      v = getattr(self, name)
      if not isinstance(v, int) or v < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={v!r}")
    if not 0.0 <= self.dropout_rate < 1.0:
      raise ValueError("`dropout_rate` must be in [0, 1). "
                       f"Received: dropout_rate={self.dropout_rate!r}")
    if not self.sensitivity_epsilon > 0:
      raise ValueError("`sensitivity_epsilon` must be > 0. Received: "
                       f"sensitivity_epsilon={self.sensitivity_epsilon!r}")

  def replace(self, **changes) -> "SignalConfig":
    return dataclasses.replace(self, **changes)

  @property
  def optional_names(self) -> tuple[str, ...]:
    """The optional signals (`OPTIONAL`) this config computes."""
    return tuple(name for name, o in OPTIONAL.items()
                 if getattr(self, o.switch))

  def with_signals(self, names) -> "SignalConfig":
    """This config with the optional signals `names` switched on."""
    unknown = [n for n in names if n not in OPTIONAL]
    if unknown:
      raise ValueError(f"Unknown optional signal(s) {unknown}. "
                       f"Available: {', '.join(OPTIONAL)}")
    off = [OPTIONAL[n].switch for n in names
           if not getattr(self, OPTIONAL[n].switch)]
    return self.replace(**{f: True for f in off}) if off else self

  def for_other_models(self) -> "SignalConfig":
    """This config with the target-only optional signals switched off: how
    the reference models, and every model on the population, are queried."""
    off = [o.switch for o in OPTIONAL.values()
           if o.target_only and getattr(self, o.switch)]
    return self.replace(**{f: False for f in off}) if off else self

  @property
  def uses_rows(self) -> bool:
    """Whether an optional signal switched on honours `compute_signals`'s
    `sensitivity_rows` (is computed only on the rows asked for)."""
    return any(OPTIONAL[n].per_row for n in self.optional_names)

  @property
  def augmentation_list(self) -> tuple[tuple[bool, int, int], ...]:
    """(flip, dx, dy) for each query augmentation; the identity first."""
    if self.augmentations == "none":
      return ((False, 0, 0),)
    shifts = [(0, 0)]
    if self.augmentations == "flip_shift" and self.shift:
      s = self.shift
      shifts += [(s, 0), (-s, 0), (0, s), (0, -s)]
    return tuple((f, dx, dy) for f in (False, True) for dx, dy in shifts)


# ---------------------------------------------------------------------------
# Signals from logits (numpy).


def _check_rows(values, name: str, n: int, of: str) -> None:
  """`values` has one entry per row of `of` (N rows), or says which
  differs."""
  m = len(np.asarray(values).reshape(len(values), -1)) if np.ndim(values) \
      else 0
  if m != n:
    raise ValueError(f"`{name}` has {m} entries but `{of}` has {n} rows: "
                     "one per example.")


def log_softmax(logits: np.ndarray) -> np.ndarray:
  z = logits - logits.max(axis=-1, keepdims=True)
  return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def scaled_logit(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """LiRA's φ = log p_y − log Σ_{c≠y} p_c, computed stably from logits as
  z_y − logsumexp_{c≠y} z_c.

  Args:
    logits: (N, ..., C); labels: (N,).

  Returns:
    (N, ...).
  """
  logits = np.asarray(logits, dtype=np.float64)
  y = np.asarray(labels).reshape((-1,) + (1,) * (logits.ndim - 1))
  z_y = np.take_along_axis(logits, y, axis=-1)[..., 0]
  others = logits.copy()
  np.put_along_axis(others, y, -np.inf, axis=-1)
  m = others.max(axis=-1, keepdims=True)
  lse = m[..., 0] + np.log(np.exp(others - m).sum(axis=-1))
  return z_y - lse


def _derived(logits: np.ndarray, labels: np.ndarray) -> dict:
  """probs, confidence, loss and scaled logit for (N, ..., C) logits."""
  logp = log_softmax(np.asarray(logits, dtype=np.float64))
  y = np.asarray(labels).reshape((-1,) + (1,) * (logp.ndim - 1))
  logp_y = np.take_along_axis(logp, y, axis=-1)[..., 0]
  return {"probs": np.exp(logp), "confidence": np.exp(logp_y),
          "loss": -logp_y, "scaled_logit": scaled_logit(logits, labels)}


@dataclasses.dataclass(frozen=True, eq=False)
class Signals:
  """One model's signals on N examples, per query augmentation.

  Attributes:
    labels: (N,) true classes.
    logits: (N, A, C).
    probs: (N, A, C) softmax probabilities.
    confidence: (N, A) probability of the true class, Pr(x|θ) in RMIA.
    loss: (N, A) cross-entropy loss.
    scaled_logit: (N, A) LiRA's φ.
    sensitivity: (N, C) SAMIA's sensitivity, or None when not computed;
      NaN in the rows it was not computed for (`sensitivity_rows`).
    boundary_distance: (N,) each example's L2 distance to the decision
      boundary (0 where misclassified), or None when not computed.

  The last two are optional signals (`OPTIONAL`): a field here, a
  `SignalConfig` switch and a registered computation each.

  With the input-dropout calibration each array is the mean over the dropped
  copies of that signal.
  """

  labels: np.ndarray
  logits: np.ndarray
  probs: np.ndarray
  confidence: np.ndarray
  loss: np.ndarray
  scaled_logit: np.ndarray
  sensitivity: Optional[np.ndarray] = None
  boundary_distance: Optional[np.ndarray] = None

  def __post_init__(self):
    n, a = np.shape(self.loss)
    for name in _ARRAYS:
      arr = getattr(self, name)
      if len(arr) != n:
        raise ValueError(f"`{name}` has {len(arr)} rows; expected {n}.")
    for name, o in OPTIONAL.items():
      arr = getattr(self, name)
      shape = (n, self.num_classes) if o.per_class else (n,)
      if arr is not None and np.shape(arr) != shape:
        raise ValueError(f"`{name}` must be {o.shape_name}. "
                         f"Received: {np.shape(arr)}")

  @classmethod
  def from_logits(cls, logits, labels, sensitivity=None) -> "Signals":
    """Signals of (N, C) or (N, A, C) logits."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 2:
      logits = logits[:, None, :]
    if logits.ndim != 3:
      raise ValueError("`logits` must be (N, C) or (N, A, C). "
                       f"Received: shape={logits.shape}")
    _check_rows(labels, "labels", len(logits), "logits")
    labels = as_labels(labels, "labels", logits.shape[-1])
    return cls(labels=labels, logits=logits, sensitivity=sensitivity,
               **_derived(logits, labels))

  @classmethod
  def from_outputs(cls, outputs, labels, kind: str,
                   num_classes: Optional[int] = None) -> "Signals":
    """Signals of saved model outputs of `kind` (`OUTPUT_KINDS`):

    - "logits": (N, C) or (N, A, C);
    - "probabilities": rows of a softmax, used as logits through their log
      (`tfmia.models.adapter.log_probabilities`);
    - "loss": (N,) per-example cross-entropy. Only the true class's
      probability p = exp(−loss) is known, so the other C − 1 classes share
      1 − p evenly (C = `num_classes`, or the labels' largest + 1): loss,
      confidence and LiRA's φ are exact, the rest of the vector is not
      (`tfmia.attacks.registry.LOSS_ONLY_ATTACKS` read only
      the exact ones).
    """
    if kind not in OUTPUT_KINDS:
      raise ValueError(f"`outputs` must be one of {OUTPUT_KINDS}. "
                       f"Received: {kind!r}")
    outputs = np.asarray(outputs, dtype=np.float64)
    _check_rows(labels, "labels", len(outputs), kind)
    if kind == "probabilities":
      if outputs.min() < 0 or not np.allclose(outputs.sum(axis=-1), 1.0,
                                              atol=1e-3):
        raise ValueError("`probabilities` rows must be non-negative and sum "
                         "to 1.")
      outputs = adapter.log_probabilities(outputs)
    elif kind == "loss":
      if outputs.ndim != 1 or (outputs < 0).any():
        raise ValueError("`loss` must be (N,) non-negative per-example "
                         f"losses. Received: shape={outputs.shape}")
      labels = as_int_labels(labels, "labels")
      k = num_classes or int(labels.max()) + 1
      if k < 2:
        raise ValueError("`num_classes` must be >= 2 for losses.")
      p = np.exp(-outputs)
      rest = np.log(np.clip((1.0 - p) / (k - 1), 1e-300, None))
      logits = np.repeat(rest[:, None], k, axis=1)
      logits[np.arange(len(p)), labels] = -outputs
      outputs = logits
    return cls.from_logits(outputs, labels)

  @property
  def num_examples(self) -> int:
    return len(self.labels)

  @property
  def num_classes(self) -> int:
    return self.logits.shape[-1]

  @property
  def num_augmentations(self) -> int:
    return self.logits.shape[1]

  def mean(self) -> "Signals":
    """Averages every signal over the augmentations (A becomes 1)."""
    if self.num_augmentations == 1:
      return self
    return dataclasses.replace(self, **{
        name: getattr(self, name).mean(axis=1, keepdims=True)
        for name in _ARRAYS[1:]})

  def take(self, index) -> "Signals":
    """The signals of examples `index` (an index array or boolean mask)."""
    return dataclasses.replace(self, **{
        name: None if getattr(self, name) is None
        else getattr(self, name)[index]
        for name in _ARRAYS + tuple(OPTIONAL)})

  def save(self, path: Union[str, os.PathLike]) -> None:
    arrays = {name: getattr(self, name) for name in _ARRAYS + tuple(OPTIONAL)
              if getattr(self, name) is not None}
    io.atomic_save_npz(path, **arrays)

  @classmethod
  def load(cls, path: Union[str, os.PathLike]) -> "Signals":
    arrays = io.load_npz(path)
    try:
      return cls(**arrays)
    except TypeError as e:
      raise ValueError(f"{path} does not hold tfmia Signals: {e}") from None


def stack(signals, field: str) -> np.ndarray:
  """`field` of K Signals, stacked: (K, N, ...)."""
  return np.stack([getattr(s, field) for s in signals])


# ---------------------------------------------------------------------------
# Querying a model.


def _augment(x: np.ndarray, flip: bool, dx: int, dy: int) -> np.ndarray:
  """Horizontal flip, then a zero-filled shift by (dx, dy) pixels."""
  if flip:
    x = x[:, :, ::-1]
  if dx or dy:
    out = np.zeros_like(x)
    h, w = x.shape[1:3]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (
        slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (
        slice(-dx, w), slice(0, w + dx))
    out[:, yd, xd] = x[:, ys, xs]
    x = out
  return x


def _uniform(seed: int, stream: int, index: np.ndarray, size: int) -> np.ndarray:
  """(B, size) uniforms in (0, 1) from a counter-based hash (splitmix64) of
  (seed, stream, example index, position): each example's draws depend only
  on those, not on the batch size or on which model is queried."""
  with np.errstate(over="ignore"):
    key = (np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
           + np.uint64(stream) * np.uint64(0xD1B54A32D192ED03))
    z = (key + np.asarray(index, np.uint64)[:, None] * np.uint64(size)
         + np.arange(size, dtype=np.uint64)[None, :])
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
  return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def dropout_masks(seed: int, copy: int, start: int, shape,
                  rate: float) -> np.ndarray:
  """Keep-masks (B, H, W, 1) for dropout copy `copy` of examples
  start..start+B: a pixel (all its channels) is dropped with probability
  `rate`."""
  b, h, w = shape[0], shape[1], shape[2]
  u = _uniform(seed, copy, np.arange(start, start + b), h * w)
  return (u >= rate).reshape(b, h, w, 1)


def mia_snn_masks(seed: int, model_key: int, copy: int, start: int, shape,
                  rate: float, timesteps: int = 1) -> np.ndarray:
  """MIA_SNN-style keep-masks (T, B, H, W, ch) for dropout copy `copy` of
  examples start..start+B: every element of every timestep dropped with
  probability `rate` on its own, a different draw for each `model_key`."""
  b, h, w, ch = shape
  stream = (int(model_key) % (1 << 31)) * (1 << 20) + int(copy)
  u = _uniform(seed, stream, np.arange(start, start + b),
               timesteps * h * w * ch)
  keep = (u >= rate).reshape(b, timesteps, h, w, ch)
  return np.moveaxis(keep, 1, 0)


def compute_signals(model, x: np.ndarray, y: np.ndarray,
                    config: SignalConfig = SignalConfig(), *,
                    outputs: str = "auto",
                    progress: Union[bool, str] = True,
                    mask_key: int = 0,
                    sensitivity_rows: Optional[np.ndarray] = None
                    ) -> Signals:
  """Queries `model` on (x, y) and returns its `Signals`.

  Args:
    model: anything `tfmia.models.adapter.ModelAdapter` takes: a keras.Model
      (functional, Sequential, subclassed, spiking), a callable mapping a
      float32 batch (B, H, W, ch) to (B, C) outputs, or an adapter.
    outputs: "auto", "logits" or "probabilities" (see `tfmia.models.adapter`).
    x: (N, ...) scaled inputs: images (N, H, W, ch), or flat, tabular or
      sequence inputs (without augmentations or input dropout, which work
      on images).
    y: (N,) true classes.
    config: augmentations, input-dropout calibration, sensitivity, batch size.
    progress: show a tqdm bar; a string is used as its description.
    mask_key: identifies the model for `dropout_masks="mia_snn"`, whose
      masks differ between models (ignored otherwise).
    sensitivity_rows: (N,) bool: compute the sensitivity only for these
      examples (NaN in the others), as mia_prune computes it only on each
      model's own train and test sets; None: every example. A row's value
      does not depend on which other rows are computed.

  Returns:
    Signals with A = number of augmentations (1 when `aggregate="mean"`).
  """
  x = np.asarray(x)
  if x.ndim < 2:
    raise ValueError("`x` must be (N, ...) inputs, one row per example. "
                     f"Received: shape={x.shape}")
  if x.ndim != 4:   # flat, tabular or sequence inputs
    for name, on in (("augmentations", config.augmentations != "none"),
                     ("dropout_copies", config.dropout_copies > 0)):
      if on:
        raise ValueError(f"SignalConfig `{name}` works on (N, H, W, C) "
                         f"images; these inputs are {x.shape[1:]}. Turn "
                         "it off.")
  if len(x) != len(y):
    raise ValueError(f"`x` and `y` must have the same length. "
                     f"Received: {len(x)} and {len(y)}")
  if sensitivity_rows is not None:
    sensitivity_rows = np.asarray(sensitivity_rows)
    if sensitivity_rows.dtype != bool or sensitivity_rows.shape != (len(x),):
      raise ValueError(f"`sensitivity_rows` must be a bool array of shape "
                       f"({len(x)},). Received: shape="
                       f"{sensitivity_rows.shape}, dtype="
                       f"{sensitivity_rows.dtype}")
  forward = adapter.as_adapter(model, outputs=outputs,
                               batch_size=config.batch_size)
  augs = config.augmentation_list
  copies = max(config.dropout_copies, 1)
  logits_all, derived_all = [], []
  from tqdm.auto import tqdm
  desc = progress if isinstance(progress, str) else "signals"
  bar = tqdm(total=len(x), desc=desc, unit="ex", disable=not progress,
             leave=False)
  y_arr = np.asarray(y)
  for start in range(0, len(x), config.batch_size):
    xb = np.asarray(x[start:start + config.batch_size], dtype=np.float32)
    yb = y_arr[start:start + config.batch_size]
    per_aug_logits, per_aug = [], []
    per_model = config.dropout_masks == "mia_snn"
    if not config.dropout_copies:
      masks = [None]
    elif per_model:
      masks = [mia_snn_masks(config.seed, mask_key, c, start, xb.shape,
                             config.dropout_rate, forward.timesteps or 1)
               for c in range(copies)]
    else:
      masks = [dropout_masks(config.seed, c, start, xb.shape,
                             config.dropout_rate) for c in range(copies)]
    for flip, dx, dy in augs:
      xa = _augment(xb, flip, dx, dy)
      acc_logits, acc = 0.0, None
      for mask in masks:
        if mask is None:
          logits = forward(xa)
        elif per_model and forward.timesteps:
          logits = forward.per_step(xa[None] * mask)   # a mask per step
        elif per_model:
          logits = forward(xa * mask[0])
        else:
          logits = forward(xa * mask)
        d = _derived(logits, yb)
        acc_logits = acc_logits + logits.astype(np.float64)
        acc = d if acc is None else {k: acc[k] + d[k] for k in d}
      per_aug_logits.append(acc_logits / len(masks))
      per_aug.append({k: v / len(masks) for k, v in acc.items()})
    logits_all.append(np.stack(per_aug_logits, axis=1))
    derived_all.append({k: np.stack([d[k] for d in per_aug], axis=1)
                        for k in per_aug[0]})
    bar.update(len(xb))
  bar.close()
  logits = np.concatenate(logits_all)
  labels = as_labels(y_arr, "y", logits.shape[-1])
  out = Signals(labels=labels, logits=logits,
                **{k: np.concatenate([d[k] for d in derived_all])
                   for k in derived_all[0]})
  out = dataclasses.replace(out, **{
      name: OPTIONAL[name].compute(
          forward, x, out, config,
          sensitivity_rows if OPTIONAL[name].per_row else None,
          progress=progress and f"{desc}: {name}")
      for name in config.optional_names})
  return out.mean() if config.aggregate == "mean" else out


def _softmax(logits: np.ndarray) -> np.ndarray:
  return np.exp(log_softmax(np.asarray(logits, dtype=np.float64)))


# ---------------------------------------------------------------------------
# Optional signals: computed only when an attack needs them.


@dataclasses.dataclass(frozen=True)
class OptionalSignal:
  """A signal `compute_signals` computes only when its switch is on.

  An attack that needs it names it in its registry entry
  (`tfmia.attacks.registry`); an audit then switches it on. Adding one takes
  a `Signals` field, a `SignalConfig` switch and one `@optional_signal`
  computation, all in this module.

  Attributes:
    name: the `Signals` field and the key in saved signals.
    switch: the `SignalConfig` bool field that turns it on.
    compute: (forward, x, base, config, rows, progress=) -> the signal's N
      rows, where `forward` is the model's adapter, `base` the `Signals`
      without the optional ones, and `rows` None or, for a `per_row`
      signal, the (N,) bool rows to compute (the others NaN).
    per_class: (N, C) rather than (N,).
    per_row: honours `sensitivity_rows` (mia_prune computes it only on each
      model's own split).
    target_only: computed for the audited target on the attacked examples
      only, not for reference models or on the population.
  """

  name: str
  switch: str
  compute: Callable
  per_class: bool = False
  per_row: bool = False
  target_only: bool = False

  @property
  def shape_name(self) -> str:
    return "(N, C)" if self.per_class else "(N,)"


OPTIONAL: dict[str, OptionalSignal] = {}


def optional_signal(name: str, switch: str, **kwargs):
  """Registers the decorated function as optional signal `name`."""
  def register(fn):
    OPTIONAL[name] = OptionalSignal(name, switch, fn, **kwargs)
    return fn
  return register


@optional_signal("sensitivity", "sensitivity", per_class=True, per_row=True)
def _sensitivity_signal(forward, x, base: Signals, config: SignalConfig,
                        rows, *, progress=False) -> np.ndarray:
  """SAMIA's sensitivity of every row in `rows` (all when None), in the
  batches of the main pass; NaN elsewhere."""
  from tqdm.auto import tqdm
  out = np.full((len(x), base.num_classes), np.nan)
  for start in tqdm(range(0, len(x), config.batch_size),
                    desc=progress or None, disable=not progress, leave=False):
    xb = np.asarray(x[start:start + config.batch_size], dtype=np.float32)
    index = np.arange(start, start + len(xb))
    keep = (np.ones(len(xb), bool) if rows is None
            else rows[start:start + len(xb)])
    if keep.any():
      out[index[keep]] = _sensitivity(forward, xb[keep], config, index[keep])
  return out


@optional_signal("boundary_distance", "boundary", target_only=True)
def _boundary_signal(forward, x, base: Signals, config: SignalConfig, rows,
                     *, progress=False) -> np.ndarray:
  """The label-only attack's L2 distances to the decision boundary."""
  del rows, progress
  from tfmia import robustness  # pylint: disable=g-import-not-at-top
  return robustness.boundary_distances(
      forward, x, base.labels, robustness.BoundaryConfig(
          max_iter=config.boundary_max_iter,
          max_eval=config.boundary_max_eval,
          init_eval=config.boundary_init_eval, seed=config.seed))


def _sensitivity(forward, xb: np.ndarray, config: SignalConfig,
                 index: np.ndarray) -> np.ndarray:
  """SAMIA's sensitivity: mean over u ~ N(0, I) of
  |softmax(f(x + εu)) − softmax(f(x))| / ε, per class. (B, C)."""
  base = _softmax(forward(xb))
  eps = config.sensitivity_epsilon
  total = np.zeros_like(base)
  size = int(np.prod(xb.shape[1:]))
  for j in range(config.sensitivity_samples):
    # Box-Muller on two hashed uniform streams per perturbation.
    u1 = _uniform(config.seed, 2 * j + 1_000_001, index, size)
    u2 = _uniform(config.seed, 2 * j + 1_000_002, index, size)
    u = (np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)).reshape(
        xb.shape).astype(np.float32)
    total += np.abs(_softmax(forward(xb + eps * u)) - base) / eps
  return total / config.sensitivity_samples
