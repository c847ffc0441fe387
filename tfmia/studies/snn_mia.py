"""The SNN membership-inference case study.

How much do spiking networks converted from ANNs leak about their training
data, at latencies T = 1, 2, 4 (and 3 when asked), compared with the ANN?

For each architecture:

1. A target ANN and K reference ANNs are trained on a pooled membership split
   (`tfmia.reference`): each pool example is IN for half the references, and
   the target has its own half. The population is the test split.
2. Every ANN is converted to an SNN (data-driven thresholds) and calibrated
   with surrogate gradients on its own training data at the first T; each
   later T starts from the model calibrated at the previous one.
3. Attack-P, Attack-R and RMIA run, with and without the input-dropout
   calibration, on: the ANN target with ANN references; the SNN target with
   SNN references at each T; and the SNN target with ANN references (mixed).

Everything is resumable: reference ANNs are skipped when complete, each
calibrated SNN is saved atomically with a done-marker, and model signals are
cached, so a rerun only redoes what is missing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Optional

import numpy as np

from tfmia import io, plotting, reference
from tfmia.attacks import suite
from tfmia.attacks.suite import AttackConfig, AttackSignals
from tfmia.data import DataConfig, prepare_data
from tfmia.results import ENTIRE_DATASET, AttackResult, AttackResults
from tfmia.signals import SignalConfig, Signals, compute_signals
from tfmia.training import TrainConfig

logger = logging.getLogger(__name__)

ATTACKS = ("attack_p", "attack_r", "rmia")
_WIDTH_MODELS = ("vgg11", "vgg16", "resnet18", "resnet20", "cifarnet")
_POOLING_MODELS = ("vgg11", "vgg16", "conv", "cifarnet")
DONE_FILE = "done.json"


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
  weight_decay: float = 5e-4
  augment: bool = True
  # conversion and calibration
  timesteps: tuple = (1, 2, 4)
  thresholds: str = "data_driven"
  calibration_samples: int = 512       # examples for the threshold fit
  calibration_epochs: int = 20
  calibration_learning_rate: float = 1e-3
  calibration_batch_size: int = 64
  # attacks
  attacks: tuple = ATTACKS
  dropout_copies: int = 30
  dropout_rate: float = 0.01
  rmia_a: float = 0.3
  seed: int = 0

  def __post_init__(self):
    for name in ("models", "timesteps", "attacks"):
      object.__setattr__(self, name, tuple(getattr(self, name)))
    ts = list(self.timesteps)
    if not ts or ts != sorted(set(ts)) or ts[0] < 1:
      raise ValueError("`timesteps` must be strictly increasing positive "
                       f"ints. Received: timesteps={self.timesteps!r}")
    suite.check_names(self.attacks)
    if self.num_references < 2 or self.num_references % 2:
      raise ValueError("`num_references` must be an even int >= 2. "
                       f"Received: {self.num_references!r}")
    if self.dropout_copies < 1:
      raise ValueError("`dropout_copies` must be >= 1 (the study runs with "
                       f"and without it). Received: {self.dropout_copies!r}")

  @classmethod
  def quick_mode(cls, **overrides) -> "SnnMiaConfig":
    """A CIFAR-10 subset and a small VGG: minutes on 2 CPU cores."""
    base = dict(quick=True, models=("vgg11",), width_multiplier=0.25,
                pool_size=6000, population_size=2000, num_references=2,
                epochs=15, batch_size=64, optimizer="adam",
                learning_rate=1e-3, weight_decay=0.0, augment=False,
                calibration_samples=256, calibration_epochs=2,
                dropout_copies=10)
    base.update(overrides)
    return cls(**base)

  def data_config(self) -> DataConfig:
    return DataConfig(dataset=self.dataset, data_dir=self.data_dir,
                      download=self.download, train_size=self.pool_size,
                      test_size=self.population_size, seed=self.seed)

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
                       ) -> reference.ReferenceConfig:
    return reference.ReferenceConfig(
        data=self.data_config(), model=model,
        model_kwargs=self.model_kwargs(model),
        train=TrainConfig(
            optimizer=self.optimizer, learning_rate=self.learning_rate,
            lr_schedule="cosine" if self.optimizer == "sgd" else "constant",
            weight_decay=self.weight_decay, epochs=self.epochs,
            batch_size=self.batch_size, augment=self.augment, seed=self.seed),
        num_models=self.num_references, seed=self.seed,
        reference_dir=str(directory))

  def calibration_config(self):
    from tfmia.snn import CalibrationConfig
    return CalibrationConfig(epochs=self.calibration_epochs,
                             learning_rate=self.calibration_learning_rate,
                             batch_size=self.calibration_batch_size,
                             seed=self.seed)


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
  """

  config: SnnMiaConfig
  attacks: dict
  accuracy: dict
  sops: dict
  ann_macs: dict

  def table(self):
    """Long table: one row per (model, dropout, setting, attack)."""
    import pandas as pd
    rows = []
    for (model, setting, dropout), res in self.attacks.items():
      for r in res:
        rows.append({"model": model, "dropout_calibration": dropout,
                     "setting": setting, "attack": r.attack, "auc": r.auc,
                     "tpr_at_1%_fpr": r.tpr_at_fpr(0.01),
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
    wide = df.pivot(index=["model", "dropout_calibration"],
                    columns=["attack", "setting"], values="cell")
    return wide[list(self.wide_table().columns)]

  def wide_table(self, metric: str = "auc"):
    """Rows (model, dropout calibration); columns (attack, setting)."""
    df = self.table()
    wide = df.pivot_table(index=["model", "dropout_calibration"],
                          columns=["attack", "setting"], values=metric)
    order = ["ann"] + [f"snn_T{t}" for t in self.config.timesteps] + [
        f"snn_T{t}_ann_refs" for t in self.config.timesteps]
    cols = [(a, s) for a in self.config.attacks for s in order
            if (a, s) in wide.columns]
    return wide[cols]


# ---------------------------------------------------------------------------
# Pipeline


def _snn_dir(out: Path, model: str, name: str) -> Path:
  return out / "models" / model / "snn" / name


def _snn_complete(d: Path, t: int, fingerprint: str) -> bool:
  try:
    done = io.read_json(d / f"T{t}.{DONE_FILE}")
    return done["fingerprint"] == fingerprint and (d / f"T{t}.keras").is_file()
  except (OSError, ValueError, KeyError):
    return False


def _fingerprint(config: SnnMiaConfig, ref_fp: str) -> str:
  import hashlib
  keep = {k: v for k, v in io.to_jsonable(config).items()
          if k in ("thresholds", "calibration_samples", "calibration_epochs",
                   "calibration_learning_rate", "calibration_batch_size",
                   "timesteps", "seed")}
  return hashlib.sha256(json.dumps([keep, ref_fp], sort_keys=True).encode()
                        ).hexdigest()


def _calibrate_all(config, refs, data, out, model, progress) -> dict:
  """Converts and calibrates every model at every T (resumable).

  Returns {name: {t: path}}."""
  from tfmia import snn
  names = [reference.TARGET] + refs.reference_names()
  fp = _fingerprint(config, refs.config.fingerprint())
  paths = {}
  for name in names:
    keep = refs.target_in if name == reference.TARGET else refs.ref_in[
        int(name.split("_")[1])]
    members = data.replace(x_train=data.x_train[keep],
                           y_train=data.y_train[keep],
                           x_test=data.x_test, y_test=data.y_test)
    d = _snn_dir(out, model, name)
    paths[name] = {}
    prev = None
    for t in config.timesteps:
      path = d / f"T{t}.keras"
      paths[name][t] = path
      if _snn_complete(d, t, fp):
        prev = None   # loaded lazily only if a later T needs it
        continue
      if prev is None:
        earlier = [s for s in config.timesteps if s < t]
        if earlier:
          prev = snn.load(d / f"T{earlier[-1]}.keras")
      start = time.perf_counter()
      if prev is None:
        ann = refs.load_model(name, data.input_shape, data.num_classes)
        rng = np.random.default_rng([config.seed, 5])
        pick = rng.choice(len(members.x_train), min(
            config.calibration_samples, len(members.x_train)), replace=False)
        spiking = snn.convert(ann, members.x_train[np.sort(pick)],
                              timesteps=t, thresholds=config.thresholds,
                              seed=config.seed, name=f"{name}_snn")
      else:
        spiking = snn.with_timesteps(prev, t)
      if progress:
        print(f"  {model} {name}: calibrating the SNN at T={t}")
      history = snn.calibrate(spiking, members, config.calibration_config())
      snn.save(spiking, path)
      io.atomic_write_json(d / f"T{t}.{DONE_FILE}", {
          "fingerprint": fp, "seconds": time.perf_counter() - start,
          "history": history.metrics})
      prev = spiking
  return paths


def _signals(model_fn, cache: Path, x, y, sc: SignalConfig, progress) -> Signals:
  if cache.is_file():
    try:
      return Signals.load(cache)
    except (OSError, ValueError, KeyError):
      pass
  sig = compute_signals(model_fn(), x, y, sc, progress=progress)
  sig.save(cache)
  return sig


def run(config: SnnMiaConfig, out: Path, *, progress: bool = True,
        data=None) -> SnnMiaResult:
  """Runs (or resumes) the study and writes its tables and figures to `out`."""
  from tfmia import snn
  out = Path(out)
  out.mkdir(parents=True, exist_ok=True)
  io.atomic_write_json(out / "config.json", config)
  data = data if data is not None else prepare_data(config.data_config())
  attacks, accuracy, sops, macs = {}, {}, {}, {}
  for model in config.models:
    ref_cfg = config.reference_config(model, out / "models" / model / "ann")
    if progress:
      print(f"{model}: training the target and {config.num_references} "
            f"reference ANNs (resumes finished ones)")
    reference.train_references(ref_cfg, data=data, progress=progress)
    refs = reference.ReferenceSet.load(ref_cfg.reference_dir)
    paths = _calibrate_all(config, refs, data, out, model, progress)
    names = [reference.TARGET] + refs.reference_names()
    cache = out / "models" / model / "signals"
    plain = SignalConfig(seed=config.seed)
    dropped = plain.replace(dropout_copies=config.dropout_copies,
                            dropout_rate=config.dropout_rate)
    kinds = ["ann"] + [f"snn_T{t}" for t in config.timesteps]

    def loader(kind, name):
      if kind == "ann":
        return lambda: refs.load_model(name, data.input_shape,
                                       data.num_classes)
      return lambda: snn.load(paths[name][int(kind[5:])])

    sig = {}
    for dropout, sc in ((False, plain), (True, dropped)):
      tag = "dropout" if dropout else "plain"
      for kind in kinds:
        for name in names:
          for split, x, y in (("pool", data.x_train, data.y_train),
                              ("population", data.x_test, data.y_test)):
            sig[dropout, kind, name, split] = _signals(
                loader(kind, name), cache / f"{kind}_{name}_{split}_{tag}.npz",
                x, y, sc, progress and f"{model} {kind} {name} {split} {tag}")
    acfg = AttackConfig(rmia_a=config.rmia_a, seed=config.seed)
    for dropout in (False, True):
      for kind in kinds:
        settings = [(kind, kind)] + ([(f"{kind}_ann_refs", "ann")]
                                     if kind != "ann" else [])
        for setting, ref_kind in settings:
          signals = AttackSignals(
              target=sig[dropout, kind, reference.TARGET, "pool"],
              references=tuple(sig[dropout, ref_kind, n, "pool"]
                               for n in refs.reference_names()),
              ref_in=refs.ref_in,
              target_population=sig[dropout, kind, reference.TARGET,
                                    "population"],
              reference_population=tuple(
                  sig[dropout, ref_kind, n, "population"]
                  for n in refs.reference_names()))
          scores = suite.score_attacks(config.attacks, signals, acfg)
          attacks[model, setting, dropout] = AttackResults(
              results=tuple(AttackResult(a, ENTIRE_DATASET, s,
                                         refs.target_in)
                            for a, s in scores.items()),
              model=f"{model} {setting}")
    # Accuracy (on the population, i.e. the test split) and energy proxy.
    acc = {}
    for kind in kinds:
      p = sig[False, kind, reference.TARGET, "population"]
      acc["ann" if kind == "ann" else int(kind[5:])] = float(np.mean(
          p.mean().probs[:, 0].argmax(1) == p.labels))
    accuracy[model] = acc
    sops[model] = {}
    for t in config.timesteps:
      r = snn.simulate(snn.load(paths[reference.TARGET][t]),
                       data.x_test[:500])
      sops[model][t] = float(np.mean(r.sops))
      macs[model] = r.ann_macs
  result = SnnMiaResult(config=config, attacks=attacks, accuracy=accuracy,
                        sops=sops, ann_macs=macs)
  write_outputs(result, out)
  return result


# ---------------------------------------------------------------------------
# Outputs


def write_outputs(result: SnnMiaResult, out: Path) -> None:
  """Tables, results and figures, all drawn from `result`."""
  out = Path(out)
  table = result.table()
  with io.atomic_path(out / "results.csv", suffix=".csv") as tmp:
    table.to_csv(tmp, index=False, float_format="%.6g")
  with io.atomic_path(out / "table.csv", suffix=".csv") as tmp:
    result.cell_table().to_csv(tmp)
  for metric in ("auc", "tpr_at_1%_fpr", "tpr_at_0.1%_fpr", "tpr_at_0%_fpr"):
    wide = result.wide_table(metric)
    name = metric.replace("%", "pct").replace(".", "_")
    with io.atomic_path(out / f"table_{name}.csv", suffix=".csv") as tmp:
      wide.to_csv(tmp, float_format="%.4f")
  io.atomic_write_json(out / "summary.json", {
      "accuracy": {m: {str(k): v for k, v in a.items()}
                   for m, a in result.accuracy.items()},
      "sops_per_example": {m: {str(k): v for k, v in s.items()}
                           for m, s in result.sops.items()},
      "ann_macs_per_example": result.ann_macs})
  for (model, setting, dropout), res in result.attacks.items():
    res.save(out / "attacks" / f"{model}_{setting}_{'dropout' if dropout else 'plain'}")
  for model in result.config.models:
    fig = plot_leakage_vs_timesteps(result, model)
    plotting.save_figure(fig, out / f"{model}_auc_tpr_vs_T.png")
    fig = plot_roc_ann_vs_snn(result, model)
    plotting.save_figure(fig, out / f"{model}_roc_loglog.png")
    fig = plot_accuracy_sops(result, model)
    plotting.save_figure(fig, out / f"{model}_accuracy_sops_vs_T.png")


def plot_leakage_vs_timesteps(result: SnnMiaResult, model: str,
                              dropout: bool = False):
  """AUC (left) and TPR@1%FPR (right) against T, one line per attack, the
  ANN as a dashed horizontal line and the mixed setting dotted."""
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  ts = list(result.config.timesteps)
  for ax, (metric, label) in zip(axes, (("auc", "MIA AUC"),
                                        ("tpr_at_1%", "TPR at 1% FPR"))):
    for i, attack in enumerate(result.config.attacks):
      def value(setting):
        r = result.attacks[model, setting, dropout].get(attack)
        return r.auc if metric == "auc" else r.tpr_at_fpr(0.01)
      color = f"C{i}"
      ax.plot(ts, [value(f"snn_T{t}") for t in ts], "o-", color=color,
              label=f"{attack}, SNN refs")
      if suite.ATTACKS[attack].references:   # Attack-P uses none
        ax.plot(ts, [value(f"snn_T{t}_ann_refs") for t in ts], "s:",
                color=color, label=f"{attack}, ANN refs")
      ax.axhline(value("ann"), color=color, linestyle="--", linewidth=1,
                 label=f"{attack}, ANN")
    ax.set_xticks(ts)
    ax.set_xlabel("Timesteps T")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
  axes[1].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1))
  fig.suptitle(f"{model}: membership leakage of the SNN against T "
               f"({'with' if dropout else 'without'} input-dropout "
               "calibration)")
  fig.tight_layout()
  return fig


def plot_roc_ann_vs_snn(result: SnnMiaResult, model: str,
                        attack: str = "rmia", dropout: bool = False):
  """Log-log ROC of `attack` on the ANN and on the SNN at each T."""
  curves = {"ANN": result.attacks[model, "ann", dropout].get(attack)}
  for t in result.config.timesteps:
    curves[f"SNN T={t}"] = result.attacks[model, f"snn_T{t}", dropout].get(
        attack)
  fig = plotting.plot_roc(curves, log_scale=True)
  fig.axes[0].set_title(f"{model}: {attack}, ANN vs SNN")
  return fig


def plot_accuracy_sops(result: SnnMiaResult, model: str):
  """SNN test accuracy (left, ANN dashed) and SOPs per example (right, ANN
  MACs dashed) against T."""
  import matplotlib.pyplot as plt
  fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
  ts = list(result.config.timesteps)
  acc = result.accuracy[model]
  a1.plot(ts, [acc[t] for t in ts], "o-", label="SNN")
  a1.axhline(acc["ann"], color="grey", linestyle="--", label="ANN")
  a1.set_ylabel("Test accuracy")
  a2.plot(ts, [result.sops[model][t] for t in ts], "o-", label="SNN SOPs")
  a2.axhline(result.ann_macs[model], color="grey", linestyle="--",
             label="ANN MACs")
  a2.set_ylabel("Operations per example")
  for ax in (a1, a2):
    ax.set_xticks(ts)
    ax.set_xlabel("Timesteps T")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
  fig.suptitle(f"{model}: calibrated SNN accuracy and synaptic operations")
  fig.tight_layout()
  return fig
