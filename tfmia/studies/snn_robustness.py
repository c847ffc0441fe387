"""The SNN-robustness case study (HIRE-SNN's comparison, first part):

1. Three models of one architecture (HIRE-SNN's spiking VGG, direct input):
   the ANN twin (ReLU), a traditionally trained SNN (BPTT) and a HIRE-SNN
   (crafted input noise, `tfmia.training.hire`).
2. Each is attacked with FGSM and PGD (ART, HIRE-SNN's settings) white-box
   and black-box. Black-box examples are crafted on another model: the
   SNNs' on the ANN, the ANN's on the traditional SNN.
3. Every report carries the gradient-masking check, and each model's
   input-gradient sparsity on the attacked batch.

4. The privacy side, without reference models: each model's loss-threshold
   and label-only gap attacks, its training set (members) against its
   test set (`privacy.csv`).

Not yet in it (see the README): the pooling and encoder sweep, Square and
AutoAttack by default, and RMIA with references of the same kind.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from tfmia import io, models, robustness, spiking
from tfmia.data import DataConfig, prepare_data
from tfmia.training import TrainConfig, train_model
from tfmia.training.hire import HireConfig, train_hire

MODELS = ("ann", "snn", "hire_snn")
OUTPUTS = ("results.csv", "results.json", "robustness.png", "privacy.csv",
           "config.json")
PRIVACY_ATTACKS = ("threshold", "label_gap")


@dataclasses.dataclass(frozen=True)
class SnnRobustnessConfig:
  """Full mode: HIRE-SNN's VGG-11 at T = 8 on all of CIFAR-10, ε = 8/255,
  PGD with 7 steps of 0.01, HIRE with 2 periods."""

  dataset: str = "cifar10"
  data_dir: Optional[str] = None
  download: bool = False
  quick: bool = False
  train_size: Optional[int] = None
  test_size: Optional[int] = None
  depth: int = 11
  width_multiplier: float = 1.0
  hidden: int = 4096
  timesteps: int = 8
  epochs: int = 100
  batch_size: int = 64
  learning_rate: float = 1e-3
  hire_periods: int = 2
  hire_eps: float = 8 / 255
  hire_step: float = 8 / 255
  attacks: tuple = ("fgsm", "pgd")
  eps: float = 8 / 255
  pgd_steps: int = 7
  pgd_step: float = 0.01
  attack_examples: int = 1000
  seed: int = 0

  def __post_init__(self):
    object.__setattr__(self, "attacks",
                       robustness.check_attacks(self.attacks))
    self.robustness_config()          # checks ε and PGD settings
    self.hire_config()                # checks the HIRE settings
    spiking.check_spiking(timesteps=self.timesteps)
    if self.timesteps % self.hire_periods:
      raise ValueError(f"`hire_periods` ({self.hire_periods}) must divide "
                       f"`timesteps` ({self.timesteps}).")
    for name in ("epochs", "batch_size", "attack_examples"):
      v = getattr(self, name)
      if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"`{name}` must be a positive int. "
                         f"Received: {name}={v!r}")

  @classmethod
  def quick_mode(cls, split_sizes: Optional[tuple] = None,
                 **overrides) -> "SnnRobustnessConfig":
    """VGG-5 at width 0.25 (256 hidden units), T = 8 in 2 HIRE periods,
    2,000 training images (fewer if the split is smaller), 8 epochs, 200
    attacked test images."""
    n_train, n_test = split_sizes or (2000, 500)
    base = dict(quick=True, train_size=min(2000, n_train),
                test_size=min(500, n_test), depth=5,
                width_multiplier=0.25, hidden=1024, timesteps=8, epochs=8,
                attack_examples=200)
    base.update(overrides)
    return cls(**base)

  def robustness_config(self) -> robustness.RobustnessConfig:
    return robustness.RobustnessConfig(eps=self.eps, pgd_steps=self.pgd_steps,
                                       pgd_step=self.pgd_step, seed=self.seed)

  def hire_config(self) -> HireConfig:
    return HireConfig(self.hire_periods, self.hire_eps, self.hire_step)

  def train_config(self) -> TrainConfig:
    return TrainConfig(epochs=self.epochs, batch_size=self.batch_size,
                       optimizer="adam", learning_rate=self.learning_rate,
                       seed=self.seed)

  def data_config(self) -> DataConfig:
    return DataConfig(dataset=self.dataset, data_dir=self.data_dir,
                      download=self.download, train_size=self.train_size,
                      test_size=self.test_size, seed=self.seed)


def build(config: SnnRobustnessConfig, kind: str, input_shape, classes):
  """`kind`'s model: the spiking VGG, or its ANN twin."""
  import tensorflow as tf
  tf.keras.utils.set_random_seed(config.seed)
  snn = models.build_model(
      "spiking_vgg", input_shape, classes, depth=config.depth,
      timesteps=config.timesteps, width_multiplier=config.width_multiplier,
      hidden=config.hidden)
  return spiking.ann_twin(snn) if kind == "ann" else snn


def _train(config, kind, data, folder: Path, progress: bool):
  """Trains `kind` (or loads it when its weights are there)."""
  model = build(config, kind, data.input_shape, data.num_classes)
  weights = folder / "model.weights.h5"
  if weights.exists():
    if kind != "ann":
      model(data.x_train[:2])   # create the variables, then overwrite them
    model.load_weights(weights)
    return model
  if progress:
    print(f"Training {kind}")
  folder.mkdir(parents=True, exist_ok=True)
  cfg = config.train_config().replace(verbose=1 if progress else 0)
  if kind == "hire_snn":
    train_hire(model, data, cfg, config.hire_config())
  else:
    train_model(model, data, cfg)
  from tfmia.training.loop import save_weights
  save_weights(model, weights)
  return model


def leakage(model, data, seed: int = 0) -> list:
  """Summaries (AUC, TPR at low FPR, with intervals) of PRIVACY_ATTACKS on
  `model`: its train split (members) against its test split."""
  from tfmia.attacks import suite
  from tfmia.signals import Signals
  logits = np.concatenate([model.predict(data.x_train, verbose=0),
                           model.predict(data.x_test, verbose=0)])
  labels = np.concatenate([data.y_train, data.y_test])
  is_member = np.arange(len(labels)) < len(data.y_train)
  res = suite.run_attacks(PRIVACY_ATTACKS, suite.AttackSignals(
      target=Signals.from_logits(logits, labels)),
      suite.AttackConfig(seed=seed), is_member=is_member)
  return [r.summary() for r in res.results
          if r.slice == "entire_dataset"]


@dataclasses.dataclass(frozen=True)
class SnnRobustnessResult:
  config: SnnRobustnessConfig
  rows: tuple
  privacy: tuple = ()

  def table(self) -> pd.DataFrame:
    return pd.DataFrame(list(self.rows))

  def privacy_table(self) -> pd.DataFrame:
    return pd.DataFrame(list(self.privacy))


def run(config: SnnRobustnessConfig, out, *, data=None,
        progress: bool = True) -> SnnRobustnessResult:
  """Trains (or loads) the three models in `out`/models and attacks them;
  writes results.csv, results.json, robustness.png and config.json."""
  from tfmia import plotting
  out = io.check_output_dir(out, "the output folder")
  data = data if data is not None else prepare_data(config.data_config())
  io.atomic_write_json(out / "config.json", config)
  trained = {k: _train(config, k, data, out / "models" / k, progress)
             for k in MODELS}
  n = min(config.attack_examples, len(data.y_test))
  x, y = data.x_test[:n], data.y_test[:n]
  sources = {"ann": "snn", "snn": "ann", "hire_snn": "ann"}
  rows = []
  for kind in MODELS:
    if progress:
      print(f"Attacking {kind} ({', '.join(config.attacks)}; black-box from "
            f"{sources[kind]})")
    res = robustness.evaluate(trained[kind], x, y, config.attacks,
                              config.robustness_config(),
                              source=trained[sources[kind]])
    sparsity = robustness.gradient_sparsity(trained[kind], x[:64], y[:64])
    for r in res.rows():
      rows.append({"model": kind, **r,
                   "zero_input_gradient": sparsity["input"],
                   "gradient_check_zero": res.gradient_check["zero"],
                   "warnings": " | ".join(res.warnings)})
  privacy = [{"model": kind, **r} for kind in MODELS
             for r in leakage(trained[kind], data, config.seed)]
  result = SnnRobustnessResult(config=config, rows=tuple(rows),
                               privacy=tuple(privacy))
  table = result.table()
  from tfmia.reports import write_csv
  write_csv(table, out / "results.csv", index=False, float_format="%.4f")
  write_csv(result.privacy_table(), out / "privacy.csv", index=False,
            float_format="%.4f")
  io.atomic_write_json(out / "results.json", {"rows": rows,
                                               "privacy": privacy})
  plotting.save_figure(plotting.plot_robustness_models(table),
                       out / "robustness.png")
  return result
