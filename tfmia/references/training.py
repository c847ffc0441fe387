"""Training a reference folder: each model one resumable store unit,
shardable across jobs (Slurm) or run by an executor (Ray)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from tfmia.infra import fs, io, store
from tfmia import models
from tfmia.data import ClassificationData, prepare_data
from tfmia.training.loop import WEIGHTS_FILE

from tfmia.references.membership import (CONFIG_FILE, DONE_FILE,
                                         LOSS_TRACE_FILE,
                                         MEMBER_FILE,
                                         MEMBERSHIP_FILE, TARGET,
                                         membership_matrix, mia_prune_split,
                                         model_index, model_name,
                                         target_membership)
from tfmia.references.config import ReferenceConfig, _learned
from tfmia.references.one_model import (CHECKPOINTS_DIR, stack_groups,
                                        train_one, train_stack)

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
                 fingerprint: str, *, checkpoints: bool = False,
                 loss_trace: bool = False) -> Optional[str]:
  """Why model folder `model_dir` is not complete, or None when it is: its
  done marker must match `fingerprint`, and its membership mask and weights
  be the files it recorded (so a corrupted or half-copied file is redone).
  With `checkpoints`, it must also hold the per-epoch weights, unchanged;
  with `loss_trace` (a folder with `loss_traces=True`), its loss trace."""
  model_dir = fs.path(model_dir)
  marker = model_dir / DONE_FILE
  problem = store.unit_problem(
      marker, fingerprint, [model_dir / MEMBER_FILE, model_dir / WEIGHTS_FILE]
      + ([model_dir / LOSS_TRACE_FILE] if loss_trace else []))
  if problem or not checkpoints:
    return problem
  recorded = (store.read_done(marker) or {}).get("sha256", {})
  if not any(k.startswith(CHECKPOINTS_DIR + "/") for k in recorded):
    return "trained without its per-epoch checkpoints"
  return store.unit_problem(marker, fingerprint, None)


def is_complete(model_dir: Union[str, os.PathLike], fingerprint: str) -> bool:
  """True when `unit_problem` finds none."""
  return unit_problem(model_dir, fingerprint) is None


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


# The architectures `check_buildable` has built in this process (a study
# checks each kind before it trains, and `train_references` again).
_BUILT: set = set()


def check_buildable(config: ReferenceConfig,
                    data: ClassificationData) -> None:
  """Builds the model once, so a bad `model_kwargs` fails before anything is
  written, and, with `config.together` above 1, that the stack fits in
  memory. An architecture this process has built with the same builder is
  not built again. (No `clear_session` here: it would leave an active
  tf.distribute scope.)"""
  key = (models.get_builder(config.model), store.fingerprint(
      [config.model, dict(config.model_kwargs), list(data.input_shape),
       data.num_classes]))
  if config.together == 1 and key in _BUILT:
    return    # this builder built it in this process before
  model = models.build_model(config.model, data.input_shape,
                             data.num_classes, **dict(config.model_kwargs))
  _BUILT.add(key)
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
                           checkpoints=name in config.checkpoints,
                           loss_trace=config.loss_traces)
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
  stacks = (stack_groups(jobs, config.together)
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
                          checkpoints=name in config.checkpoints,
                          loss_trace=config.loss_traces) is None
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
    if unit_problem(directory / name, fingerprint,
                    loss_trace=config.loss_traces) is not None:
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
  done = [n for n in names
          if unit_problem(directory / n, fingerprint,
                          checkpoints=n in config.checkpoints,
                          loss_trace=config.loss_traces) is None]
  return done, [n for n in names if n not in done]


