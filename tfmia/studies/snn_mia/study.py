"""The SNN membership-inference case study.

How much do spiking networks converted from ANNs leak about their training
data, at latencies T = 1, 2, 4 (and 3 when asked), compared with the ANN?

For each architecture:

1. A target ANN and K reference ANNs are trained on a pooled membership split
   (`tfmia.references`): each pool example is IN for half the references, and
   the target has its own half. The population is the test split.
2. Every ANN is converted to an SNN (data-driven thresholds) and calibrated
   with surrogate gradients on its own training data at the first T; each
   later T starts from the model calibrated at the previous one.
3. Attack-P, Attack-R and RMIA run, with and without the input-dropout
   calibration, on: the ANN target with ANN references; the SNN target with
   SNN references at each T; and the SNN target with ANN references (mixed).

The study is a list of audit cells (`tfmia.audits.audit.Cell`: target variant,
reference variant, signal settings) plus its report. Everything is resumable
through the one store: reference ANNs, every SNN variant (stored beside its
ANN in the reference folder) and every model's signals, so a rerun only
redoes what is missing.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Optional

import numpy as np

from tfmia import references, variants
from tfmia.attacks import registry
from tfmia.attacks.registry import AttackConfig
from tfmia.audits import audit
from tfmia.data import DataConfig, check_at_most, prepare_data
from tfmia.infra import io
from tfmia.infra import progress as progress_lib
from tfmia.signals import SignalConfig
from tfmia.results import accuracy, correct
from tfmia.studies.snn_mia import report
from tfmia.training import TrainConfig

logger = logging.getLogger(__name__)

ATTACKS = ("attack_p", "attack_r", "rmia")
PROTOCOLS = ("default", "mia_snn")
# MIA_SNN's three attacks, registered under what they compute, and the
# names its tables give them.
MIA_SNN_ATTACKS = ("target_confidence", "reference_fraction",
                   "confidence_ratio")
MIA_SNN_LABELS = {"target_confidence": "attack_p (target_confidence)",
                  "reference_fraction": "attack_r (reference_fraction)",
                  "confidence_ratio": "rmia (confidence_ratio)"}
CALIBRATION_RECIPES = ("default", "mia_snn")


def protocol_settings(protocol: str, quick: bool) -> dict:
  """The settings a protocol sets, before the user's overrides.

  "default": the papers' attack definitions (Ye et al., Zarifzadeh et al.)
  and tfmia's recipe. "mia_snn": the study as the seed code
  (sharmaabhijith/MIA_SNN) runs it: its three attacks, its input dropout
  (a fresh mask per element, timestep and model), its calibration chain
  (T = 1, 2, 3, 4; 50 epochs at T = 1 and 30 after, batch 16, SGD 1e-3,
  momentum 0.9, no weight decay, cosine, crops and flips, BatchNorm kept as
  a layer) and, in full mode, its ANN recipe (`train_ann.py`: SGD lr 0.02,
  momentum 0.1, no weight decay, cosine over 250 epochs, batch 256, crops
  and flips, inputs standardised per channel). Quick mode keeps the quick
  ANN recipe and runs 2 calibration epochs per T.
  """
  if protocol not in PROTOCOLS:
    raise ValueError(f"`protocol` must be one of {PROTOCOLS}. "
                     f"Received: protocol={protocol!r}")
  if protocol == "default":
    return {}
  out = dict(protocol="mia_snn", attacks=MIA_SNN_ATTACKS,
             timesteps=(1, 2, 3, 4), calibration_recipe="mia_snn",
             calibration_learning_rate=1e-3, calibration_batch_size=16,
             fold_batchnorm=False, dropout_masks="mia_snn")
  if quick:
    out.update(calibration_epochs=2, calibration_first_epochs=2)
  else:
    out.update(epochs=250, batch_size=256, optimizer="sgd",
               learning_rate=0.02, momentum=0.1, weight_decay=0.0,
               augment=True, scaling="standardize", calibration_epochs=30,
               calibration_first_epochs=50, dropout_copies=30,
               num_references=4, pool_test=True)
  return out
_WIDTH_MODELS = ("vgg11", "vgg16", "resnet18", "resnet20", "cifarnet")
_POOLING_MODELS = ("vgg11", "vgg16", "conv", "cifarnet")


@dataclasses.dataclass(frozen=True)
class SnnMiaConfig:
  """Settings of the study. Defaults are the full mode: the seed study's
  models and scale, with a standard CIFAR training recipe."""

  dataset: str = "cifar10"
  data_dir: Optional[str] = None
  download: bool = False
  quick: bool = False
  models: tuple = ("vgg16", "resnet18", "resnet20")
  width_multiplier: float = 1.0
  pooling: str = "avg"                 # vgg pooling (avg converts exactly)
  pool_size: Optional[int] = None      # pool = first n train examples
  population_size: Optional[int] = None  # population = first n test examples
  num_references: int = 4
  # ANN training
  epochs: int = 200
  batch_size: int = 128
  optimizer: str = "sgd"
  learning_rate: float = 0.1
  momentum: float = 0.9
  weight_decay: float = 5e-4
  augment: bool = True
  scaling: str = "unit"                # pixel scaling (tfmia.data.SCALINGS)
  # conversion and calibration
  timesteps: tuple = (1, 2, 4)
  thresholds: str = "data_driven"
  calibration_samples: int = 512       # examples for the threshold fit
  calibration_epochs: int = 20
  calibration_first_epochs: Optional[int] = None  # at the first T (None: same)
  calibration_learning_rate: float = 1e-3
  calibration_batch_size: int = 64
  calibration_recipe: str = "default"  # or "mia_snn" (CalibrationConfig.mia_snn)
  fold_batchnorm: bool = True          # False: BN trained during calibration
  # attacks
  protocol: str = "default"            # PROTOCOLS; see protocol_settings
  attacks: tuple = ATTACKS
  dropout_copies: int = 30
  dropout_rate: float = 0.01
  dropout_masks: str = "shared"        # or "mia_snn" (tfmia.signals)
  rmia_a: float = 0.3
  # Also attack the target ANN's checkpoint whose test accuracy is closest
  # to each SNN's (the target keeps its per-epoch weights).
  matched_accuracy: bool = True
  seed: int = 0
  # Pool the test split into the pool, as the seed code does; accuracy is
  # then measured on the target's held-out half of the pool, as there.
  pool_test: bool = dataclasses.field(default=False, metadata=io.ADDED_LATER)

  def __post_init__(self):
    for name in ("models", "timesteps", "attacks"):
      object.__setattr__(self, name, tuple(getattr(self, name)))
    ts = list(self.timesteps)
    if not ts or ts != sorted(set(ts)) or ts[0] < 1:
      raise ValueError("`timesteps` must be strictly increasing positive "
                       f"ints. Received: timesteps={self.timesteps!r}")
    registry.check_names(self.attacks)
    for name in ("epochs", "batch_size", "calibration_samples",
                 "calibration_epochs", "calibration_batch_size"):
      v = getattr(self, name)
      if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ValueError(f"`{name}` must be a positive int. "
                         f"Received: {name}={v!r}")
    for name in ("pool_size", "population_size"):
      v = getattr(self, name)
      if v is not None and (not isinstance(v, int) or v < 2):
        raise ValueError(f"`{name}` must be an int >= 2 or None. "
                         f"Received: {name}={v!r}")
    for name in ("learning_rate", "calibration_learning_rate"):
      if not getattr(self, name) > 0:
        raise ValueError(f"`{name}` must be > 0. "
                         f"Received: {name}={getattr(self, name)!r}")
    if self.num_references < 2 or self.num_references % 2:
      raise ValueError("`num_references` must be an even int >= 2. "
                       f"Received: {self.num_references!r}")
    if self.dropout_copies < 1:
      raise ValueError("`dropout_copies` must be >= 1 (the study runs with "
                       f"and without it). Received: {self.dropout_copies!r}")
    if self.protocol not in PROTOCOLS:
      raise ValueError(f"`protocol` must be one of {PROTOCOLS}. "
                       f"Received: protocol={self.protocol!r}")
    if self.calibration_recipe not in CALIBRATION_RECIPES:
      raise ValueError(f"`calibration_recipe` must be one of "
                       f"{CALIBRATION_RECIPES}. Received: "
                       f"calibration_recipe={self.calibration_recipe!r}")
    v = self.calibration_first_epochs
    if v is not None and (not isinstance(v, int) or v < 1):
      raise ValueError("`calibration_first_epochs` must be a positive int or "
                       f"None. Received: calibration_first_epochs={v!r}")
    self.data_config()        # scaling and sizes, checked before any work
    self.signal_config()      # dropout settings
    self.calibration_config()

  @classmethod
  def full_mode(cls, protocol: str = "default", **overrides
                ) -> "SnnMiaConfig":
    """The full study under `protocol` (see `protocol_settings`)."""
    return cls(**dict(protocol_settings(protocol, quick=False), **overrides))

  @classmethod
  def quick_mode(cls, split_sizes: Optional[tuple[int, int]] = None,
                 image_size: Optional[int] = None, protocol: str = "default",
                 **overrides) -> "SnnMiaConfig":
    """A CIFAR-10 subset and a small VGG: minutes on 2 CPU cores.

    Args:
      split_sizes: (train, test) split sizes of the dataset: the quick pool
        (6,000) and population (2,000) are capped to them, so a small
        dataset such as digits runs. Sizes in `overrides` are kept as given
        (and refused by `run` when larger than the split).
      image_size: the images' height. Below 32 pixels (digits: 8) the
        quick VGG11's pooling stages leave nothing to learn from (10%
        accuracy on digits, measured), so the quick model is `conv` then,
        unless `models` is given.
      protocol: "default" or "mia_snn" (see `protocol_settings`).
      **overrides: settings that replace the quick ones.
    """
    n_tr, n_te = split_sizes or (6000, 2000)
    small = image_size is not None and image_size < 32
    base = dict(quick=True, models=("conv",) if small else ("vgg11",),
                width_multiplier=0.25,
                pool_size=min(6000, n_tr), population_size=min(2000, n_te),
                num_references=2,
                epochs=15, batch_size=64, optimizer="adam",
                learning_rate=1e-3, weight_decay=0.0, augment=False,
                calibration_samples=256, calibration_epochs=2,
                dropout_copies=10)
    base.update(protocol_settings(protocol, quick=True))
    base.update(overrides)
    return cls(**base)

  def check_sizes(self, raw) -> None:
    """Refuses a pool or population larger than the dataset's split, naming
    the setting to change."""
    pool = len(raw.y_train) + (len(raw.y_test) if self.pool_test else 0)
    for name, flag, n in (("pool_size", "--pool-size", pool),
                          ("population_size", "--population-size",
                           len(raw.y_test))):
      check_at_most(name, getattr(self, name), n, raw.name, flag=flag)

  def data_config(self) -> DataConfig:
    return DataConfig(dataset=self.dataset, data_dir=self.data_dir,
                      download=self.download, train_size=self.pool_size,
                      test_size=self.population_size, scaling=self.scaling,
                      pool_test=self.pool_test, seed=self.seed)

  def signal_config(self, dropout: bool = False) -> SignalConfig:
    plain = SignalConfig(seed=self.seed, dropout_masks=self.dropout_masks)
    return plain.replace(dropout_copies=self.dropout_copies,
                         dropout_rate=self.dropout_rate) if dropout else plain

  def model_kwargs(self, model: str) -> tuple:
    kw = {}
    if self.width_multiplier != 1.0 and model in _WIDTH_MODELS:
      kw["width_multiplier"] = self.width_multiplier
    if model in _POOLING_MODELS:
      kw["pooling"] = self.pooling
    if self.quick and model.startswith("vgg"):
      kw["classifier_units"] = (128,)
    return tuple(kw.items())

  def reference_config(self, model: str, directory: Path
                       ) -> references.ReferenceConfig:
    return references.ReferenceConfig(
        data=self.data_config(), model=model,
        model_kwargs=self.model_kwargs(model),
        train=TrainConfig(
            optimizer=self.optimizer, learning_rate=self.learning_rate,
            momentum=self.momentum,
            lr_schedule="cosine" if self.optimizer == "sgd" else "constant",
            weight_decay=self.weight_decay, epochs=self.epochs,
            batch_size=self.batch_size, augment=self.augment, seed=self.seed),
        num_models=self.num_references, seed=self.seed,
        reference_dir=str(directory),
        checkpoints=(references.TARGET,) if self.matched_accuracy else ())

  def calibration_config(self):
    from tfmia.training.calibration import CalibrationConfig
    settings = dict(epochs=self.calibration_epochs,
                    learning_rate=self.calibration_learning_rate,
                    batch_size=self.calibration_batch_size, seed=self.seed)
    if self.calibration_recipe == "mia_snn":
      return CalibrationConfig.mia_snn(**settings)
    return CalibrationConfig(**settings)


# ---------------------------------------------------------------------------
# Results


@dataclasses.dataclass(frozen=True, eq=False)
class SnnMiaResult:
  """Everything the figures and tables are drawn from.

  Attributes:
    config: the settings.
    attacks: {(model, setting, dropout): AttackResults}; setting is "ann",
      "snn_T{t}" or "snn_T{t}_ann_refs"; dropout is True / False.
    accuracy: {model: {"ann": acc, t: acc, ...}} on the population (test).
    sops: {model: {t: mean SOPs per example}}; ann_macs: {model: MACs}.
    matched: {model: {t: {"epoch": e, "accuracy": a}}}: the target ANN's
      checkpoint closest in test accuracy to the SNN at T, attacked as
      setting "ann_matched_T{t}" (empty without `matched_accuracy`).
    checkpoint_accuracy: {model: {epoch: test accuracy}} of the target ANN.
  """

  config: SnnMiaConfig
  attacks: dict
  accuracy: dict
  sops: dict
  ann_macs: dict
  matched: dict = dataclasses.field(default_factory=dict)
  checkpoint_accuracy: dict = dataclasses.field(default_factory=dict)

  def table(self):
    """Long table: one row per (model, dropout, setting, attack)."""
    import pandas as pd
    rows = []
    for (model, setting, dropout), res in self.attacks.items():
      for r in res:
        ci = r.confidence_intervals
        rows.append({"model": model, "dropout_calibration": dropout,
                     "setting": setting, "attack": r.attack, "auc": r.auc,
                     "auc_ci_low": ci["auc"][0], "auc_ci_high": ci["auc"][1],
                     "tpr_at_1%_fpr": r.tpr_at_fpr(0.01),
                     "tpr_at_1%_fpr_ci_low": ci["tpr_at_1%_fpr"][0],
                     "tpr_at_1%_fpr_ci_high": ci["tpr_at_1%_fpr"][1],
                     "tpr_at_0.1%_fpr": r.tpr_at_fpr(0.001),
                     "tpr_at_0%_fpr": r.tpr_at_fpr(0.0)})
    return pd.DataFrame(rows)

  def cell_table(self):
    """Rows (model, dropout calibration); columns (attack, setting); each
    cell "AUC / TPR@1% / TPR@0.1% / TPR@0%"."""
    df = self.table()
    df["cell"] = df.apply(lambda r: "{:.3f} / {:.3f} / {:.3f} / {:.3f}".format(
        r["auc"], r["tpr_at_1%_fpr"], r["tpr_at_0.1%_fpr"],
        r["tpr_at_0%_fpr"]), axis=1)
    wide = self._labelled(df.pivot(index=["model", "dropout_calibration"],
                                   columns=["attack", "setting"],
                                   values="cell"))
    return wide[list(self.wide_table().columns)]

  def wide_table(self, metric: str = "auc"):
    """Rows (model, dropout calibration); columns (attack, setting)."""
    df = self.table()
    wide = df.pivot_table(index=["model", "dropout_calibration"],
                          columns=["attack", "setting"], values=metric)
    snn = [f"snn_T{t}" for t in self.config.timesteps]
    # The seed's layout puts the SNN columns first, then the ANN.
    order = (snn + ["ann"] if self.config.protocol == "mia_snn"
             else ["ann"] + snn) + [
        f"snn_T{t}_ann_refs" for t in self.config.timesteps] + [
        f"ann_matched_T{t}" for t in self.config.timesteps]
    order += [s for s in dict.fromkeys(k[1] for k in self.attacks)
              if s not in order]   # cells a user added
    cols = [(a, s) for a in self.config.attacks for s in order
            if (a, s) in wide.columns]
    return self._labelled(wide[cols])

  def _labelled(self, wide):
    """Under the mia_snn protocol, the attacks carry the seed's names too."""
    if self.config.protocol != "mia_snn":
      return wide
    return wide.rename(columns=MIA_SNN_LABELS, level=0)


# ---------------------------------------------------------------------------
# Cells


def snn_variants(config: SnnMiaConfig) -> dict:
  """{T: SnnVariant}: converted at the first T, each later T calibrated from
  the one before (the seed study's progressive calibration)."""
  chain = variants.SnnVariant.progressive(
      config.timesteps, thresholds=config.thresholds,
      calibration_samples=config.calibration_samples,
      calibration=config.calibration_config(), seed=config.seed,
      first_epochs=config.calibration_first_epochs,
      fold_batchnorm=config.fold_batchnorm)
  return {v.timesteps: v for v in chain}


def cells(config: SnnMiaConfig) -> dict:
  """{(setting, dropout): Cell}: the ANN, the SNN at each T, and the SNN
  target with ANN references, each with and without input dropout."""
  plain, dropped = config.signal_config(), config.signal_config(True)
  snns = snn_variants(config)
  out = {}
  for dropout, sc in ((False, plain), (True, dropped)):
    out["ann", dropout] = audit.Cell(None, None, sc, "ann")
    for t, v in snns.items():
      out[f"snn_T{t}", dropout] = audit.Cell(v, v, sc, f"snn_T{t}")
      out[f"snn_T{t}_ann_refs", dropout] = audit.Cell(
          v, None, sc, f"snn_T{t}_ann_refs")
  return out


def checkpoint_accuracy(refs, data, name: str = references.TARGET, *,
                        held_out: bool = False) -> dict:
  """{epoch: test accuracy} of model `name`'s per-epoch checkpoints: on the
  population (the test split), or with `held_out` on the pool examples the
  model did not train on."""
  from tfmia.models import adapter
  x, y = data.x_test, data.y_test
  if held_out:
    out_of = ~refs.is_member_of(name)
    x, y = data.x_train[out_of], data.y_train[out_of]
  out = {}
  for epoch in refs.checkpoint_epochs(name):
    model = refs.load_checkpoint(name, epoch, data.input_shape,
                                 data.num_classes)
    logits = adapter.predict_logits(model, x)
    out[epoch] = accuracy(logits, y)
  return out


def closest_checkpoint(accuracies: dict, target: float) -> int:
  """The epoch whose accuracy is closest to `target`; of equally close
  ones, the latest (the most trained)."""
  if not accuracies:
    raise ValueError("No checkpoints to choose from: train the target with "
                     "ReferenceConfig(checkpoints=('target',)).")
  return min(accuracies, key=lambda e: (abs(accuracies[e] - target), -e))


OUTPUTS = ("models", "attacks", "results.csv", "table*.csv", "summary.json",
           "*.png")


def run(config: SnnMiaConfig, out: Path, *, progress: bool = True,
        data=None, raw=None, overwrite: bool = False,
        executor=None) -> SnnMiaResult:
  """Runs (or resumes) the study and writes its tables and figures to `out`.

  `out` holds one study: a rerun with the same settings resumes; other
  settings are refused, naming what differs, unless `overwrite` (which
  deletes the old study's outputs first).

  Args:
    data: the prepared data, if at hand (else prepared from the config).
    raw: the loaded dataset, if at hand: sizes are checked against it.
    executor: a `tfmia.infra.executors` executor for the three long phases: each
      model's training, each model's chain of SNN variants, and each audit
      cell are its units (on Ray, tasks). None: here, one after another.
  """
  from tfmia import snn
  from tfmia.infra import store
  from tfmia.data import load_dataset
  out = io.check_output_dir(out, "the output folder")
  if data is None:
    if raw is None:
      raw = load_dataset(config.dataset, data_dir=config.data_dir,
                         download=config.download, seed=config.seed)
    config.check_sizes(raw)
    data = prepare_data(config.data_config(), raw=raw)
  snns = snn_variants(config)
  # Every model of the study is checked convertible before anything is
  # trained or written.
  for model in config.models:
    ref_cfg = config.reference_config(model, out / "models" / model / "ann")
    variants.check_applicable(list(snns.values()), ref_cfg.model,
                              ref_cfg.model_kwargs, data)
  store.claim(out, config, outputs=OUTPUTS, overwrite=overwrite,
              ignore=("data_dir", "download"), what="SNN-MIA study")
  acfg = AttackConfig(rmia_a=config.rmia_a, seed=config.seed)
  attacks, accuracy, sops, macs, matched, ckpt_acc = {}, {}, {}, {}, {}, {}
  for model in config.models:
    ref_cfg = config.reference_config(model, out / "models" / model / "ann")
    if progress:
      progress_lib.say(f"{model}: training the target and "
                       f"{config.num_references} reference ANNs (resumes "
                       "finished ones)")
    references.train_references(ref_cfg, data=data, progress=progress,
                                executor=executor)
    refs = references.ReferenceSet.load(ref_cfg.reference_dir)
    # Every variant of every model, in the seed study's order.
    variants.make_variants(refs, data, list(snns.values()),
                           executor=executor, progress=progress)
    named = {key: dataclasses.replace(cell, name=f"{model} {key[0]}")
             for key, cell in cells(config).items()}
    for (setting, dropout), res in audit.audit_cells(
        refs, data, named, config.attacks, acfg, executor=executor,
        progress=progress).items():
      attacks[model, setting, dropout] = res
    # Accuracy on the population (the test split) and the energy proxy.
    # With the test split pooled (the seed's split), test accuracy is taken
    # on the target's held-out half of the pool, as the seed does.
    plain = SignalConfig(seed=config.seed)
    held_out = ~refs.is_member_of(references.TARGET)
    acc = {}
    for key, v in [("ann", None)] + list(snns.items()):
      p = audit.model_signals(refs, data, references.TARGET, v,
                              "pool" if config.pool_test else "population",
                              plain).mean()
      right = correct(p.probs[:, 0], p.labels)
      acc[key] = float(np.mean(right[held_out] if config.pool_test
                               else right))
    accuracy[model] = acc
    if config.matched_accuracy:
      # The target ANN at each SNN's test accuracy, against the same (ANN)
      # references: does the SNN leak less, or is it just less fitted?
      ckpt_acc[model] = checkpoint_accuracy(refs, data,
                                            held_out=config.pool_test)
      matched[model] = {}
      for t in snns:
        epoch = closest_checkpoint(ckpt_acc[model], acc[t])
        matched[model][t] = {"epoch": epoch,
                             "accuracy": ckpt_acc[model][epoch]}
        for dropout in (False, True):
          cell = audit.Cell(variants.CheckpointVariant(epoch), None,
                            config.signal_config(dropout),
                            f"{model} ann_matched_T{t}")
          attacks[model, f"ann_matched_T{t}", dropout] = audit.audit_cell(
              refs, data, cell, config.attacks, acfg, progress=progress)
    sops[model] = {}
    for t, v in snns.items():
      r = snn.simulate(variants.load_model(refs, references.TARGET, data, v),
                       data.x_test[:500])
      sops[model][t] = float(np.mean(r.sops))
      macs[model] = r.ann_macs
  result = SnnMiaResult(config=config, attacks=attacks, accuracy=accuracy,
                        sops=sops, ann_macs=macs, matched=matched,
                        checkpoint_accuracy=ckpt_acc)
  report.write(result, out)
  return result
