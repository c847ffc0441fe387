"""Membership-inference defenses for training and fine-tuning, after Yuan &
Zhang's pruning study (mia_prune `base_model.py`, `prune_dp.py`).

- "ppb", pair-based posterior balancing: the loss is cross-entropy plus
  λ·KL(softmax(sort f(B2)) ‖ softmax(sort f(B1))), where B1 and B2 are the
  two halves of the batch and each example's logits are sorted in descending
  order (`train_defend_ppb`; PyTorch's `kl_div(log_softmax(B1), softmax(B2),
  reduction="batchmean")`). A Keras loss (`PpbLoss`): `train_model` takes it
  as it is.
- "adv", adversarial regularisation (Nasr et al., CCS 2018): an inference
  model (MIAFC on [softmax, one-hot label]) is trained alongside for
  `inference_steps` steps on member and non-member batches, then the
  classifier takes one step on cross-entropy − θ·(the inference model's
  loss on its members). A Keras model whose `train_step` does this
  (`AdversarialRegularization`), so `train_model` fits it unchanged.
- "dp", DP-SGD: per-example clipping to `l2_norm_clip` and Gaussian noise
  of `noise_multiplier` times it, by fast (ghost-norm) clipping
  (`tfmia.training.dp_clipping`) on models of Dense, Conv2D and BatchNormalization
  layers, else by tensorflow-privacy's vectorised DP Keras optimizers; ε
  at δ from tensorflow-privacy's accountant (RDP or PLD, the statement
  `compute_dp_sgd_privacy_statement` makes under Poisson sampling).
- "dp_sgd", DP-SGD at a target ε: `arg` is ε (at `delta`), and the noise
  multiplier is the one that reaches it for the training's examples, batch
  size and epochs (`noise_for_epsilon`); every example is clipped. The
  BatchNorm statistics, which DP-SGD keeps frozen, are first re-estimated on
  the validation split (`data.x_test`: the model's dev set, non-members,
  so the guarantee for the training examples holds). After pruning they are
  stale: a VGG-11 pruned to 30% of its filters is at chance before any
  fine-tuning, and frozen stale statistics keep it there (mia_prune's "dp"
  rows, Adam on two microbatches, and every optimizer tried without this).

Where we differ from mia_prune:
- Its `train_defend_adv` takes a single classifier step per epoch (the loop
  over training batches is missing); here every training batch is a
  classifier step, each after `inference_steps` inference steps, as in Nasr
  et al.'s Algorithm 1.
- Its DP-SGD (pyvacy) clips the gradient of each half-batch microbatch, so
  its ε statement does not bound one example's influence; here every
  example is clipped, which is what the ε reported is for. Its weight
  decay is not applied under DP (the DP optimizers are Keras' legacy ones,
  which have none).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from tfmia.data import ClassificationData
from tfmia.training.config import TrainConfig, learning_rate

DEFENSES = ("none", "ppb", "adv", "dp", "dp_sgd")
ACCOUNTANTS = ("rdp", "pld")
# mia_prune's `--defend_arg` default, for every defense.
DEFAULT_ARG = 4.0


@dataclasses.dataclass(frozen=True)
class Defense:
  """A defense and its settings. Saved with every model trained with it.

  Attributes:
    name: one of DEFENSES.
    arg: mia_prune's `--defend_arg`: λ for "ppb", the privacy weight θ for
      "adv", the noise multiplier σ for "dp"; the target ε for "dp_sgd".
    inference_steps: "adv": inference-model steps per classifier step.
    l2_norm_clip: "dp": the per-example gradient norm bound.
    delta: "dp": δ of the reported ε.
    accountant: "dp": "rdp" or "pld".
    num_microbatches: "dp": None clips every example's gradient; an int m
      clips the mean gradient of each of m microbatches per batch, as
      mia_prune's pyvacy optimizer does (m = 2: batch / 2 examples each).
      ε then accounts for it as tensorflow-privacy does (sensitivity
      doubled), and batches that do not split evenly are dropped.
  """

  name: str = "none"
  arg: float = DEFAULT_ARG
  inference_steps: int = 7
  l2_norm_clip: float = 1.0
  delta: float = 1e-5
  accountant: str = "rdp"
  num_microbatches: Optional[int] = None

  def __post_init__(self):
    if self.name not in DEFENSES:
      raise ValueError(f"`defense` must be one of {DEFENSES}. "
                       f"Received: defense={self.name!r}")
    if isinstance(self.arg, bool) or not isinstance(self.arg, (int, float)) \
        or not math.isfinite(self.arg):
      raise ValueError("`defense_arg` must be a finite number. "
                       f"Received: defense_arg={self.arg!r}")
    if self.name in ("ppb", "adv", "dp", "dp_sgd") and not self.arg > 0:
      what = {"ppb": "λ", "adv": "the privacy weight θ",
              "dp": "the noise multiplier σ",
              "dp_sgd": "the target ε"}[self.name]
      raise ValueError(f"`defense_arg` ({what} of {self.name!r}) must be "
                       f"> 0. Received: defense_arg={self.arg!r}")
    if not isinstance(self.inference_steps, int) or self.inference_steps < 1:
      raise ValueError("`inference_steps` must be a positive int. "
                       f"Received: inference_steps={self.inference_steps!r}")
    if not self.l2_norm_clip > 0:
      raise ValueError("`l2_norm_clip` must be > 0. "
                       f"Received: l2_norm_clip={self.l2_norm_clip!r}")
    if not 0 < self.delta < 1:
      raise ValueError(f"`delta` must be in (0, 1). Received: {self.delta!r}")
    if self.accountant not in ACCOUNTANTS:
      raise ValueError(f"`accountant` must be one of {ACCOUNTANTS}. "
                       f"Received: accountant={self.accountant!r}")
    if self.num_microbatches is not None and (
        not isinstance(self.num_microbatches, int)
        or isinstance(self.num_microbatches, bool)
        or self.num_microbatches < 1):
      raise ValueError("`num_microbatches` must be a positive int or None. "
                       f"Received: num_microbatches={self.num_microbatches!r}")

    if self.name == "dp_sgd" and self.num_microbatches is not None:
      raise ValueError("'dp_sgd' clips every example's gradient: "
                       "`num_microbatches` must be None. Received: "
                       f"num_microbatches={self.num_microbatches!r}")

  @property
  def is_dp(self) -> bool:
    """DP-SGD, at a given σ ("dp") or a target ε ("dp_sgd")."""
    return self.name in ("dp", "dp_sgd")

  def at_noise(self, num_examples: int, batch_size: int,
               epochs: float) -> "Defense":
    """This defense as plain "dp" at its noise multiplier: "dp_sgd"'s is
    the one reaching its target ε for this training (`noise_for_epsilon`)."""
    if self.name != "dp_sgd":
      return self
    sigma = noise_for_epsilon(float(self.arg), num_examples, batch_size,
                              epochs, self.delta, self.accountant)
    return dataclasses.replace(self, name="dp", arg=sigma)

  def label(self) -> str:
    return "none" if self.name == "none" else f"{self.name}{self.arg:g}"


# ---------------------------------------------------------------------------
# PPB


def ppb_penalty(logits: tf.Tensor) -> tf.Tensor:
  """KL(softmax(sort f(B2)) ‖ softmax(sort f(B1))) averaged over the pairs
  (PyTorch's "batchmean"), B1 / B2 the first / second half of the batch;
  an odd last example is left out, and a batch of one gives 0."""
  logits = tf.convert_to_tensor(logits, tf.float32)
  half = tf.shape(logits)[0] // 2
  ranked = tf.sort(logits, axis=-1, direction="DESCENDING")
  log_q = tf.nn.log_softmax(ranked[:half], axis=-1)
  log_p = tf.nn.log_softmax(ranked[half:2 * half], axis=-1)
  kl = tf.reduce_sum(tf.exp(log_p) * (log_p - log_q))
  return tf.math.divide_no_nan(kl, tf.cast(half, tf.float32))


def as_logits(outputs: tf.Tensor, from_logits: bool) -> tf.Tensor:
  """Logits for a model's outputs: themselves, or the log of probabilities
  (softmax(log p) = p, so every logits-based quantity is unchanged)."""
  if from_logits:
    return outputs
  return tf.math.log(tf.clip_by_value(tf.cast(outputs, tf.float32),
                                      1e-12, 1.0))


class PpbLoss(tf.keras.losses.Loss):
  """Cross-entropy plus λ·`ppb_penalty` of the batch, on logits or (with
  `from_logits=False`) on a softmax model's probabilities."""

  def __init__(self, lam: float = DEFAULT_ARG, name: str = "ppb_loss",
               from_logits: bool = True):
    super().__init__(name=name)
    self.lam = float(lam)
    self.from_logits = bool(from_logits)

  def call(self, y_true, y_pred):
    logits = as_logits(y_pred, self.from_logits)
    ce = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
        tf.reshape(y_true, [-1]), logits, from_logits=True))
    return ce + self.lam * ppb_penalty(logits)

  def get_config(self):
    return {"lam": self.lam, "name": self.name,
            "from_logits": self.from_logits}


# ---------------------------------------------------------------------------
# Adversarial regularisation


class AdversarialRegularization(tf.keras.Model):
  """The classifier's own functional graph (weights shared with it), with a
  `train_step` that alternates inference-model and classifier steps.

  Args (besides Model's):
    classifier: the model being trained; it is the one that learns.
    members: (x, y) of the classifier's training set, for the inference
      model's member batches.
    nonmembers: (x, y) the classifier never trains on (mia_prune: its dev
      set), for the inference model's non-member batches.
    theta: the privacy weight θ.
    inference_steps: k, inference steps per classifier step.
    batch_size: the size of each inference batch (and of each half).
    seed: the inference model's initialisation.
  """

  def __init__(self, classifier: tf.keras.Model, members, nonmembers, *,
               theta: float, inference_steps: int = 7, batch_size: int = 128,
               seed: int = 0):
    super().__init__(inputs=classifier.inputs, outputs=classifier.outputs,
                     name=classifier.name)
    from tfmia.models import miafc
    from tfmia.models.adapter import ends_in_softmax
    self.num_classes = int(classifier.output_shape[-1])
    self._probabilities = bool(ends_in_softmax(classifier))
    self.inference = miafc(2 * self.num_classes, seed=seed)
    # mia_prune: Adam at 1e-3 with weight decay 5e-4 for the inference model.
    self.inference_optimizer = tf.keras.optimizers.AdamW(
        1e-3, weight_decay=5e-4)
    self.theta = float(theta)
    self.inference_steps = int(inference_steps)
    self.inference_batch = int(batch_size)
    # Plain tensors are not tracked: they stay out of the saved weights.
    self._mx = tf.constant(members[0])
    self._my = tf.constant(np.asarray(members[1]).reshape(-1), tf.int64)
    self._nx = tf.constant(nonmembers[0])
    self._ny = tf.constant(np.asarray(nonmembers[1]).reshape(-1), tf.int64)

  def compile(self, *args, **kwargs):
    """Also creates the inference optimizer's slots now, so that the first
    step is traced once (`tfmia.training.loop.build_step_variables`)."""
    from tfmia.training.loop import build_optimizer
    super().compile(*args, **kwargs)
    if self.inference.built:
      build_optimizer(self.inference_optimizer,
                      self.inference.trainable_variables)

  def _features(self, outputs, y):
    probs = (outputs if self._probabilities
             else tf.nn.softmax(outputs, axis=-1))
    return tf.concat([probs,
                      tf.one_hot(y, self.num_classes)], axis=-1)

  def _sample(self, x, y):
    i = tf.random.uniform([self.inference_batch], 0, tf.shape(x)[0],
                          dtype=tf.int32)
    return tf.gather(x, i), tf.gather(y, i)

  def train_step(self, data):
    x, y = data
    y = tf.reshape(tf.cast(y, tf.int64), [-1])
    xent = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for _ in range(self.inference_steps):
      xi, yi = self._sample(self._mx, self._my)
      xo, yo = self._sample(self._nx, self._ny)
      feats = tf.concat([self._features(self(xi, training=False), yi),
                         self._features(self(xo, training=False), yo)], 0)
      feats = tf.stop_gradient(feats)
      labels = tf.concat([tf.ones_like(yi), tf.zeros_like(yo)], 0)
      with tf.GradientTape() as tape:
        inf_loss = self.theta * xent(labels, self.inference(feats,
                                                            training=True))
      variables = self.inference.trainable_variables
      self.inference_optimizer.apply_gradients(
          zip(tape.gradient(inf_loss, variables), variables))
    with tf.GradientTape() as tape:
      logits = self(x, training=True)
      ce = self.compiled_loss(y, logits, regularization_losses=self.losses)
      gain = xent(tf.ones_like(y), self.inference(self._features(logits, y),
                                                  training=False))
      loss = ce - self.theta * gain
    self.optimizer.minimize(loss, self.trainable_variables, tape=tape)
    self.compiled_metrics.update_state(y, logits)
    return {**{m.name: m.result() for m in self.metrics},
            "inference_loss": inf_loss / self.theta}


# ---------------------------------------------------------------------------
# DP-SGD


def _check_microbatches(config: TrainConfig, m: Optional[int]) -> None:
  if m is not None and config.batch_size % m:
    raise ValueError(f"`batch_size` ({config.batch_size}) must split into "
                     f"`num_microbatches` ({m}) equal microbatches.")


def dp_optimizer(config: TrainConfig, defense: Defense, steps_per_epoch: int):
  """tensorflow-privacy's vectorised DP optimizer for `config.optimizer`
  (sgd or adam), clipping every example's gradient."""
  import tensorflow_privacy as tfp
  lr = learning_rate(config, steps_per_epoch)
  m = defense.num_microbatches
  _check_microbatches(config, m)
  common = dict(l2_norm_clip=defense.l2_norm_clip,
                noise_multiplier=float(defense.arg), num_microbatches=m)
  if config.optimizer == "sgd":
    return tfp.VectorizedDPKerasSGDOptimizer(
        learning_rate=lr, momentum=config.momentum, **common)
  if config.optimizer == "adam":
    return tfp.VectorizedDPKerasAdamOptimizer(learning_rate=lr, **common)
  raise ValueError("DP-SGD needs optimizer 'sgd' or 'adam'. "
                   f"Received: optimizer={config.optimizer!r}")


def fast_dp_unsupported(model: tf.keras.Model) -> list:
  """The layers that keep `model` off fast DP clipping (empty: none)."""
  from tfmia.training import dp_clipping
  return dp_clipping.unsupported_layers(model)


def plain_optimizer(config: TrainConfig, steps_per_epoch: int):
  """The optimizer fast-clipping DP-SGD applies its noisy gradients with:
  `config.optimizer` (sgd with its momentum, or adam) at its learning rate,
  without weight decay, like tensorflow-privacy's DP optimizers."""
  lr = learning_rate(config, steps_per_epoch)
  if config.optimizer == "sgd":
    return tf.keras.optimizers.SGD(lr, momentum=config.momentum)
  if config.optimizer == "adam":
    return tf.keras.optimizers.Adam(lr)
  raise ValueError("DP-SGD needs optimizer 'sgd' or 'adam'. "
                   f"Received: optimizer={config.optimizer!r}")


def dp_epsilon(num_examples: int, batch_size: int, epochs: float,
               noise_multiplier: float, delta: float,
               accountant: str = "rdp", *,
               used_microbatching: bool = False) -> float:
  """ε of DP-SGD at δ: add-or-remove-one-example adjacency, Poisson sampling
  at rate batch_size / num_examples, ⌈epochs / rate⌉ steps. Per-example
  clipping, or (`used_microbatching`) microbatches, which double the
  sensitivity. The "Epsilon assuming Poisson sampling" of
  tensorflow-privacy's `compute_dp_sgd_privacy_statement`."""
  import dp_accounting
  if accountant not in ACCOUNTANTS:
    raise ValueError(f"`accountant` must be one of {ACCOUNTANTS}. "
                     f"Received: accountant={accountant!r}")
  if not 0 < batch_size <= num_examples:
    raise ValueError("`batch_size` must be in [1, num_examples]. Received: "
                     f"batch_size={batch_size!r}, num_examples={num_examples!r}")
  q = batch_size / num_examples
  sigma = noise_multiplier / 2 if used_microbatching else noise_multiplier
  event = dp_accounting.SelfComposedDpEvent(
      dp_accounting.PoissonSampledDpEvent(
          q, dp_accounting.GaussianDpEvent(sigma)),
      int(math.ceil(epochs / q)))
  acc = (dp_accounting.rdp.RdpAccountant() if accountant == "rdp"
         else dp_accounting.pld.PLDAccountant())
  return float(acc.compose(event).get_epsilon(delta))


def noise_for_epsilon(target_epsilon: float, num_examples: int,
                      batch_size: int, epochs: float, delta: float,
                      accountant: str = "rdp") -> float:
  """The noise multiplier σ at which `dp_epsilon` gives `target_epsilon`
  (to 0.1%), by bisection on σ: ε falls as σ grows."""
  if not (isinstance(target_epsilon, (int, float)) and target_epsilon > 0
          and math.isfinite(target_epsilon)):
    raise ValueError("`target_epsilon` must be a finite number > 0. "
                     f"Received: target_epsilon={target_epsilon!r}")
  eps = lambda s: dp_epsilon(num_examples, batch_size, epochs, s, delta,  # pylint: disable=g-long-lambda
                             accountant)
  lo, hi = 0.05, 1.0
  while eps(hi) > target_epsilon:
    lo, hi = hi, hi * 2
    if hi > 1e4:
      raise ValueError(f"No noise multiplier up to 1e4 reaches ε = "
                       f"{target_epsilon} with these settings.")
  if eps(lo) <= target_epsilon:
    raise ValueError(f"ε = {target_epsilon} needs a noise multiplier below "
                     f"{lo}: pick a smaller ε or fewer steps.")
  for _ in range(60):
    mid = (lo + hi) / 2
    if eps(mid) > target_epsilon:
      lo = mid
    else:
      hi = mid
    if hi - lo < 1e-4 * hi:
      break
  return hi


def recalibrate_batchnorm(model: tf.keras.Model, x, *, passes: int = 20,
                          batch_size: int = 100) -> None:
  """Re-estimates every BatchNormalization layer's moving statistics on `x`
  (forward passes in training mode; the weights do not change): after
  `passes` passes at Keras' momentum the old statistics weigh nothing.
  Nothing is done for a model without BatchNorm."""
  def has_bn(m):
    return any(isinstance(l, tf.keras.layers.BatchNormalization) or (
        isinstance(l, tf.keras.Model) and has_bn(l)) for l in m.layers)
  if not has_bn(model):
    return
  x = np.asarray(x, np.float32)
  for _ in range(passes):
    for i in range(0, len(x), batch_size):
      model(x[i:i + batch_size], training=True)


# ---------------------------------------------------------------------------
# Training with a defense


@dataclasses.dataclass(frozen=True)
class DefendedTraining:
  """What `train_with_defense` returns.

  Attributes:
    model: the trained classifier.
    history: its per-epoch metrics (`tfmia.training.TrainingHistory`).
    epsilon: DP-SGD's ε at `defense.delta` (None without DP).
  """

  model: object
  history: object
  epsilon: Optional[float] = None


def train_with_defense(model: tf.keras.Model, data: ClassificationData,
                       config: TrainConfig, defense: Defense = Defense(), *,
                       nonmembers: Optional[tuple] = None,
                       callbacks: Sequence = (),
                       masks: Optional[dict] = None) -> DefendedTraining:
  """Trains `model` on `data.x_train` with `defense`, validating on
  `data.x_test`.

  Args:
    nonmembers: (x, y) for adversarial regularisation's non-member batches;
      `data`'s test split when None.
    masks: "dp" only: {layer name: 0/1 array} of kernel entries that stay
      zero (unstructured pruning's masks; `dp_clipping.FastDPModel`).

  DP-SGD clips with `tfmia.training.dp_clipping` (one forward pass, ghost norms,
  BatchNormalization frozen) when the model has only Dense, Conv2D and
  BatchNormalization trainable layers; otherwise with tensorflow-privacy's
  vectorised optimizer.
  """
  from tfmia.models.adapter import ends_in_softmax
  from tfmia.training.loop import classification_loss, train_model
  if not isinstance(defense, Defense):
    raise TypeError("`defense` must be a tfmia.training.defenses.Defense. "
                    f"Received: {type(defense).__name__}")
  steps = math.ceil(len(data.x_train) / config.batch_size)
  if masks is not None and not defense.is_dp:
    raise ValueError("`masks` is for DP-SGD fine-tuning only. "
                     f"Received: defense={defense.name!r}")
  if defense.name == "none":
    r = train_model(model, data, config, callbacks=callbacks)
    return DefendedTraining(r.model, r.history)
  if defense.name == "ppb":
    r = train_model(model, data, config, callbacks=callbacks,
                    loss=PpbLoss(defense.arg,
                                 from_logits=not ends_in_softmax(model)))
    return DefendedTraining(r.model, r.history)
  if defense.name == "adv":
    wrapped = AdversarialRegularization(
        model, (data.x_train, data.y_train),
        nonmembers or (data.x_test, data.y_test), theta=defense.arg,
        inference_steps=defense.inference_steps,
        batch_size=config.batch_size, seed=config.seed)
    r = train_model(wrapped, data, config, callbacks=callbacks)
    return DefendedTraining(model, r.history)
  if defense.name == "dp_sgd" and len(data.x_test):
    recalibrate_batchnorm(model, data.x_test)
  defense = defense.at_noise(len(data.x_train), config.batch_size,
                             config.epochs)
  micro = defense.num_microbatches is not None
  _check_microbatches(config, defense.num_microbatches)
  from tfmia.training import dp_clipping
  if masks is not None or not fast_dp_unsupported(model):
    wrapped = dp_clipping.FastDPModel(
        model, l2_norm_clip=defense.l2_norm_clip,
        noise_multiplier=float(defense.arg),
        num_microbatches=defense.num_microbatches, masks=masks)
    r = train_model(wrapped, data, config, callbacks=callbacks,
                    optimizer=plain_optimizer(config, steps),
                    drop_remainder=micro)
    r = dataclasses.replace(r, model=model)
  else:
    r = train_model(model, data, config, callbacks=callbacks,
                    optimizer=dp_optimizer(config, defense, steps),
                    loss=classification_loss(
                        model, reduction=tf.keras.losses.Reduction.NONE),
                    drop_remainder=micro)
  eps = dp_epsilon(len(data.x_train), config.batch_size, r.history.epochs,
                   float(defense.arg), defense.delta, defense.accountant,
                   used_microbatching=micro)
  return DefendedTraining(r.model, r.history, eps)
