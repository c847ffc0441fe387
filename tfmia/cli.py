"""The `tfmia` command line.

  tfmia case-study architectures [--quick] [--dataset cifar10] [--data-dir DIR]
  tfmia train --model conv --dataset digits --out runs/conv
  tfmia attack --run runs/conv --attacks threshold,logistic_regression
  tfmia attack --logits outputs.npz --out audits/x
  tfmia models
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence


def _quiet_tensorflow() -> None:
  """Silences TensorFlow's start-up noise (CUDA, TensorRT, oneDNN lines)."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  import warnings
  warnings.filterwarnings("ignore", category=DeprecationWarning)
  import absl.logging
  absl.logging.set_verbosity(absl.logging.ERROR)


def _csv(text: str) -> tuple[str, ...]:
  return tuple(t.strip() for t in text.split(",") if t.strip())


def _add_data_args(p: argparse.ArgumentParser, *, default_dataset: str) -> None:
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
  g.add_argument("--train-size", type=int, default=None,
                 help="members: how many training examples to use")
  g.add_argument("--test-size", type=int, default=None,
                 help="non-members: how many test examples to use")
  g.add_argument("--seed", type=int, default=0, help="seed (default: 0)")


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
                    help="5,000 members and non-members and 20 epochs")
  arch.add_argument("--fallback-dataset", default=None,
                    help="dataset to use instead when --dataset is not "
                         "available offline (e.g. digits)")
  arch.add_argument("--epochs", type=int, default=None)
  arch.add_argument("--batch-size", type=int, default=None)
  arch.add_argument("--every-n-epochs", type=int, default=None,
                    help="attack cadence (default: 2)")
  arch.add_argument("--attacks", type=_csv, default=None,
                    help="comma-separated attacks (default: "
                         "threshold,logistic_regression)")
  arch.add_argument("--out", type=Path, default=Path("plots"),
                    help="output folder (default: plots)")
  arch.add_argument("--no-progress", action="store_true")

  tr = sub.add_parser("train", help="train one model with the privacy callback",
                      description="Train a model on the train split (members), "
                                  "validate on the test split (non-members), "
                                  "attacking it every N epochs.")
  _add_data_args(tr, default_dataset="digits")
  tr.add_argument("--model", default="conv", help="model builder (tfmia models)")
  tr.add_argument("--classes", type=int, default=None,
                  help="keep only the first k classes")
  tr.add_argument("--width-multiplier", type=float, default=None,
                  help="width multiplier for vgg/resnet/cifarnet")
  tr.add_argument("--optimizer", default="adam")
  tr.add_argument("--learning-rate", type=float, default=1e-3)
  tr.add_argument("--lr-schedule", default="constant")
  tr.add_argument("--epochs", type=int, default=10)
  tr.add_argument("--batch-size", type=int, default=50)
  tr.add_argument("--augment", action="store_true")
  tr.add_argument("--early-stopping", action="store_true")
  tr.add_argument("--every-n-epochs", type=int, default=2)
  tr.add_argument("--attacks", type=_csv, default=("threshold",))
  tr.add_argument("--tensorboard", type=Path, default=None,
                  help="write privacy metrics to this TensorBoard log dir")
  tr.add_argument("--out", type=Path, required=True, help="run folder")

  at = sub.add_parser(
      "attack", help="attack a trained model or saved logits",
      description="Attack a run folder written by `tfmia train`, or an npz "
                  "holding `logits`, `labels` and `is_member`. Writes "
                  "summary.csv, results.{json,npz}, roc.png and config.json.")
  src = at.add_mutually_exclusive_group(required=True)
  src.add_argument("--run", type=Path, help="a folder written by tfmia train")
  src.add_argument("--logits", type=Path,
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
  at.add_argument("--out", type=Path, default=None,
                  help="results folder (default: RUN/attack, or beside the npz)")

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
              "attack": commands.attack, "models": commands.list_models}
  try:
    return handlers[args.command](args) or 0
  except (ValueError, FileNotFoundError) as e:
    print(f"tfmia {args.command}: error: {e}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
