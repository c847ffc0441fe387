"""The `tfmia` command line.

  tfmia case-study architectures [--quick] [--dataset cifar10] [--data-dir DIR]
  tfmia train --model conv --dataset digits --out runs/conv
  tfmia attack --run runs/conv --attacks threshold,logistic_regression
  tfmia attack --logits outputs.npz --out audits/x
  tfmia reference init cfg.json --dataset cifar10 --model conv
  tfmia reference train --config cfg.json --num-models 8 [--shard 3/8|auto]
  tfmia reference train --config cfg.json --executor ray --address auto --gpus-per-model 1
  tfmia reference sbatch --config cfg.json --out job.sh   # then: sbatch job.sh
  tfmia case-study snn-mia --quick --executor ray [--address auto]
  tfmia reference status --config cfg.json
  tfmia audit --config cfg.json --attacks rmia,lira,attack_p --out audits/run1
  tfmia audit --render audits/run1
  tfmia case-study dp-audit --quick [--dataset digits|cifar10] [--epsilons inf,8,4,1]
  tfmia robustness --run runs/conv --attacks fgsm,pgd,square --eps 8/255 [--snn-timesteps 4] [--transfer-from runs/conv_seed1]
  tfmia models
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
import zipfile
from pathlib import Path
from typing import Optional, Sequence

from tfmia.infra import fs


def _quiet_tensorflow() -> None:
  """Silences TensorFlow's start-up noise (CUDA, TensorRT, oneDNN lines)."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  import warnings
  warnings.filterwarnings("ignore", category=DeprecationWarning)
  import absl.logging
  absl.logging.set_verbosity(absl.logging.ERROR)


def _csv(text: str) -> tuple[str, ...]:
  items = tuple(t.strip() for t in text.split(","))
  if not text.strip() or not all(items):
    raise argparse.ArgumentTypeError(
        f"expected comma-separated names, none empty. Received: {text!r}")
  return items


def _positive_int(text: str) -> int:
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(
        f"expected a positive integer. Received: {text!r}") from None
  if value < 1:
    raise argparse.ArgumentTypeError(
        f"expected a positive integer. Received: {text!r}")
  return value


def _seed_csv(text: str) -> tuple[int, ...]:
  """'0,1,2' -> (0, 1, 2): distinct non-negative integers."""
  try:
    seeds = tuple(int(t) for t in _csv(text))
  except (ValueError, argparse.ArgumentTypeError):
    seeds = ()
  if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
    raise argparse.ArgumentTypeError(
        "expected distinct non-negative integers, e.g. 0,1,2. "
        f"Received: {text!r}")
  return seeds


def _int_csv(text: str) -> tuple[int, ...]:
  """'1,2,4' -> (1, 2, 4); empty or non-integer items are refused."""
  try:
    return tuple(_positive_int(t.strip()) for t in _csv(text))
  except argparse.ArgumentTypeError:
    raise argparse.ArgumentTypeError(
        "expected comma-separated positive integers, e.g. 1,2,4. "
        f"Received: {text!r}") from None


def _add_data_args(p: argparse.ArgumentParser, *, default_dataset: str,
                   sizes: bool = True) -> None:
  g = p.add_argument_group("data")
  g.add_argument("--dataset", default=default_dataset,
                 help="'digits' (offline, bundled with scikit-learn) or a "
                      "tensorflow-datasets name such as cifar10, cifar100, "
                      "mnist, fashion_mnist, svhn_cropped (default: "
                      f"{default_dataset})")
  g.add_argument("--data-dir", default=None,
                 help="tensorflow-datasets data directory "
                      "(default: $TFMIA_DATA_DIR, then tfds' own default)")
  g.add_argument("--download", action="store_true",
                 help="let tensorflow-datasets download a missing dataset")
  if sizes:
    g.add_argument("--train-size", type=_positive_int, default=None,
                   help="members: how many training examples to use; more "
                        "than the train split holds is refused")
    g.add_argument("--test-size", type=_positive_int, default=None,
                   help="non-members: how many test examples to use; more "
                        "than the test split holds is refused")
  g.add_argument("--seed", type=int, default=0, help="seed (default: 0)")


def _add_executor_args(p: argparse.ArgumentParser, units: str) -> None:
  """--executor and --address: where the command's units of work run."""
  p.add_argument("--executor", default="local", choices=("local", "ray"),
                 help=f"local: one after another here (default); ray: "
                      f"{units} as Ray tasks")
  p.add_argument("--address", default=None,
                 help="ray: the cluster ('auto': the one this machine is "
                      "in; default: start a local one)")


def _add_reference_parser(sub) -> None:
  ref = sub.add_parser(
      "reference", help="train reference (shadow) models",
      description="Train a target model and K reference models on a pooled "
                  "membership split, resumably, in shards if wanted.")
  ref_sub = ref.add_subparsers(dest="action", metavar="ACTION", required=True)
  init = ref_sub.add_parser("init", help="write a starting config file",
                            description="Write a reference config (JSON) to "
                                        "edit, with every field present.")
  init.add_argument("path", type=fs.path, help="config file to write")
  _add_data_args(init, default_dataset="cifar10")
  init.add_argument("--model", default="conv", help="model builder")
  init.add_argument("--epochs", type=_positive_int, default=20)
  init.add_argument("--num-models", type=int, default=4)
  init.add_argument("--reference-dir", default="references")
  init.add_argument("--force", action="store_true", help="overwrite PATH")
  for name, helptext in (("train", "train the missing models (resumes)"),
                         ("status", "list complete and missing models"),
                         ("sbatch", "write a Slurm job-array script that "
                                    "trains the models, one shard per task")):
    p = ref_sub.add_parser(name, help=helptext, description=helptext + ".")
    p.add_argument("--config", type=fs.path, required=True,
                   help="reference config (see `tfmia reference init`)")
    p.add_argument("--num-models", type=int, default=None,
                   help="K reference models (even; default: the config's)")
    p.add_argument("--dir", type=fs.path, default=None,
                   help="reference folder (default: the config's "
                        "reference_dir)")
    p.add_argument("--data-dir", default=None,
                   help="tfds data directory (overrides the config's)")
    if name == "train":
      p.add_argument("--shard", default=None,
                     help="i/N: train only part i of N (1-based), e.g. 3/8; "
                          "'auto': this Slurm array task's part (from "
                          "SLURM_ARRAY_TASK_ID/_MIN/_COUNT)")
      _add_executor_args(p, "the models")
      p.add_argument("--cpus-per-model", type=float, default=1.0)
      p.add_argument("--gpus-per-model", type=float, default=0.0)
      p.add_argument("--max-retries", type=int, default=None,
                     help="further attempts of a model that fails (ray "
                          "default: 2, local: 0)")
      p.add_argument("--no-progress", action="store_true")
    if name == "sbatch":
      p.add_argument("--out", type=fs.path, default=Path("train_references.sh"),
                     help="script to write (default: train_references.sh)")
      p.add_argument("--tasks", type=_positive_int, default=None,
                     help="array size (default: one task per model)")
      p.add_argument("--cpus-per-task", type=_positive_int, default=4)
      p.add_argument("--gpus-per-task", type=int, default=0)
      p.add_argument("--time", default="24:00:00",
                     help="Slurm time limit per task")


def _add_audit_parser(sub) -> None:
  au = sub.add_parser(
      "audit", help="attack a target with reference models; write a report",
      description="Audit the target of a reference folder with many attacks. "
                  "Writes report.csv, roc_loglog.png, score_hist.png, "
                  "scores.npz, results.{json,npz} and config.json. With "
                  "--render, redraw an existing audit folder instead.")
  src = au.add_mutually_exclusive_group(required=True)
  src.add_argument("--config", type=fs.path, help="reference config file")
  src.add_argument("--render", type=fs.path, metavar="AUDIT_DIR",
                   help="redraw report and figures of an audit folder")
  src.add_argument("--list", action="store_true",
                   help="list the attacks and what each is")
  au.add_argument("--variant", default=None,
                  help="audit a variant of the target: snn:T, "
                       "snn:T1,T2,...,T (calibrated progressively), "
                       "pruned:PRUNER:SPARSITY[:DEFENSE[:ARG]], or a chain "
                       "joined by + (pruned:l1_structured:0.5+snn:4); made "
                       "once per model and stored beside it")
  au.add_argument("--reference-variant", default=None,
                  help="the references' variant (default: --variant, i.e. "
                       "an adaptive attack; 'none' for the trained "
                       "references, i.e. non-adaptive)")
  au.add_argument("--attacks", type=_csv, default=None,
                  help="comma-separated attacks (default: rmia,lira,"
                       "lira_offline,attack_p,attack_r,threshold); see "
                       "`tfmia audit --list`")
  au.add_argument("--out", type=fs.path, default=None, help="audit folder")
  au.add_argument("--dir", type=fs.path, default=None,
                  help="reference folder (default: the config's)")
  au.add_argument("--num-models", type=int, default=None,
                  help="use the first K reference models")
  au.add_argument("--data-dir", default=None)
  g = au.add_argument_group("signals")
  g.add_argument("--augment", default="none",
                 choices=("none", "flip", "flip_shift"),
                 help="query-time augmentations (default: none)")
  g.add_argument("--dropout-copies", type=int, default=0,
                 help="input-dropout calibration: copies per example "
                      "(0 = off; the SNN-MIA work uses 30)")
  g.add_argument("--dropout-rate", type=float, default=0.01,
                 help="fraction of pixels dropped per copy (default: 0.01)")
  g = au.add_argument_group("attacks")
  g.add_argument("--rmia-a", default="0.3",
                 help="offline RMIA's a in [0, 1], or 'auto' to tune it by "
                      "attacking a reference model (needs K >= 4)")
  g.add_argument("--rmia-gamma", type=float, default=1.0)
  g.add_argument("--rmia-population", type=int, default=None,
                 help="number of population points z (default: all)")
  g.add_argument("--lira-per-example-variance", action="store_true",
                 help="per-example σ (needs >= 2 IN and OUT models each)")
  g.add_argument("--seed", type=int, default=0)
  au.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="tfmia",
      description="Membership-inference case studies for Keras models.")
  parser.add_argument("-v", "--verbose", action="store_true",
                      help="show tfmia's log messages")
  sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

  cs = sub.add_parser("case-study", help="run a case study and write its plots",
                      description="Run a case study and write its plots.")
  cs_sub = cs.add_subparsers(dest="study", metavar="STUDY", required=True)
  arch = cs_sub.add_parser(
      "architectures",
      help="conv vs dense, depth 7 vs 4, and 4 classes (5 models)",
      description="Membership leakage across architectures, depths and class "
                  "counts. Published settings by default; --quick for minutes "
                  "on a CPU. Resumable: finished models are skipped on rerun.")
  _add_data_args(arch, default_dataset="cifar10")
  arch.add_argument("--quick", action="store_true",
                    help="5,000 members and non-members (or the whole split "
                         "when it is smaller, e.g. digits) and 20 epochs")
  arch.add_argument("--fallback-dataset", default=None,
                    help="dataset to use instead when --dataset is not "
                         "available offline (e.g. digits)")
  arch.add_argument("--epochs", type=_positive_int, default=None)
  arch.add_argument("--batch-size", type=_positive_int, default=None)
  arch.add_argument("--every-n-epochs", type=_positive_int, default=None,
                    help="attack cadence (default: 2, or 1 with --epochs 1)")
  arch.add_argument("--attacks", type=_csv, default=None,
                    help="comma-separated attacks (default: "
                         "threshold,logistic_regression)")
  arch.add_argument("--out", type=fs.path, default=Path("plots"),
                    help="output folder (default: plots); it holds one "
                         "study: a rerun with the same settings resumes, "
                         "other settings are refused")
  arch.add_argument("--overwrite", action="store_true",
                    help="replace a study of other settings in --out")
  arch.add_argument("--seeds", type=_seed_csv, default=None,
                    help="run once per seed (e.g. 0,1,2) in --out/seed_<s>/ "
                         "and write seeds_summary.csv: per cell the mean and "
                         "spread across seeds next to the bootstrap interval")
  _add_executor_args(arch, "the models")
  arch.add_argument("--no-progress", action="store_true")

  sm = cs_sub.add_parser(
      "snn-mia",
      help="membership leakage of ANNs converted to SNNs, at T = 1, 2, 4",
      description="Train a target and K reference ANNs on a pooled split, "
                  "convert and calibrate them to SNNs at each T, and attack "
                  "ANN, SNN and mixed settings with Attack-P, Attack-R and "
                  "RMIA, with and without input-dropout calibration. "
                  "Resumable.")
  _add_data_args(sm, default_dataset="cifar10", sizes=False)
  sm.add_argument("--pool-size", type=_positive_int, default=None,
                  help="pool: the first n train examples, split between the "
                       "target's members and non-members (quick: 6000, or "
                       "the whole split when smaller); more than the split "
                       "holds is refused")
  sm.add_argument("--population-size", type=_positive_int, default=None,
                  help="population: the first n test examples (quick: "
                       "2000, or the whole split when smaller)")
  sm.add_argument("--quick", action="store_true",
                  help="a 6,000-image pool (or the whole split when "
                       "smaller), a small VGG (conv for images under 32 "
                       "px, e.g. digits), 2 reference models")
  sm.add_argument("--fallback-dataset", default=None,
                  help="dataset to use when --dataset is not available")
  sm.add_argument("--models", type=_csv, default=None,
                  help="architectures (full: vgg16,resnet18,resnet20)")
  sm.add_argument("--timesteps", type=_int_csv, default=None,
                  help="latencies, e.g. 1,2,3,4 (default: 1,2,4)")
  sm.add_argument("--num-references", type=int, default=None)
  sm.add_argument("--epochs", type=_positive_int, default=None, help="ANN epochs")
  sm.add_argument("--calibration-epochs", type=_positive_int, default=None)
  sm.add_argument("--dropout-copies", type=_positive_int, default=None,
                  help="input-dropout copies (full: 30, quick: 10)")
  sm.add_argument("--out", type=fs.path, default=Path("plots/snn_mia"),
                  help="output folder (default: plots/snn_mia); it holds "
                       "one study: a rerun with the same settings resumes, "
                       "other settings are refused")
  sm.add_argument("--overwrite", action="store_true",
                  help="replace a study of other settings in --out")
  sm.add_argument("--seeds", type=_seed_csv, default=None,
                  help="run once per seed (e.g. 0,1,2) in --out/seed_<s>/ "
                       "and write seeds_summary.csv")
  sm.add_argument("--no-matched-accuracy", action="store_true",
                  help="skip the ANN checkpoints matched to each SNN's "
                       "test accuracy (the target then keeps no per-epoch "
                       "weights)")
  sm.add_argument("--protocol", choices=("default", "mia_snn"),
                  default="default",
                  help="default: the papers' attacks (Attack-P, Attack-R, "
                       "RMIA) and tfmia's recipe; mia_snn: the study as the "
                       "MIA_SNN seed code runs it (its three attacks, "
                       "per-timestep dropout masks, its calibration chain, "
                       "T = 1..4; see the README)")
  _add_executor_args(sm, "each model's training, each model's SNN "
                         "variants and each audit cell")
  sm.add_argument("--no-progress", action="store_true")

  pc = cs_sub.add_parser(
      "pruning",
      help="membership leakage of pruned models, with defenses "
           "(mia_prune's study)",
      description="Yuan & Zhang's pruning study: a victim and shadow models "
                  "on mia_prune's split of the pooled data; every pruner at "
                  "each sparsity, with PPB, adversarial regularisation or "
                  "DP-SGD in the fine-tuning; attacked non-adaptively and "
                  "adaptively by mia_prune's attacks, RMIA and LiRA. "
                  "Resumable.")
  _add_data_args(pc, default_dataset="cifar10", sizes=False)
  pc.add_argument("--quick", action="store_true",
                  help="a 3,000-image pool, a narrow VGG-11 for 12 epochs, "
                       "2 shadows, two pruners, the defenses at "
                       "l1_structured 0.7 (17 minutes on 2 CPU cores)")
  pc.add_argument("--fallback-dataset", default=None,
                  help="dataset to use when --dataset is not available")
  pc.add_argument("--model", default=None,
                  help="architecture (full: resnet18)")
  pc.add_argument("--pool-size", type=_positive_int, default=None)
  pc.add_argument("--epochs", type=_positive_int, default=None)
  pc.add_argument("--num-shadows", type=_positive_int, default=None)
  pc.add_argument("--pruners", type=_csv, default=None)
  pc.add_argument("--sparsities", type=_csv, default=None,
                  help="e.g. 0.5,0.7,0.9")
  pc.add_argument("--attacks", type=_csv, default=None)
  pc.add_argument("--attack-epochs", type=_positive_int, default=None,
                  help="training epochs of the NN attacks and SAMIA "
                       "(full: 100, mia_prune's; quick: 10)")
  pc.add_argument("--out", type=fs.path, default=Path("plots/pruning"),
                  help="output folder (default: plots/pruning); a rerun "
                       "with the same settings resumes")
  pc.add_argument("--overwrite", action="store_true")
  _add_executor_args(pc, "each model's training, each model's pruned "
                         "variants and each audit cell")
  pc.add_argument("--no-progress", action="store_true")

  rs = cs_sub.add_parser(
      "snn-robustness",
      help="robustness of an ANN, a traditionally trained SNN and a "
           "HIRE-SNN (HIRE-SNN's comparison)",
      description="Trains the ANN twin, a BPTT-trained SNN and a HIRE-SNN "
                  "of HIRE-SNN's spiking VGG, each with K reference models "
                  "of its own kind; attacks each target with FGSM and PGD "
                  "through ART, white-box and black-box, with the "
                  "gradient-masking checks; audits its membership leakage "
                  "(RMIA with its own kind's references); and sweeps "
                  "pooling and input encoders against input-gradient "
                  "sparsity (grad-obf-snn). Trained models are reused on a "
                  "rerun.")
  _add_data_args(rs, default_dataset="cifar10", sizes=False)
  rs.add_argument("--quick", action="store_true",
                  help="VGG-5 at width 0.25, T = 4, a 4,000-image pool, "
                       "8 epochs, 2 references per kind, a 5-model sweep")
  rs.add_argument("--references", type=_positive_int, default=None,
                  help="reference models per kind (even; 4 in full mode)")
  rs.add_argument("--no-sweep", action="store_true",
                  help="skip the pooling and encoder sweep")
  rs.add_argument("--sweep-design", choices=("grid", "axes"), default=None,
                  help="grid: every pooling with every encoder (8 models; "
                       "full mode's default); axes: the encoders with "
                       "average pooling and max pooling with direct input "
                       "(5 models; --quick's default)")
  rs.add_argument("--overwrite", action="store_true",
                  help="replace a study of other settings in --out")
  rs.add_argument("--fallback-dataset", default=None,
                  help="dataset to use when --dataset is not available")
  rs.add_argument("--epochs", type=_positive_int, default=None)
  rs.add_argument("--attacks", type=_csv, default=None,
                  help="from fgsm, pgd, pgd_l2, apgd, autoattack, square")
  rs.add_argument("--attack-examples", type=_positive_int, default=None)
  _add_executor_args(rs, "every model (each kind's target and "
                         "references, each sweep model)")
  rs.add_argument("--out", type=fs.path, default=Path("plots/snn_robustness"))
  rs.add_argument("--no-progress", action="store_true")

  da = cs_sub.add_parser(
      "dp-audit",
      help="the accountant's ε beside empirical ε lower bounds (one-run "
           "canary audits, RMIA) at several DP-SGD noise levels",
      description="Trains one model per accountant ε (DP-SGD; 'inf' = no "
                  "DP) with mislabelled and with natural canaries, each "
                  "included by a fair coin; bounds ε from one training run "
                  "(Steinke et al.), and from RMIA with reference models "
                  "trained the same way. Writes results.csv, dp_audit.png "
                  "(bounds against the accountant, with the diagonal) and "
                  "guesses.png. Resumable.")
  g = da.add_argument_group("data")
  g.add_argument("--dataset", default=None,
                 help="digits (quick default) or a tensorflow-datasets name "
                      "(full default: cifar10)")
  g.add_argument("--data-dir", default=None,
                 help="tensorflow-datasets data directory")
  g.add_argument("--download", action="store_true")
  g.add_argument("--seed", type=int, default=0)
  da.add_argument("--quick", action="store_true",
                  help="digits, a 4x128 MLP, 500 canaries, 40 epochs, "
                       "2 references: about 2 minutes on 2 CPU cores")
  da.add_argument("--epsilons", type=_csv, default=None,
                  help="accountant ε per model, 'inf' for no DP "
                       "(default: inf,8,4,1)")
  da.add_argument("--delta", type=float, default=None,
                  help="δ of every ε (default: 1e-5)")
  da.add_argument("--canaries", type=_positive_int, default=None,
                  help="canaries of each kind (quick: 500, full: 1000)")
  da.add_argument("--canary-kinds", type=_csv, default=None,
                  help="mislabelled,natural (default: both)")
  da.add_argument("--selection", default=None,
                  choices=("holdout", "bonferroni"),
                  help="how the one-run audit picks its guesses without a "
                       "free search (default: holdout)")
  da.add_argument("--references", type=int, default=None,
                  help="RMIA reference models (even; 0 skips RMIA)")
  da.add_argument("--model", default=None)
  da.add_argument("--epochs", type=_positive_int, default=None)
  _add_executor_args(da, "every model (one-run audits, references)")
  da.add_argument("--out", type=fs.path, default=Path("plots/dp_audit"))
  da.add_argument("--overwrite", action="store_true",
                  help="replace a study of other settings in --out")
  da.add_argument("--no-progress", action="store_true")

  tr = sub.add_parser("train", help="train one model with the privacy callback",
                      description="Train a model on the train split (members), "
                                  "validate on the test split (non-members), "
                                  "attacking it every N epochs.")
  _add_data_args(tr, default_dataset="digits")
  tr.add_argument("--model", default="conv", help="model builder (tfmia models)")
  tr.add_argument("--classes", type=_positive_int, default=None,
                  help="keep only the first k classes")
  tr.add_argument("--width-multiplier", type=float, default=None,
                  help="width multiplier for vgg/resnet/cifarnet")
  tr.add_argument("--optimizer", default="adam")
  tr.add_argument("--learning-rate", type=float, default=1e-3)
  tr.add_argument("--lr-schedule", default="constant")
  tr.add_argument("--epochs", type=_positive_int, default=10)
  tr.add_argument("--batch-size", type=_positive_int, default=50)
  tr.add_argument("--augment", action="store_true")
  tr.add_argument("--early-stopping", action="store_true")
  tr.add_argument("--every-n-epochs", type=_positive_int, default=2)
  tr.add_argument("--attacks", type=_csv, default=("threshold",))
  tr.add_argument("--tensorboard", type=fs.path, default=None,
                  help="write privacy metrics to this TensorBoard log dir")
  tr.add_argument("--out", type=fs.path, required=True,
                  help="run folder: holds one run; a rerun with the same "
                       "settings resumes (loads it when complete), other "
                       "settings are refused")
  tr.add_argument("--overwrite", action="store_true",
                  help="replace the run in --out, deleting its outputs")

  at = sub.add_parser(
      "attack", help="attack a trained model or saved logits",
      description="Attack a run folder written by `tfmia train`, or an npz "
                  "holding `logits`, `labels` and `is_member`. Writes "
                  "summary.csv, results.{json,npz}, roc.png and config.json.")
  src = at.add_mutually_exclusive_group(required=True)
  src.add_argument("--run", type=fs.path, help="a folder written by tfmia train")
  src.add_argument("--logits", type=fs.path,
                   help="npz with logits (n,k), labels (n,), is_member (n,)")
  at.add_argument("--attacks", type=_csv,
                  default=("threshold", "threshold_entropy",
                           "logistic_regression"))
  at.add_argument("--by-class", action="store_true", help="slice by class")
  at.add_argument("--by-correctness", action="store_true",
                  help="slice by classification correctness")
  at.add_argument("--data-dir", default=None,
                  help="override the run's tfds data directory")
  at.add_argument("--seed", type=int, default=0)
  at.add_argument("--out", type=fs.path, default=None,
                  help="results folder (default: RUN/attack, or beside the npz)")

  pr = sub.add_parser(
      "prune", help="prune a trained model, fine-tune it (with a defense)",
      description="Prune the model of a `tfmia train` run folder, fine-tune "
                  "it on its members for half its training epochs (as "
                  "mia_prune does), with a membership-inference defense if "
                  "asked, and write the pruned model, its sparsity, "
                  "parameters, FLOPs, accuracy and (DP-SGD) epsilon.")
  pr.add_argument("--run", type=fs.path, required=True,
                  help="a folder written by tfmia train")
  pr.add_argument("--pruner", required=True,
                  help="l1_unstructured, l1_structured, l2_structured or "
                       "slim")
  pr.add_argument("--sparsity", type=float, required=True,
                  help="in (0, 1): of each kernel's weights (unstructured), "
                       "of each conv's filters (l1/l2_structured) or of all "
                       "BatchNorm channels (slim)")
  pr.add_argument("--defense", default="none",
                  help="none, ppb, adv (adversarial regularisation) or dp "
                       "(DP-SGD) during the fine-tuning")
  pr.add_argument("--defense-arg", type=float, default=4.0,
                  help="ppb: lambda; adv: privacy weight; dp: noise "
                       "multiplier (default: 4, mia_prune's)")
  pr.add_argument("--delta", type=float, default=1e-5,
                  help="dp: the delta of the reported epsilon")
  pr.add_argument("--epochs", type=_positive_int, default=None,
                  help="fine-tuning epochs (default: half the run's)")
  pr.add_argument("--data-dir", default=None,
                  help="override the run's tfds data directory")
  pr.add_argument("--out", type=fs.path, default=None,
                  help="output folder (default: RUN/pruned_<pruner>_<sparsity>"
                       "[_<defense>])")

  rb = sub.add_parser(
      "robustness", help="attack a trained model (or its SNN) with FGSM, "
                         "PGD, AutoAttack, Square through ART",
      description="Adversarial robustness of the model of a `tfmia train` "
                  "run, or of its SNN conversion (--snn-timesteps), on its "
                  "test split, white-box and (with --transfer-from) "
                  "black-box, with the gradient-masking checks. Writes "
                  "robustness.json, robustness.csv and robustness.png.")
  rb.add_argument("--run", type=fs.path, required=True,
                  help="a folder written by tfmia train")
  rb.add_argument("--attacks", type=_csv, default=("fgsm", "pgd"),
                  help="from fgsm, pgd, pgd_l2, apgd, autoattack, square")
  rb.add_argument("--eps", default="8/255",
                  help="L-infinity budget in [0, 1] pixels, e.g. 8/255")
  rb.add_argument("--eps-l2", type=float, default=0.5,
                  help="L2 budget of pgd_l2")
  rb.add_argument("--pgd-steps", type=int, default=7)
  rb.add_argument("--pgd-step", type=float, default=0.01)
  rb.add_argument("--square-queries", type=int, default=1000)
  rb.add_argument("--eot-samples", type=int, default=1,
                  help="average gradients over this many draws of a "
                       "stochastic (Poisson-coded) model")
  rb.add_argument("--examples", type=_positive_int, default=500,
                  help="test examples attacked (the first N)")
  rb.add_argument("--snn-timesteps", type=_positive_int, default=None,
                  help="convert the ANN to an SNN with T timesteps first, as "
                       "the SNN variant does (tfmia.variants.SnnVariant: "
                       "data-driven thresholds on 512 random training "
                       "images), without calibration")
  rb.add_argument("--label-only", type=_positive_int, default=None,
                  metavar="N",
                  help="also run the label-only membership attacks (gap, "
                       "decision boundary by HopSkipJump) on N training "
                       "members and N test non-members")
  rb.add_argument("--transfer-from", type=fs.path, default=None,
                  help="a tfmia train run whose model crafts the black-box "
                       "examples")
  rb.add_argument("--data-dir", default=None,
                  help="override the run's tfds data directory")
  rb.add_argument("--seed", type=int, default=0)
  rb.add_argument("--out", type=fs.path, default=None,
                  help="results folder (default: RUN/robustness)")

  _add_reference_parser(sub)
  _add_audit_parser(sub)
  sub.add_parser("models", help="list the model builders")
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                      format="%(levelname)s %(name)s: %(message)s")
  _quiet_tensorflow()
  from tfmia import commands
  handlers = {"case-study": commands.case_study, "train": commands.train,
              "attack": commands.attack, "models": commands.list_models,
              "reference": commands.reference, "audit": commands.audit,
              "prune": commands.prune, "robustness": commands.robustness}
  try:
    return handlers[args.command](args) or 0
  except EXPECTED_ERRORS as e:
    if args.verbose:
      traceback.print_exc()
    print(f"tfmia {args.command}: error: {_one_line(e)}", file=sys.stderr)
    return 2


# Failures a user can meet and fix: bad settings or files (ValueError,
# TypeError), missing, unreadable, read-only or full disks (OSError: also
# PermissionError, IsADirectoryError, NotADirectoryError, tfmia.infra.io's
# NoSpaceError), truncated archives (BadZipFile, EOFError) and a missing
# optional dependency (ImportError). Anything else is a bug, and keeps its
# traceback.
EXPECTED_ERRORS = (ValueError, TypeError, OSError, zipfile.BadZipFile,
                   EOFError, ImportError)


def _one_line(e: BaseException) -> str:
  from tfmia.infra.io import describe_error
  return " ".join(describe_error(e).split())


if __name__ == "__main__":
  sys.exit(main())
