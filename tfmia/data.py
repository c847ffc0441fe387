"""Image-classification data: loading, class truncation, shuffling, subsets,
pixel scaling and membership splits.

Everything returns new frozen objects; nothing is modified in place. Pixels are
kept in their stored dtype (uint8 for tfds) until `scale_pixels` is called, so
the same arrays can be shown as images and fed to a model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from typing import Optional, Sequence, Union

import numpy as np

from tfmia.infra import fs, io

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "TFMIA_DATA_DIR"

# Image-classification datasets from tensorflow-datasets that tfmia is tested
# with; any other tfds dataset with `image` and `label` features also loads.
TFDS_DATASETS = ("cifar10", "cifar100", "mnist", "fashion_mnist", "svhn_cropped")
# Always offline: scikit-learn's digits as 8x8 images or as 64 flat
# features, and a generated Purchase100-like tabular set.
OFFLINE_DATASETS = ("digits", "digits_flat", "purchase_synthetic")


@dataclasses.dataclass(frozen=True, eq=False)
class ClassificationData:
  """A train/test image-classification dataset held in memory.

  Attributes:
    name: dataset name, e.g. "cifar10".
    x_train: (n_train, H, W, C) images, or (n_train, ...) flat, tabular or
      sequence inputs.
    y_train: (n_train,) integer labels in [0, num_classes).
    x_test: (n_test, ...), as x_train.
    y_test: (n_test,) integer labels.
    class_names: one name per class; its length is the class count.
    pixel_max: the largest possible raw pixel value (255 for uint8 images),
      used by `scale_pixels`. 1.0 once pixels are scaled.
  """

  name: str
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray
  class_names: tuple[str, ...]
  pixel_max: float = 255.0

  def __post_init__(self):
    for split in ("train", "test"):
      x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
      if x.ndim < 2:
        raise ValueError(f"`x_{split}` must have shape (n, ...): images "
                         "(n, H, W, C), or flat, tabular or sequence "
                         f"inputs. Received: shape={x.shape}")
      if len(x) != len(y):
        raise ValueError(f"`x_{split}` and `y_{split}` differ in length. "
                         f"Received: {len(x)} and {len(y)}")

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  @property
  def input_shape(self) -> tuple[int, int, int]:
    return tuple(self.x_train.shape[1:])

  def replace(self, **changes) -> "ClassificationData":
    return dataclasses.replace(self, **changes)

  def members(self, mask, validation=None) -> "ClassificationData":
    """This data with the train examples where `mask` holds as its train
    split (one model's members); with `validation`, the train examples where
    that mask holds become its test split (the model's dev set)."""
    mask = np.asarray(mask, dtype=bool)
    out = self.replace(x_train=self.x_train[mask], y_train=self.y_train[mask])
    if validation is not None:
      v = np.asarray(validation, dtype=bool)
      out = out.replace(x_test=self.x_train[v], y_test=self.y_train[v])
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class MembershipSplit:
  """Which examples of a pool train the target (members) and which are held out.

  Attributes:
    is_member: (n,) bool; True where the example trains the target model.
    seed: the seed that drew the mask, so it can be recomputed.
  """

  is_member: np.ndarray
  seed: Optional[int]

  @property
  def num_members(self) -> int:
    return int(self.is_member.sum())

  @property
  def num_nonmembers(self) -> int:
    return int((~self.is_member).sum())

  def members(self, *arrays: np.ndarray):
    return tuple(a[self.is_member] for a in arrays)

  def nonmembers(self, *arrays: np.ndarray):
    return tuple(a[~self.is_member] for a in arrays)

  def save(self, path: Union[str, os.PathLike]) -> None:
    from tfmia.infra import io
    io.atomic_save_npz(path, is_member=self.is_member,
                       seed=np.array(-1 if self.seed is None else self.seed))

  @classmethod
  def load(cls, path: Union[str, os.PathLike]) -> "MembershipSplit":
    from tfmia.infra import io
    from tfmia.infra.validation import as_membership
    f = io.load_npz(path)
    if "is_member" not in f or "seed" not in f:
      raise ValueError(f"{path} must hold `is_member` and `seed`. "
                       f"Received keys: {sorted(f)}")
    seed = int(f["seed"])
    return cls(is_member=as_membership(f["is_member"], f"is_member in {path}"),
               seed=None if seed < 0 else seed)


def resolve_data_dir(data_dir: Optional[str] = None) -> Optional[str]:
  """Returns `data_dir`, else $TFMIA_DATA_DIR, else None (tfds' default)."""
  if data_dir:
    return os.fspath(data_dir)
  return os.environ.get(DATA_DIR_ENV) or None


def dataset_available(name: str, data_dir: Optional[str] = None) -> bool:
  """True when `name` can be loaded with no network access."""
  if name in OFFLINE_DATASETS:
    return True
  data_dir = resolve_data_dir(data_dir)
  if data_dir is None or not (fs.path(data_dir) / name).is_dir():
    return False
  import tensorflow_datasets as tfds
  try:
    return tfds.builder(name, data_dir=data_dir).is_prepared()
  except Exception:  # pylint: disable=broad-except  # any tfds failure = absent
    return False


def load_dataset(name: str, *, data_dir: Optional[str] = None,
                 download: bool = False, test_fraction: float = 0.5,
                 seed: int = 0) -> ClassificationData:
  """Loads a classification dataset into memory.

  Args:
    name: "digits" (scikit-learn's bundled 8x8 digits, always offline),
      "digits_flat" (the same as 64 flat features), "purchase_synthetic"
      (`purchase_synthetic`, a generated Purchase100-like tabular set) or any
      tensorflow-datasets image-classification name, e.g. "cifar10",
      "cifar100", "mnist", "fashion_mnist", "svhn_cropped".
    data_dir: the tfds data directory; defaults to $TFMIA_DATA_DIR, then to
      tfds' own default.
    download: let tfds download and prepare the dataset when it is missing.
      With False, a missing dataset raises instead of touching the network.
    test_fraction: for "digits" only, which has no test split: the fraction
      held out as the test split (stratified, seeded by `seed`).
    seed: seed of the digits train/test split.

  Returns:
    A `ClassificationData` with raw pixels (uint8 for tfds datasets).

  Raises:
    ValueError: unknown name, or a dataset that is absent and `download=False`.
  """
  if not isinstance(name, str) or not name:
    raise ValueError(f"`name` must be a dataset name. Received: name={name!r}")
  if name == "digits":
    return _load_digits(test_fraction=test_fraction, seed=seed)
  if name == "digits_flat":
    d = _load_digits(test_fraction=test_fraction, seed=seed)
    return d.replace(name="digits_flat",
                     x_train=d.x_train.reshape(len(d.x_train), -1),
                     x_test=d.x_test.reshape(len(d.x_test), -1))
  if name == "purchase_synthetic":
    return purchase_synthetic()
  return _load_tfds(name, data_dir=resolve_data_dir(data_dir),
                    download=download)


def _load_digits(*, test_fraction: float, seed: int) -> ClassificationData:
  if not 0.0 < test_fraction < 1.0:
    raise ValueError("`test_fraction` must be in (0, 1). "
                     f"Received: test_fraction={test_fraction}")
  from sklearn import datasets, model_selection
  digits = datasets.load_digits()
  x = digits.images.astype(np.float32)[..., None]  # (1797, 8, 8, 1), 0..16
  y = digits.target.astype(np.int64)
  x_tr, x_te, y_tr, y_te = model_selection.train_test_split(
      x, y, test_size=test_fraction, random_state=seed, stratify=y)
  return ClassificationData(
      name="digits", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
      class_names=tuple(str(i) for i in range(10)), pixel_max=16.0)


def purchase_synthetic(num_examples: int = 10_000, num_features: int = 600,
                       num_classes: int = 100, test_fraction: float = 0.2,
                       seed: int = 0) -> ClassificationData:
  """A generated stand-in for Purchase100 (Shokri et al., S&P 2017: 600
  binary "bought this item" features, 100 classes from clustering the
  customers): each class's profile of purchase probabilities mixes a
  shared profile (65%) with its own (35%), both drawn from Beta(0.3, 3)
  (most items rarely bought), and each customer's features are Bernoulli
  draws from their class's profile. Classes are balanced. The mix makes it
  about as hard as Purchase100: a 256-unit MLP trained on 4,000 examples
  reaches about 73% test accuracy (scikit-learn's MLPClassifier, measured
  on a 2-core CPU). The default is what
  `load_dataset("purchase_synthetic")` gives, the same on every machine."""
  rng = np.random.default_rng([seed, 100])
  shared = rng.beta(0.3, 3.0, size=num_features)
  profiles = 0.65 * shared + 0.35 * rng.beta(0.3, 3.0,
                                              size=(num_classes, num_features))
  y = np.arange(num_examples) % num_classes
  rng.shuffle(y)
  x = (rng.random((num_examples, num_features)) < profiles[y]).astype(
      np.uint8)
  n_test = int(round(num_examples * test_fraction))
  return ClassificationData(
      name="purchase_synthetic", x_train=x[n_test:], y_train=y[n_test:],
      x_test=x[:n_test], y_test=y[:n_test],
      class_names=tuple(str(i) for i in range(num_classes)), pixel_max=1.0)


def _load_tfds(name: str, *, data_dir: Optional[str],
               download: bool) -> ClassificationData:
  import tensorflow_datasets as tfds
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    raise ValueError(
        f"Unknown dataset name. Valid names: 'digits' or a tensorflow-datasets "
        f"image-classification dataset such as {', '.join(TFDS_DATASETS)}. "
        f"Received: name={name!r}") from None
  features = builder.info.features
  if "image" not in features or "label" not in features:
    raise ValueError(
        f"Dataset {name!r} is not an image-classification dataset (it has no "
        f"'image' and 'label' features). Valid names include: "
        f"{', '.join(TFDS_DATASETS + OFFLINE_DATASETS)}. Received: name={name!r}")
  if not builder.is_prepared():
    if not download:
      raise ValueError(
          f"Dataset {name!r} is not prepared in data_dir={data_dir!r} and "
          f"download=False. Pass download=True (--download) on a machine with "
          f"internet, or point --data-dir / ${DATA_DIR_ENV} at a directory that "
          f"holds it.")
    builder.download_and_prepare()
  splits = {}
  for split in ("train", "test"):
    if split not in builder.info.splits:
      raise ValueError(f"Dataset {name!r} has no {split!r} split; it has "
                       f"{sorted(builder.info.splits)}.")
    ds = builder.as_dataset(split=split, batch_size=-1, as_supervised=True)
    x, y = tfds.as_numpy(ds)
    splits[split] = (x, y.astype(np.int64))
  class_names = tuple(features["label"].names)
  return ClassificationData(
      name=name, x_train=splits["train"][0], y_train=splits["train"][1],
      x_test=splits["test"][0], y_test=splits["test"][1],
      class_names=class_names, pixel_max=255.0)


def truncate_classes(data: ClassificationData,
                     classes: Union[int, Sequence[int]]) -> ClassificationData:
  """Keeps only some classes and re-indexes their labels to 0..k-1.

  Args:
    data: the dataset.
    classes: an int k keeps the first k classes; a sequence keeps those class
      indices, in that order (label `classes[i]` becomes i).

  Raises:
    ValueError: k outside [2, num_classes], or an unknown/duplicate class.
  """
  n = data.num_classes
  if isinstance(classes, (int, np.integer)):
    if not 2 <= classes <= n:
      raise ValueError(f"`classes` must be between 2 and the class count "
                       f"({n}) of {data.name!r}. Received: classes={classes}")
    keep = list(range(int(classes)))
  else:
    keep = [int(c) for c in classes]
    bad = [c for c in keep if not 0 <= c < n]
    if bad or len(set(keep)) != len(keep) or len(keep) < 2:
      raise ValueError(f"`classes` must list at least 2 distinct class indices "
                       f"in [0, {n}). Received: classes={list(classes)}")
  lookup = np.full(n, -1, dtype=np.int64)
  lookup[keep] = np.arange(len(keep))

  def _select(x, y):
    mask = lookup[y] >= 0
    return x[mask], lookup[y[mask]]

  x_tr, y_tr = _select(data.x_train, data.y_train)
  x_te, y_te = _select(data.x_test, data.y_test)
  return data.replace(x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
                      class_names=tuple(data.class_names[c] for c in keep))


def unison_shuffle(*arrays: np.ndarray, seed: int):
  """Shuffles arrays of equal length with one seeded permutation."""
  lengths = {len(a) for a in arrays}
  if len(lengths) != 1:
    raise ValueError(f"`arrays` must have equal lengths. Received lengths: "
                     f"{[len(a) for a in arrays]}")
  perm = np.random.default_rng(seed).permutation(lengths.pop())
  return tuple(a[perm] for a in arrays)


def shuffle(data: ClassificationData, *, seed: int) -> ClassificationData:
  """Shuffles each split, images and labels in unison."""
  x_tr, y_tr = unison_shuffle(data.x_train, data.y_train, seed=seed)
  x_te, y_te = unison_shuffle(data.x_test, data.y_test, seed=seed + 1)
  return data.replace(x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)


def check_at_most(name: str, want: Optional[int], available: int,
                  dataset: str, *, flag: Optional[str] = None) -> None:
  """Refuses a count of examples larger than a dataset's split holds,
  naming the setting (and its flag): sizes are never silently cut to what
  there is."""
  if want is not None and want > available:
    named = f"`{name}` ({flag})" if flag else f"`{name}`"
    raise ValueError(f"{named} must not exceed the {available} examples of "
                     f"{dataset!r}'s split. Received: {name}={want}")


def subset(data: ClassificationData, *, train_size: Optional[int] = None,
           test_size: Optional[int] = None) -> ClassificationData:
  """Keeps the first `train_size` / `test_size` examples (shuffle first)."""
  for arg, size, avail in (("train_size", train_size, len(data.y_train)),
                           ("test_size", test_size, len(data.y_test))):
    if size is not None and not 1 <= size <= avail:
      raise ValueError(f"`{arg}` must be between 1 and the split size "
                       f"({avail}) of {data.name!r}. Received: {arg}={size}")
  return data.replace(x_train=data.x_train[:train_size],
                      y_train=data.y_train[:train_size],
                      x_test=data.x_test[:test_size],
                      y_test=data.y_test[:test_size])


SCALINGS = ("unit", "symmetric", "standardize")


def scale_pixels(data: ClassificationData,
                 mode: str = "unit") -> ClassificationData:
  """Scales pixels to float32.

  Args:
    data: the dataset, with raw pixels.
    mode: "unit" maps to [0, 1]; "symmetric" to [-1, 1]; "standardize" to
      zero mean and unit variance per channel, with statistics taken from the
      train split only.
  """
  if mode not in SCALINGS:
    raise ValueError(f"`mode` must be one of {SCALINGS}. Received: mode={mode!r}")
  x_tr = data.x_train.astype(np.float32) / data.pixel_max
  x_te = data.x_test.astype(np.float32) / data.pixel_max
  if mode == "symmetric":
    x_tr, x_te = 2.0 * x_tr - 1.0, 2.0 * x_te - 1.0
  elif mode == "standardize":
    axes = tuple(range(x_tr.ndim - 1))   # per channel, or per feature
    mean = x_tr.mean(axis=axes, keepdims=True)
    std = x_tr.std(axis=axes, keepdims=True) + 1e-7
    x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
  return data.replace(x_train=x_tr, x_test=x_te, pixel_max=1.0)


def members_first(num_members: int, num_nonmembers: int) -> np.ndarray:
  """(num_members + num_nonmembers,) bool: True for the first block (the
  members), False for the second (the non-members); the mask of examples
  laid out as members then non-members."""
  return np.concatenate([np.ones(num_members, bool),
                         np.zeros(num_nonmembers, bool)])


def train_test_membership(data: ClassificationData) -> MembershipSplit:
  """The published setting: the train split is members, the test split is not.

  The mask indexes `pool(data)`, i.e. the train split followed by the test one.
  """
  return MembershipSplit(
      is_member=members_first(len(data.y_train), len(data.y_test)), seed=None)


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """How to load and prepare a dataset. Saved with every experiment."""

  dataset: str = "digits"          # an OFFLINE_DATASETS name or a tfds one
  data_dir: Optional[str] = None   # tfds data dir; $TFMIA_DATA_DIR when None
  download: bool = False           # let tfds download a missing dataset
  classes: Optional[int] = None    # keep the first k classes; None keeps all
  train_size: Optional[int] = None  # members: first n shuffled train examples
  test_size: Optional[int] = None   # non-members: first n shuffled test examples
  scaling: str = "unit"            # see SCALINGS
  seed: int = 0                    # shuffling (and the digits split) seed
  # Pool the test split into the train split before the subset is taken, as
  # the SNN-MIA seed code does (CIFAR-10: 60,000 images). The test split
  # stays as it is, and is then inside the pool: nothing should treat it as
  # unseen data.
  pool_test: bool = dataclasses.field(default=False, metadata=io.ADDED_LATER)

  def __post_init__(self):
    if self.scaling not in SCALINGS:
      raise ValueError(f"`scaling` must be one of {SCALINGS}. "
                       f"Received: scaling={self.scaling!r}")
    for name in ("classes", "train_size", "test_size"):
      v = getattr(self, name)
      if v is not None and (not isinstance(v, int) or v < 1):
        raise ValueError(f"`{name}` must be a positive int or None. "
                         f"Received: {name}={v!r}")

  def replace(self, **changes) -> "DataConfig":
    return dataclasses.replace(self, **changes)


def prepare_data(config: DataConfig, *, raw: Optional[ClassificationData] = None
                 ) -> ClassificationData:
  """Loads (unless `raw` is given), truncates, shuffles, subsets and scales.

  Classes are truncated before the subset is taken, so a truncated dataset
  keeps `train_size` members when it has that many.
  """
  data = raw if raw is not None else load_dataset(
      config.dataset, data_dir=config.data_dir, download=config.download,
      seed=config.seed)
  if config.classes is not None:
    data = truncate_classes(data, config.classes)
  if config.pool_test:
    data = data.replace(x_train=np.concatenate([data.x_train, data.x_test]),
                        y_train=np.concatenate([data.y_train, data.y_test]))
  data = shuffle(data, seed=config.seed)
  data = subset(data, train_size=config.train_size, test_size=config.test_size)
  return scale_pixels(data, config.scaling)


def row_hashes(x: np.ndarray) -> np.ndarray:
  """One 16-byte digest per example, to detect shared examples by value.

  Rows are hashed in a canonical form (float32, -0.0 as 0.0), so a float64
  or uint8 copy of an example hashes as the example does.
  """
  x = np.ascontiguousarray(np.asarray(x, dtype=np.float32) + np.float32(0.0))
  return np.array([hashlib.blake2b(row.tobytes(), digest_size=16).digest()
                   for row in x.reshape(len(x), -1)])


def check_population(member_x: np.ndarray, population_x: np.ndarray) -> None:
  """Raises if any population example is also a target member."""
  shared = np.isin(row_hashes(population_x), row_hashes(member_x))
  if shared.any():
    raise ValueError(
        f"`population` overlaps the target's members: {int(shared.sum())} of "
        f"{len(population_x)} population examples are training examples of "
        "the target. Population data must be data the target never saw.")
