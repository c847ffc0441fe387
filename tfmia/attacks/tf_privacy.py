"""Wrappers over tensorflow-privacy's membership-inference attacks.

tensorflow-privacy 0.9.0 no longer ships this code; it lives in the
`tensorflow-empirical-privacy` package under the same module path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import warnings
from typing import Optional, Sequence

import numpy as np
from sklearn import exceptions

from tfmia.infra import validation
from tfmia.data import MembershipSplit, members_first
from tfmia.results import (ENTIRE_DATASET, AttackResult, AttackResults,
                           accuracy)

logger = logging.getLogger(__name__)

# tfmia's attack names, in tensorflow-privacy's AttackType order.
TF_PRIVACY_ATTACKS = ("threshold", "threshold_entropy", "logistic_regression",
                      "multi_layered_perceptron", "random_forest",
                      "k_nearest_neighbors")
_ATTACK_TYPE_NAMES = {
    "threshold": "THRESHOLD_ATTACK",
    "threshold_entropy": "THRESHOLD_ENTROPY_ATTACK",
    "logistic_regression": "LOGISTIC_REGRESSION",
    "multi_layered_perceptron": "MULTI_LAYERED_PERCEPTRON",
    "random_forest": "RANDOM_FOREST",
    "k_nearest_neighbors": "K_NEAREST_NEIGHBORS",
}


INSTALL_MIA = "pip install --no-deps tensorflow-empirical-privacy==0.1.0"


def _mia():
  try:
    from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import data_structures, membership_inference_attack  # pylint: disable=g-import-not-at-top,line-too-long
  except ImportError as e:
    raise ImportError(
        "tensorflow-privacy's membership-inference module is missing: it "
        "lives in the tensorflow-empirical-privacy package, which must be "
        f"installed without its dependencies. Run: {INSTALL_MIA}") from e
  return data_structures, membership_inference_attack


def attack_type(name: str):
  """tensorflow-privacy's AttackType for a tfmia attack name."""
  if name not in _ATTACK_TYPE_NAMES:
    raise ValueError(f"Unknown attack. Valid attacks: "
                     f"{', '.join(TF_PRIVACY_ATTACKS)}. Received: {name!r}")
  ds, _ = _mia()
  return getattr(ds.AttackType, _ATTACK_TYPE_NAMES[name])


@dataclasses.dataclass(frozen=True)
class SlicingConfig:
  """Which slices of the data to attack separately.

  Attributes:
    entire_dataset: attack all examples together.
    by_class: attack each true class on its own.
    by_classification_correctness: attack correctly and incorrectly
      classified examples separately.
  """

  entire_dataset: bool = True
  by_class: bool = False
  by_classification_correctness: bool = False

  def __post_init__(self):
    if not (self.entire_dataset or self.by_class or
            self.by_classification_correctness):
      raise ValueError("`SlicingConfig` must enable at least one slice.")


@dataclasses.dataclass(frozen=True, eq=False)
class AttackInput:
  """A model's outputs on its members and on non-members.

  Attributes:
    logits_member: (n_in, num_classes) logits on members (training data).
    labels_member: (n_in,) integer labels of the members.
    logits_nonmember: (n_out, num_classes) logits on non-members.
    labels_nonmember: (n_out,) integer labels of the non-members.
    loss_member: optional (n_in,) per-example losses; derived from the logits
      by tensorflow-privacy when absent.
    loss_nonmember: optional (n_out,) per-example losses.
  """

  logits_member: np.ndarray
  labels_member: np.ndarray
  logits_nonmember: np.ndarray
  labels_nonmember: np.ndarray
  loss_member: Optional[np.ndarray] = None
  loss_nonmember: Optional[np.ndarray] = None

  def __post_init__(self):
    v = validation
    lm = v.as_finite_array(self.logits_member, "logits_member", ndim=2)
    ln = v.as_finite_array(self.logits_nonmember, "logits_nonmember", ndim=2)
    if lm.shape[1] != ln.shape[1]:
      raise ValueError("`logits_member` and `logits_nonmember` must have the "
                       f"same number of classes. Received: {lm.shape[1]} and "
                       f"{ln.shape[1]}")
    k = lm.shape[1]
    if k < 2:
      raise ValueError(f"logits must have at least 2 classes. "
                       f"Received: shape={lm.shape}")
    ym = v.as_labels(self.labels_member, "labels_member", k)
    yn = v.as_labels(self.labels_nonmember, "labels_nonmember", k)
    v.check_same_length(lm, "logits_member", ym, "labels_member")
    v.check_same_length(ln, "logits_nonmember", yn, "labels_nonmember")
    object.__setattr__(self, "logits_member", lm)
    object.__setattr__(self, "logits_nonmember", ln)
    object.__setattr__(self, "labels_member", ym)
    object.__setattr__(self, "labels_nonmember", yn)
    for split, logits in (("member", lm), ("nonmember", ln)):
      loss = getattr(self, f"loss_{split}")
      if loss is not None:
        loss = v.as_finite_array(loss, f"loss_{split}", ndim=1)
        v.check_same_length(logits, f"logits_{split}", loss, f"loss_{split}")
        object.__setattr__(self, f"loss_{split}", loss)
    if (self.loss_member is None) != (self.loss_nonmember is None):
      raise ValueError("Pass both `loss_member` and `loss_nonmember`, or "
                       "neither.")

  @classmethod
  def from_split(cls, logits: np.ndarray, labels: np.ndarray,
                 split: MembershipSplit) -> "AttackInput":
    """Builds the input from outputs on a pool and its membership mask."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    validation.check_same_length(logits, "logits", split.is_member,
                                 "split.is_member")
    validation.check_same_length(logits, "logits", labels, "labels")
    return cls(logits_member=logits[split.is_member],
               labels_member=labels[split.is_member],
               logits_nonmember=logits[~split.is_member],
               labels_nonmember=labels[~split.is_member])

  @property
  def num_classes(self) -> int:
    return self.logits_member.shape[1]

  @property
  def member_accuracy(self) -> float:
    return accuracy(self.logits_member, self.labels_member)

  @property
  def nonmember_accuracy(self) -> float:
    return accuracy(self.logits_nonmember, self.labels_nonmember)

  def to_tf_privacy(self):
    ds, _ = _mia()
    return ds.AttackInputData(
        logits_train=self.logits_member, logits_test=self.logits_nonmember,
        labels_train=self.labels_member, labels_test=self.labels_nonmember,
        loss_train=self.loss_member, loss_test=self.loss_nonmember)


@contextlib.contextmanager
def _numpy_global_seed(seed: int):
  """tensorflow-privacy draws from numpy's global RNG; seed it, then restore."""
  state = np.random.get_state()
  np.random.seed(seed)
  try:
    # Its epsilon bounds divide by zero at the ROC's end points, by design.
    with np.errstate(divide="ignore", invalid="ignore"), \
        warnings.catch_warnings():
      warnings.simplefilter("ignore", RuntimeWarning)
      # Its logistic-regression attacker stops at a fixed iteration budget.
      warnings.simplefilter("ignore", exceptions.ConvergenceWarning)
      # Its random-forest grid lists max_features='auto', which scikit-learn
      # 1.5 rejects; those grid points fail and the valid ones are used.
      warnings.simplefilter("ignore", exceptions.FitFailedWarning)
      warnings.filterwarnings("ignore", message=".*test scores are non-finite")
      yield
  finally:
    np.random.set_state(state)


def epsilon_lower_bounds(member_scores: np.ndarray,
                         nonmember_scores: np.ndarray) -> tuple[float, ...]:
  """tensorflow-privacy's top-k ε lower bounds for any attack's scores,
  computed as its `run_attacks` computes them for its own attacks (Bailey
  bound, α = 0.05, two-sided threshold)."""
  ds, _ = _mia()
  from tensorflow_privacy.privacy.privacy_tests import epsilon_lower_bound as elb  # pylint: disable=g-import-not-at-top
  with np.errstate(divide="ignore", invalid="ignore"), \
      warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    bounds = elb.EpsilonLowerBound(
        pos_scores=np.asarray(member_scores, np.float64),
        neg_scores=np.asarray(nonmember_scores, np.float64),
        alpha=ds.EPSILON_ALPHA, two_sided_threshold=True,
    ).compute_epsilon_lower_bounds(methods=ds.EPSILON_METHODS,
                                   k=ds.EPSILON_K)
    return tuple(float(e) for e in np.asarray(
        ds.EpsilonLowerBoundValue(bounds=bounds).get_max_epsilon_bounds()))


def slice_name(spec) -> str:
  """tfmia's name of a tensorflow-privacy SingleSliceSpec."""
  if spec.entire_dataset:
    return ENTIRE_DATASET
  feature = spec.feature.value  # "class", "correctly_classified", ...
  return f"{feature}={spec.value}"


def check_attacks(attacks: Sequence[str]) -> tuple[str, ...]:
  attacks = (attacks,) if isinstance(attacks, str) else tuple(attacks)
  if not attacks:
    raise ValueError("`attacks` must name at least one attack.")
  for a in attacks:
    attack_type(a)
  return attacks


def run_tf_privacy(attack_input: AttackInput, *,
                attacks: Sequence[str] = ("threshold",),
                slicing: SlicingConfig = SlicingConfig(), seed: int = 0,
                model: str = "", epoch: Optional[int] = None,
                balance_attacker_training: bool = True) -> AttackResults:
  """Runs tensorflow-privacy's attacks and returns tfmia's results.

  The backend of `tfmia.attacks.run_attacks` for tensorflow-privacy's
  trained attacks; call that instead.

  Args:
    attack_input: the model's outputs on members and non-members.
    attacks: tfmia attack names; see `TF_PRIVACY_ATTACKS`.
    slicing: which slices to attack.
    seed: seed for the trained attacks' data splits (tensorflow-privacy draws
      from numpy's global RNG; it is restored afterwards).
    model: model name stored in the results.
    epoch: epoch stored in the results.
    balance_attacker_training: passed to tensorflow-privacy.

  Returns:
    One `AttackResult` per (attack, slice). Slices that tensorflow-privacy
    skips (e.g. a class with no members) are absent.
  """
  if not isinstance(attack_input, AttackInput):
    raise TypeError("`attack_input` must be an AttackInput. "
                    f"Received: {type(attack_input).__name__}")
  attacks = check_attacks(attacks)
  ds, mia = _mia()
  spec = ds.SlicingSpec(
      entire_dataset=slicing.entire_dataset, by_class=slicing.by_class,
      by_classification_correctness=slicing.by_classification_correctness)
  with _numpy_global_seed(seed):
    tfp_results = mia.run_attacks(
        attack_input.to_tf_privacy(), slicing_spec=spec,
        attack_types=[attack_type(a) for a in attacks],
        balance_attacker_training=balance_attacker_training)
  names = {attack_type(a): a for a in attacks}
  results = []
  for r in tfp_results.single_attack_results:
    is_member = members_first(len(r.membership_scores_train),
                              len(r.membership_scores_test))
    scores = np.concatenate([r.membership_scores_train,
                             r.membership_scores_test])
    if is_member.all() or not is_member.any():
      continue  # a slice with only members or only non-members has no ROC
    results.append(AttackResult(
        attack=names[r.attack_type], slice=slice_name(r.slice_spec),
        scores=scores, is_member=is_member,
        epsilon_lower_bounds=tuple(np.asarray(r.get_epsilon_lower_bound()))))
  return AttackResults(results=tuple(results), model=model, epoch=epoch,
                       member_accuracy=attack_input.member_accuracy,
                       nonmember_accuracy=attack_input.nonmember_accuracy)
