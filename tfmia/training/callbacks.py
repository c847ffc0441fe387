"""Keras callbacks for training. The per-epoch privacy audit,
`PrivacyMetrics`, sits above the attacks, in `tfmia.audits.callback`."""

from __future__ import annotations

import numpy as np
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
    for split in ("", "val_"):   # a stack of models: their mean
      accs = [v for k, v in logs.items() if k.startswith(f"{split}stack_")
              and k.endswith("_accuracy")]
      if accs:
        shown[f"{split}accuracy (mean of {len(accs)})"] = (
            f"{sum(accs) / len(accs):.3f}")
    self._bar.set_postfix(shown, refresh=False)
    self._bar.update(1)

  def on_train_end(self, logs=None):
    self._bar.close()


class LossTraces(tf.keras.callbacks.Callback):
  """Each example's loss on (x, y), before training and after every epoch:
  the loss traces LT-IQR scores (`tfmia.attacks.loss_trace`). On a stack of
  models trained together (`tfmia.training.together`) it records each
  model's. `traces[k]` is model k's (T, N) array, T = epochs + 1.

  This is one inference pass over (x, y) per epoch, as the LT-IQR authors'
  pipeline records it (the whole training set, members and non-members);
  the loss is taken in inference mode (their pass left BatchNorm in
  training mode).
  """

  def __init__(self, x, y, batch_size: int = 1024):
    super().__init__()
    self.x, self.y = x, np.asarray(y)
    self.batch_size = batch_size
    self.traces: list[list] = []

  def _models(self):
    from tfmia.training.together import stacked_models
    return stacked_models(self.model)

  def _record(self):
    from tfmia.training.loop import classification_loss
    models = self._models()
    if not self.traces:
      self.traces = [[] for _ in models]
    if len(models) > 1:   # one pass of the stack: every model at once
      outs = self.model.predict([self.x] * len(models),
                                batch_size=self.batch_size, verbose=0)
    else:
      outs = [self.model.predict(self.x, batch_size=self.batch_size,
                                 verbose=0)]
    for trace, m, out in zip(self.traces, models, outs):
      loss = classification_loss(m, reduction="none")(self.y, out)
      trace.append(np.asarray(loss, np.float32))

  def on_train_begin(self, logs=None):
    self.traces = []
    self._record()

  def on_epoch_end(self, epoch, logs=None):
    self._record()

  def trace(self, k: int = 0) -> np.ndarray:
    return np.stack(self.traces[k])
