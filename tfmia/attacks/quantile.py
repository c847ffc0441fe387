"""Quantile-regression membership inference (Bertran et al., "Scalable
Membership Inference Attacks via Quantile Regression", NeurIPS 2023; code:
amazon-science/quantile-mia).

No model of the target's architecture is trained. A regression model learns,
from population data the target never trained on, the distribution of the
target's score of an example given the example and its label: here a
Gaussian, mean μ(x, y) and log σ(x, y), fitted by its negative
log-likelihood, as the authors' `--use_gaussian` mode (the one their sample
script runs). An example whose score sits high above what the regressor
predicts for a non-member is a member:

    score(x) = (s(x, y) − μ(x, y)) / σ(x, y),

whose threshold at Φ⁻¹(1 − α) is the authors' α-quantile test; one
continuous score gives the whole ROC rather than their 41 levels.

The target's score is their hinge on raw logits, s = z_y − max_{y'≠y} z_y'.

Where tfmia differs from the authors' code, and why:
- The regressor is small and trained from scratch (`QuantileConfig`): a
  convolutional trunk for images, none for flat features, then their head
  (Dense 512, LeakyReLU, Dense 512, LeakyReLU) on the features with the
  one-hot label appended (their `use_target_inputs`). Their backbone is an
  ImageNet-pretrained ConvNeXt fine-tuned at 224 pixels, which tfmia cannot
  download and which does not fit a CPU budget.
- It keeps the epoch of lowest loss on a held-out fifth of the population;
  they select on the dataset's test split, the same non-members they then
  evaluate on.
- Their optimiser (AdamW, weight decay 1e-4), clipping of the global
  gradient norm at 1.0 and LeakyReLU slope (0.01) are kept; the learning rate is 1e-3 rather than their fine-tuning 1e-4,
  and the batch 64 rather than 16, for training from scratch on a CPU.
"""

from __future__ import annotations

import dataclasses

import numpy as np


def hinge_scores(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """z_y − max_{y'≠y} z_y' of (N, C) or (N, A, C) logits (the mean over
  augmentations), as the authors' `label_logit_and_hinge_scoring_fn`."""
  z = np.asarray(logits, np.float64)
  if z.ndim == 3:
    return np.mean([hinge_scores(z[:, a], labels) for a in range(z.shape[1])],
                   axis=0)
  labels = np.asarray(labels, int)
  rows = np.arange(len(z))
  true = z[rows, labels]
  other = z.copy()
  other[rows, labels] = -np.inf
  return true - other.max(axis=1)


def gaussian_nll(target, mu, log_std) -> float:
  """The authors' `gaussian_loss_fn`: mean of
  log σ + (t − μ)² / (2σ²), without the constant log √(2π)."""
  target, mu, log_std = (np.asarray(a, np.float64)
                         for a in (target, mu, log_std))
  return float(np.mean(log_std + 0.5 * np.exp(-2 * log_std)
                       * (target - mu) ** 2))


def quantile_scores(score, mu, log_std) -> np.ndarray:
  """(s − μ) / σ: how many predicted non-member standard deviations the
  target's score sits above its predicted mean (higher = member)."""
  score, mu, log_std = (np.asarray(a, np.float64)
                        for a in (score, mu, log_std))
  return (score - mu) * np.exp(-log_std)


@dataclasses.dataclass(frozen=True)
class QuantileConfig:
  """The regressor and its training (see the module docstring)."""

  conv_filters: tuple = (32, 64)   # image trunk: Conv3x3-ReLU-MaxPool each
  hidden: tuple = (512, 512)       # the authors' head
  epochs: int = 30                 # the authors' default
  batch_size: int = 64
  learning_rate: float = 1e-3
  weight_decay: float = 1e-4
  clipnorm: float = 1.0            # of the global gradient norm (Lightning's)
  validation_fraction: float = 0.2
  seed: int = 0

  def __post_init__(self):
    for name in ("epochs", "batch_size"):
      v = getattr(self, name)
      if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ValueError(f"`{name}` must be a positive int. "
                         f"Received: {name}={v!r}")
    if not 0 < self.validation_fraction < 1:
      raise ValueError("`validation_fraction` must be in (0, 1). Received: "
                       f"validation_fraction={self.validation_fraction!r}")


def regressor(input_shape, num_classes: int, config: QuantileConfig):
  """(x, one-hot y) -> (μ, log σ)."""
  import tensorflow as tf
  layers = tf.keras.layers
  tf.keras.utils.set_random_seed(config.seed)
  x_in = tf.keras.Input(tuple(input_shape), name="x")
  y_in = tf.keras.Input((num_classes,), name="label")
  h = x_in
  if len(input_shape) == 3:
    for i, f in enumerate(config.conv_filters):
      h = layers.Conv2D(f, 3, padding="same", activation="relu",
                        name=f"conv{i + 1}")(h)
      h = layers.MaxPooling2D(name=f"pool{i + 1}")(h)
    h = layers.GlobalAveragePooling2D(name="gap")(h)
  else:
    h = layers.Flatten(name="flatten")(h)
  h = layers.Concatenate(name="with_label")([h, y_in])
  for i, units in enumerate(config.hidden):
    # torch's LeakyReLU slope (Keras' default is 0.3)
    h = layers.LeakyReLU(alpha=0.01, name=f"act{i + 1}")(
        layers.Dense(units, name=f"fc{i + 1}")(h))
  out = layers.Dense(2, name="mu_log_std")(h)
  return tf.keras.Model([x_in, y_in], out, name="quantile_regressor")


def fit_regressor(x, labels, score, num_classes: int,
                  config: QuantileConfig = QuantileConfig()):
  """Trains the regressor on population examples (x, labels) and the
  target's score on them; keeps the epoch of lowest held-out loss."""
  import tensorflow as tf
  x = np.asarray(x, np.float32)
  score = np.asarray(score, np.float32)
  onehot = np.eye(num_classes, dtype=np.float32)[np.asarray(labels, int)]
  n = len(x)
  order = np.random.default_rng([config.seed, 11]).permutation(n)
  n_val = max(1, int(round(config.validation_fraction * n)))
  val, tr = order[:n_val], order[n_val:]
  if len(tr) < 2:
    raise ValueError("The quantile regressor needs at least 3 population "
                     f"examples. Received: {n}")
  model = regressor(x.shape[1:], num_classes, config)

  def loss(t, out):
    mu, log_std = out[:, 0], out[:, 1]
    return tf.reduce_mean(log_std + 0.5 * tf.exp(-2 * log_std)
                          * tf.square(t[:, 0] - mu))

  model.compile(optimizer=tf.keras.optimizers.AdamW(
      config.learning_rate, weight_decay=config.weight_decay,
      global_clipnorm=config.clipnorm), loss=loss)
  from tfmia.training.loop import build_step_variables
  build_step_variables(model)   # one trace of the step, not two
  kept = {"loss": np.inf, "weights": None}

  def keep_best(epoch, logs):
    if logs["val_loss"] < kept["loss"]:
      kept.update(loss=logs["val_loss"], weights=model.get_weights())

  model.fit([x[tr], onehot[tr]], score[tr, None],
            validation_data=([x[val], onehot[val]], score[val, None]),
            epochs=config.epochs, batch_size=config.batch_size, verbose=0,
            shuffle=True, callbacks=[tf.keras.callbacks.LambdaCallback(
                on_epoch_end=keep_best)])
  if kept["weights"] is not None:
    model.set_weights(kept["weights"])
  return model


def predict(model, x, labels, num_classes: int):
  """(μ, log σ) of each example."""
  onehot = np.eye(num_classes, dtype=np.float32)[np.asarray(labels, int)]
  out = model.predict([np.asarray(x, np.float32), onehot], batch_size=1024,
                      verbose=0)
  return out[:, 0].astype(np.float64), out[:, 1].astype(np.float64)


def quantile_attack(target_logits, labels, x, population_logits,
                    population_labels, population_x,
                    config: QuantileConfig = QuantileConfig()) -> np.ndarray:
  """The attack end to end: the regressor fitted on the population's hinge
  scores, then `quantile_scores` of the attacked examples."""
  num_classes = np.asarray(target_logits).shape[-1]
  model = fit_regressor(population_x, population_labels,
                        hinge_scores(population_logits, population_labels),
                        num_classes, config)
  mu, log_std = predict(model, x, labels, num_classes)
  return quantile_scores(hinge_scores(target_logits, labels), mu, log_std)
