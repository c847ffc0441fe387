"""The `tfmia` command line: the top parser and what it registers.

  tfmia case-study architectures [--quick] [--dataset cifar10] [--data-dir DIR]
  tfmia case-study snn-mia --quick --executor ray [--address auto]
  tfmia case-study dp-audit --quick [--dataset digits|cifar10] [--epsilons inf,8,4,1]
  tfmia case-study attack-budget --quick [--dataset cifar10] [--ks 0,2,8]
  tfmia train --model conv --dataset digits --out runs/conv
  tfmia attack --run runs/conv --attacks threshold,logistic_regression
  tfmia attack --logits outputs.npz --out audits/x
  tfmia reference init cfg.json --dataset cifar10 --model conv
  tfmia reference train --config cfg.json --num-references 8 [--shard 3/8|auto]
  tfmia reference train --config cfg.json --executor ray --address auto --gpus-per-model 1
  tfmia reference sbatch --config cfg.json --out job.sh   # then: sbatch job.sh
  tfmia reference status --config cfg.json
  tfmia audit --config cfg.json --attacks rmia,lira,attack_p --out audits/run1
  tfmia audit --render audits/run1
  tfmia robustness --run runs/conv --attacks fgsm,pgd,square --eps 8/255 [--snn-timesteps 4] [--transfer-from runs/conv_seed1]
  tfmia models

Each command is a module with NAME, HELP, DESCRIPTION, `add_arguments(p)`
and `handle(args)` (or its own `add_parser`, for subcommands of its own):
the case studies' in `tfmia/studies/<name>/cli.py`, the others in
`tfmia/commands/`. Adding a study is its folder and one line in STUDIES.
Shared flags are defined once, in `tfmia.cliargs`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

import tfmia
from tfmia import cliargs
from tfmia.commands import (attack, audit, config, models, prune,
                            reference, robustness, train)
from tfmia.studies.architectures import cli as architectures
from tfmia.studies.attack_budget import cli as attack_budget
from tfmia.studies.dp_audit import cli as dp_audit
from tfmia.studies.pruning import cli as pruning
from tfmia.studies.snn_mia import cli as snn_mia
from tfmia.studies.snn_robustness import cli as snn_robustness

STUDIES = (architectures, snn_mia, pruning, snn_robustness, dp_audit,
           attack_budget)
COMMANDS = (train, attack, prune, robustness, reference, audit, models,
            config)


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="tfmia",
      description="Membership-inference case studies for Keras models.")
  parser.add_argument("--version", action="version",
                      version=f"tfmia {tfmia.__version__}")
  cliargs.add_verbose(parser)
  sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
  cs = sub.add_parser("case-study", help="run a case study and write its plots",
                      description="Run a case study and write its plots.")
  studies = cs.add_subparsers(dest="study", metavar="STUDY", required=True)
  for study in STUDIES:
    cliargs.add_module(studies, study)
  for command in COMMANDS:
    cliargs.add_module(sub, command)
  parser.set_defaults(_top=parser)   # `tfmia config show` reads it
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = cliargs.parse(build_parser(), argv)
  return cliargs.run(args, f"tfmia {args.command}")


if __name__ == "__main__":
  sys.exit(main())
