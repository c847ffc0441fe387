"""Adversarial robustness of any tfmia model, ANN or SNN, through IBM's
Adversarial Robustness Toolbox (ART), and input-gradient sparsity.

- `art_classifier` wraps a Keras model that outputs logits (or a softmax) in
  ART's `TensorFlowV2Classifier`, in [0, 1] pixel space (any normalisation
  stays inside the model). A converted SNN is an ordinary Keras model whose
  spikes have a surrogate derivative (`tfmia.snn.network`), so gradients
  flow through it.
- `ATTACKS`: FGSM, PGD (L∞ and L2), APGD (cross-entropy), AutoAttack (ART's
  default ensemble) and the gradient-free Square attack, with HIRE-SNN's
  defaults: ε = 8/255; PGD with 7 steps of 0.01 from a random start.
- Stochastic inputs (Poisson or latency coding): `eot_samples` > 1 averages
  the model's logits over that many draws, so every gradient ART takes is
  the mean over draws (expectation over transformation, on the logits).
- The gradient-masking check: ART's `loss_gradient_check` (zero, NaN or
  infinite input gradients), and white-box PGD against the gradient-free
  Square attack. Where Square fools the model on examples PGD leaves
  correct, the report says so: robustness that rests on masked gradients is
  not robustness.
- Black-box transfer: examples crafted on a source model, evaluated on the
  target.
- `gradient_sparsity`: the fraction of exactly-zero entries in the input
  gradient of the loss and in the gradient entering each layer, as
  grad-obf-snn's `register_hooks` prints it; `GradientSparsityCallback`
  records it per epoch.

Results are a frozen dataclass (`RobustnessResult`), saved as JSON.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from tfmia.infra import extras
from tfmia.infra import progress as progress_lib
from tfmia.results import accuracy, accuracy_interval
from tfmia.results import correct as correct_of

ATTACKS = ("fgsm", "pgd", "pgd_l2", "apgd", "autoattack", "square")
GRADIENT_ATTACKS = ("fgsm", "pgd", "pgd_l2", "apgd", "autoattack")


def check_attacks(attacks: Sequence[str]) -> tuple:
  attacks = tuple(attacks)
  bad = [a for a in attacks if a not in ATTACKS]
  if bad or not attacks:
    raise ValueError(f"`attacks` must be a non-empty list from {ATTACKS}. "
                     f"Received: {list(attacks)!r}")
  return attacks


def parse_eps(text) -> float:
  """'8/255', '0.03' or a number -> float, checked to lie in [0, 1]."""
  if isinstance(text, str):
    try:
      num, _, den = text.partition("/")
      value = float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError):
      raise ValueError("`eps` must be a number or a fraction such as 8/255. "
                       f"Received: eps={text!r}") from None
  else:
    value = text
  _check_unit("eps", value)
  return float(value)


def _check_positive_ints(obj, names) -> None:
  for name in names:
    v = getattr(obj, name)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
      raise ValueError(f"`{name}` must be a positive int. "
                       f"Received: {name}={v!r}")


def _check_unit(name, value):
  if isinstance(value, bool) or not isinstance(value, (int, float)) \
      or not 0 <= value <= 1:
    raise ValueError(f"`{name}` must be a number in [0, 1] (pixel space). "
                     f"Received: {name}={value!r}")


@dataclasses.dataclass(frozen=True)
class RobustnessConfig:
  """Attack settings. Defaults are HIRE-SNN's (`ε = 8/255`, PGD with 7 steps
  of 0.01 and a random start), in [0, 1] pixel space.

  Attributes:
    eps: the L∞ budget of every L∞ attack.
    eps_l2: the L2 budget of "pgd_l2".
    pgd_steps: PGD's (and APGD's) iterations.
    pgd_step: PGD's L∞ step (for L2: the step is eps_l2 · pgd_step / eps).
    random_start: PGD starts at a uniform point of the ε-ball.
    square_queries: the Square attack's iterations (queries per example).
    eot_samples: draws of a stochastic model averaged per query (EOT).
    batch_size: examples per attack batch.
    check_examples: examples in ART's loss-gradient check.
    seed: the attacks' randomness.
  """

  eps: float = 8 / 255
  eps_l2: float = 0.5
  pgd_steps: int = 7
  pgd_step: float = 0.01
  random_start: bool = True
  square_queries: int = 1000
  eot_samples: int = 1
  batch_size: int = 128
  check_examples: int = 100
  seed: int = 0

  def __post_init__(self):
    _check_unit("eps", self.eps)
    _check_unit("pgd_step", self.pgd_step)
    if isinstance(self.eps_l2, bool) or not isinstance(
        self.eps_l2, (int, float)) or not self.eps_l2 >= 0:
      raise ValueError("`eps_l2` must be a number >= 0. "
                       f"Received: eps_l2={self.eps_l2!r}")
    _check_positive_ints(self, ("pgd_steps", "square_queries",
                                "eot_samples", "batch_size",
                                "check_examples"))


# ---------------------------------------------------------------------------
# ART wrapping


def import_art():
  """Imports ART without letting it reset logging. `art/__init__` calls
  `logging.config.dictConfig`, which closes every existing handler (even
  those whose stream is sys.stderr, which closes sys.stderr) and disables
  every existing logger (TensorFlow's, absl's, tfmia's). Import ART through
  this: the handlers are hidden from dictConfig and the loggers' states are
  restored."""
  import logging
  import sys
  if "art" in sys.modules:
    return sys.modules["art"]
  handlers, handler_list = dict(logging._handlers), logging._handlerList[:]
  disabled = {name: lg.disabled for name, lg in
              logging.Logger.manager.loggerDict.items()
              if isinstance(lg, logging.Logger)}
  logging._handlers.clear()
  del logging._handlerList[:]
  try:
    art = extras.require("art", "Evasion and label-only attacks")
  finally:
    logging._handlers.update(handlers)
    logging._handlerList[:0] = handler_list
    for name, was in disabled.items():
      logging.getLogger(name).disabled = was
  return art


class _Eot(tf.keras.Model):
  """Averages `model`'s logits over `samples` calls (fresh encoder draws).
  The output is tied to the input by a zero term, so that a model whose
  gradient is disconnected (a stop_gradient) reports zeros to ART rather
  than failing: a disconnected gradient is a zero gradient."""

  def __init__(self, model: tf.keras.Model, samples: int):
    super().__init__()
    self.inner = model
    self.samples = samples
    # ART calls the model eagerly, one op at a time: a spiking network's
    # loop over T then costs more in dispatch than in arithmetic (ART's
    # gradient check takes one example per call). One compiled function per
    # `training` value, for any batch size; gradients flow through it.
    spec = [tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)]
    self._forward = {
        mode: tf.function(lambda x, mode=mode: self._average(x, mode),
                          input_signature=spec)
        for mode in (False, True)}

  def _average(self, x, training):
    out = tf.add_n([self.inner(x, training=training)
                    for _ in range(self.samples)]) / self.samples
    tie = tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1,
                        keepdims=True)
    return out + 0.0 * tie

  def call(self, x, training=False):
    return self._forward[bool(training)](tf.cast(x, tf.float32))


def art_classifier(model: tf.keras.Model, eot_samples: int = 1):
  """ART's `TensorFlowV2Classifier` for `model`, inputs clipped to [0, 1]."""
  import_art()
  from art.estimators.classification import TensorFlowV2Classifier
  from tfmia.models.adapter import ends_in_softmax
  net = _Eot(model, eot_samples)
  loss = tf.keras.losses.CategoricalCrossentropy(
      from_logits=not ends_in_softmax(model))
  return TensorFlowV2Classifier(
      net, nb_classes=int(model.output_shape[-1]),
      input_shape=tuple(model.input_shape[1:]), loss_object=loss,
      clip_values=(0.0, 1.0))


def make_attack(name: str, classifier, config: RobustnessConfig):
  """The ART attack `name` with `config`'s settings."""
  import_art()
  from art.attacks import evasion
  check_attacks([name])
  c = config
  if name == "fgsm":
    return evasion.FastGradientMethod(classifier, norm=np.inf, eps=c.eps,
                                      batch_size=c.batch_size)
  if name == "pgd":
    return evasion.ProjectedGradientDescent(
        classifier, norm=np.inf, eps=c.eps, eps_step=c.pgd_step,
        max_iter=c.pgd_steps, num_random_init=int(c.random_start),
        batch_size=c.batch_size, verbose=False)
  if name == "pgd_l2":
    step = c.eps_l2 * c.pgd_step / c.eps if c.eps > 0 else c.pgd_step
    return evasion.ProjectedGradientDescent(
        classifier, norm=2, eps=c.eps_l2, eps_step=step,
        max_iter=c.pgd_steps, num_random_init=int(c.random_start),
        batch_size=c.batch_size, verbose=False)
  if name == "apgd":
    return evasion.AutoProjectedGradientDescent(
        classifier, norm=np.inf, eps=c.eps, eps_step=2 * c.eps,
        max_iter=c.pgd_steps, batch_size=c.batch_size, loss_type="cross_entropy",
        verbose=False)
  if name == "autoattack":
    return evasion.AutoAttack(classifier, norm=np.inf, eps=c.eps,
                              eps_step=c.pgd_step, batch_size=c.batch_size)
  return evasion.SquareAttack(classifier, norm=np.inf, eps=c.eps,
                              max_iter=c.square_queries, batch_size=c.batch_size,
                              verbose=False)


# ---------------------------------------------------------------------------
# Results


@dataclasses.dataclass(frozen=True)
class RobustnessResult:
  """Accuracies on `num_examples` examples, each as (accuracy, 95% low,
  high).

  Attributes:
    clean: accuracy on the unperturbed inputs.
    white_box: {attack: accuracy} under attacks crafted on the model.
    black_box: {attack: accuracy} under attacks crafted on the source model
      and transferred (empty without a source).
    gradient_check: fractions of checked examples whose input gradient is
      all zero, has a NaN or has an infinity (ART's loss_gradient_check).
    square_beats_pgd: the fraction of examples the gradient-free Square
      attack fools while PGD leaves them correct (None unless both ran).
    warnings: what the checks found, in words.
  """

  config: RobustnessConfig
  num_examples: int
  clean: tuple
  white_box: dict
  black_box: dict
  gradient_check: dict
  square_beats_pgd: Optional[float]
  warnings: tuple = ()

  def rows(self) -> list[dict]:
    out = [{"setting": "clean", "attack": "none", "accuracy": self.clean[0],
            "ci_low": self.clean[1], "ci_high": self.clean[2]}]
    for setting, d in (("white-box", self.white_box),
                       ("black-box", self.black_box)):
      for a, (acc, lo, hi) in d.items():
        out.append({"setting": setting, "attack": a, "accuracy": acc,
                    "ci_low": lo, "ci_high": hi})
    return out


def evaluate(model: tf.keras.Model, x: np.ndarray, y: np.ndarray,
             attacks: Sequence[str] = ("fgsm", "pgd"),
             config: RobustnessConfig = RobustnessConfig(), *,
             source: Optional[tf.keras.Model] = None,
             progress: bool = False) -> RobustnessResult:
  """Attacks `model` on (x, y) (pixels in [0, 1]) with each of `attacks`,
  white-box and, given a `source` model, black-box (crafted on `source`).
  Every report includes the gradient-masking checks."""
  import_art()
  from art.metrics.gradient_check import loss_gradient_check
  attacks = check_attacks(attacks)
  if not isinstance(config, RobustnessConfig):
    raise TypeError("`config` must be a RobustnessConfig. "
                    f"Received: {type(config).__name__}")
  x = np.asarray(x, np.float32)
  y = np.asarray(y).reshape(-1)
  if len(x) != len(y) or len(x) == 0:
    raise ValueError(f"`x` and `y` must hold the same number (> 0) of "
                     f"examples. Received: {len(x)} and {len(y)}")
  if x.min() < 0 or x.max() > 1:
    raise ValueError("`x` must be pixels in [0, 1] (normalisation belongs "
                     f"inside the model). Received: [{x.min()}, {x.max()}]")
  if tuple(x.shape[1:]) != tuple(model.input_shape[1:]):
    raise ValueError(f"`x` has shape {x.shape[1:]}; the model expects "
                     f"{tuple(model.input_shape[1:])}.")
  if source is not None and tuple(source.input_shape[1:]) != tuple(
      model.input_shape[1:]):
    raise ValueError("`source` must take the same inputs as `model`.")
  tf.keras.utils.set_random_seed(config.seed)
  target = art_classifier(model, config.eot_samples)
  onehot = np.eye(int(model.output_shape[-1]), dtype=np.float32)[y]

  def correct(clf, xs):
    return correct_of(clf.predict(xs, batch_size=config.batch_size), y)

  clean = correct(target, x)
  white, black, fooled = {}, {}, {}
  src = art_classifier(source, config.eot_samples) if source else None
  for name in attacks:
    if progress:
      progress_lib.say(f"  {name}: white-box" +
                       (" and black-box" if src else ""))
    adv = make_attack(name, target, config).generate(x, y=onehot)
    ok = correct(target, adv)
    white[name] = accuracy_interval(ok)
    fooled[name] = ~ok
    if src is not None:
      adv = make_attack(name, src, config).generate(x, y=onehot)
      black[name] = accuracy_interval(correct(target, adv))
  m = min(config.check_examples, len(x))
  bad = loss_gradient_check(target, x[:m], onehot[:m], verbose=False)
  check = {"zero": float(bad[:, 0].mean()), "nan": float(bad[:, 1].mean()),
           "inf": float(bad[:, 2].mean())}
  warnings = []
  if any(check.values()):
    warnings.append(
        f"gradient check: {check['zero']:.0%} zero, {check['nan']:.0%} NaN, "
        f"{check['inf']:.0%} infinite input gradients of {m} checked; "
        "gradient-based accuracies may overstate robustness")
  beats = None
  if "square" in fooled and "pgd" in fooled:
    beats = float(np.mean(fooled["square"] & ~fooled["pgd"] & clean))
    if beats > 0:
      warnings.append(
          f"the gradient-free Square attack fools {beats:.1%} of examples "
          "that PGD leaves correct: PGD's accuracy overstates robustness "
          "there (masked or obfuscated gradients, or too few PGD steps)")
  return RobustnessResult(config=config, num_examples=len(x),
                          clean=accuracy_interval(clean), white_box=white,
                          black_box=black, gradient_check=check,
                          square_beats_pgd=beats, warnings=tuple(warnings))


# ---------------------------------------------------------------------------
# Label-only membership inference: the decision-boundary attack


@dataclasses.dataclass(frozen=True)
class BoundaryConfig:
  """HopSkipJump's budget for the decision-boundary attack (ART's
  defaults are max_iter 50, max_eval 10000, init_eval 100)."""

  max_iter: int = 10
  max_eval: int = 1000
  init_eval: int = 100
  batch_size: int = 64
  seed: int = 0

  def __post_init__(self):
    _check_positive_ints(self, ("max_iter", "max_eval", "init_eval",
                                "batch_size"))


@contextlib.contextmanager
def _seeded_random_state(seed: int):
  """ART 1.20's HopSkipJump draws each example's random starting image from
  `np.random.RandomState()`, unseeded (`hop_skip_jump.py`, `_init_sample`),
  so two runs gave different distances. While this is active, an unseeded
  `RandomState()` is one stream seeded by `seed`; seeded calls are
  untouched."""
  original = np.random.RandomState
  stream = original(seed)

  def random_state(*args, **kwargs):
    return original(*args, **kwargs) if args or kwargs else stream

  np.random.RandomState = random_state
  try:
    yield
  finally:
    np.random.RandomState = original


def _label_classifier(model, x: np.ndarray):
  """ART's classifier for `model`: a Keras model as `art_classifier`; any
  other model `tfmia.models.adapter` takes (a callable, an adapter) as ART's
  BlackBoxClassifier on its outputs. HopSkipJump reads predicted labels
  only, so both give the same distances."""
  if isinstance(model, tf.keras.Model):
    return art_classifier(model)
  from art.estimators.classification import BlackBoxClassifier
  from tfmia.models.adapter import as_adapter
  forward = as_adapter(model)
  k = int(np.shape(forward(x[:1]))[-1])
  return BlackBoxClassifier(
      lambda batch: np.asarray(forward(np.asarray(batch, np.float32))),
      tuple(x.shape[1:]), k, clip_values=(0.0, 1.0))


def boundary_distances(model, x, y,
                       config: BoundaryConfig = BoundaryConfig()
                       ) -> np.ndarray:
  """Each example's L2 distance to the decision boundary, found by
  HopSkipJump from predicted labels only; 0 where the model is already
  wrong. This is the score of ART's LabelOnlyDecisionBoundary (Choquette-Choo
  et al., 2021), computed as its `calibrate_distance_threshold` does."""
  import_art()
  from art.attacks.evasion import HopSkipJump
  x = np.asarray(x, np.float32)
  y = np.asarray(y).reshape(-1)
  clf = _label_classifier(model, x)
  onehot = np.eye(int(clf.nb_classes), dtype=np.float32)[y]
  np.random.seed(config.seed)   # HopSkipJump draws from numpy's global RNG
  hsj = HopSkipJump(clf, targeted=False, max_iter=config.max_iter,
                    max_eval=config.max_eval, init_eval=config.init_eval,
                    batch_size=config.batch_size, verbose=False)
  with _seeded_random_state(config.seed):
    adv = hsj.generate(x=x, y=onehot)
  dist = np.linalg.norm((adv - x).reshape(len(x), -1), axis=1)
  wrong = ~correct_of(clf.predict(x), y)
  dist[wrong] = 0.0
  return dist.astype(np.float64)


# ---------------------------------------------------------------------------
# Gradient sparsity


def gradient_sparsity(model: tf.keras.Model, x, y) -> dict:
  """The fraction of exactly-zero entries in the gradient of the mean
  cross-entropy with respect to the input pixels ("input") and to each
  layer's input tensor (the gradient entering the layer, by layer name),
  on the batch (x, y). grad-obf-snn's `register_hooks` prints these
  (`grad_input` of every module). For a spiking model with its encoder
  inside, "encoded_input" is the gradient with respect to the encoded
  spikes, which is what grad-obf-snn calls the input (its encoder is
  outside the network)."""
  from tfmia.models.adapter import ends_in_softmax
  if not hasattr(model, "_nodes_by_depth"):
    raise ValueError("`model` must be a functional Keras model.")
  layers = [l for l in model.layers
            if not isinstance(l, tf.keras.layers.InputLayer)]
  # A model that returns every layer's (first) input, for the taps' shapes.
  inputs = [l.input[0] if isinstance(l.input, list) else l.input
            for l in layers]
  probe = tf.keras.Model(model.inputs, [model.output] + inputs)
  x = tf.convert_to_tensor(np.asarray(x, np.float32))
  y = tf.convert_to_tensor(np.asarray(y).reshape(-1))
  loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(
      from_logits=not ends_in_softmax(model))
  # Re-run the graph with each layer input watched: perturb-by-zero taps.
  taps = [tf.zeros_like(t) for t in probe(x)[1:]]
  with tf.GradientTape() as tape:
    tape.watch(x)
    tape.watch(taps)
    out = _forward_with_taps(model, x, dict(zip([id(l) for l in layers],
                                                taps)))
    loss = loss_fn(y, out)
  grads = tape.gradient(loss, [x] + taps,
                        unconnected_gradients=tf.UnconnectedGradients.ZERO)
  res = {"input": float(np.mean(grads[0].numpy() == 0))}
  for layer, g in zip(layers, grads[1:]):
    res[layer.name] = float(np.mean(g.numpy() == 0))
  # grad-obf-snn encodes outside the network, so its "input" gradient is
  # the one with respect to the encoded spikes: the gradient entering the
  # layer after a `SpikeEncoder`. Under latency or phase coding the pixel
  # gradient ("input") is all zeros, this one is not.
  after = _after_encoder(layers)
  if after is not None:
    res["encoded_input"] = res[after.name]
  return res


def _after_encoder(layers):
  """The layer that takes a `SpikeEncoder`'s output, or None."""
  from tfmia.snn.direct import SpikeEncoder  # pylint: disable=g-import-not-at-top
  for layer in layers:
    for node in layer._inbound_nodes:  # pylint: disable=protected-access
      if any(isinstance(l, SpikeEncoder)
             for l in tf.nest.flatten(node.inbound_layers)):
        return layer
  return None


def _forward_with_taps(model, x, taps: dict):
  """`model(x)` in inference mode, with taps[id(layer)] added to each
  layer's (first) input: its gradient is the gradient entering the layer."""
  from tensorflow_privacy.privacy.fast_gradient_clipping import (
      gradient_clipping_utils)

  def gen(layer, args, kwargs):
    tap = taps.get(id(layer))
    if tap is not None:
      first = args[0]
      if isinstance(first, (list, tuple)):   # Add, Concatenate: the first
        first = [first[0] + tap] + list(first[1:])
      else:
        first = first + tap
      args = (first,) + tuple(args[1:])
    kwargs = dict(kwargs)
    if getattr(layer, "_expects_training_arg", False):
      kwargs["training"] = False
    return layer(*args, **kwargs), None

  return gradient_clipping_utils.model_forward_pass(model, x, gen)[0]


class GradientSparsityCallback(tf.keras.callbacks.Callback):
  """Records `gradient_sparsity` on a fixed batch after every epoch, with
  clean and (optionally) PGD accuracy on it: `history` is a list of dicts."""

  def __init__(self, x, y, *, pgd: Optional[RobustnessConfig] = None):
    super().__init__()
    self.x = np.asarray(x, np.float32)
    self.y = np.asarray(y).reshape(-1)
    self.pgd = pgd
    self.history = []

  def on_epoch_end(self, epoch, logs=None):
    row = {"epoch": epoch + 1,
           **{f"zero_grad_{k}": v for k, v in
              gradient_sparsity(self.model, self.x, self.y).items()}}
    row["clean_accuracy"] = accuracy(self.model.predict(self.x, verbose=0),
                                     self.y)
    if self.pgd is not None:
      clf = art_classifier(self.model, self.pgd.eot_samples)
      adv = make_attack("pgd", clf, self.pgd).generate(self.x)
      row["pgd_accuracy"] = accuracy(clf.predict(adv), self.y)
    self.history.append(row)
    if logs is not None:
      logs.update({k: v for k, v in row.items() if k != "epoch"})
