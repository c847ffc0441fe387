"""Which examples train which model of a reference folder: the membership
matrix (each example IN for half the models), the target's split, the
mia_prune split, and the names of the folder's models and files."""

from __future__ import annotations


import numpy as np

from tfmia.infra import store

CONFIG_FILE = store.CONFIG_FILE
MEMBERSHIP_FILE = store.MEMBERSHIP_FILE
MEMBER_FILE = "is_member.npy"
LOSS_TRACE_FILE = "loss_trace.npy"   # (epochs + 1, N) pool losses
WEIGHTS_FILE = store.WEIGHTS_FILE
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


