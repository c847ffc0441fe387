"""`tfmia case-study architectures`: the study's flags and what they run."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

from tfmia import cliargs
from tfmia.studies import seeds_cli

NAME = "architectures"
HELP = "conv vs dense, depth 7 vs 4, and 4 classes (5 models)"
DESCRIPTION = ("Membership leakage across architectures, depths and class "
               "counts. Published settings by default; --quick for minutes "
               "on a CPU. Resumable: finished models are skipped on rerun.")


def add_arguments(p: argparse.ArgumentParser) -> None:
  cliargs.add_data_args(p, default_dataset="cifar10")
  cliargs.add_quick(p, help="5,000 members and non-members (or the whole "
                            "split when it is smaller, e.g. digits) and 20 "
                            "epochs")
  cliargs.add_fallback_dataset(p)
  p.add_argument("--epochs", type=cliargs.positive_int, default=None)
  p.add_argument("--batch-size", type=cliargs.positive_int, default=None)
  p.add_argument("--every-n-epochs", type=cliargs.positive_int, default=None,
                 help="attack cadence (default: 2, or 1 with --epochs 1)")
  p.add_argument("--attacks", type=cliargs.csv, default=None,
                 help="comma-separated attacks (default: "
                      "threshold,logistic_regression)")
  cliargs.add_study_out(p, "plots")
  cliargs.add_seeds(p)
  cliargs.add_executor_args(p, "the models")
  cliargs.add_no_progress(p)


def handle(args: argparse.Namespace) -> int:
  from tfmia import data as tfdata
  from tfmia.infra import io
  from tfmia.studies import architectures as study
  dataset = cliargs.available_dataset(args)
  every = args.every_n_epochs
  if every is None and args.epochs is not None:
    every = min(2, args.epochs)   # the default cadence, within the epochs
  overrides = dict(dataset=dataset, data_dir=args.data_dir,
                   download=args.download, epochs=args.epochs,
                   batch_size=args.batch_size, every_n_epochs=every,
                   train_size=args.train_size, test_size=args.test_size,
                   attacks=args.attacks, seed=args.seed)
  overrides = {k: v for k, v in overrides.items() if v is not None}
  # Settings are checked before the data is loaded, then against it.
  config = study.ArchitectureStudyConfig(
      **(dict(overrides, quick=True, train_size=None, test_size=None)
         if args.quick else overrides))
  io.check_output_dir(args.out, "--out")
  raw = tfdata.load_dataset(dataset, data_dir=args.data_dir,
                            download=args.download, seed=args.seed)
  if args.quick:
    config = study.ArchitectureStudyConfig.quick_mode(
        split_sizes=(len(raw.y_train), len(raw.y_test)), **overrides)
  mode = cliargs.mode_label(config.quick, overrides)
  print(f"Architecture case study ({mode}) on {dataset}: 5 models, "
        f"{config.epochs} epochs, attacks every {config.every_n_epochs}: "
        f"{', '.join(config.attacks)}. Output: {args.out}/")
  if args.seeds:
    return seeds_cli.over_seeds(study.run, config, args, raw,
                              lambda r: r.to_dataframe(), ["model", "attack"])
  result = study.run(config, args.out, raw=raw, progress=not args.no_progress,
                     overwrite=args.overwrite,
                     executor=cliargs.executor_from(args))
  print()
  cliargs.print_table(result.to_dataframe(),
                      ["model", "num_classes", "num_params",
                       "member_accuracy", "nonmember_accuracy", "attack",
                       "auc", "advantage", "tpr_at_1%_fpr"])
  print(f"\nFigures, results.json and summary.csv are in {args.out}/")
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`tfmia case-study architectures`, as a script of its own."""
  return cliargs.main_of(f"tfmia case-study {NAME}", add_arguments, handle,
                         DESCRIPTION, argv)
