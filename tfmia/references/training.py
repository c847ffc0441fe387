"""Training a reference folder: each model one resumable store unit,
shardable across jobs (Slurm) or run by an executor (Ray)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np

from tfmia.infra import fs, io, store
from tfmia import models
from tfmia.data import ClassificationData, prepare_data
from tfmia.training.loop import WEIGHTS_FILE

from tfmia.references.membership import (CONFIG_FILE, DONE_FILE,
                                         LOSS_TRACE_FILE, MEMBER_FILE,
                                         MEMBERSHIP_FILE, TARGET,
                                         membership_matrix, mia_prune_split,
                                         model_index, model_name,
                                         target_membership)
from tfmia.references.config import ReferenceConfig, _learned

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# Training


def parse_shard(spec: Optional[str]) -> Optional[tuple[int, int]]:
  """"i/N" (1-based) -> (i, N); "auto": this Slurm array task's
  (`executors.slurm_shard`); None stays None."""
  if spec is None:
    return None
  if spec == "auto":
    from tfmia.infra.executors import slurm_shard  # pylint: disable=g-import-not-at-top
    return slurm_shard()
  try:
    i, n = (int(p) for p in str(spec).split("/"))
  except ValueError:
    raise ValueError(f"`shard` must look like i/N, e.g. 3/8. "
                     f"Received: shard={spec!r}") from None
  if not 1 <= i <= n:
    raise ValueError(f"`shard` i/N needs 1 <= i <= N. Received: shard={spec!r}")
  return i, n


def job_names(num_models: int) -> list[str]:
  """The target, then reference models 0..K-1."""
  return [TARGET] + [model_name(k) for k in range(num_models)]


def shard_jobs(num_models: int, shard: Optional[tuple[int, int]]) -> list[str]:
  """The models shard i of N trains: every N-th job, starting at job i-1."""
  names = job_names(num_models)
  if shard is None:
    return names
  i, n = shard
  return names[i - 1::n]


def unit_problem(model_dir: Union[str, os.PathLike],
                 fingerprint: str, *, checkpoints: bool = False
                 ) -> Optional[str]:
  """Why model folder `model_dir` is not complete, or None when it is: its
  done marker must match `fingerprint`, and its membership mask and weights
  be the files it recorded (so a corrupted or half-copied file is redone).
  With `checkpoints`, it must also hold the per-epoch weights, unchanged."""
  model_dir = fs.path(model_dir)
  marker = model_dir / DONE_FILE
  problem = store.unit_problem(marker, fingerprint,
                               [model_dir / MEMBER_FILE, model_dir / WEIGHTS_FILE])
  if problem or not checkpoints:
    return problem
  recorded = (store.read_done(marker) or {}).get("sha256", {})
  if not any(k.startswith(CHECKPOINTS_DIR + "/") for k in recorded):
    return "trained without its per-epoch checkpoints"
  return store.unit_problem(marker, fingerprint, None)


CHECKPOINTS_DIR = "checkpoints"


def checkpoint_path(model_dir: Union[str, os.PathLike], epoch: int) -> Path:
  """Model `model_dir`'s weights after `epoch` (1-based)."""
  return fs.path(model_dir) / CHECKPOINTS_DIR / f"epoch_{epoch:03d}.weights.h5"


def checkpoint_epochs(model_dir: Union[str, os.PathLike]) -> list[int]:
  """The epochs whose weights model `model_dir` kept, in order."""
  folder = fs.path(model_dir) / CHECKPOINTS_DIR
  return sorted(int(p.name[6:9]) for p in folder.glob("epoch_*.weights.h5"))


def is_complete(model_dir: Union[str, os.PathLike], fingerprint: str) -> bool:
  """True when `unit_problem` finds none."""
  return unit_problem(model_dir, fingerprint) is None


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


def stack_groups(jobs: Sequence[tuple], data: ClassificationData,
                 together: int) -> list[list[tuple]]:
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


def read_membership(path: Path) -> tuple[np.ndarray, np.ndarray]:
  """(ref_is_member (K, N), target_is_member (N,)) from membership.npz."""
  f = io.load_npz(path)
  if "ref_is_member" not in f or "target_is_member" not in f:
    raise ValueError(
        f"{path} holds no `ref_is_member` matrix (keys: {sorted(f)}). "
        "A folder written by tfmia before the store refactor (keep.npy, "
        "`ref_in`) cannot be read: train it again in a new reference_dir.")
  return f["ref_is_member"].astype(bool), f["target_is_member"].astype(bool)


def _write_membership(directory: Path, config: ReferenceConfig,
                      num_examples: int) -> tuple[np.ndarray, np.ndarray]:
  if config.split == "mia_prune":
    split = mia_prune_split(num_examples, config.num_models, config.seed)
    path = directory / MEMBERSHIP_FILE
    if path.exists():
      old, _ = read_membership(path)
      m = min(len(old), config.num_models)
      if old.shape[1] != num_examples or not np.array_equal(
          old[:m], split["ref_is_member"][:m]):
        raise ValueError(f"{path} holds a different split than this config "
                         "gives. Use a new reference_dir.")
    io.atomic_save_npz(path, seed=np.int64(config.seed), **split)
    return split["ref_is_member"], split["target_is_member"]
  ref_is_member = membership_matrix(num_examples, config.num_models, config.seed)
  target_is_member = target_membership(num_examples, config.seed)
  path = directory / MEMBERSHIP_FILE
  if path.exists():
    old, _ = read_membership(path)
    m = min(len(old), len(ref_is_member))
    if old.shape[1] != num_examples or not np.array_equal(old[:m], ref_is_member[:m]):
      raise ValueError(f"{path} holds a different membership matrix "
                       f"(shape {old.shape}) than this config gives "
                       f"({ref_is_member.shape}). Use a new reference_dir.")
    if len(old) > len(ref_is_member):   # keep the larger matrix of an earlier run
      ref_is_member = old
  io.atomic_save_npz(path, ref_is_member=ref_is_member, target_is_member=target_is_member,
                     seed=np.int64(config.seed))
  return ref_is_member, target_is_member


def _check_folder_config(directory: Path, config: ReferenceConfig) -> None:
  path = directory / CONFIG_FILE
  if path.exists():
    saved = ReferenceConfig.load(path)
    if saved.fingerprint() != config.fingerprint():
      diff = store.differences(_learned(saved), _learned(config))
      raise ValueError(
          f"{directory} holds reference models for a different configuration"
          f" ({'; '.join(diff[:6])}). Use a new reference_dir, or delete the "
          "folder to start again.")


def check_buildable(config: ReferenceConfig,
                    data: ClassificationData) -> None:
  """Builds the model once, so a bad `model_kwargs` fails before anything is
  written, and, with `config.together` above 1, that the stack fits in
  memory. (No `clear_session` here: it would leave an active tf.distribute
  scope.)"""
  model = models.build_model(config.model, data.input_shape,
                             data.num_classes, **dict(config.model_kwargs))
  if config.together > 1:
    from tfmia.training import together
    half = (data.x_train.nbytes + 1) // 2
    together.check_memory(config.together, together.model_memory(
        model, config.train.batch_size, 2 * half))


def _train_unit(train_fn, config, data, mask, name, model_dir, progress,
                kwargs):
  """One model, as an executor's unit (a module-level function)."""
  train_fn(config, data, mask, name, fs.path(model_dir), progress=progress,
           **kwargs)
  return name


def _train_stack_unit(config, data, jobs, progress):
  """One stack of models, as an executor's unit."""
  train_stack(config, data, [(n, m, fs.path(d), kw) for n, m, d, kw in jobs],
              progress=progress)
  return "+".join(job[0] for job in jobs)


def train_references(config: ReferenceConfig, *,
                     directory: Optional[Union[str, os.PathLike]] = None,
                     shard: Optional[tuple[int, int]] = None,
                     data: Optional[ClassificationData] = None,
                     progress: bool = True,
                     train_fn: Optional[Callable] = None,
                     executor=None,
                     resources=None) -> dict:
  """Trains the target and the K reference models; skips complete ones.

  Resumable: each model is marked complete (done.json, written atomically
  after its weights) only when it has finished, and a rerun skips complete
  models, so an interrupted run loses nothing that had finished. With
  `shard=(i, N)` only every N-th model is trained (see `shard_jobs`), so
  shards can run on different machines and their folders be merged.

  Args:
    config: what to train.
    directory: the reference folder; `config.reference_dir` when None.
    shard: (i, N), 1-based; None trains everything.
    data: prepared data; `prepare_data(config.data)` when None.
    progress: per-epoch progress bars.
    train_fn: replaces `train_one` (tests use it to interrupt a run).
    executor: a `tfmia.infra.executors` executor: each model still to train is
      one unit (each stack of `config.together` models, when above 1) (`resources` each: `executors.Resources`). None: one after
      another in this process. The data travels to Ray workers once,
      through the object store. A unit that fails on every attempt is
      reported by name after the others have finished.

  Returns:
    {"trained": [...], "skipped": [...], "redone": {name: why}}: the
    models trained now, those complete before, and, among the trained, those
    found interrupted or corrupted, with the reason (e.g. "weights
    truncated").
  """
  if not isinstance(config, ReferenceConfig):
    raise TypeError(f"`config` must be a ReferenceConfig. "
                    f"Received: {type(config).__name__}")
  if shard is not None:
    i, n = shard
    if not (isinstance(i, int) and isinstance(n, int) and 1 <= i <= n):
      raise ValueError(f"`shard` must be (i, N) with 1 <= i <= N. "
                       f"Received: shard={shard!r}")
  directory = fs.path(directory or config.reference_dir)
  _check_folder_config(directory, config)
  models.check_kwargs(config.model, dict(config.model_kwargs))
  if _complete(directory, config, shard):
    # Nothing to train, so nothing to write: a finished folder may be
    # read-only.
    return {"trained": [], "skipped": shard_jobs(config.num_models, shard),
            "redone": {}}
  data = data if data is not None else prepare_data(config.data)
  check_buildable(config, data)
  io.check_output_dir(directory, "the reference folder")
  ref_is_member, target_is_member = _write_membership(directory, config, len(data.x_train))
  saved = config
  if (directory / CONFIG_FILE).exists():
    old = ReferenceConfig.load(directory / CONFIG_FILE)
    saved = config.replace(num_models=max(old.num_models, config.num_models))
  saved.save(directory / CONFIG_FILE)
  fingerprint = config.fingerprint()
  train_fn = train_fn or train_one
  out = {"trained": [], "skipped": [], "redone": {}}
  jobs = []
  for name in shard_jobs(config.num_models, shard):
    model_dir = directory / name
    problem = unit_problem(model_dir, fingerprint,
                           checkpoints=name in config.checkpoints)
    if problem is None:
      out["skipped"].append(name)
      logger.info("%s is complete; skipping it.", name)
      continue
    if (model_dir / DONE_FILE).exists() or (model_dir / WEIGHTS_FILE).exists():
      out["redone"][name] = problem   # started or finished before: say why
      logger.warning("%s is redone: %s.", name, problem)
    mask = target_is_member if name == TARGET else ref_is_member[
        model_index(name)]
    kwargs = {}
    if config.split == "mia_prune":
      dev = mia_prune_split(len(data.x_train), config.num_models, config.seed)
      kwargs["validation"] = (dev["target_dev"] if name == TARGET else
                              dev["ref_dev"][model_index(name)])
    jobs.append((name, mask, model_dir, kwargs))
  stacks = (stack_groups(jobs, data, config.together)
            if config.together > 1 and train_fn is train_one else [])
  if executor is None:
    for group in stacks:
      train_stack(config, data, group, progress=progress)
      out["trained"] += [job[0] for job in group]
    for name, mask, model_dir, kwargs in ([] if stacks else jobs):
      train_fn(config, data, mask, name, model_dir, progress=progress,
               **kwargs)
      out["trained"].append(name)
    return out
  from tfmia.infra import executors  # pylint: disable=g-import-not-at-top
  shared = executors.Shared(data)
  local_bars = progress and executor.name == "local"
  if stacks:
    units = [executors.Unit(
        "+".join(job[0] for job in group), _train_stack_unit,
        (config, shared, [(n, m, os.fspath(d), kw) for n, m, d, kw in group],
         local_bars), resources=resources or executors.Resources())
             for group in stacks]
  else:
    units = [executors.Unit(
        name, _train_unit,
        (train_fn, config, shared, mask, name, os.fspath(model_dir),
         local_bars, kwargs),
        resources=resources or executors.Resources())
             for name, mask, model_dir, kwargs in jobs]
  report = executor.run(units)
  out["trained"] = [n for v in report.values for n in v.split("+")]
  report.raise_failures()
  return out


def _complete(directory: Path, config: ReferenceConfig, shard) -> bool:
  """Whether the folder already holds every model of `shard` complete, its
  membership and a config that covers `config` (nothing to write)."""
  if not ((directory / CONFIG_FILE).is_file()
          and (directory / MEMBERSHIP_FILE).is_file()):
    return False
  saved = ReferenceConfig.load(directory / CONFIG_FILE)
  if saved.num_models < config.num_models:
    return False
  fingerprint = config.fingerprint()
  return all(unit_problem(directory / name, fingerprint,
                          checkpoints=name in config.checkpoints) is None
             for name in shard_jobs(config.num_models, shard))


def train_reference_models(config: ReferenceConfig, data: ClassificationData,
                           directory: Union[str, os.PathLike], *,
                           progress: bool = True):
  """K reference models on complementary random halves of `data.x_train`,
  for a target trained elsewhere (your own saved model): no target is
  trained. The pool is `data.x_train` as given (no scaling), so it must be
  the examples the target is attacked on, preprocessed as the target saw
  them.

  Resumable like `train_references`: each model is a store unit, skipped
  when complete, redone when interrupted or corrupted; a folder holding
  models of another configuration is refused.

  Returns:
    (models, ref_is_member): the K trained Keras models and the (K, N)
    membership matrix (`membership_matrix(N, K, config.seed)`).
  """
  from tfmia.training.loop import load_weights  # pylint: disable=g-import-not-at-top
  if config.split != "pairs":
    raise ValueError("Reference models for your own target come in "
                     "complementary pairs (split='pairs'). Received: "
                     f"split={config.split!r}")
  directory = fs.path(directory)
  _check_folder_config(directory, config)
  models.check_kwargs(config.model, dict(config.model_kwargs))
  check_buildable(config, data)
  io.check_output_dir(directory, "the reference folder")
  ref_is_member = membership_matrix(len(data.x_train), config.num_models,
                                    config.seed)
  config.save(directory / CONFIG_FILE)
  fingerprint = config.fingerprint()
  trained = []
  for k in range(config.num_models):
    name = model_name(k)
    if unit_problem(directory / name, fingerprint) is not None:
      train_one(config, data, ref_is_member[k], name, directory / name,
                progress=progress)
    trained.append(load_weights(
        models.build_model(config.model, data.input_shape, data.num_classes,
                           **dict(config.model_kwargs)),
        directory / name / WEIGHTS_FILE))
  return trained, ref_is_member


def status(config: ReferenceConfig,
           directory: Optional[Union[str, os.PathLike]] = None
           ) -> tuple[list[str], list[str]]:
  """(complete, missing or incomplete) model names of a reference folder.

  Raises, as `train_references` would, when there is no reference folder at
  `directory` or it holds models of another configuration.
  """
  directory = fs.path(directory or config.reference_dir)
  if not (directory / CONFIG_FILE).is_file():
    raise FileNotFoundError(
        2, "No reference folder here (no config.json); `tfmia reference "
        "train` creates it", os.fspath(directory))
  _check_folder_config(directory, config)
  fingerprint = config.fingerprint()
  names = job_names(config.num_models)
  done = [n for n in names if is_complete(directory / n, fingerprint)]
  return done, [n for n in names if n not in done]


