"""The architecture case study: how memorisation depends on the model.

Reproduces tensorflow-privacy's case study comparing membership leakage across
models, with the privacy callback attached to every training run:

1. conv vs dense at equal depth (4), on all classes;
2. dense depth 7 vs depth 4;
3. experiment 2 on the dataset truncated to its first 4 classes.

Five models are trained in all (dense depth 4 on all classes serves 1 and 2).
Each finished model is a run folder under out/models/<name>/ (see
`train_with_privacy`), and a rerun loads it, so an interrupted study resumes
where it stopped. The output folder holds one study: other settings are
refused unless `overwrite`.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Optional

import numpy as np

from tfmia import data as tfdata
from tfmia.audits.callback import train_with_privacy
from tfmia.infra import io, store
from tfmia.results import AttackResults
from tfmia.studies.architectures import report
from tfmia.training import TrainConfig, TrainingHistory

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  name: str                # unique name in the study
  builder: str             # registered model builder
  kwargs: tuple = ()       # builder keyword arguments, as (key, value) pairs
  classes: Optional[int] = None  # truncate to the first k classes


MODELS = (
    ModelSpec("conv", "conv"),
    ModelSpec("dense4", "dense", (("depth", 4),)),
    ModelSpec("dense7", "dense", (("depth", 7),)),
    ModelSpec("dense4_4classes", "dense", (("depth", 4),), classes=4),
    ModelSpec("dense7_4classes", "dense", (("depth", 7),), classes=4),
)
EXPERIMENTS = (
    ("exp1_conv_vs_dense", "conv vs dense, depth 4, all classes",
     ("conv", "dense4")),
    ("exp2_dense_depth", "dense depth 7 vs 4, all classes",
     ("dense7", "dense4")),
    ("exp3_dense_depth_4classes", "dense depth 7 vs 4, first 4 classes",
     ("dense7_4classes", "dense4_4classes")),
)
QUICK_SIZE = 5000
# Everything `run` writes in its output folder besides config.json.
OUTPUTS = ("models", "results.json", "summary.csv", "*.png")


@dataclasses.dataclass(frozen=True)
class ArchitectureStudyConfig:
  """Settings of the study. Defaults are the published (full) settings."""

  dataset: str = "cifar10"         # tfds name or "digits"
  data_dir: Optional[str] = None   # tfds data dir; $TFMIA_DATA_DIR when None
  download: bool = False           # allow tfds to download
  quick: bool = False              # the quick mode (recorded for the record)
  epochs: int = 40
  batch_size: int = 50
  learning_rate: float = 1e-3      # Adam
  every_n_epochs: int = 2          # attack cadence
  train_size: Optional[int] = None  # members; None = whole train split
  test_size: Optional[int] = None   # non-members; None = whole test split
  truncated_classes: int = 4       # experiment 3's class count
  attacks: tuple = ("threshold", "logistic_regression")
  seed: int = 0

  def __post_init__(self):
    object.__setattr__(self, "attacks", tuple(self.attacks))
    for name in ("epochs", "batch_size", "every_n_epochs"):
      v = getattr(self, name)
      if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ValueError(f"`{name}` must be a positive int. "
                         f"Received: {name}={v!r}")
    for name in ("train_size", "test_size"):
      v = getattr(self, name)
      if v is not None and (not isinstance(v, int) or v < 1):
        raise ValueError(f"`{name}` must be a positive int or None. "
                         f"Received: {name}={v!r}")
    from tfmia.attacks import registry
    # Every attack must run on the target alone, every few epochs.
    registry.check_needs(registry.check_names(self.attacks),
                      registry.Provided(num_examples=2))
    if self.every_n_epochs > self.epochs:
      raise ValueError("`every_n_epochs` must not exceed `epochs`. Received: "
                       f"every_n_epochs={self.every_n_epochs}, "
                       f"epochs={self.epochs}")
    if not isinstance(self.truncated_classes, int) or self.truncated_classes < 2:
      raise ValueError("`truncated_classes` must be an int >= 2. Received: "
                       f"truncated_classes={self.truncated_classes!r}")

  @classmethod
  def quick_mode(cls, split_sizes: Optional[tuple[int, int]] = None,
                 **overrides) -> "ArchitectureStudyConfig":
    """Minutes on a 2-core CPU: 5,000 members and non-members, 20 epochs.

    Args:
      split_sizes: (train, test) split sizes of the dataset; the quick
        mode's 5,000 is capped to them (so digits runs), while a size given
        in `overrides` is kept as given, and refused by `run` when larger.
      **overrides: settings that replace the quick ones.
    """
    n_tr, n_te = split_sizes or (QUICK_SIZE, QUICK_SIZE)
    settings = dict(quick=True, epochs=20, batch_size=50, every_n_epochs=2,
                    train_size=min(QUICK_SIZE, n_tr),
                    test_size=min(QUICK_SIZE, n_te))
    settings.update({k: v for k, v in overrides.items() if v is not None})
    if "epochs" in overrides and "every_n_epochs" not in overrides:
      settings["every_n_epochs"] = min(2, settings["epochs"])
    return cls(**settings)

  def check_sizes(self, raw: tfdata.ClassificationData) -> None:
    """Refuses a train or test size larger than the dataset's split, as
    `tfmia train` does. (The first-k-classes models take at most that many
    of their classes' examples.)"""
    for name, n in (("train_size", len(raw.y_train)),
                    ("test_size", len(raw.y_test))):
      tfdata.check_at_most(name, getattr(self, name), n, raw.name)

  def train_config(self) -> TrainConfig:
    return TrainConfig(optimizer="adam", learning_rate=self.learning_rate,
                       epochs=self.epochs, batch_size=self.batch_size,
                       seed=self.seed)

  def data_config(self, raw: tfdata.ClassificationData,
                  classes: Optional[int]) -> tfdata.DataConfig:
    n_classes = classes or raw.num_classes
    # A subset cannot exceed what the (truncated) split holds.
    avail_tr = int(np.isin(raw.y_train, np.arange(n_classes)).sum())
    avail_te = int(np.isin(raw.y_test, np.arange(n_classes)).sum())
    cap = lambda want, avail: None if want is None else min(want, avail)
    return tfdata.DataConfig(
        dataset=self.dataset, data_dir=self.data_dir, download=self.download,
        classes=classes, train_size=cap(self.train_size, avail_tr),
        test_size=cap(self.test_size, avail_te), seed=self.seed)


@dataclasses.dataclass(frozen=True, eq=False)
class ModelOutcome:
  """One trained model of the study."""

  spec: ModelSpec
  num_params: int
  num_classes: int
  num_members: int
  num_nonmembers: int
  history: TrainingHistory
  privacy: tuple  # AttackResults, one per evaluated epoch
  seconds: float

  def final_row(self) -> list[dict]:
    """The last evaluated epoch, one row per attack on the whole dataset."""
    last: AttackResults = self.privacy[-1]
    rows = []
    for attack in last.attacks:
      r = last.get(attack)
      rows.append({
          "model": self.spec.name, "architecture": self.spec.builder,
          "num_classes": self.num_classes, "num_params": self.num_params,
          "members": self.num_members, "nonmembers": self.num_nonmembers,
          "epoch": last.epoch, "member_accuracy": last.member_accuracy,
          "nonmember_accuracy": last.nonmember_accuracy, "attack": attack,
          "auc": r.auc, "auc_ci_low": r.confidence_intervals["auc"][0],
          "auc_ci_high": r.confidence_intervals["auc"][1],
          "advantage": r.advantage,
          "tpr_at_1%_fpr": r.tpr_at_fpr(0.01),
          "tpr_at_1%_fpr_ci_low": r.confidence_intervals["tpr_at_1%_fpr"][0],
          "tpr_at_1%_fpr_ci_high": r.confidence_intervals["tpr_at_1%_fpr"][1],
          "tpr_at_0.1%_fpr": r.tpr_at_fpr(0.001),
          "ppv_at_1%_fpr": r.ppv(), "ppv_prior": r.num_members / r.is_member.size,
          "train_seconds": self.seconds})
    return rows


@dataclasses.dataclass(frozen=True, eq=False)
class ArchitectureStudyResult:
  config: ArchitectureStudyConfig
  outcomes: dict  # model name -> ModelOutcome

  def to_dataframe(self):
    import pandas as pd
    return pd.DataFrame([row for o in self.outcomes.values()
                         for row in o.final_row()])


def _run_one(spec: ModelSpec, config: ArchitectureStudyConfig,
             raw: tfdata.ClassificationData, model_dir: Path,
             progress: bool) -> ModelOutcome:
  """Trains one model of the study, or loads it when it is complete (a run
  folder of its own: `train_with_privacy` resumes, and redoes a corrupted
  or interrupted one)."""
  data_cfg = config.data_config(raw, spec.classes)
  data = tfdata.prepare_data(data_cfg, raw=raw)
  run = train_with_privacy(
      spec.builder, dict(spec.kwargs), data, config.train_config(),
      out_dir=model_dir, attacks=config.attacks,
      every_n_epochs=config.every_n_epochs, name=spec.name, seed=config.seed,
      progress=progress, extra_config={"data": data_cfg, "study": config})
  if run.resumed:
    logger.info("%s: already complete, loaded it", spec.name)
  return ModelOutcome(
      spec=spec, num_params=run.model.count_params(),
      num_classes=data.num_classes, num_members=len(data.y_train),
      num_nonmembers=len(data.y_test), history=run.history,
      privacy=run.privacy, seconds=run.seconds)


def run(config: ArchitectureStudyConfig, out: Path, *,
        raw: Optional[tfdata.ClassificationData] = None,
        progress: bool = True, overwrite: bool = False, executor=None
        ) -> ArchitectureStudyResult:
  """Runs (or resumes) the study and writes its figures and tables to `out`.

  Args:
    config: the study settings.
    out: output folder; receives config.json, results.json, summary.csv, the
      figures and models/<name>/ per model.
    raw: the loaded dataset, if already in memory (else loaded from config).
    progress: show a progress bar per model.
    overwrite: replace a study of other settings in `out` (its outputs are
      deleted); without it, such a folder is refused, naming what differs.
    executor: a `tfmia.infra.executors` executor: each model (trained with the
      privacy callback) is one unit, on Ray a task. None: one after another.
  """
  out = io.check_output_dir(out, "the output folder")
  if raw is None:
    raw = tfdata.load_dataset(config.dataset, data_dir=config.data_dir,
                              download=config.download, seed=config.seed)
  if config.truncated_classes > raw.num_classes:
    raise ValueError(f"`truncated_classes` ({config.truncated_classes}) exceeds "
                     f"the {raw.num_classes} classes of {raw.name!r}.")
  config.check_sizes(raw)
  store.claim(out, config, outputs=OUTPUTS, overwrite=overwrite,
              ignore=("data_dir", "download"), what="architecture study")
  specs = [dataclasses.replace(s, classes=config.truncated_classes)
           if s.classes else s for s in MODELS]
  if executor is None:
    outcomes = {spec.name: _run_one(spec, config, raw,
                                    out / "models" / spec.name, progress)
                for spec in specs}
  else:
    from tfmia.infra import executors  # pylint: disable=g-import-not-at-top
    shared = executors.Shared(raw)
    ran = executor.run([executors.Unit(
        spec.name, _run_one,
        (spec, config, shared, out / "models" / spec.name, False))
                        for spec in specs])
    ran.raise_failures()
    outcomes = dict(ran.values)
  result = ArchitectureStudyResult(config=config, outcomes=outcomes)
  report.write(result, raw, out, EXPERIMENTS)
  return result
