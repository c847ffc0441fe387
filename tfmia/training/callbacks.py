"""Keras callbacks for training. The per-epoch privacy audit,
`PrivacyMetrics`, sits above the attacks, in `tfmia.audits.callback`."""

from __future__ import annotations

import tensorflow as tf


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
