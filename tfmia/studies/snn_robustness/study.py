"""The SNN-robustness case study (HIRE-SNN's comparison and grad-obf-snn's
pooling and encoder sweep), joined to tfmia's privacy side:

1. Three kinds of one architecture (HIRE-SNN's spiking VGG, direct input):
   the ANN twin (ReLU), a traditionally trained SNN (BPTT) and a HIRE-SNN
   (crafted input noise, `tfmia.training.hire`). Each kind is a reference
   folder (`tfmia.references`): a target and K reference models of that
   kind, each trained on its own half of the pool. The population (the test
   split) is never trained on.
2. Each target is attacked with FGSM and PGD (ART, HIRE-SNN's settings)
   white-box and black-box, on the population. Black-box examples are
   crafted on another target: the SNNs' on the ANN, the ANN's on the
   traditional SNN. Every report carries the gradient-masking check, and
   each model's input-gradient sparsity on the attacked batch.
3. Privacy: RMIA (and the loss-threshold and label-only gap attacks) on each
   target, with the K references of its own kind (`privacy.csv`): does
   HIRE's free noise raise leakage, as adversarial training does (Song et
   al., 2019)?
4. The sweep (grad-obf-snn): SNNs with average and max pooling and each
   input encoder, trained on the target's half; clean, PGD (EOT over
   stochastic encoders) and Square accuracy against input-gradient
   sparsity (`sweep.csv`, `sparsity.png`). A point where Square beats PGD
   is marked: its PGD accuracy rests on masked gradients.

Everything is resumable: a rerun reuses every finished model.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from tfmia import models, references, robustness
from tfmia.attacks import registry
from tfmia.audits import audit
from tfmia.data import DataConfig, prepare_data
from tfmia.infra import fs, io
from tfmia.infra import progress as progress_lib
from tfmia.snn import direct as spiking
from tfmia.studies.snn_robustness import report
from tfmia.training import TrainConfig
from tfmia.training.hire import HireConfig

MODELS = ("ann", "snn", "hire_snn")
OUTPUTS = ("results.csv", "results.json", "robustness.png", "privacy.csv",
           "privacy.png", "sweep.csv", "sparsity.png", "config.json")
PRIVACY_ATTACKS = ("rmia", "threshold", "label_gap")
SWEEP_ATTACKS = ("pgd", "square")
ATTACKS_DIR = "attacks"   # each kind's attack rows, kept for reruns
SWEEP_DESIGNS = ("grid", "axes")
STOCHASTIC_ENCODERS = ("poisson",)   # EOT applies; latency/phase pass no
                                     # gradient, so EOT changes nothing
_BLACK_BOX_SOURCE = {"ann": "snn", "snn": "ann", "hire_snn": "ann"}


@dataclasses.dataclass(frozen=True)
class SnnRobustnessConfig:
  """Full mode: HIRE-SNN's VGG-11 at T = 8 on CIFAR-10, ε = 8/255, PGD with
  7 steps of 0.01, HIRE with 2 periods; 4 reference models per kind; the
  sweep over both poolings and the four encoders.

  Every model trains on half of the pool (`pool_size` training images;
  None: the whole train split), so that the other half can audit it; the
  population is the first `population_size` test images."""

  dataset: str = "cifar10"
  data_dir: Optional[str] = None
  download: bool = False
  quick: bool = False
  pool_size: Optional[int] = None
  population_size: Optional[int] = None
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
  references: int = 4
  privacy_attacks: tuple = PRIVACY_ATTACKS
  sweep_pooling: tuple = ("avg", "max")
  sweep_encoders: tuple = spiking.ENCODERS
  # "grid": every pooling with every encoder. "axes": every encoder at the
  # first pooling, and every other pooling with the first encoder (avg and
  # direct by default): one factor at a time, fewer models.
  sweep_design: str = dataclasses.field(default="grid",
                                        metadata=io.ADDED_LATER)
  sweep_epochs: Optional[int] = None       # None: `epochs`
  sweep_examples: int = 500
  square_queries: int = 1000
  eot_samples: int = 4
  seed: int = 0

  def __post_init__(self):
    for name in ("attacks", "privacy_attacks", "sweep_pooling",
                 "sweep_encoders"):
      v = getattr(self, name)
      object.__setattr__(self, name, (v,) if isinstance(v, str)
                         else tuple(v))
    robustness.check_attacks(self.attacks)
    registry.check_names(self.privacy_attacks)
    for p in self.sweep_pooling:
      if p not in ("avg", "max"):
        raise ValueError("`sweep_pooling` must hold 'avg' and/or 'max'. "
                         f"Received: {p!r}")
    for e in self.sweep_encoders:
      spiking.check_spiking(encoder=e)
    if self.sweep_design not in SWEEP_DESIGNS:
      raise ValueError(f"`sweep_design` must be one of {SWEEP_DESIGNS}. "
                       f"Received: sweep_design={self.sweep_design!r}")
    self.robustness_config()          # checks ε and PGD settings
    self.hire_config()                # checks the HIRE settings
    spiking.check_spiking(timesteps=self.timesteps)
    if self.timesteps % self.hire_periods:
      raise ValueError(f"`hire_periods` ({self.hire_periods}) must divide "
                       f"`timesteps` ({self.timesteps}).")
    for name in ("epochs", "batch_size", "attack_examples", "sweep_examples",
                 "square_queries", "eot_samples"):
      v = getattr(self, name)
      if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"`{name}` must be a positive int. "
                         f"Received: {name}={v!r}")
    for name in ("pool_size", "population_size", "sweep_epochs"):
      v = getattr(self, name)
      if v is not None and (isinstance(v, bool) or not isinstance(v, int)
                            or v < 1):
        raise ValueError(f"`{name}` must be a positive int or None. "
                         f"Received: {name}={v!r}")
    if (isinstance(self.references, bool)
        or not isinstance(self.references, int) or self.references < 2
        or self.references % 2):
      raise ValueError("`references` must be an even int >= 2 (reference "
                       "models come in complementary pairs). "
                       f"Received: references={self.references!r}")

  @classmethod
  def quick_mode(cls, split_sizes: Optional[tuple] = None,
                 **overrides) -> "SnnRobustnessConfig":
    """VGG-5 at width 0.25 (256 hidden units), T = 4 in 2 HIRE periods, a
    pool of 4,000 training images (each model trains on 2,000; fewer if the
    split is smaller), 500 population images, 8 epochs, 2 references per
    kind, 200 attacked images; the sweep one factor at a time (the four
    encoders with average pooling, and max pooling with direct input: 5
    models, `sweep_design="axes"`) at 4 epochs, on 100 images with 100
    Square queries."""
    n_train, n_test = split_sizes or (4000, 500)
    base = dict(quick=True, pool_size=min(4000, n_train),
                population_size=min(500, n_test), depth=5,
                width_multiplier=0.25, hidden=1024, timesteps=4, epochs=8,
                attack_examples=200, references=2, sweep_epochs=4,
                sweep_design="axes",
                sweep_examples=100, square_queries=100)
    base.update(overrides)
    return cls(**base)

  def sweep_cells(self) -> list:
    """The sweep's (pooling, encoder) models, in order (`sweep_design`)."""
    pools, encs = self.sweep_pooling, self.sweep_encoders
    if not pools or not encs:
      return []
    if self.sweep_design == "grid":
      return [(p, e) for p in pools for e in encs]
    return ([(pools[0], e) for e in encs]
            + [(p, encs[0]) for p in pools[1:]])

  def robustness_config(self) -> robustness.RobustnessConfig:
    return robustness.RobustnessConfig(
        eps=self.eps, pgd_steps=self.pgd_steps, pgd_step=self.pgd_step,
        square_queries=self.square_queries, seed=self.seed)

  def hire_config(self) -> HireConfig:
    return HireConfig(self.hire_periods, self.hire_eps, self.hire_step)

  def train_config(self) -> TrainConfig:
    return TrainConfig(epochs=self.epochs, batch_size=self.batch_size,
                       optimizer="adam", learning_rate=self.learning_rate,
                       seed=self.seed)

  def data_config(self) -> DataConfig:
    return DataConfig(dataset=self.dataset, data_dir=self.data_dir,
                      download=self.download, train_size=self.pool_size,
                      test_size=self.population_size, seed=self.seed)

  def model_kwargs(self, **changes) -> dict:
    return dict(depth=self.depth, timesteps=self.timesteps,
                width_multiplier=self.width_multiplier, hidden=self.hidden,
                **changes)

  def reference_config(self, kind: str, out: Path
                       ) -> references.ReferenceConfig:
    """`kind`'s reference folder: the target and K references, all of it."""
    if kind not in MODELS:
      raise ValueError(f"`kind` must be one of {MODELS}. Received: {kind!r}")
    return references.ReferenceConfig(
        data=self.data_config(),
        model="spiking_vgg_ann" if kind == "ann" else "spiking_vgg",
        model_kwargs=self.model_kwargs(), train=self.train_config(),
        num_models=self.references, seed=self.seed,
        reference_dir=str(fs.path(out) / "references" / kind),
        hire=self.hire_config() if kind == "hire_snn" else None)


def _train_kind(config, kind, data, out: Path, progress: bool,
                executor=None):
  """Trains (or finds) `kind`'s reference folder; returns (refs, target)."""
  rc = config.reference_config(kind, out)
  if progress:
    progress_lib.say(f"Training {kind}: target and {config.references} "
                     "references")
  references.train_references(rc, data=data, progress=progress,
                              executor=executor)
  refs, _ = audit.load_reference_folder(rc, data=data)
  target = refs.load_model(references.TARGET, data.input_shape,
                           data.num_classes)
  return refs, target


def leakage(refs, data, attacks=PRIVACY_ATTACKS, seed: int = 0,
            name: str = "target") -> list:
  """Summaries (AUC, TPR at low FPR, with intervals) of `attacks` on the
  target of reference folder `refs`, with its own references: its members
  against the rest of the pool."""
  res = audit.audit_cell(refs, data, audit.Cell(name=name), attacks,
                         registry.AttackConfig(seed=seed), progress=False)
  return [r.summary() for r in res.results if r.slice == "entire_dataset"]


def _sweep_model(config, pooling, encoder, data, members, folder: Path,
                 progress: bool):
  """The sweep's SNN with `pooling` and `encoder`, trained by BPTT on the
  target's members; loaded instead when its folder holds it complete
  (`done.json` matches the settings and the weights' hash)."""
  from tfmia.infra import store
  from tfmia.training.loop import load_weights, save_weights
  kwargs = config.model_kwargs(pooling=pooling, encoder=encoder)
  train = config.train_config().replace(
      epochs=config.sweep_epochs or config.epochs)
  weights, marker = folder / store.WEIGHTS_FILE, folder / store.DONE_FILE
  fp = store.fingerprint({"model": kwargs, "train": train,
                          "members": np.flatnonzero(members).tolist()})

  def train_and_save():
    if progress:
      progress_lib.say(f"Sweep: training {pooling} pooling, {encoder} "
                       "encoder")
    model = references.train_member_model(
        "spiking_vgg", kwargs, data.members(members),
        train.replace(verbose=1 if progress else 0), seed=config.seed).model
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(model, weights)
    return model

  def load():
    return load_weights(models.build_model(
        "spiking_vgg", data.input_shape, data.num_classes, **kwargs), weights)

  return store.unit(marker, fp, [weights], train_and_save, load=load,
                    info=dict(pooling=pooling, encoder=encoder))


def _kept_rows(path: Path, key, compute):
  """Rows computed once and kept at `path` (JSON, through the store):
  a rerun reads them, unless `key` (settings and the attacked models'
  weights) changed."""
  from tfmia.infra import store
  return store.cached(path, store.fingerprint(key), compute,
                      save=lambda rows, p: io.atomic_write_json(p, rows),
                      load=io.read_json)


def _attack_rows(config, kind, folders, x, y, out: Path, progress) -> list:
  """`kind`'s target under each attack (black-box from its source kind),
  with its gradient sparsity: its rows, kept in `out`/attacks."""
  src = _BLACK_BOX_SOURCE[kind]

  def compute():
    if progress:
      progress_lib.say(f"Attacking {kind} ({', '.join(config.attacks)}; "
                       f"black-box from {src})")
    target = folders[kind][1]
    res = robustness.evaluate(target, x, y, config.attacks,
                              config.robustness_config(),
                              source=folders[src][1])
    sparsity = robustness.gradient_sparsity(target, x[:64], y[:64])
    return [{"model": kind, **r,
             "zero_input_gradient": sparsity["input"],
             "zero_encoded_input_gradient": sparsity.get(
                 "encoded_input", float("nan")),
             "gradient_check_zero": res.gradient_check["zero"],
             "warnings": " | ".join(res.warnings)} for r in res.rows()]

  key = {"attacks": config.attacks, "settings": config.robustness_config(),
         "examples": len(x),   # each model's identity includes its weights
         "target": folders[kind][0].fingerprint(references.TARGET),
         "source": folders[src][0].fingerprint(references.TARGET)}
  return _kept_rows(fs.path(out) / ATTACKS_DIR / f"{kind}.json", key,
                    compute)


def _sweep_row(config, pooling, encoder, data, members, folder,
               progress=False) -> dict:
  """One sweep model, trained (or found) and attacked: its row (kept
  beside the model for reruns)."""
  from tfmia.infra import store
  n = min(config.sweep_examples, len(data.y_test))
  x, y = data.x_test[:n], data.y_test[:n]
  folder = fs.path(folder)
  model = _sweep_model(config, pooling, encoder, data, members, folder,
                       progress)
  rc = dataclasses.replace(
      config.robustness_config(),
      eot_samples=(config.eot_samples if encoder in STOCHASTIC_ENCODERS
                   else 1))
  key = {"attacks": SWEEP_ATTACKS, "settings": rc, "examples": n,
         "model": store.sha256_file(folder / store.WEIGHTS_FILE)}
  return _kept_rows(folder / "row.json", key, lambda: _attack_sweep_model(
      model, pooling, encoder, x, y, rc, progress))


def _attack_sweep_model(model, pooling, encoder, x, y, rc, progress) -> dict:
  if progress:
    progress_lib.say(f"Sweep: attacking {pooling}/{encoder} "
                     f"({', '.join(SWEEP_ATTACKS)})")
  res = robustness.evaluate(model, x, y, SWEEP_ATTACKS, rc)
  sparsity = robustness.gradient_sparsity(model, x[:64], y[:64])
  return {
      "pooling": pooling, "encoder": encoder,
      "clean": res.clean[0], "clean_ci_low": res.clean[1],
      "clean_ci_high": res.clean[2],
      **{f"{a}": res.white_box[a][0] for a in SWEEP_ATTACKS},
      **{f"{a}_ci_low": res.white_box[a][1] for a in SWEEP_ATTACKS},
      **{f"{a}_ci_high": res.white_box[a][2] for a in SWEEP_ATTACKS},
      "square_beats_pgd": res.square_beats_pgd,
      "zero_input_gradient": sparsity["input"],
      # grad-obf-snn's quantity: the gradient on the encoded spikes.
      "zero_encoded_input_gradient": sparsity.get("encoded_input",
                                                  float("nan")),
      "gradient_check_zero": res.gradient_check["zero"],
      "eot_samples": rc.eot_samples,
      "warnings": " | ".join(res.warnings)}


def sweep(config: SnnRobustnessConfig, data, members, out: Path, *,
          progress: bool = True, executor=None) -> list:
  """grad-obf-snn's sweep: rows of clean, PGD and Square accuracy and
  input-gradient sparsity for each pooling and encoder. With `executor`
  (`tfmia.infra.executors`), each model (trained, then attacked) is a unit."""
  cells = config.sweep_cells()
  folder = lambda p, e: os.fspath(fs.path(out) / "sweep" / f"{p}_{e}")
  if executor is None:
    return [_sweep_row(config, p, e, data, members, folder(p, e), progress)
            for p, e in cells]
  from tfmia.infra import executors  # pylint: disable=g-import-not-at-top
  shared = executors.Shared(data)
  ran = executor.run([executors.Unit(
      f"sweep {p}/{e}", _sweep_row,
      (config, p, e, shared, members, folder(p, e))) for p, e in cells])
  ran.raise_failures()
  return list(ran.values.values())


@dataclasses.dataclass(frozen=True)
class SnnRobustnessResult:
  config: SnnRobustnessConfig
  rows: tuple
  privacy: tuple = ()
  sweep: tuple = ()

  def table(self) -> pd.DataFrame:
    return pd.DataFrame(list(self.rows))

  def privacy_table(self) -> pd.DataFrame:
    return pd.DataFrame(list(self.privacy))

  def sweep_table(self) -> pd.DataFrame:
    return pd.DataFrame(list(self.sweep))


def run(config: SnnRobustnessConfig, out, *, data=None,
        progress: bool = True, overwrite: bool = False, executor=None
        ) -> SnnRobustnessResult:
  """Trains (or finds) each kind's reference folder in `out`/references and
  the sweep's models in `out`/sweep, attacks them and writes OUTPUTS.

  `out` holds one study: a rerun with the same settings resumes; other
  settings are refused, naming what differs, unless `overwrite` (which
  deletes the old study's models and outputs first). With `executor`
  (`tfmia.infra.executors`), every model of each kind and every sweep model is
  a unit (on Ray, a task); the attacks on the three targets run here."""
  from tfmia.infra import store
  out = io.check_output_dir(out, "the output folder")
  data = data if data is not None else prepare_data(config.data_config())
  for kind in MODELS:    # a bad model setting fails before any training
    references.check_buildable(config.reference_config(kind, out), data)
  store.claim(out, config,
              outputs=OUTPUTS + ("references", "sweep", ATTACKS_DIR),
              overwrite=overwrite, ignore=("data_dir", "download"),
              what="SNN-robustness study")
  folders = {k: _train_kind(config, k, data, out, progress, executor)
             for k in MODELS}
  n = min(config.attack_examples, len(data.y_test))
  x, y = data.x_test[:n], data.y_test[:n]
  rows = []
  for kind in MODELS:
    rows.extend(_attack_rows(config, kind, folders, x, y, out, progress))
  if progress:
    progress_lib.say(f"Privacy: {', '.join(config.privacy_attacks)} with "
                     f"{config.references} references of each kind")
  privacy = [{"model": kind, **r} for kind in MODELS
             for r in leakage(folders[kind][0], data, config.privacy_attacks,
                              config.seed, name=kind)]
  members = folders["snn"][0].target_is_member
  sweep_rows = (sweep(config, data, members, out, progress=progress,
                      executor=executor)
                if config.sweep_cells() else [])
  result = SnnRobustnessResult(config=config, rows=tuple(rows),
                               privacy=tuple(privacy),
                               sweep=tuple(sweep_rows))
  report.write(result, out)
  return result
