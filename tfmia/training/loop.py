"""`train_model`: Keras training driven by a frozen `TrainConfig`."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from typing import Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from tfmia.infra import fs, io, store
from tfmia.data import ClassificationData
from tfmia.training.config import TrainConfig, make_optimizer

logger = logging.getLogger(__name__)

CONFIG_FILE, HISTORY_FILE, WEIGHTS_FILE = (
    store.CONFIG_FILE, store.HISTORY_FILE, store.WEIGHTS_FILE)
PRIVACY_DIR = "privacy"
# Everything a run folder (`tfmia train`) holds besides its config.json.
RUN_OUTPUTS = (store.DONE_FILE, HISTORY_FILE, WEIGHTS_FILE, PRIVACY_DIR,
               "training.png", "mia.png", "epsilon.png", "attack")
# Settings that do not change a run's result: a different value resumes it.
RUN_IGNORE = ("data.data_dir", "data.download", "train.verbose",
              "study.data_dir", "study.download")


@dataclasses.dataclass(frozen=True)
class TrainingHistory:
  """Per-epoch training metrics.

  Attributes:
    metrics: metric name (loss, accuracy, val_loss, val_accuracy, ...) to one
      value per epoch.
  """

  metrics: dict

  @property
  def epochs(self) -> int:
    return len(next(iter(self.metrics.values()), ()))

  def __getitem__(self, key: str) -> tuple[float, ...]:
    return self.metrics[key]

  def save(self, path: Union[str, os.PathLike]) -> None:
    io.atomic_write_json(path, self.metrics)

  @classmethod
  def load(cls, path: Union[str, os.PathLike]) -> "TrainingHistory":
    return cls(metrics={k: tuple(v) for k, v in io.read_json(path).items()})

  @classmethod
  def from_keras(cls, history: tf.keras.callbacks.History) -> "TrainingHistory":
    return cls(metrics={k: tuple(float(x) for x in v)
                        for k, v in history.history.items()})


@dataclasses.dataclass(frozen=True, eq=False)
class TrainResult:
  model: tf.keras.Model
  history: TrainingHistory


def augment_batch(x: tf.Tensor, seed: tf.Tensor,
                  shift_fraction: float) -> tf.Tensor:
  """Random horizontal flips and integer shifts, per image, from a seed.

  Stateless ops keep augmentation deterministic for a given seed, whatever
  order tf.data's parallel map runs batches in.

  Args:
    x: (B, H, W, C) float images.
    seed: shape (2,) int seed.
    shift_fraction: largest shift as a fraction of height / width.
  """
  x = tf.image.stateless_random_flip_left_right(x, seed)
  shape = tf.shape(x)
  b = shape[0]
  h, w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
  s1, s2 = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
  dx = tf.round(tf.random.stateless_uniform([b], s1, -1.0, 1.0)
                * shift_fraction * w)
  dy = tf.round(tf.random.stateless_uniform([b], s2, -1.0, 1.0)
                * shift_fraction * h)
  one, zero = tf.ones([b]), tf.zeros([b])
  transforms = tf.stack([one, zero, -dx, zero, one, -dy, zero, zero], axis=1)
  return tf.raw_ops.ImageProjectiveTransformV3(
      images=x, transforms=transforms, output_shape=shape[1:3],
      fill_value=0.0, interpolation="NEAREST", fill_mode="CONSTANT")


def make_train_dataset(x: np.ndarray, y: np.ndarray,
                       config: TrainConfig, *,
                       drop_remainder: bool = False) -> tf.data.Dataset:
  """Shuffled, batched (and augmented when asked) training data;
  `drop_remainder` drops each epoch's last partial batch (a different one
  every epoch, since the data is reshuffled)."""
  ds = tf.data.Dataset.from_tensor_slices((x, y))
  ds = ds.shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
  ds = ds.batch(config.batch_size, drop_remainder=drop_remainder)
  if config.augment:
    # One seed per batch, different every epoch, fixed by config.seed.
    seeds = tf.data.Dataset.random(seed=config.seed,
                                   rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip((ds, seeds)).map(
        lambda xy, s: (augment_batch(xy[0], s, config.shift_fraction), xy[1]),
        num_parallel_calls=tf.data.AUTOTUNE)
  return ds.prefetch(tf.data.AUTOTUNE)


def validation_batch_size(model: tf.keras.Model, batch_size: int) -> int:
  """Validation runs in large batches, which is fastest for an ANN. A
  spiking model (layers with `timesteps`) runs T frames per image, so that
  its activations fit in the CPU's caches its batch is 512 / T images (at
  batch 1024 and T = 4, validation took three times as long as at 128)."""
  t = max([getattr(layer, "timesteps", 1) for layer in model.layers] + [1])
  return max(batch_size, 1024 if t == 1 else 512 // t)


def classification_loss(model: tf.keras.Model, **kwargs):
  """Sparse cross-entropy for `model`'s outputs: on logits, unless its last
  layer applies a softmax (`tfmia.models.adapter.ends_in_softmax`), when
  the outputs are probabilities. Every training path takes its loss here."""
  from tfmia.models.adapter import ends_in_softmax
  return tf.keras.losses.SparseCategoricalCrossentropy(
      from_logits=not ends_in_softmax(model), **kwargs)


def compile_model(model: tf.keras.Model, config: TrainConfig, steps_per_epoch: int,
                  *, optimizer: Optional[tf.keras.optimizers.Optimizer] = None,
                  loss: Optional[tf.keras.losses.Loss] = None) -> None:
  """Compiles `model` with `config`'s optimizer and, unless `loss` is given,
  the cross-entropy its outputs need (`classification_loss`)."""
  model.compile(
      optimizer=optimizer or make_optimizer(config, steps_per_epoch),
      loss=loss or classification_loss(model),
      metrics=["accuracy"])
  build_step_variables(model)


def build_optimizer(optimizer, variables) -> None:
  """Creates `optimizer`'s slot variables for `variables` now, eagerly, as
  its first `apply_gradients` would (Keras' optimizers, and the legacy
  ones tensorflow-privacy's DP optimizers derive from)."""
  variables = list(variables)
  if hasattr(optimizer, "_create_all_weights"):      # legacy OptimizerV2
    optimizer._create_all_weights(variables)
  elif not getattr(optimizer, "_built", False):
    optimizer.build(variables)


def build_step_variables(model: tf.keras.Model) -> None:
  """Creates the variables a compiled `model`'s first training step would:
  its optimizer's slots and its compiled loss's and metrics' totals.

  Keras creates them inside the first step, and a `tf.function` that
  creates variables while it is traced is traced a second time, so `fit`
  traced its step twice. Created here, eagerly, the step is traced once
  (a small model's `fit` takes about a quarter less; see
  docs/benchmarks.md). The values are those Keras would create, so the
  trained weights are bit-identical. Every training path compiles through
  here (`compile_model`, `together`, the attack networks)."""
  if not model.built:    # a subclassed model not yet called: Keras will
    return               # build all of it in the first step
  with model.distribute_strategy.scope():
    build_optimizer(model.optimizer, model.trainable_variables)
    if not getattr(model, "outputs", None) or any(
        None in o.shape[1:] for o in model.outputs):
      return   # Keras builds them in the first step, as before
    outputs = [tf.zeros([1, *o.shape[1:]], o.dtype) for o in model.outputs]
    labels = [tf.zeros([1], tf.int64) for _ in outputs]
    if len(outputs) == 1:
      outputs, labels = outputs[0], labels[0]
    if not model.compiled_loss.built:
      model.compiled_loss.build(outputs)
    if not model.compiled_metrics.built:
      model.compiled_metrics.build(outputs, labels)


def train_model(model: tf.keras.Model, data: ClassificationData,
                config: TrainConfig, *,
                out_dir: Optional[Union[str, os.PathLike]] = None,
                callbacks: Sequence[tf.keras.callbacks.Callback] = (),
                optimizer: Optional[tf.keras.optimizers.Optimizer] = None,
                loss: Optional[tf.keras.losses.Loss] = None,
                extra_config: Optional[dict] = None,
                drop_remainder: bool = False) -> TrainResult:
  """Trains `model` on `data.x_train`, validating on `data.x_test`.

  Args:
    model: a Keras model that outputs logits.
    data: scaled data; the train split is what the model learns (the members).
    config: the training configuration.
    out_dir: if given, receives config.json, history.json and the weights
      (each written atomically).
    callbacks: extra Keras callbacks, e.g. `PrivacyMetrics`.
    optimizer: overrides the optimizer named in `config` (e.g. a DP optimizer).
    loss: overrides the default sparse categorical cross-entropy on logits.
    extra_config: more settings to record in config.json (model, data, ...).
    drop_remainder: drop each epoch's last partial batch (DP-SGD with
      microbatches needs batches it can split evenly).

  Returns:
    The trained model and its per-epoch history.
  """
  if not isinstance(config, TrainConfig):
    raise TypeError(f"`config` must be a TrainConfig. "
                    f"Received: {type(config).__name__}")
  if not isinstance(data, ClassificationData):
    raise TypeError(f"`data` must be a ClassificationData. "
                    f"Received: {type(data).__name__}")
  if tuple(model.input_shape[1:]) != data.input_shape:
    raise ValueError(f"`model` expects inputs of shape {model.input_shape[1:]} "
                     f"but `data` has {data.input_shape}.")
  if model.output_shape[-1] != data.num_classes:
    raise ValueError(f"`model` has {model.output_shape[-1]} outputs but `data` "
                     f"has {data.num_classes} classes.")
  if not np.issubdtype(data.x_train.dtype, np.floating):
    raise ValueError("`data` pixels must be scaled to floats first "
                     "(tfmia.data.scale_pixels). "
                     f"Received: dtype={data.x_train.dtype}")
  if config.augment and data.x_train.ndim != 4:
    raise ValueError("TrainConfig `augment` flips and shifts (N, H, W, C) "
                     f"images; these inputs are {data.input_shape}. Turn it "
                     "off.")
  if out_dir is not None:
    out_dir = fs.path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {"train": config, **(extra_config or {})}
    io.atomic_write_json(out_dir / CONFIG_FILE, record)

  steps = math.ceil(len(data.x_train) / config.batch_size)
  compile_model(model, config, steps, optimizer=optimizer, loss=loss)
  cbs = list(callbacks)
  if config.early_stopping:
    cbs.insert(0, tf.keras.callbacks.EarlyStopping(
        monitor=config.monitor, patience=config.patience,
        mode="min" if config.monitor == "val_loss" else "max",
        restore_best_weights=True))
  keras_history = model.fit(
      make_train_dataset(data.x_train, data.y_train, config,
                         drop_remainder=drop_remainder),
      validation_data=(data.x_test, data.y_test),
      validation_batch_size=validation_batch_size(model, config.batch_size),
      epochs=config.epochs, callbacks=cbs, verbose=config.verbose)
  history = TrainingHistory.from_keras(keras_history)
  if out_dir is not None:
    history.save(out_dir / HISTORY_FILE)
    save_weights(model, out_dir / WEIGHTS_FILE)
  return TrainResult(model=model, history=history)


def weights_bytes(model: tf.keras.Model) -> bytes:
  """The model's weights as the bytes of a Keras `.weights.h5` file, made in
  memory.

  Serialising in memory and writing with plain file I/O is what makes a
  full disk a clean `io.NoSpaceError`: h5py writing straight to a full disk
  prints dozens of tracebacks and can crash the interpreter (rc 139).
  Keras 2.15 builds `.weights.h5` files this way inside `.keras` archives;
  the file is the one `model.save_weights` writes (tested).
  """
  from keras.src.saving import saving_lib

  class _Sink:  # what H5IOStore writes an in-archive file to
    data = b""

    def writestr(self, name, data):
      del name
      self.data = data

  sink = _Sink()
  weights_store = saving_lib.H5IOStore(WEIGHTS_FILE, archive=sink, mode="w")
  saving_lib._save_state(  # pylint: disable=protected-access
      model, weights_store=weights_store, assets_store=None, inner_path="",
      visited_trackables=set())
  weights_store.close()
  return sink.data


def save_weights(model: tf.keras.Model, path: Union[str, os.PathLike]) -> None:
  """Saves weights atomically (a Keras `.weights.h5` file)."""
  io.atomic_write_bytes(path, weights_bytes(model))


def load_weights(model: tf.keras.Model,
                 path: Union[str, os.PathLike]) -> tf.keras.Model:
  """Loads weights saved by `save_weights`; a `ValueError` naming the file
  when it is truncated, corrupted or made for another architecture."""
  path = fs.path(path)
  if not path.is_file():
    raise FileNotFoundError(2, "No such weights file", os.fspath(path))
  try:
    with io.local_file(path) as local:
      model.load_weights(os.fspath(local))
  except (OSError, ValueError, KeyError) as e:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise ValueError(f"{path} cannot be loaded into a {model.name!r} model "
                     f"(truncated, corrupted, or another architecture): "
                     f"{first}") from None
  return model


def load_run(run: Union[str, os.PathLike], *, data_dir: Optional[str] = None):
  """Rebuilds the model of a `tfmia train` run folder and its data.

  Args:
    run: the folder, holding config.json and the weights.
    data_dir: overrides the run's tfds data directory.

  Returns:
    (model, prepared data, the run's config record).
  """
  from tfmia import data as tfdata
  from tfmia import models
  run = fs.path(run)
  if not run.is_dir() or not (run / CONFIG_FILE).is_file():
    raise FileNotFoundError(
        2, f"`run` must be a folder written by `tfmia train`, holding "
        f"{CONFIG_FILE}", os.fspath(run))
  path = run / CONFIG_FILE
  record = io.read_json(path)
  if (not isinstance(record, dict) or not isinstance(record.get("model"), dict)
      or "data" not in record or "builder" not in record["model"]):
    raise ValueError(f"{path} does not name the model builder and data of "
                     "the run; was it written by `tfmia train`?")
  data_cfg = io.from_dict(tfdata.DataConfig, record["data"], "data",
                          where=os.fspath(path))
  kwargs = record["model"].get("kwargs", {})
  if not isinstance(kwargs, dict):
    raise ValueError(f"`model.kwargs` in {path} must be a JSON object. "
                     f"Received: {kwargs!r}")
  try:
    models.check_kwargs(record["model"]["builder"], kwargs)
  except ValueError as e:
    raise ValueError(f"{path}: {e}") from None
  problem = store.unit_problem(run / store.DONE_FILE,
                               store.record_fingerprint(record, RUN_IGNORE))
  if problem is not None:
    done = store.read_done(run / store.DONE_FILE) or {}
    if "record" in done and "other settings" in problem:
      diff = store.differences(done["record"],
                               store.comparable(record, RUN_IGNORE))
      raise ValueError(f"{path} was changed after the run finished: "
                       f"{'; '.join(diff[:6]) or 'its values'}. Restore it, "
                       "or train again with the new settings.")
    raise ValueError(f"The run in {run} is not complete: {problem}. Run "
                     "`tfmia train` again with the same settings: it "
                     "redoes it.")
  if data_dir:
    data_cfg = data_cfg.replace(data_dir=data_dir)
  data = tfdata.prepare_data(data_cfg)
  model = models.build_model(record["model"]["builder"], data.input_shape,
                             data.num_classes, **kwargs)
  load_weights(model, run / WEIGHTS_FILE)
  return model, data, {**record, "data": data_cfg}
