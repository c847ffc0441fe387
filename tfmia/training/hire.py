"""HIRE-SNN training (Kundu, Pedram & Beerel, ICCV 2021): adversarial
robustness from crafted input noise at no extra training cost.

Each training step's T timesteps are split into N periods of T/N steps. The
batch runs for one period; the weights are updated; the input gradient of
that same backward pass crafts the noise for the next period,
δ ← clip(δ + step·sign(∇ₓL), −ε, ε), and the input is clip(x + δ, 0, 1).
The model thus sees perturbed inputs without any extra forward or backward
pass: the N periods cost what one T-step pass costs.

HIRE-SNN's repository holds test code only, so these choices are ours, and
the README says so:
- The membrane potentials restart at each period (each period is a forward
  pass at T/N); the output is the membrane accumulated over the period.
- δ starts at zero for every batch (as in "free" adversarial training,
  Shafahi et al. 2019, which HIRE-SNN's noise update follows).
- N periods mean N weight updates per batch, so `train_hire` runs
  ⌈epochs / N⌉ epochs: the same number of optimiser steps, and no more
  timesteps, than standard training for `epochs` epochs (free adversarial
  training's rule).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import tensorflow as tf

from tfmia.data import ClassificationData
from tfmia.training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class HireConfig:
  """periods: N; eps: the noise's L∞ bound ε in [0, 1] pixels; step: the
  noise step per period."""

  periods: int = 2
  eps: float = 8 / 255
  step: float = 8 / 255

  def __post_init__(self):
    if isinstance(self.periods, bool) or not isinstance(self.periods, int) \
        or self.periods < 1:
      raise ValueError("`periods` must be a positive int. "
                       f"Received: periods={self.periods!r}")
    for name in ("eps", "step"):
      v = getattr(self, name)
      if isinstance(v, bool) or not isinstance(v, (int, float)) \
          or not 0 <= v <= 1:
        raise ValueError(f"`{name}` must be a number in [0, 1]. "
                         f"Received: {name}={v!r}")


def _time_layers(model):
  return [l for l in model.layers if hasattr(l, "timesteps")]


def timesteps_of(model: tf.keras.Model) -> int:
  layers = _time_layers(model)
  if not layers:
    raise ValueError(f"`model` {model.name!r} has no spiking layers "
                     "(tfmia.snn.direct); HIRE training is for spiking models.")
  return int(layers[0].timesteps)


@contextlib.contextmanager
def _timesteps(model, t: int):
  """Traces `model` at t timesteps (layers read T when they are traced)."""
  layers = _time_layers(model)
  old = [l.timesteps for l in layers]
  for l in layers:
    l.timesteps = t
  try:
    yield
  finally:
    for l, v in zip(layers, old):
      l.timesteps = v


class HireTraining(tf.keras.Model):
  """The spiking classifier's own graph (weights shared with it), with
  HIRE-SNN's `train_step`. Evaluation runs at the full T."""

  def __init__(self, classifier: tf.keras.Model, config: HireConfig):
    super().__init__(inputs=classifier.inputs, outputs=classifier.outputs,
                     name=classifier.name)
    t = timesteps_of(classifier)
    if t % config.periods:
      raise ValueError(f"`periods` ({config.periods}) must divide the "
                       f"model's timesteps ({t}).")
    self.hire = config
    self.period_steps = t // config.periods
    # The last batch's final noise δ, for inspection (not a model weight).
    self._noise = tf.Variable(tf.zeros([0]), shape=tf.TensorShape(None),
                              trainable=False)

  @property
  def last_noise(self):
    return self._noise.numpy()

  def train_step(self, data):
    x, y = data
    c = self.hire
    delta = tf.zeros_like(x)
    with _timesteps(self, self.period_steps):
      for _ in range(c.periods):
        xin = tf.clip_by_value(x + delta, 0.0, 1.0)
        with tf.GradientTape() as tape:
          tape.watch(xin)
          logits = self(xin, training=True)
          loss = self.compiled_loss(y, logits,
                                    regularization_losses=self.losses)
        variables = self.trainable_variables
        grads = tape.gradient(loss, variables + [xin])
        self.optimizer.apply_gradients(zip(grads[:-1], variables))
        delta = tf.clip_by_value(delta + c.step * tf.sign(grads[-1]),
                                 -c.eps, c.eps)
    self._noise.assign(delta)
    self.compiled_metrics.update_state(y, logits)
    return {m.name: m.result() for m in self.metrics}


def hire_epochs(config: TrainConfig, hire: HireConfig) -> int:
  return max(1, math.ceil(config.epochs / hire.periods))


def train_hire(model: tf.keras.Model, data: ClassificationData,
               config: TrainConfig, hire: HireConfig = HireConfig(), *,
               callbacks=(), out_dir=None, extra_config=None):
  """Trains a spiking `model` with HIRE-SNN's crafted input noise for
  ⌈config.epochs / N⌉ epochs (as many optimiser steps as standard training
  for config.epochs). Returns `train_model`'s result, with `model`.
  `out_dir` receives what `train_model` writes there (config.json with
  `hire` recorded, history.json, and `model`'s weights)."""
  from tfmia.infra import fs, io
  from tfmia.training import loop
  if not isinstance(hire, HireConfig):
    raise TypeError("`hire` must be a HireConfig. "
                    f"Received: {type(hire).__name__}")
  wrapped = HireTraining(model, hire)   # checks before any training
  if out_dir is not None:
    out_dir = fs.path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    io.atomic_write_json(out_dir / loop.CONFIG_FILE,
                         {"train": config, "hire": hire,
                          **(extra_config or {})})
  r = loop.train_model(wrapped, data,
                       config.replace(epochs=hire_epochs(config, hire)),
                       callbacks=callbacks)
  if out_dir is not None:   # the spiking model's weights, not the wrapper's
    r.history.save(out_dir / loop.HISTORY_FILE)
    loop.save_weights(model, out_dir / loop.WEIGHTS_FILE)
  return dataclasses.replace(r, model=model)
