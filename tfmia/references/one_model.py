"""Training one model, or one stack of models together, of a reference
folder: each a resumable store unit with its weights, membership, history,
checkpoints and loss trace. `training.py` trains the folder."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from tfmia.infra import fs, io, store
from tfmia import models
from tfmia.data import ClassificationData
from tfmia.training.loop import WEIGHTS_FILE

from tfmia.references.membership import (DONE_FILE, LOSS_TRACE_FILE,
                                         MEMBER_FILE, TARGET, model_index)
from tfmia.references.config import ReferenceConfig


CHECKPOINTS_DIR = "checkpoints"


def checkpoint_path(model_dir: Union[str, os.PathLike], epoch: int) -> Path:
  """Model `model_dir`'s weights after `epoch` (1-based)."""
  return fs.path(model_dir) / CHECKPOINTS_DIR / f"epoch_{epoch:03d}.weights.h5"


def checkpoint_epochs(model_dir: Union[str, os.PathLike]) -> list[int]:
  """The epochs whose weights model `model_dir` kept, in order."""
  folder = fs.path(model_dir) / CHECKPOINTS_DIR
  return sorted(int(p.name[6:9]) for p in folder.glob("epoch_*.weights.h5"))


def _strategy():
  """The active tf.distribute strategy; MirroredStrategy over several GPUs
  when none is active; otherwise the default (single-device) strategy."""
  import tensorflow as tf
  if tf.distribute.has_strategy():
    return tf.distribute.get_strategy()
  if len(tf.config.list_logical_devices("GPU")) > 1:
    return tf.distribute.MirroredStrategy()
  return tf.distribute.get_strategy()


def _init_seed(config: ReferenceConfig, name: str) -> int:
  index = 0 if name == TARGET else model_index(name) + 1
  return config.seed * 100_003 + index


def train_member_model(builder: str, model_kwargs: dict,
                       members: ClassificationData, train_config, *,
                       seed: int, defense=None, hire=None, callbacks=(),
                       out_dir=None, extra_config=None):
  """Builds model `builder` with its weights seeded by `seed` and trains it
  on `members.x_train`, validating on `members.x_test`: the one place tfmia
  trains a model on a subset of examples (a reference folder's models, the
  one-run audits' canary models, a study's own models).

  Args:
    builder, model_kwargs: a registered model builder and its options.
    members: the data the model trains on (e.g. `data.members(mask)`).
    train_config: a `tfmia.training.TrainConfig`.
    seed: seeds Keras (`tf.keras.utils.set_random_seed`) before the build.
    defense: a `tfmia.training.defenses.Defense` (e.g. DP-SGD); None trains
      plainly. hire: a `HireConfig` trains a spiking model with HIRE-SNN's
      input noise instead.
    callbacks, out_dir, extra_config: as `tfmia.training.train_model`
      (`out_dir` only without a defense).

  Returns:
    The training's result: `.model` (trained) and `.history`; with a
    defense, also `.epsilon` (`DefendedTraining`).
  """
  import tensorflow as tf
  from tfmia.training import train_model
  if defense is not None and hire is not None:
    raise ValueError("`defense` and `hire` cannot be combined.")
  if defense is not None and out_dir is not None:
    raise ValueError("`out_dir` is for training without a defense.")
  tf.keras.utils.set_random_seed(seed)
  model = models.build_model(builder, members.input_shape,
                             members.num_classes, **dict(model_kwargs))
  if hire is not None:
    from tfmia.training.hire import train_hire
    return train_hire(model, members, train_config, hire,
                      callbacks=callbacks, out_dir=out_dir,
                      extra_config=extra_config)
  if defense is not None:
    from tfmia.training.defenses import train_with_defense
    return train_with_defense(model, members, train_config, defense,
                              callbacks=callbacks)
  return train_model(model, members, train_config, out_dir=out_dir,
                     callbacks=callbacks, extra_config=extra_config)


def train_one(config: ReferenceConfig, data: ClassificationData,
              is_member: np.ndarray, name: str, model_dir: Path, *,
              progress: bool = True,
              validation: Optional[np.ndarray] = None) -> dict:
  """Trains one model on data.x_train[is_member] and marks it complete. It
  validates on data.x_train[validation] (its non-members when None)."""
  from tfmia.training import EpochProgress
  is_member = np.asarray(is_member, dtype=bool)
  val = ~is_member if validation is None else np.asarray(validation, bool)
  subset = data.members(is_member, validation=val)
  model_dir.mkdir(parents=True, exist_ok=True)
  store.clear(model_dir / DONE_FILE)
  with io.atomic_path(model_dir / MEMBER_FILE, suffix=".npy") as tmp:
    np.save(tmp, is_member)
  start = time.perf_counter()
  strategy = _strategy()
  callbacks = [EpochProgress(name)] if progress else []
  keep = name in config.checkpoints
  if keep:
    callbacks.append(_checkpoint_callback(model_dir))
  traces = _loss_traces(config, data)
  callbacks += traces
  with strategy.scope():
    result = train_member_model(
        config.model, config.model_kwargs, subset, config.train,
        seed=_init_seed(config, name), hire=config.hire, callbacks=callbacks,
        out_dir=model_dir, extra_config={"reference": config, "name": name})
  hist = result.history
  files = [model_dir / MEMBER_FILE, model_dir / WEIGHTS_FILE]
  if keep:
    files += [checkpoint_path(model_dir, e)
              for e in range(1, len(hist["accuracy"]) + 1)]
  files += _save_trace(traces, 0, model_dir)
  return store.mark_done(
      model_dir / DONE_FILE, config.fingerprint(), files, name=name,
      num_members=int(is_member.sum()),
      member_accuracy=hist["accuracy"][-1],
      nonmember_accuracy=hist.metrics.get("val_accuracy", [np.nan])[-1],
      seconds=time.perf_counter() - start)


def train_stack(config: ReferenceConfig, data: ClassificationData,
                jobs: Sequence[tuple], *, progress: bool = True) -> list[dict]:
  """Trains the models `jobs` ((name, is_member, model_dir, kwargs) each,
  as `train_one` takes them) together, in one Keras graph
  (`tfmia.training.together`), and marks each complete: each model is its
  own store unit, with the files `train_one` writes, and the same weights.
  """
  from tfmia.training import EpochProgress
  from tfmia.training.loop import save_weights
  from tfmia.training.together import train_together
  sets, names, dirs = [], [], []
  for name, is_member, model_dir, kwargs in jobs:
    is_member = np.asarray(is_member, dtype=bool)
    val = kwargs.get("validation")
    val = ~is_member if val is None else np.asarray(val, bool)
    sets.append(data.members(is_member, validation=val))
    model_dir = fs.path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    store.clear(model_dir / DONE_FILE)
    with io.atomic_path(model_dir / MEMBER_FILE, suffix=".npy") as tmp:
      np.save(tmp, is_member)
    names.append(name)
    dirs.append(model_dir)
  kept = [i for i, n in enumerate(names) if n in config.checkpoints]
  callbacks = [EpochProgress(f"{names[0]}..{names[-1]} together")
               ] if progress else []
  if kept:
    callbacks.append(_stack_checkpoints([(i, dirs[i]) for i in kept]))
  traces = _loss_traces(config, data)
  callbacks += traces
  for d, name in zip(dirs, names):
    io.atomic_write_json(d / store.CONFIG_FILE, {
        "train": config.train, "reference": config, "name": name})
  start = time.perf_counter()
  strategy = _strategy()
  with strategy.scope():
    results = train_together(
        lambda: models.build_model(config.model, data.input_shape,
                                   data.num_classes,
                                   **dict(config.model_kwargs)),
        sets, config.train, [_init_seed(config, n) for n in names],
        callbacks=callbacks)
  seconds = (time.perf_counter() - start) / len(names)
  done = []
  for i, (name, d, members, result) in enumerate(
      zip(names, dirs, sets, results)):
    hist = result.history
    hist.save(d / store.HISTORY_FILE)
    save_weights(result.model, d / WEIGHTS_FILE)
    files = [d / MEMBER_FILE, d / WEIGHTS_FILE]
    if name in config.checkpoints:
      files += [checkpoint_path(d, e)
                for e in range(1, len(hist["accuracy"]) + 1)]
    files += _save_trace(traces, i, d)
    done.append(store.mark_done(
        d / DONE_FILE, config.fingerprint(), files, name=name,
        num_members=len(members.x_train),
        member_accuracy=hist["accuracy"][-1],
        nonmember_accuracy=hist.metrics.get("val_accuracy", [np.nan])[-1],
        seconds=seconds, together=len(names)))
  return done


def _stack_checkpoints(kept: Sequence[tuple]):
  """A callback writing, after every epoch, the weights of the stack's
  models `kept` ((position in the stack, model folder) each)."""
  import tensorflow as tf
  from tfmia.training.loop import save_weights
  from tfmia.training.together import stacked_models

  def write(epoch, logs=None):
    stacked = stacked_models(callback.model)
    for index, model_dir in kept:
      path = checkpoint_path(model_dir, epoch + 1)
      path.parent.mkdir(parents=True, exist_ok=True)
      save_weights(stacked[index], path)

  callback = tf.keras.callbacks.LambdaCallback(on_epoch_end=write)
  return callback


def stack_groups(jobs: Sequence[tuple], together: int) -> list[list[tuple]]:
  """`jobs` in stacks of at most `together` models whose member and
  validation sets have one size (one step feeds each model one batch)."""
  by_size: dict = {}
  for job in jobs:
    _, is_member, _, kwargs = job
    val = kwargs.get("validation")
    n_val = (len(is_member) - int(np.sum(is_member)) if val is None
             else int(np.sum(val)))
    by_size.setdefault((int(np.sum(is_member)), n_val), []).append(job)
  return [group[i:i + together] for group in by_size.values()
          for i in range(0, len(group), together)]


def _loss_traces(config: ReferenceConfig, data: ClassificationData) -> list:
  """[a `LossTraces` callback over the pool] when the config records loss
  traces, else []."""
  if not config.loss_traces:
    return []
  from tfmia.training.callbacks import LossTraces
  return [LossTraces(data.x_train, data.y_train)]


def _save_trace(traces: list, index: int, model_dir: Path) -> list:
  """Writes model `index`'s loss trace (when recorded); its file, to be
  covered by the done marker."""
  if not traces:
    return []
  path = model_dir / LOSS_TRACE_FILE
  with io.atomic_path(path, suffix=".npy") as tmp:
    np.save(tmp, traces[0].trace(index))
  return [path]


def _checkpoint_callback(model_dir: Path):
  """A Keras callback writing the weights after every epoch (atomically)."""
  import tensorflow as tf
  from tfmia.training.loop import save_weights

  def write(epoch, logs=None):
    path = checkpoint_path(model_dir, epoch + 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_weights(callback.model, path)

  callback = tf.keras.callbacks.LambdaCallback(on_epoch_end=write)
  return callback
