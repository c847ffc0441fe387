"""`PrivacyMetrics`: a Keras callback that attacks the model every N epochs.

It queries the model through the one model adapter (`tfmia.models.adapter`) and
attacks it through the one front door (`tfmia.attacks.run_attacks`), so any
attack that needs only the target, its membership labels and (optionally) a
population runs every epoch: tensorflow-privacy's attacks, the loss
threshold, Attack-P.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from typing import Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from tfmia.data import members_first
from tfmia.infra import validation
from tfmia.models import adapter
from tfmia.attacks import registry
from tfmia.attacks.run import run_attacks
from tfmia.attacks.inputs import AttackConfig, AttackSignals, Provided
from tfmia.attacks.tf_privacy import SlicingConfig
from tfmia.results import ENTIRE_DATASET, AttackResults
from tfmia.signals import Signals

logger = logging.getLogger(__name__)


def _from_dataset(data: tf.data.Dataset, name: str):
  """(x, y) numpy arrays from a dataset of (x, y) elements, batched (its
  leading dimension unknown) or not; read once."""
  spec = data.element_spec
  if not isinstance(spec, tuple) or len(spec) < 2:
    raise ValueError(f"`{name}` must be a dataset of (x, y) elements. "
                     f"Received: element_spec={spec}")
  parts = [(np.asarray(e[0]), np.asarray(e[1]))
           for e in data.as_numpy_iterator()]
  if not parts:
    raise ValueError(f"`{name}` is empty.")
  join = np.concatenate if spec[0].shape.rank and spec[0].shape[0] is None \
      else np.stack
  return join([p[0] for p in parts]), join([p[1] for p in parts])


def _check_xy(data, name: str):
  """(x, y) numpy arrays with integer labels, from an (x, y) pair or a
  `tf.data.Dataset`; labels may be integers or one-hot rows."""
  if isinstance(data, tf.data.Dataset):
    x, y = _from_dataset(data, name)
  elif isinstance(data, (tuple, list)) and len(data) == 2:
    x, y = np.asarray(data[0]), np.asarray(data[1])
  else:
    raise ValueError(f"`{name}` must be an (x, y) pair or a tf.data.Dataset "
                     f"of (x, y). Received: {type(data).__name__}")
  if len(x) == 0:
    raise ValueError(f"`{name}` is empty.")
  if len(x) != len(y):
    raise ValueError(f"`{name}` has {len(x)} inputs but {len(y)} labels.")
  y = validation.as_class_labels(y, f"{name} labels")
  validation.check_finite(x, f"{name} inputs")
  return x, y


class PrivacyMetrics(tf.keras.callbacks.Callback):
  """Runs membership-inference attacks on the model every N epochs.

  The results are kept, not printed: `history` holds one `AttackResults` per
  evaluated epoch, with the epoch (1-based) and the accuracy on the member
  and non-member sets. The entire-dataset AUC of each attack is also added to
  Keras' epoch logs as `mia_<attack>_auc`, so it shows in `History` and
  progress bars.

  Example:
    cb = PrivacyMetrics(member_data=(x_tr, y_tr), nonmember_data=(x_te, y_te),
                        every_n_epochs=2, attacks=("threshold", "attack_p"),
                        population_data=(x_pop, y_pop))
    model.fit(x_tr, y_tr, epochs=10, callbacks=[cb])
    cb.history[-1].get("threshold").auc

  Data may be (x, y) pairs or `tf.data.Dataset`s of (x, y) (read once, at
  construction), with integer or one-hot labels. Keras' `History` gets
  `mia_<attack>_auc` at every epoch, NaN at those not evaluated. A second
  `fit` appends to `history`; `reset()` empties it.

  Args:
    member_data: (x, y) the model trains on.
    nonmember_data: (x, y) it does not.
    population_data: (x, y) more data it never trains on, for attacks that
      need a population (Attack-P); None when not needed.
    every_n_epochs: attack cadence.
    attacks: names from `tfmia.attacks.ATTACKS` that need no reference
      models.
    slicing: which data slices to report.
    batch_size: inference batch size.
    outputs: "auto", "logits" or "probabilities" (see `tfmia.models.adapter`).
    model_name: stored in the results.
    tensorboard_dir: also write the metrics there.
    seed: seed of the trained attacks (plus the epoch).
    epsilon_lower_bound: add tensorflow-privacy's ε lower bounds.
    record_loss_trace: keep every example's loss at every evaluation
      (`loss_trace`), the trace LT-IQR (attack "lt_iqr") scores; on
      whenever "lt_iqr" is among `attacks`. No extra model query: the
      losses are those the attacks compute anyway.
  """

  def __init__(self, member_data, nonmember_data, *,
               population_data=None, every_n_epochs: int = 1,
               attacks: Sequence[str] = ("threshold",),
               slicing: SlicingConfig = SlicingConfig(),
               batch_size: int = 4096, outputs: str = "auto",
               model_name: str = "",
               tensorboard_dir: Optional[Union[str, os.PathLike]] = None,
               seed: int = 0, epsilon_lower_bound: bool = True,
               record_loss_trace: bool = False):
    super().__init__()
    self.x_member, self.y_member = _check_xy(member_data, "member_data")
    self.x_nonmember, self.y_nonmember = _check_xy(nonmember_data,
                                                   "nonmember_data")
    self.population = (None if population_data is None
                       else _check_xy(population_data, "population_data"))
    if not isinstance(every_n_epochs, int) or every_n_epochs < 1:
      raise ValueError("`every_n_epochs` must be a positive int. "
                       f"Received: every_n_epochs={every_n_epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
      raise ValueError(f"`batch_size` must be a positive int. "
                       f"Received: batch_size={batch_size!r}")
    if outputs not in adapter.OUTPUTS:
      raise ValueError(f"`outputs` must be one of {adapter.OUTPUTS}. "
                       f"Received: outputs={outputs!r}")
    self.attacks = registry.check_names(attacks)
    # The loss of every example at every evaluation: the signals computed
    # anyway, kept (LT-IQR's trace, at no extra cost).
    self.record_loss_trace = bool(record_loss_trace) or "lt_iqr" in self.attacks
    registry.check_needs(self.attacks, Provided(
        num_examples=len(self.y_member) + len(self.y_nonmember),
        population=self.population is not None,
        loss_trace=self.record_loss_trace))
    self._trace: list[np.ndarray] = []
    self.is_member = members_first(len(self.y_member), len(self.y_nonmember))
    self.labels = np.concatenate([self.y_member, self.y_nonmember])
    self.slicing = slicing
    self.every_n_epochs = every_n_epochs
    self.batch_size = batch_size
    self.outputs = outputs
    self.model_name = model_name
    self.tensorboard_dir = tensorboard_dir
    self.seed = seed
    self.epsilon_lower_bound = epsilon_lower_bound
    self.history: list[AttackResults] = []
    self._writer = None
    self._adapter = None
    self._tensors = None

  def check_model(self, model: tf.keras.Model) -> None:
    """Raises when the data does not fit `model`: input shape, and labels
    within its outputs. Run at `on_train_begin`, before the first epoch."""
    sets = [("member_data", self.x_member, self.y_member),
            ("nonmember_data", self.x_nonmember, self.y_nonmember)]
    if self.population is not None:
      sets.append(("population_data", *self.population))
    in_shape = getattr(model, "input_shape", None)
    out_shape = getattr(model, "output_shape", None)
    for name, x, y in sets:
      if (isinstance(in_shape, tuple) and len(in_shape) == x.ndim
          and tuple(in_shape[1:]) != tuple(x.shape[1:])
          and None not in in_shape[1:]):
        raise ValueError(f"`{name}` inputs have shape {x.shape[1:]} but the "
                         f"model takes {tuple(in_shape[1:])}.")
      if isinstance(out_shape, tuple) and out_shape[-1]:
        k = int(out_shape[-1])
        if y.min() < 0 or y.max() >= k:
          raise ValueError(f"`{name}` labels must lie in [0, {k}) for a model "
                           f"with {k} outputs. Received: labels from "
                           f"{int(y.min())} to {int(y.max())}")

  def on_train_begin(self, logs=None):
    # A second `fit` appends to `history` (`reset()` empties it); pass
    # `initial_epoch` to `fit` to go on numbering the epochs.
    self.check_model(self.model)
    self._prepare()
    if self.tensorboard_dir is not None:
      self._writer = tf.summary.create_file_writer(
          os.fspath(self.tensorboard_dir))

  def _prepare(self):
    if self._adapter is None or self._adapter.model is not self.model:
      self._adapter = adapter.ModelAdapter(
          self.model, outputs=self.outputs, batch_size=self.batch_size)
    if self._tensors is None:
      # Converted once per fit, not at every evaluation.
      self._tensors = [tf.constant(self.x_member),
                       tf.constant(self.x_nonmember)]
      if self.population is not None:
        self._tensors.append(tf.constant(self.population[0]))

  def reset(self) -> None:
    """Forgets the results (and the loss trace) of earlier fits."""
    self.history = []
    self._trace = []

  @property
  def loss_trace(self) -> np.ndarray:
    """(N, T): each example's loss (members, then non-members) at the T
    evaluations so far; needs `record_loss_trace`."""
    if not self.record_loss_trace:
      raise ValueError("No loss trace: create the callback with "
                       "record_loss_trace=True.")
    n = len(self.labels)
    return (np.stack(self._trace, axis=1) if self._trace
            else np.zeros((n, 0)))

  def on_epoch_end(self, epoch, logs=None):
    if (epoch + 1) % self.every_n_epochs:
      # NaN where not evaluated, so Keras' History has one value per epoch
      # for every key and tabulates against `loss`.
      if logs is not None:
        for attack in self.attacks:
          logs[f"mia_{attack}_auc"] = float("nan")
      return
    results = self.evaluate(epoch + 1)
    self.history.append(results)
    for attack in self.attacks:
      try:
        auc = results.get(attack, ENTIRE_DATASET).auc
      except KeyError:
        continue
      if logs is not None:
        logs[f"mia_{attack}_auc"] = auc
    if self._writer is not None:
      self._write_tensorboard(results)

  def on_train_end(self, logs=None):
    if self._writer is not None:
      self._writer.flush()
    self._tensors = None  # free the copies

  def evaluate(self, epoch: Optional[int] = None) -> AttackResults:
    """Attacks the model as it is now."""
    if self.model is None:
      raise ValueError("`PrivacyMetrics.evaluate()` needs a model: pass the "
                       "callback to `model.fit(callbacks=[...])`, or call "
                       "`set_model(model)` first.")
    self._prepare()  # a no-op inside fit()
    fn = self._adapter
    target = Signals.from_logits(
        np.concatenate([fn(self._tensors[0]), fn(self._tensors[1])]),
        self.labels)
    population = (Signals.from_logits(fn(self._tensors[2]),
                                      self.population[1])
                  if self.population is not None else None)
    config = AttackConfig(seed=self.seed + (epoch or 0),
                          epsilon_lower_bound=self.epsilon_lower_bound)
    if self.record_loss_trace:
      self._trace.append(target.loss[:, 0])
    return run_attacks(
        self.attacks, AttackSignals(
            target=target, target_population=population,
            loss_trace=self.loss_trace if self.record_loss_trace else None),
        config, is_member=self.is_member, slicing=self.slicing,
        model=self.model_name or self.model.name, epoch=epoch)

  def _write_tensorboard(self, results: AttackResults):
    with self._writer.as_default(step=results.epoch):
      tf.summary.scalar("privacy/member_accuracy", results.member_accuracy)
      tf.summary.scalar("privacy/nonmember_accuracy",
                        results.nonmember_accuracy)
      for r in results:
        tag = f"privacy/{r.attack}/{r.slice}"
        tf.summary.scalar(f"{tag}/auc", r.auc)
        tf.summary.scalar(f"{tag}/advantage", r.advantage)
        if np.isfinite(r.epsilon):
          tf.summary.scalar(f"{tag}/epsilon_lower_bound", r.epsilon)


@dataclasses.dataclass(frozen=True, eq=False)
class PrivacyRun:
  """A finished `train_with_privacy` run.

  Attributes:
    model: the trained model.
    history: per-epoch training metrics.
    privacy: one `AttackResults` per evaluated epoch.
    seconds: training time.
    resumed: True when the run was complete already and was loaded.
  """

  model: tf.keras.Model
  history: object
  privacy: tuple
  seconds: float
  resumed: bool


def train_with_privacy(builder: str, model_kwargs: dict, data, train_config,
                       *, out_dir, attacks: Sequence[str],
                       every_n_epochs: int, name: str, seed: int,
                       progress: bool = True, tensorboard_dir=None,
                       extra_config: Optional[dict] = None,
                       overwrite: bool = False) -> PrivacyRun:
  """Builds model `builder` (seeded), trains it on `data` with
  `PrivacyMetrics` attacking it every `every_n_epochs`, and saves its
  weights, config (with the builder, so `tfmia attack --run` can rebuild
  it), history and per-epoch privacy results in `out_dir`.

  `out_dir` holds one run (`tfmia.infra.store.claim`). Everything is checked (the
  builder and its options, the callback's data against the model, that the
  folder is writable) before the folder's config is written. A complete run
  with the same config is loaded, not retrained; an interrupted or corrupted
  one is trained again from scratch, its old outputs removed first; a
  different config is refused unless `overwrite`. The done marker is written
  last and covers the weights, the history and every privacy file.

  Returns:
    A `PrivacyRun`.
  """
  from tfmia.infra import io, store
  from tfmia import models
  from tfmia import results as results_lib
  from tfmia.training import EpochProgress, TrainingHistory, train_model
  from tfmia.training import loop
  from tfmia.training.loop import PRIVACY_DIR, RUN_IGNORE, RUN_OUTPUTS
  models.check_kwargs(builder, model_kwargs)
  tf.keras.utils.set_random_seed(seed)
  model = models.build_model(builder, data.input_shape, data.num_classes,
                             **model_kwargs)
  privacy = PrivacyMetrics(
      member_data=(data.x_train, data.y_train),
      nonmember_data=(data.x_test, data.y_test),
      every_n_epochs=every_n_epochs, attacks=attacks, model_name=name,
      tensorboard_dir=tensorboard_dir, seed=seed)
  privacy.check_model(model)
  out_dir = io.check_output_dir(out_dir, "the run folder")
  record = {"train": train_config,
            "model": {"builder": builder, "kwargs": model_kwargs},
            **(extra_config or {})}
  store.claim(out_dir, record, outputs=RUN_OUTPUTS, overwrite=overwrite,
              ignore=RUN_IGNORE)
  fp = store.record_fingerprint(record, RUN_IGNORE)
  marker = out_dir / store.DONE_FILE
  problem = store.unit_problem(marker, fp)
  if problem is None:
    done = io.read_json(marker)
    loop.load_weights(model, out_dir / loop.WEIGHTS_FILE)
    return PrivacyRun(
        model=model, history=TrainingHistory.load(out_dir / loop.HISTORY_FILE),
        privacy=tuple(results_lib.load_history(out_dir / PRIVACY_DIR)),
        seconds=float(done.get("seconds", 0.0)), resumed=True)
  if marker.exists() or (out_dir / loop.WEIGHTS_FILE).exists():
    logger.warning("%s is trained again: %s.", out_dir, problem)
  # Nothing of an interrupted or corrupted attempt stays to be mixed in.
  store.remove_outputs(out_dir, RUN_OUTPUTS)
  callbacks = [privacy] + ([EpochProgress(name)] if progress else [])
  start = time.perf_counter()
  result = train_model(model, data, train_config, out_dir=out_dir,
                       callbacks=callbacks, extra_config=record)
  seconds = time.perf_counter() - start
  results_lib.save_history(privacy.history, out_dir / PRIVACY_DIR)
  files = [out_dir / loop.WEIGHTS_FILE, out_dir / loop.HISTORY_FILE,
           *sorted((out_dir / PRIVACY_DIR).glob("*"))]
  # The record itself too, so that a config.json edited afterwards can be
  # told apart key by key (`tfmia.training.loop.load_run`).
  store.mark_done(marker, fp, files, seconds=seconds,
                  record=store.comparable(record, RUN_IGNORE))
  return PrivacyRun(model=model, history=result.history,
                    privacy=tuple(privacy.history), seconds=seconds,
                    resumed=False)
