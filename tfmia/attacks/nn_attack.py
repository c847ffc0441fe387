"""The NN attacks (`nn`, `nn_top3`, `nn_cls`): mia_prune's attack network,
MIAFC, and its training, in Keras.

MIAFC (mia_prune `models.py`): Linear(F, 512), ReLU, Dropout(0.2),
Linear(512, 256), ReLU, Dropout(0.2), Linear(256, 128), ReLU,
Linear(128, 2). Trained as mia_prune's `BaseModel` trains attack models
(`attackers.py`, `base_model.py`, `utils.py`): cross-entropy on the two
logits, SGD with momentum 0.9, learning rate 1e-3, weight decay 5e-4, batch
128, 100 epochs with the rate x0.1 at 50% and 75%. The inputs are the raw
features (`tfmia.attacks.shadow.nn_features`), not standardised, as there.

Where we differ: Keras' SGD applies weight decay to the weights (decoupled);
PyTorch adds it to the gradient. Initialisation is Keras' Glorot uniform.

A trained attack network is kept in memory (`trained_attack`) for the same
shadow data and settings, so attacks on many targets against the same
shadow models (every non-adaptive cell of the pruning study) train it once.
Training is seeded, so a kept network is the one a new training would give.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
from typing import Callable

import numpy as np
import tensorflow as tf

from tfmia.infra.validation import as_finite_array


@dataclasses.dataclass(frozen=True)
class MiafcConfig:
  """MIAFC's widths and training; defaults are mia_prune's."""

  hidden: tuple = (512, 256, 128)
  dropout: float = 0.2          # after the first two hidden layers
  epochs: int = 100             # lr x0.1 at 50% and 75% of them
  batch_size: int = 128
  learning_rate: float = 1e-3   # SGD, momentum 0.9
  weight_decay: float = 5e-4
  seed: int = 0

  def __post_init__(self):
    object.__setattr__(self, "hidden", tuple(self.hidden))
    if not self.hidden or any(not isinstance(h, int) or h < 1
                              for h in self.hidden):
      raise ValueError("`hidden` must be positive ints. "
                       f"Received: hidden={self.hidden!r}")
    for name in ("epochs", "batch_size"):
      v = getattr(self, name)
      if not isinstance(v, int) or v < 1:
        raise ValueError(f"`{name}` must be a positive int. "
                         f"Received: {name}={v!r}")
    if not 0.0 <= self.dropout < 1.0:
      raise ValueError(f"`dropout` must be in [0, 1). Received: {self.dropout}")


def build_miafc(input_dim: int, config: MiafcConfig = MiafcConfig()
                ) -> tf.keras.Model:
  """MIAFC: (F,) features -> two logits (non-member, member)."""
  from tfmia.models import miafc
  return miafc(input_dim, hidden=config.hidden, dropout=config.dropout,
               seed=config.seed)


_TRAINED: "collections.OrderedDict[str, tf.keras.Model]" = \
    collections.OrderedDict()
MAX_KEPT = 16  # trained attack networks kept in memory
trainings = 0  # networks trained in this process (for tests)


def clear_trained() -> None:
  """Forgets the kept attack networks."""
  _TRAINED.clear()


def trained_attack(kind: str, config, x: np.ndarray, y: np.ndarray,
                   build: Callable[[], tf.keras.Model]) -> tf.keras.Model:
  """The attack network `build()` trained on (x, y) with `config`'s
  training (`fit_two_logits`), seeded with `config.seed`: trained once, then
  kept for the same `kind`, config and data (the last `MAX_KEPT`)."""
  global trainings
  h = hashlib.sha256(repr((kind, config, x.shape, x.dtype.str)).encode())
  h.update(np.ascontiguousarray(x).tobytes())
  h.update(np.ascontiguousarray(y, dtype=bool).tobytes())
  key = h.hexdigest()
  if key in _TRAINED:
    _TRAINED.move_to_end(key)
    return _TRAINED[key]
  tf.keras.utils.set_random_seed(config.seed)   # init, dropout, shuffling
  model = build()
  fit_two_logits(model, x, y, epochs=config.epochs,
                 batch_size=config.batch_size,
                 learning_rate=config.learning_rate,
                 weight_decay=config.weight_decay, seed=config.seed)
  trainings += 1
  _TRAINED[key] = model
  while len(_TRAINED) > MAX_KEPT:
    _TRAINED.popitem(last=False)
  return model


def member_log_odds(model: tf.keras.Model, target: np.ndarray) -> np.ndarray:
  """logit_member − logit_nonmember of a two-logit attack network."""
  logits = model.predict(target, batch_size=4096, verbose=0)
  return (logits[:, 1] - logits[:, 0]).astype(np.float64)


def fit_two_logits(model: tf.keras.Model, x: np.ndarray, y: np.ndarray, *,
                   epochs: int, batch_size: int, learning_rate: float,
                   weight_decay: float, seed: int) -> tf.keras.Model:
  """mia_prune's attack-model training (SGD, momentum 0.9, MultiStepLR at
  50% and 75% of the epochs, cross-entropy on two logits)."""
  steps = -(-len(x) // batch_size)
  lr = tf.keras.optimizers.schedules.PiecewiseConstantDecay(
      [steps * (epochs // 2), steps * (epochs * 3 // 4)],
      [learning_rate, learning_rate * 0.1, learning_rate * 0.01])
  model.compile(optimizer=tf.keras.optimizers.SGD(
      lr, momentum=0.9, weight_decay=weight_decay or None),
                loss=tf.keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  from tfmia.training.loop import build_step_variables
  build_step_variables(model)   # one trace of the step, not two
  ds = (tf.data.Dataset.from_tensor_slices((x, y.astype(np.int64)))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size))
  model.fit(ds, epochs=epochs, verbose=0)
  return model


def nn_attack_scores(shadow_features, shadow_is_member, target_features,
                     config: MiafcConfig = MiafcConfig()) -> np.ndarray:
  """Trains MIAFC on shadow models' outputs and scores the target's.

  Args:
    shadow_features: (M, F) from `shadow.nn_features`.
    shadow_is_member: (M,) bool.
    target_features: (N, F).
    config: widths, training and seed (the same seed gives the same scores).

  Returns:
    (N,) member log-odds; higher means member.
  """
  x = as_finite_array(shadow_features, "shadow_features", ndim=2,
                      dtype=np.float32)
  t = as_finite_array(target_features, "target_features", ndim=2,
                      dtype=np.float32)
  y = np.asarray(shadow_is_member, dtype=bool)
  if len(y) != len(x):
    raise ValueError("`shadow_features` and `shadow_is_member` must have the "
                     f"same length. Received: {len(x)} and {len(y)}")
  if t.shape[1] != x.shape[1]:
    raise ValueError(f"`target_features` must have {x.shape[1]} columns like "
                     f"`shadow_features`. Received: shape={t.shape}")
  if y.all() or not y.any():
    raise ValueError("Shadow data must hold both members and non-members.")
  model = trained_attack("miafc", config, x, y,
                         lambda: build_miafc(x.shape[1], config))
  return member_log_odds(model, t)
