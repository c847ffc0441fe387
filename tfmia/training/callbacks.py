"""Keras callbacks: the per-epoch privacy audit and a progress bar."""

from __future__ import annotations

import logging
import os
from typing import Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from tfmia.attacks import tf_privacy
from tfmia.attacks.tf_privacy import AttackInput, SlicingConfig
from tfmia.results import ENTIRE_DATASET, AttackResults

logger = logging.getLogger(__name__)


def _check_xy(data, name: str):
  if not isinstance(data, (tuple, list)) or len(data) != 2:
    raise ValueError(f"`{name}` must be an (x, y) pair. "
                     f"Received: {type(data).__name__}")
  x, y = np.asarray(data[0]), np.asarray(data[1])
  if len(x) == 0:
    raise ValueError(f"`{name}` is empty.")
  if len(x) != len(y):
    raise ValueError(f"`{name}` has {len(x)} inputs but {len(y)} labels.")
  if y.ndim != 1:
    raise ValueError(f"`{name}` labels must be 1-D integers. "
                     f"Received: shape={y.shape}")
  return x, y


class LogitsFunction:
  """Batched, compiled inference: logits of `model` on an array or tensor."""

  def __init__(self, model: tf.keras.Model, batch_size: int = 4096):
    self.model = model
    self._fn = tf.function(self._forward, reduce_retracing=True,
                           autograph=False)
    self.batch_size = batch_size

  def _forward(self, x):
    return self.model(x, training=False)

  def __call__(self, x) -> np.ndarray:
    out = [self._fn(x[i:i + self.batch_size]).numpy()
           for i in range(0, len(x), self.batch_size)]
    return np.concatenate(out).astype(np.float64)


def predict_logits(model: tf.keras.Model, x: np.ndarray,
                   batch_size: int = 4096) -> np.ndarray:
  """Logits of `model` on `x`, in float64, computed in compiled batches."""
  return LogitsFunction(model, batch_size)(tf.constant(x))


class PrivacyMetrics(tf.keras.callbacks.Callback):
  """Runs membership-inference attacks on the model every N epochs.

  The results are kept, not printed: `history` holds one `AttackResults` per
  evaluated epoch, with the epoch (1-based) and the accuracy on the member
  and non-member sets. The entire-dataset AUC of each attack is also added to
  Keras' epoch logs as `mia_<attack>_auc`, so it shows in `History` and
  progress bars.

  Example:
    cb = PrivacyMetrics(member_data=(x_tr, y_tr), nonmember_data=(x_te, y_te),
                        every_n_epochs=2, attacks=("threshold",))
    model.fit(x_tr, y_tr, epochs=10, callbacks=[cb])
    cb.history[-1].get("threshold").auc
  """

  def __init__(self, member_data, nonmember_data, *, every_n_epochs: int = 1,
               attacks: Sequence[str] = ("threshold",),
               slicing: SlicingConfig = SlicingConfig(),
               batch_size: int = 4096, model_name: str = "",
               tensorboard_dir: Optional[Union[str, os.PathLike]] = None,
               seed: int = 0):
    super().__init__()
    self.x_member, self.y_member = _check_xy(member_data, "member_data")
    self.x_nonmember, self.y_nonmember = _check_xy(nonmember_data,
                                                   "nonmember_data")
    if not isinstance(every_n_epochs, int) or every_n_epochs < 1:
      raise ValueError("`every_n_epochs` must be a positive int. "
                       f"Received: every_n_epochs={every_n_epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
      raise ValueError(f"`batch_size` must be a positive int. "
                       f"Received: batch_size={batch_size!r}")
    self.attacks = tf_privacy.check_attacks(attacks)
    self.slicing = slicing
    self.every_n_epochs = every_n_epochs
    self.batch_size = batch_size
    self.model_name = model_name
    self.tensorboard_dir = tensorboard_dir
    self.seed = seed
    self.history: list[AttackResults] = []
    self._writer = None
    self._logits_fn = None
    self._x_member_t = self._x_nonmember_t = None

  def on_train_begin(self, logs=None):
    self.history = []
    self._prepare()
    if self.tensorboard_dir is not None:
      self._writer = tf.summary.create_file_writer(
          os.fspath(self.tensorboard_dir))

  def _prepare(self):
    if self._logits_fn is None or self._logits_fn.model is not self.model:
      self._logits_fn = LogitsFunction(self.model, self.batch_size)
    if self._x_member_t is None:
      # Converted once per fit, not at every evaluation.
      self._x_member_t = tf.constant(self.x_member)
      self._x_nonmember_t = tf.constant(self.x_nonmember)

  def on_epoch_end(self, epoch, logs=None):
    if (epoch + 1) % self.every_n_epochs:
      return
    results = self.evaluate(epoch + 1)
    self.history.append(results)
    for attack in self.attacks:
      try:
        auc = results.get(attack, ENTIRE_DATASET).auc
      except KeyError:
        continue
      if logs is not None:
        logs[f"mia_{attack}_auc"] = auc
    if self._writer is not None:
      self._write_tensorboard(results)

  def on_train_end(self, logs=None):
    if self._writer is not None:
      self._writer.flush()
    self._x_member_t = self._x_nonmember_t = None  # free the copies

  def evaluate(self, epoch: Optional[int] = None) -> AttackResults:
    """Attacks the model as it is now."""
    self._prepare()  # a no-op inside fit()
    fn = self._logits_fn
    attack_input = AttackInput(
        logits_member=fn(self._x_member_t), labels_member=self.y_member,
        logits_nonmember=fn(self._x_nonmember_t),
        labels_nonmember=self.y_nonmember)
    return tf_privacy.run_attacks(
        attack_input, attacks=self.attacks, slicing=self.slicing,
        seed=self.seed + (epoch or 0), model=self.model_name or self.model.name,
        epoch=epoch)

  def _write_tensorboard(self, results: AttackResults):
    with self._writer.as_default(step=results.epoch):
      tf.summary.scalar("privacy/train_accuracy", results.train_accuracy)
      tf.summary.scalar("privacy/test_accuracy", results.test_accuracy)
      for r in results:
        tag = f"privacy/{r.attack}/{r.slice}"
        tf.summary.scalar(f"{tag}/auc", r.auc)
        tf.summary.scalar(f"{tag}/advantage", r.advantage)


class EpochProgress(tf.keras.callbacks.Callback):
  """A one-line tqdm bar over epochs, showing accuracy and any MIA AUCs."""

  def __init__(self, description: str = "", leave: bool = True):
    super().__init__()
    self.description = description
    self.leave = leave
    self._bar = None

  def on_train_begin(self, logs=None):
    from tqdm.auto import tqdm
    self._bar = tqdm(total=self.params.get("epochs"), desc=self.description,
                     unit="epoch", leave=self.leave, dynamic_ncols=True)

  def on_epoch_end(self, epoch, logs=None):
    logs = logs or {}
    shown = {k: f"{v:.3f}" for k, v in logs.items()
             if k in ("accuracy", "val_accuracy") or k.startswith("mia_")}
    self._bar.set_postfix(shown, refresh=False)
    self._bar.update(1)

  def on_train_end(self, logs=None):
    self._bar.close()
