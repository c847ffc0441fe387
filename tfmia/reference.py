"""Reference (shadow) models: the membership matrix, resumable and shardable
training, and loading a finished reference folder.

Layout of a reference folder::

    refdir/
      config.json        the ReferenceConfig
      membership.npz     ref_is_member (K, N) bool, target_is_member (N,)
                         bool, seed
      target/            the target model
      ref_000/ ...       reference model k
        is_member.npy    its row of the membership matrix
        model.weights.h5, history.json, config.json
        done.json        written last (`tfmia.infra.store`): marks the model
                         complete, with the SHA-256 of is_member.npy and of
                         the weights
        variants/        its variants (`tfmia.variants`), each a store unit
        signals/         its cached signals (`tfmia.audits.audit`)

The pool (N examples) is the prepared data's train split and the population
is its test split (`DataConfig.train_size` / `test_size` set their sizes), so
the population never overlaps any model's training data.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from tfmia.infra import fs, io, store

from tfmia import models
from tfmia.data import ClassificationData, DataConfig, prepare_data
from tfmia.training.config import TrainConfig
from tfmia.training.hire import HireConfig
from tfmia.training.loop import WEIGHTS_FILE, load_weights

logger = logging.getLogger(__name__)

CONFIG_FILE = store.CONFIG_FILE
MEMBERSHIP_FILE = store.MEMBERSHIP_FILE
MEMBER_FILE = "is_member.npy"
DONE_FILE = store.DONE_FILE
TARGET = "target"


def model_name(index: int) -> str:
  """Folder name of reference model `index`."""
  return f"ref_{index:03d}"


def model_index(name: str) -> int:
  """The index k of reference model `name` ("ref_007" -> 7); the inverse of
  `model_name`."""
  return int(name.split("_")[1])


# ---------------------------------------------------------------------------
# Membership


def _half_mask(num_examples: int, rng: np.random.Generator) -> np.ndarray:
  mask = np.zeros(num_examples, dtype=bool)
  mask[rng.permutation(num_examples)[:num_examples // 2]] = True
  return mask


def membership_matrix(num_examples: int, num_models: int,
                      seed: int) -> np.ndarray:
  """(K, N) bool: which pool examples each reference model trains on.

  Models come in complementary pairs (2j, 2j+1): pair j splits the pool in
  half at random, so every example is IN for exactly half of the models.
  Pair j depends only on (seed, j): adding models keeps the earlier rows.

  Args:
    num_examples: N, the pool size (>= 2).
    num_models: K, even and >= 2.
    seed: the matrix's seed.
  """
  if not isinstance(num_examples, int) or num_examples < 2:
    raise ValueError(f"`num_examples` must be an int >= 2. "
                     f"Received: num_examples={num_examples!r}")
  if not isinstance(num_models, int) or num_models < 2 or num_models % 2:
    raise ValueError("`num_models` must be an even int >= 2 (models come in "
                     f"complementary pairs). Received: num_models={num_models!r}")
  rows = []
  for j in range(num_models // 2):
    m = _half_mask(num_examples, np.random.default_rng([seed, 1, j]))
    rows += [m, ~m]
  return np.stack(rows)


def target_membership(num_examples: int, seed: int) -> np.ndarray:
  """(N,) bool: the target model's own random half of the pool."""
  return _half_mask(num_examples, np.random.default_rng([seed, 0]))


SPLITS = ("pairs", "mia_prune")


def mia_prune_split(num_examples: int, num_models: int,
                    seed: int) -> dict[str, np.ndarray]:
  """The data split of Yuan & Zhang's pruning study (mia_prune
  `pretrain.py`), with scikit-learn's `train_test_split` and the same
  random states: the pool is halved into a victim half and a shadow half;
  the victim half into train (≈45%), test (45%) and dev (≈10%); the shadow
  half is resplit the same way for each shadow model k (random state
  seed + k).

  Returns:
    Bool masks over the N pool examples: target_is_member, target_test,
    target_dev (N,), and ref_is_member, ref_test, ref_dev (K, N).
  """
  from sklearn.model_selection import train_test_split
  if not isinstance(num_examples, int) or num_examples < 20:
    raise ValueError("`num_examples` must be an int >= 20 for the mia_prune "
                     f"split. Received: num_examples={num_examples!r}")

  def masks(idx):
    out = []
    for part in idx:
      m = np.zeros(num_examples, bool)
      m[np.asarray(part, int)] = True
      out.append(m)
    return out

  def three_way(items, state):
    train, test = train_test_split(items, test_size=0.45, random_state=state)
    train, dev = train_test_split(train, test_size=0.1818, random_state=state)
    return masks((train, test, dev))

  victim, shadow = train_test_split(list(range(num_examples)), test_size=0.5,
                                    random_state=seed)
  t_train, t_test, t_dev = three_way(victim, seed)
  rows = [three_way(shadow, seed + k) for k in range(num_models)]
  return {"target_is_member": t_train, "target_test": t_test,
          "target_dev": t_dev,
          "ref_is_member": np.stack([r[0] for r in rows]),
          "ref_test": np.stack([r[1] for r in rows]),
          "ref_dev": np.stack([r[2] for r in rows])}


# ---------------------------------------------------------------------------
# Configuration


@dataclasses.dataclass(frozen=True)
class ReferenceConfig:
  """A target model and K reference models of one architecture.

  Saved as config.json in the reference folder. `tfmia reference train` and
  `tfmia audit` both read it.
  """

  data: DataConfig = DataConfig()      # train split = pool, test = population
  model: str = "conv"                  # a registered model builder
  model_kwargs: tuple[tuple[str, Any], ...] = ()  # builder options, (key, value)
  train: TrainConfig = TrainConfig()
  num_models: int = 4                  # K reference models (even)
  seed: int = 0                        # membership and weight-init seed
  reference_dir: str = "references"    # where the models are written
  # Models ("target", "ref_000", ...) whose weights are also kept after every
  # epoch, in <model>/checkpoints/ (not part of the fingerprint).
  checkpoints: tuple = ()
  # "pairs": complementary random halves of the pool (RMIA / LiRA). Or
  # "mia_prune": a victim half and a shadow half, each split into train,
  # test and dev (`mia_prune_split`); models validate on their dev set.
  split: str = dataclasses.field(default="pairs", metadata=io.ADDED_LATER)
  # Train every model with HIRE-SNN's crafted input noise
  # (`tfmia.training.hire`) instead of plain `train_model`: a spiking model's
  # references then are HIRE-trained too. None: standard training.
  hire: Optional[HireConfig] = dataclasses.field(default=None,
                                                 metadata=io.ADDED_LATER)

  def __post_init__(self):
    if self.hire is not None and not isinstance(self.hire, HireConfig):
      raise TypeError("`hire` must be a tfmia.training.hire.HireConfig or "
                      f"None. Received: {type(self.hire).__name__}")
    object.__setattr__(self, "checkpoints", tuple(self.checkpoints))
    if self.hire is not None and self.checkpoints:
      raise ValueError("`checkpoints` are not kept under HIRE training "
                       "(`hire`): the per-epoch callback would save HIRE's "
                       "training wrapper, not the spiking model. Received: "
                       f"checkpoints={self.checkpoints!r}")
    for name in self.checkpoints:
      if name != TARGET and not (isinstance(name, str)
                                 and name.startswith("ref_")
                                 and name[4:].isdigit()):
        raise ValueError("`checkpoints` must name models: 'target' or "
                         f"'ref_000', 'ref_001', .... Received: {name!r}")
    object.__setattr__(self, "model_kwargs", tuple(
        (str(k), v) for k, v in (self.model_kwargs.items()
                                 if isinstance(self.model_kwargs, dict)
                                 else self.model_kwargs)))
    if self.model not in models.available_models():
      raise ValueError(f"`model` must be one of {models.available_models()}. "
                       f"Received: model={self.model!r}")
    if self.split not in SPLITS:
      raise ValueError(f"`split` must be one of {SPLITS}. "
                       f"Received: split={self.split!r}")
    if self.split == "mia_prune":
      if not isinstance(self.num_models, int) or self.num_models < 1:
        raise ValueError("`num_models` must be a positive int. "
                         f"Received: num_models={self.num_models!r}")
    elif (not isinstance(self.num_models, int) or self.num_models < 2
          or self.num_models % 2):
      raise ValueError("`num_models` must be an even int >= 2 (models come in "
                       f"complementary pairs). Received: "
                       f"num_models={self.num_models!r}")

  def replace(self, **changes) -> "ReferenceConfig":
    return dataclasses.replace(self, **changes)

  @classmethod
  def from_dict(cls, d: dict) -> "ReferenceConfig":
    return io.from_dict(cls, d, "reference config")

  @classmethod
  def load(cls, path: Union[str, os.PathLike]) -> "ReferenceConfig":
    path = fs.path(path)
    if not path.is_file():
      raise FileNotFoundError(f"Config file not found: {path}")
    try:
      return cls.from_dict(io.read_json(path))
    except (TypeError, ValueError) as e:
      if str(path) in str(e):
        raise
      raise ValueError(f"{path}: {e}") from None

  def fingerprint(self) -> str:
    """Hash of everything that changes what a model learns (not K, not the
    folder): models trained under the same fingerprint are interchangeable."""
    return store.fingerprint(_learned(self))


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


def train_one(config: ReferenceConfig, data: ClassificationData,
              is_member: np.ndarray, name: str, model_dir: Path, *,
              progress: bool = True,
              validation: Optional[np.ndarray] = None) -> dict:
  """Trains one model on data.x_train[is_member] and marks it complete. It
  validates on data.x_train[validation] (its non-members when None)."""
  import tensorflow as tf
  from tfmia.training import EpochProgress, train_model
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
  with strategy.scope():
    tf.keras.utils.set_random_seed(_init_seed(config, name))
    model = models.build_model(config.model, data.input_shape,
                               data.num_classes, **dict(config.model_kwargs))
    extra = {"reference": config, "name": name}
    if config.hire is not None:
      from tfmia.training.hire import train_hire
      result = train_hire(model, subset, config.train, config.hire,
                          callbacks=callbacks, out_dir=model_dir,
                          extra_config=extra)
    else:
      result = train_model(model, subset, config.train, out_dir=model_dir,
                           callbacks=callbacks, extra_config=extra)
  hist = result.history
  files = [model_dir / MEMBER_FILE, model_dir / WEIGHTS_FILE]
  if keep:
    files += [checkpoint_path(model_dir, e)
              for e in range(1, len(hist["accuracy"]) + 1)]
  return store.mark_done(
      model_dir / DONE_FILE, config.fingerprint(), files, name=name,
      num_members=int(is_member.sum()),
      member_accuracy=hist["accuracy"][-1],
      nonmember_accuracy=hist.metrics.get("val_accuracy", [np.nan])[-1],
      seconds=time.perf_counter() - start)


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


def _learned(config: ReferenceConfig) -> dict:
  """The settings that change what a model learns (what the fingerprint
  hashes)."""
  kept = {k: v for k, v in io.to_jsonable(config).items()
          if k not in ("num_models", "reference_dir", "checkpoints")}
  kept["data"].pop("data_dir", None)
  kept["data"].pop("download", None)
  kept["train"].pop("verbose", None)
  return kept


def check_buildable(config: ReferenceConfig,
                    data: ClassificationData) -> None:
  """Builds the model once, so a bad `model_kwargs` fails before anything is
  written. (No `clear_session` here: it would leave an active
  tf.distribute scope.)"""
  models.build_model(config.model, data.input_shape, data.num_classes,
                     **dict(config.model_kwargs))


def _train_unit(train_fn, config, data, mask, name, model_dir, progress,
                kwargs):
  """One model, as an executor's unit (a module-level function)."""
  train_fn(config, data, mask, name, fs.path(model_dir), progress=progress,
           **kwargs)
  return name


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
      one unit (`resources` each: `executors.Resources`). None: one after
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
  data = data if data is not None else prepare_data(config.data)
  check_buildable(config, data)
  io.check_output_dir(directory, "the reference folder")
  ref_is_member, target_is_member = _write_membership(directory, config, len(data.x_train))
  saved = config
  if (directory / CONFIG_FILE).exists():
    old = ReferenceConfig.load(directory / CONFIG_FILE)
    saved = config.replace(num_models=max(old.num_models, config.num_models))
  io.atomic_write_json(directory / CONFIG_FILE, saved)
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
  if executor is None:
    for name, mask, model_dir, kwargs in jobs:
      train_fn(config, data, mask, name, model_dir, progress=progress,
               **kwargs)
      out["trained"].append(name)
    return out
  from tfmia.infra import executors  # pylint: disable=g-import-not-at-top
  shared = executors.Shared(data)
  units = [executors.Unit(
      name, _train_unit,
      (train_fn, config, shared, mask, name, os.fspath(model_dir),
       progress and executor.name == "local", kwargs),
      resources=resources or executors.Resources())
           for name, mask, model_dir, kwargs in jobs]
  report = executor.run(units)
  out["trained"] = list(report.values)
  report.raise_failures()
  return out


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


# ---------------------------------------------------------------------------
# Loading


@dataclasses.dataclass(frozen=True, eq=False)
class ReferenceSet:
  """A finished reference folder: its config and membership.

  Attributes:
    directory: the folder.
    config: its ReferenceConfig (num_models = the K in use).
    ref_is_member: (K, N) bool membership of the K reference models.
    target_is_member: (N,) bool membership of the target model.
  """

  directory: Path
  config: ReferenceConfig
  ref_is_member: np.ndarray
  target_is_member: np.ndarray
  # The mia_prune split's other masks (`mia_prune_split`); None for pairs.
  split_masks: Optional[dict] = None

  @property
  def num_models(self) -> int:
    return len(self.ref_is_member)

  @property
  def evaluated(self) -> Optional[np.ndarray]:
    """(N,) bool: the examples the target is attacked on (mia_prune: its
    train and test sets); None: the whole pool."""
    if self.split_masks is None:
      return None
    return self.target_is_member | self.split_masks["target_test"]

  @property
  def ref_in_split(self) -> Optional[np.ndarray]:
    """(K, N) bool: each shadow model's own train and test examples
    (mia_prune); None: the whole pool."""
    if self.split_masks is None:
      return None
    return self.ref_is_member | self.split_masks["ref_test"][:self.num_models]

  @property
  def population_in_pool(self) -> Optional[np.ndarray]:
    """(N,) bool: pool examples that serve as the population (mia_prune:
    the victim's dev set, which no model trains on); None: the population
    is the data's test split."""
    if self.split_masks is None:
      return None
    return self.split_masks["target_dev"]

  def own_split(self, name: str) -> Optional[np.ndarray]:
    """(N,) bool: model `name`'s own train and test examples, the ones
    mia_prune queries it on (target: `evaluated`; shadow k: row k of
    `ref_in_split`); None: the whole pool."""
    self._check_name(name)
    if self.split_masks is None:
      return None
    if name == TARGET:
      return self.evaluated
    return self.ref_in_split[model_index(name)]

  def validation_of(self, name: str) -> Optional[np.ndarray]:
    """(N,) bool: model `name`'s dev set (mia_prune); None otherwise."""
    self._check_name(name)
    if self.split_masks is None:
      return None
    if name == TARGET:
      return self.split_masks["target_dev"]
    return self.split_masks["ref_dev"][model_index(name)]

  @classmethod
  def load(cls, directory: Union[str, os.PathLike],
           num_models: Optional[int] = None,
           config: Optional[ReferenceConfig] = None) -> "ReferenceSet":
    """Loads and checks a reference folder before any work is done.

    Raises:
      FileNotFoundError: the folder, its membership file, or some of the
        target / K reference models are missing or incomplete (named).
      ValueError: the membership matrix does not match the config's seed or
        the models' membership masks, or `config` differs from the folder's.
    """
    directory = fs.path(directory)
    if not (directory / CONFIG_FILE).is_file():
      raise FileNotFoundError(
          f"No reference folder at {directory} (no {CONFIG_FILE}). "
          "Run `tfmia reference train` first.")
    saved = ReferenceConfig.load(directory / CONFIG_FILE)
    if config is not None and config.fingerprint() != saved.fingerprint():
      raise ValueError(f"{directory} was trained with a different "
                       "configuration than the one given.")
    k = num_models or (config.num_models if config else saved.num_models)
    if not (directory / MEMBERSHIP_FILE).is_file():
      raise FileNotFoundError(f"{directory / MEMBERSHIP_FILE} is missing.")
    ref_is_member, target_is_member = read_membership(
        directory / MEMBERSHIP_FILE)
    n = ref_is_member.shape[1]
    split_masks = None
    if saved.split == "mia_prune":
      split_masks = mia_prune_split(n, k, saved.seed)
      expected, target_expected = (split_masks["ref_is_member"],
                                   split_masks["target_is_member"])
    else:
      expected = membership_matrix(n, k, saved.seed)
      target_expected = target_membership(n, saved.seed)
    m = min(k, len(ref_is_member))
    if (not np.array_equal(ref_is_member[:m], expected[:m])
        or not np.array_equal(target_is_member, target_expected)):
      raise ValueError(
          f"The membership matrix in {directory / MEMBERSHIP_FILE} "
          f"(shape {ref_is_member.shape}) does not match {k} reference models with "
          f"seed {saved.seed}.")
    ref_is_member = expected
    fingerprint = saved.fingerprint()
    names = job_names(k)
    problems = {nm: unit_problem(directory / nm, fingerprint) for nm in names}
    missing = [f"{nm} ({why})" for nm, why in problems.items() if why]
    if missing:
      raise FileNotFoundError(
          f"{len(missing)} of {len(names)} models in {directory} are missing "
          f"or incomplete: {', '.join(missing)}. Run `tfmia reference train` "
          "(it resumes, and redoes corrupted models).")
    for nm, row in zip(names, [target_is_member] + list(ref_is_member[:k])):
      if not np.array_equal(io.load_npy(directory / nm / MEMBER_FILE), row):
        raise ValueError(f"{directory / nm / MEMBER_FILE} does not match its "
                         f"row of the membership matrix.")
    return cls(directory=directory, config=saved.replace(num_models=k),
               ref_is_member=ref_is_member[:k],
               target_is_member=target_is_member, split_masks=split_masks)

  def load_model(self, name: str, input_shape: Sequence[int],
                 num_classes: int):
    """Builds model `name` ("target" or "ref_003") and loads its weights.
    Its variants are loaded with `tfmia.variants.load_model`."""
    self._check_name(name)
    model = models.build_model(self.config.model, tuple(input_shape),
                               num_classes, **dict(self.config.model_kwargs))
    return load_weights(model, self.directory / name / WEIGHTS_FILE)

  def checkpoint_epochs(self, name: str) -> list[int]:
    """The epochs whose weights model `name` kept (ReferenceConfig's
    `checkpoints`); empty when it kept none."""
    self._check_name(name)
    return checkpoint_epochs(self.directory / name)

  def load_checkpoint(self, name: str, epoch: int, input_shape: Sequence[int],
                      num_classes: int):
    """Model `name` with its weights after `epoch`."""
    self._check_name(name)
    path = checkpoint_path(self.directory / name, epoch)
    if not path.is_file():
      raise ValueError(f"Model {name!r} kept no weights for epoch {epoch} "
                       f"({path} is missing); it kept epochs "
                       f"{self.checkpoint_epochs(name) or 'none'}. Train with "
                       f"ReferenceConfig(checkpoints=({name!r},)).")
    model = models.build_model(self.config.model, tuple(input_shape),
                               num_classes, **dict(self.config.model_kwargs))
    return load_weights(model, path)

  def _check_name(self, name: str) -> None:
    if name not in self.model_names():
      raise ValueError(f"`name` must be one of {TARGET!r} or ref_000 .. "
                       f"{model_name(self.num_models - 1)}. Received: {name!r}")

  def model_names(self) -> list[str]:
    """The target, then the K reference models."""
    return job_names(self.num_models)

  def reference_names(self) -> list[str]:
    return [model_name(k) for k in range(self.num_models)]

  def is_member_of(self, name: str) -> np.ndarray:
    """(N,) bool: the pool examples model `name` trained on."""
    self._check_name(name)
    if name == TARGET:
      return self.target_is_member
    return self.ref_is_member[model_index(name)]

  def fingerprint(self, name: str) -> str:
    """Identifies model `name`: the folder's config, the name and the hash
    of its weights (so a retrained model is a different source)."""
    done = store.read_done(self.directory / name / DONE_FILE) or {}
    return store.fingerprint([self.config.fingerprint(), name,
                              done.get("sha256", {}).get(WEIGHTS_FILE)])

  def accuracy(self, name: str) -> tuple[float, float]:
    """(member, non-member) accuracy recorded when `name` finished training."""
    done = io.read_json(self.directory / name / DONE_FILE)
    return done["member_accuracy"], done["nonmember_accuracy"]
