"""K models trained together: K copies of an architecture side by side in
one Keras graph, each fed its own batches from its own member set, with one
optimizer step for all.

The loss is the sum of the K models' losses, so the gradient of each copy's
weights is exactly its own loss's gradient (the sum passes 1.0 to each term)
and the optimizer's update is per variable (Adam's moments, SGD's momentum,
decoupled weight decay). Each model is therefore trained as it would be
alone with the same seed and the same batch order: the same weights, bit
for bit on CPU (tested); GPU kernels need not be deterministic.

What stays per model: its weights' initialisation (each built after
`tf.keras.utils.set_random_seed(seed_k)`), its shuffle and augmentation
(each dataset is made under its model's seed), its BatchNorm statistics and
its dropout masks. Dropout's random draws differ from a lone run (the
stateful random ops are seeded by their place in the graph), so models with
dropout are equal in distribution, not weight for weight.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Callable, Optional, Sequence

import numpy as np
import tensorflow as tf

from tfmia.data import ClassificationData
from tfmia.training.config import TrainConfig, make_optimizer
from tfmia.training.loop import (TrainingHistory, TrainResult,
                                 build_step_variables,
                                 classification_loss, make_train_dataset,
                                 validation_batch_size)

logger = logging.getLogger(__name__)

# Fraction of the available memory a stack may plan to use.
MEMORY_FRACTION = 0.8


def available_memory() -> int:
  """Bytes of memory this process can still use: MemAvailable of
  /proc/meminfo on Linux, else the physical memory."""
  try:
    with open("/proc/meminfo", encoding="ascii") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def model_memory(model: tf.keras.Model, batch_size: int, data_bytes: int,
                 optimizer_slots: int = 2) -> int:
  """Planned bytes of one model in a stack: its weights, their gradients
  and `optimizer_slots` optimizer slots (Adam: 2), its activations kept for
  the backward pass at `batch_size` (each layer's output, twice: the value
  and its gradient), and its own copy of the data (`data_bytes`)."""
  params = model.count_params()
  activations = 0
  for layer in model.layers:
    shapes = layer.output_shape
    shapes = shapes if isinstance(shapes, list) else [shapes]
    for shape in shapes:
      if isinstance(shape, tuple):
        activations += int(np.prod([d for d in shape[1:] if d]))
  return 4 * (params * (2 + optimizer_slots)
              + 2 * batch_size * activations) + data_bytes


def largest_fitting(per_model: int, available: int) -> int:
  """The largest K with K * per_model <= MEMORY_FRACTION * available."""
  return int(MEMORY_FRACTION * available // max(per_model, 1))


def check_memory(together: int, per_model: int,
                 available: Optional[int] = None) -> None:
  """Refuses a stack of `together` models that would not fit, naming the
  largest that does."""
  available = available_memory() if available is None else available
  fits = largest_fitting(per_model, available)
  if together > fits:
    raise ValueError(
        f"`together`={together} models need about "
        f"{together * per_model / 2**30:.2f} GiB; "
        f"{MEMORY_FRACTION:.0%} of the {available / 2**30:.2f} GiB available "
        f"fits {max(fits, 0)}. Use --together {max(fits, 1)}.")


def check_optimizer(optimizer: tf.keras.optimizers.Optimizer) -> None:
  """A global gradient-norm clip couples the K models: refused by name."""
  if getattr(optimizer, "global_clipnorm", None):
    raise ValueError("Models trained together share one optimizer: its "
                     "`global_clipnorm` would clip all K models' gradients "
                     "as one. Train them apart (together=1).")


def stack(models: Sequence[tf.keras.Model]) -> tf.keras.Model:
  """One functional model with K inputs and K outputs: model k on input k.
  The models are renamed `stack_<k>` (their layers are shared, not
  copied); `unstack_names` gives the old names back."""
  inputs, outputs = [], []
  for k, m in enumerate(models):
    m._tfmia_name = m.name  # pylint: disable=protected-access
    m._name = f"stack_{k}"  # pylint: disable=protected-access
    x = tf.keras.Input(m.input_shape[1:], name=f"stack_{k}_input")
    inputs.append(x)
    outputs.append(m(x))
  out = tf.keras.Model(inputs, outputs, name=f"stack_of_{len(models)}")
  out._tfmia_stacked = list(models)  # pylint: disable=protected-access
  return out


def stacked_models(model: tf.keras.Model) -> list[tf.keras.Model]:
  """The K models of a stack made by `stack`, in order; [model] for a
  model that is not a stack."""
  return list(getattr(model, "_tfmia_stacked", [model]))


def unstack_names(models: Sequence[tf.keras.Model]) -> None:
  for m in models:
    m._name = m._tfmia_name  # pylint: disable=protected-access


def _zip(datasets: Sequence[tf.data.Dataset]) -> tf.data.Dataset:
  k = len(datasets)
  return tf.data.Dataset.zip(tuple(datasets)).map(
      lambda *b: (tuple(b[i][0] for i in range(k)),
                  tuple(b[i][1] for i in range(k))))


def _histories(keras_history, k: int) -> list[TrainingHistory]:
  out = []
  for i in range(k):
    per = {}
    for key, values in keras_history.history.items():
      for prefix in ("val_", ""):
        head = f"{prefix}stack_{i}_"
        if key.startswith(head):
          per[prefix + key[len(head):]] = tuple(float(v) for v in values)
    out.append(TrainingHistory(metrics=per))
  return out


def train_together(build: Callable[[], tf.keras.Model],
                   member_sets: Sequence[ClassificationData],
                   config: TrainConfig, seeds: Sequence[int], *,
                   callbacks: Sequence[tf.keras.callbacks.Callback] = (),
                   check_fit: bool = True) -> list[TrainResult]:
  """Trains K models of one architecture together.

  Model k is built after `tf.keras.utils.set_random_seed(seeds[k])` and
  trains on `member_sets[k].x_train`, validating on its `x_test`, as
  `train_member_model` trains it alone with that seed.

  Args:
    build: builds one (uncompiled) model.
    member_sets: each model's data; the same number of train examples and
      of validation examples for all (one step feeds every model one batch).
    config: the training recipe, shared. Early stopping would stop the K
      models at one epoch and is refused.
    seeds: one seed per model.
    callbacks: Keras callbacks of the stack (`self.model` is the stack; the
      models are `stack.layers[K:]`).
    check_fit: check the stack's memory before training.

  Returns:
    One `TrainResult` per model (the model, its own history).
  """
  k = len(member_sets)
  if k < 1 or len(seeds) != k:
    raise ValueError(f"`seeds` must give one seed per member set ({k}). "
                     f"Received: {len(seeds)} seeds")
  if config.early_stopping:
    raise ValueError("Early stopping would stop models trained together at "
                     "one epoch. Train them apart (together=1), or turn "
                     "early stopping off.")
  sizes = {(len(d.x_train), len(d.x_test)) for d in member_sets}
  if len(sizes) != 1:
    raise ValueError("Models trained together need member sets of one size "
                     "(one step feeds each model one batch). Received "
                     f"(train, validation) sizes {sorted(sizes)}")
  if k == 1:   # a stack of one is the model trained alone
    from tfmia.training.loop import train_model
    tf.keras.utils.set_random_seed(int(seeds[0]))
    return [train_model(build(), member_sets[0], config,
                        callbacks=callbacks)]
  models, datasets = [], []
  for seed, data in zip(seeds, member_sets):
    tf.keras.utils.set_random_seed(int(seed))
    model = build()
    models.append(model)
    datasets.append(make_train_dataset(data.x_train, data.y_train, config))
  if check_fit:
    data = member_sets[0]
    check_memory(k, model_memory(
        models[0], config.batch_size,
        data.x_train.nbytes + data.x_test.nbytes))
  model = stack(models)
  try:
    steps = math.ceil(len(member_sets[0].x_train) / config.batch_size)
    optimizer = make_optimizer(config, steps)
    check_optimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss={m.name: classification_loss(m) for m in models},
        metrics={m.name: ["accuracy"] for m in models})
    build_step_variables(model)
    val = (tuple(d.x_test for d in member_sets),
           tuple(d.y_test for d in member_sets))
    keras_history = model.fit(
        _zip(datasets), validation_data=val if len(val[0][0]) else None,
        validation_batch_size=validation_batch_size(models[0],
                                                    config.batch_size),
        epochs=config.epochs, callbacks=list(callbacks),
        verbose=config.verbose)
  finally:
    unstack_names(models)
  return [TrainResult(model=m, history=h)
          for m, h in zip(models, _histories(keras_history, k))]
