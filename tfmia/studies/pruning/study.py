"""The pruning case study: Yuan & Zhang, "Membership Inference Attacks and
Defenses in Neural Network Pruning" (USENIX Security 2022; code:
Machine-Learning-Security-Lab/mia_prune), in Keras.

Does pruning raise a model's membership leakage, and which defense buys it
back at what accuracy cost?

1. Data as mia_prune's `pretrain.py` splits it (`references.mia_prune_split`):
   train and test are pooled; a victim half and a shadow half, each split
   into train (≈45%), test (45%) and dev (≈10%), the shadow half resplit for
   each shadow model. Every model early-stops on its dev set.
2. The victim (target) and the shadow models are trained (mia_prune's
   `config/*.json`: Adam 1e-3, weight decay 5e-4, no augmentation).
3. Each pruner at each sparsity, each with each defense during the
   fine-tuning (half the training epochs), is a `PrunedVariant`, made once
   beside its model.
4. Each cell is attacked non-adaptively (the shadows as trained) and
   adaptively (the shadows pruned and defended as the target:
   mia_prune's `--adaptive`), by mia_prune's attacks (SAMIA, the
   Song–Mittal metrics, the NN attacks; their metric, the attack accuracy
   on the victim's balanced train and test sets) and by offline RMIA and
   LiRA with the shadows as references (AUC, TPR at low FPR).

Where we differ from mia_prune: the structured pruners shrink the model
(`tfmia.variants.pruning`); the original model is attacked without a defense (the
defenses act in the fine-tuning after pruning, as there); see also
`tfmia.training.defenses`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import numpy as np

from tfmia import references, variants
from tfmia.attacks.registry import MIA_PRUNE_ATTACKS, AttackConfig
from tfmia.audits import audit
from tfmia.data import DataConfig, prepare_data
from tfmia.infra import io
from tfmia.infra import progress as progress_lib
from tfmia.results import accuracy, decision_accuracy_interval
from tfmia.signals import SignalConfig
from tfmia.studies.pruning import report
from tfmia.training import TrainConfig
from tfmia.training.defenses import Defense
from tfmia.variants import pruning

ATTACKS = MIA_PRUNE_ATTACKS + ("rmia", "lira_offline")
OUTPUTS = ("models", "results.csv", "table.csv", "summary.json",
           "histograms.npz", "attack_vs_sparsity.png", "tradeoff.png",
           "histograms.png")


@dataclasses.dataclass(frozen=True)
class PruningStudyConfig:
  """Settings of the study. Defaults are the full mode: mia_prune's
  `config/cifar10_resnet18.json`, 5 shadow models, every pruner, sparsity
  and defense."""

  dataset: str = "cifar10"
  data_dir: Optional[str] = None
  download: bool = False
  quick: bool = False
  model: str = "resnet18"
  width_multiplier: float = 1.0
  pool_size: Optional[int] = None      # None: all of train + test, pooled
  num_shadows: int = 5
  epochs: int = 100
  batch_size: int = 128
  learning_rate: float = 1e-3
  weight_decay: float = 5e-4
  patience: int = 5                    # early stopping on the dev set
  pruners: tuple = pruning.PRUNERS
  sparsities: tuple = (0.5, 0.7, 0.9)
  # (name, arg) pairs; "none" is always attacked. mia_prune's four, and
  # DP-SGD tuned to ε = 8 ("dp_sgd": per-example clipping, SGD with
  # momentum), since mia_prune's "dp" rows learn nothing.
  defenses: tuple = (("ppb", 4.0), ("adv", 4.0), ("dp", 0.5), ("dp", 1.0),
                     ("dp_sgd", 8.0))
  # Where the defenses are tried: every (pruner, sparsity) when None, else
  # these (pruner, sparsity) pairs.
  defended: Optional[tuple] = None
  dp_microbatches: Optional[int] = 2   # mia_prune: 2 per batch; None: 1 each
  # "dp_sgd" fine-tunes with SGD (momentum 0.9) at this rate, clipping each
  # example's gradient to this norm.
  dp_sgd_learning_rate: float = dataclasses.field(default=0.02,
                                                  metadata=io.ADDED_LATER)
  dp_sgd_clip: float = dataclasses.field(default=1.0,
                                         metadata=io.ADDED_LATER)
  attacks: tuple = ATTACKS
  # Training epochs of the NN attacks' MIAFC and of SAMIA (mia_prune: 100).
  attack_epochs: int = 100
  seed: int = 0

  def __post_init__(self):
    object.__setattr__(self, "pruners", tuple(self.pruners))
    object.__setattr__(self, "sparsities", tuple(self.sparsities))
    object.__setattr__(self, "defenses", tuple(
        (str(n), float(a)) for n, a in self.defenses))
    if self.defended is not None:
      object.__setattr__(self, "defended", tuple(
          (str(p), float(s)) for p, s in self.defended))
    object.__setattr__(self, "attacks", tuple(self.attacks))
    for p in self.pruners:
      pruning.check_pruner(p, 0.5)
    for s in self.sparsities:
      pruning.check_pruner("l1_unstructured", s)
    for name, arg in self.defenses:
      if name == "none":
        raise ValueError("`defenses` lists the defenses besides 'none' "
                         "(always attacked). Received: ('none', ...)")
      self.defense(name, arg)   # raises on a bad name or argument
    from tfmia.attacks import check_names
    check_names(self.attacks)
    if not isinstance(self.attack_epochs, int) or self.attack_epochs < 1:
      raise ValueError("`attack_epochs` must be a positive int. "
                       f"Received: attack_epochs={self.attack_epochs!r}")
    if not isinstance(self.num_shadows, int) or self.num_shadows < 1:
      raise ValueError("`num_shadows` must be a positive int. "
                       f"Received: num_shadows={self.num_shadows!r}")

  @classmethod
  def quick_mode(cls, split_sizes: Optional[tuple[int, int]] = None,
                 image_size: Optional[int] = None,
                 **overrides) -> "PruningStudyConfig":
    """A 3,000-image CIFAR-10 pool, a narrow VGG-11 for 12 epochs, 2 shadow
    models, two pruners; the defenses at one cell (l1_structured at 0.7).
    Images under 32 pixels (digits) get the `conv` model: VGG-11's pooling
    leaves an 8-pixel image nothing to learn from."""
    n = sum(split_sizes) if split_sizes else 3000
    small = image_size is not None and image_size < 32
    base = dict(quick=True, model="conv" if small else "vgg11",
                width_multiplier=1.0 if small else 0.25,
                pool_size=min(3000, n), num_shadows=2, epochs=12,
                batch_size=64, pruners=("l1_unstructured", "l1_structured"),
                defenses=(("ppb", 4.0), ("dp", 0.5), ("dp", 1.0),
                          ("dp_sgd", 8.0)),
                defended=(("l1_structured", 0.7),), attack_epochs=10)
    base.update(overrides)
    return cls(**base)

  def defense(self, name: str, arg: float) -> Defense:
    if name == "dp_sgd":
      return Defense(name, arg, l2_norm_clip=self.dp_sgd_clip)
    return Defense(name, arg, num_microbatches=(
        self.dp_microbatches if name == "dp" else None))

  def finetune_config(self, defense: Defense) -> TrainConfig:
    """Fine-tuning after pruning: half the training epochs with the
    training's optimizer, or SGD with momentum for "dp_sgd"."""
    ft = self.train_config().replace(epochs=max(1, self.epochs // 2))
    if defense.name == "dp_sgd":
      ft = ft.replace(optimizer="sgd", learning_rate=self.dp_sgd_learning_rate,
                      momentum=0.9, weight_decay=0.0)
    return ft

  def data_config(self) -> DataConfig:
    return DataConfig(dataset=self.dataset, data_dir=self.data_dir,
                      download=self.download, train_size=self.pool_size,
                      test_size=None, pool_test=True, seed=self.seed)

  def train_config(self) -> TrainConfig:
    return TrainConfig(optimizer="adam", learning_rate=self.learning_rate,
                       weight_decay=self.weight_decay, epochs=self.epochs,
                       batch_size=self.batch_size, seed=self.seed,
                       early_stopping=True, patience=self.patience,
                       monitor="val_accuracy")

  def reference_config(self, directory: Path) -> references.ReferenceConfig:
    kwargs = ({} if self.width_multiplier == 1.0
              else {"width_multiplier": self.width_multiplier})
    if self.model.startswith("vgg"):
      kwargs["pooling"] = "avg"
    if self.model.startswith(("vgg", "resnet")):
      # mia_prune's models are PyTorch's: BatchNorm running statistics with
      # momentum 0.1, i.e. Keras' 0.9 (Keras' default, 0.99, lags far
      # behind on a few hundred steps and leaves the dev accuracy at chance).
      kwargs["batchnorm_momentum"] = 0.9
    return references.ReferenceConfig(
        data=self.data_config(), model=self.model, model_kwargs=kwargs,
        train=self.train_config(), num_models=self.num_shadows,
        seed=self.seed, reference_dir=str(directory), split="mia_prune")

  def variants(self) -> dict:
    """(pruner, sparsity, defense label) -> PrunedVariant, every cell."""
    out = {}
    for p in self.pruners:
      for s in self.sparsities:
        defended = self.defended is None or (p, s) in self.defended
        for name, arg in (("none", 4.0),) + (self.defenses if defended
                                             else ()):
          d = self.defense(name, arg)
          out[p, s, d.label()] = variants.PrunedVariant(
              pruner=p, sparsity=s, finetune=self.finetune_config(d),
              defense=d, seed=self.seed)
    return out


@dataclasses.dataclass(frozen=True)
class PruningStudyResult:
  """The study's numbers: one row per (cell, adaptive, attack), and the
  member / non-member confidences and sensitivities for the histograms.

  Attributes:
    rows: dicts with cell, pruner, sparsity, defense, adaptive, attack,
      auc (+ 95% bootstrap interval), tpr_at_1%_fpr (+ interval),
      attack_accuracy (+ 95% normal interval), test_accuracy, epsilon,
      achieved sparsity, parameters, FLOPs.
    histograms: name -> array (see `histogram_data`).
  """

  config: PruningStudyConfig
  rows: tuple
  histograms: dict

  def table(self):
    import pandas as pd
    return pd.DataFrame(list(self.rows))


def histogram_data(refs, data, variant, signals: SignalConfig) -> dict:
  """The target's true-class confidence and summed sensitivity on its
  members and on its test set (mia_prune's `divergence_plot.ipynb`)."""
  sig = audit.model_signals(refs, data, references.TARGET, variant, "pool",
                            signals).mean()
  conf = sig.probs[np.arange(len(sig.labels)), 0, sig.labels]
  sens = (np.abs(sig.sensitivity).reshape(len(sig.labels), -1).sum(1)
          if sig.sensitivity is not None else np.full(len(conf), np.nan))
  test = refs.split_masks["target_test"]
  return {"member_confidence": conf[refs.target_is_member],
          "nonmember_confidence": conf[test],
          "member_sensitivity": sens[refs.target_is_member],
          "nonmember_sensitivity": sens[test]}


def run(config: PruningStudyConfig, out: Path, *, progress: bool = True,
        data=None, overwrite: bool = False,
        executor=None) -> PruningStudyResult:
  """Runs (or resumes) the study and writes its tables and figures.

  `out` holds one study: a rerun with the same settings resumes (models,
  pruned variants and signals are stored); other settings are refused
  unless `overwrite`. With `executor` (`tfmia.infra.executors`), each model's
  training, each model's pruned variants and each audit cell are units.
  """
  from tfmia.infra import store
  out = io.check_output_dir(out, "the output folder")
  data = data if data is not None else prepare_data(config.data_config())
  ref_cfg = config.reference_config(out / "models")
  # Every cell is checked on the untrained model before anything is
  # trained or written.
  variants.check_applicable(list(config.variants().values()), ref_cfg.model,
                            ref_cfg.model_kwargs, data)
  store.claim(out, config, outputs=OUTPUTS, overwrite=overwrite,
              ignore=("data_dir", "download"), what="pruning study")
  if progress:
    progress_lib.say(f"Training the victim and {config.num_shadows} shadow "
                     "models (resumes finished ones)")
  references.train_references(ref_cfg, data=data, progress=progress,
                              executor=executor)
  refs, data = audit.load_reference_folder(ref_cfg, data=data)
  signals = SignalConfig(sensitivity="samia" in config.attacks,
                         seed=config.seed)
  from tfmia.attacks.nn_attack import MiafcConfig
  from tfmia.attacks.samia import SamiaConfig
  acfg = AttackConfig(seed=config.seed,
                      nn=MiafcConfig(epochs=config.attack_epochs),
                      samia=SamiaConfig(epochs=config.attack_epochs))
  test = refs.split_masks["target_test"]

  def test_accuracy(v):
    sig = audit.model_signals(refs, data, references.TARGET, v, "pool",
                              signals).mean()
    return accuracy(sig.probs[test, 0], sig.labels[test])

  original = refs.load_model(references.TARGET, data.input_shape,
                             data.num_classes)
  original_size = {"params": pruning.count_params(original)[0],
                   "nonzero_params": pruning.count_params(original)[1],
                   "flops": pruning.count_flops(original)}
  rows = []
  cells = [("original", None, None)] + [
      (f"{p}_{s:g}_{d}", (p, s, d), v)
      for (p, s, d), v in config.variants().items()]
  # Every pruned variant of every model (the shadows' for the adaptive
  # attacks), then every audit cell: each a unit of `executor`.
  if progress:
    progress_lib.say(f"Pruning: {len(config.variants())} variants of each "
                     "model")
  variants.make_variants(refs, data, list(config.variants().values()),
                         executor=executor, progress=progress)
  audit_cells = {(cell, adaptive): audit.Cell(
      target=v, references=v if adaptive else None, signals=signals,
      name=cell) for cell, _, v in cells
                 for adaptive in ((False,) if v is None else (False, True))}
  if progress:
    progress_lib.say(f"Attacking {len(audit_cells)} cells")
  results = audit.audit_cells(refs, data, audit_cells, config.attacks, acfg,
                              executor=executor, progress=progress)
  for cell, key, v in cells:
    info = (variants.prune_info(refs, references.TARGET, v)
            if v is not None else None)
    acc = test_accuracy(v)
    for adaptive in ((False,) if v is None else (False, True)):
      res = results[cell, adaptive]
      for r in res.results:
        if r.slice != "entire_dataset":
          continue
        s = r.summary()
        a, lo, hi = decision_accuracy_interval(r)
        rows.append({
            "cell": cell, "pruner": key[0] if key else "none",
            "sparsity": key[1] if key else 0.0,
            "defense": key[2] if key else "none", "adaptive": adaptive,
            "attack": r.attack, "auc": s["auc"],
            "auc_ci_low": s["auc_ci_low"], "auc_ci_high": s["auc_ci_high"],
            "tpr_at_1%_fpr": s["tpr_at_1%_fpr"],
            "tpr_at_1%_fpr_ci_low": s["tpr_at_1%_fpr_ci_low"],
            "tpr_at_1%_fpr_ci_high": s["tpr_at_1%_fpr_ci_high"],
            "attack_accuracy": a, "attack_accuracy_ci_low": lo,
            "attack_accuracy_ci_high": hi, "test_accuracy": acc,
            "epsilon": (info or {}).get("epsilon"),
            "achieved_sparsity": (info["stats"]["sparsity"] if info
                                  else 0.0),
            "params": (info["stats"]["params_after"] if info else
                       original_size["params"]),
            "nonzero_params": (info["stats"]["nonzero_params_after"]
                               if info else original_size["nonzero_params"]),
            "flops": (info["stats"]["flops_after"] if info else
                      original_size["flops"])})
  # Histograms: the original against the most pruned model of the first
  # pruner, without a defense.
  first = (config.pruners[0], max(config.sparsities), "none")
  hist = {f"original_{k}": v for k, v in histogram_data(
      refs, data, None, signals).items()}
  hist.update({f"pruned_{k}": v for k, v in histogram_data(
      refs, data, config.variants()[first], signals).items()})
  hist["pruned_label"] = np.array(f"{first[0]} at {first[1]:g}")
  result = PruningStudyResult(config=config, rows=tuple(rows),
                              histograms=hist)
  report.write(result, out)
  return result
