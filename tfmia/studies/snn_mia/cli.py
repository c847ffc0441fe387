"""`tfmia case-study snn-mia`: the study's flags and what they run."""

from __future__ import annotations

import argparse
import json
from typing import Optional, Sequence

from tfmia import cliargs
from tfmia.studies import seeds_cli

NAME = "snn-mia"
HELP = "membership leakage of ANNs converted to SNNs, at T = 1, 2, 4"
DESCRIPTION = ("Train a target and K reference ANNs on a pooled split, "
               "convert and calibrate them to SNNs at each T, and attack "
               "ANN, SNN and mixed settings with Attack-P, Attack-R and "
               "RMIA, with and without input-dropout calibration. "
               "Resumable.")


def add_arguments(p: argparse.ArgumentParser) -> None:
  cliargs.add_data_args(p, default_dataset="cifar10", sizes=False)
  p.add_argument("--pool-size", type=cliargs.positive_int, default=None,
                 help="pool: the first n train examples, split between the "
                      "target's members and non-members (quick: 6000, or "
                      "the whole split when smaller); more than the split "
                      "holds is refused")
  p.add_argument("--population-size", type=cliargs.positive_int,
                 default=None,
                 help="population: the first n test examples (quick: "
                      "2000, or the whole split when smaller)")
  cliargs.add_quick(p, help="a 6,000-image pool (or the whole split when "
                            "smaller), a small VGG (conv for images under "
                            "32 px, e.g. digits), 2 reference models")
  cliargs.add_fallback_dataset(p)
  p.add_argument("--models", type=cliargs.csv, default=None,
                 help="architectures (full: vgg16,resnet18,resnet20)")
  p.add_argument("--timesteps", type=cliargs.int_csv, default=None,
                 help="latencies, e.g. 1,2,3,4 (default: 1,2,4)")
  cliargs.add_num_references(p, help="reference ANNs per architecture "
                                     "(even; full: 4, quick: 2)")
  p.add_argument("--epochs", type=cliargs.positive_int, default=None,
                 help="ANN epochs")
  p.add_argument("--calibration-epochs", type=cliargs.positive_int,
                 default=None)
  p.add_argument("--dropout-copies", type=cliargs.positive_int, default=None,
                 help="input-dropout copies (full: 30, quick: 10)")
  cliargs.add_study_out(p, "plots/snn_mia")
  cliargs.add_seeds(p)
  p.add_argument("--no-matched-accuracy", action="store_true",
                 help="skip the ANN checkpoints matched to each SNN's "
                      "test accuracy (the target then keeps no per-epoch "
                      "weights)")
  p.add_argument("--protocol", choices=("default", "mia_snn"),
                 default="default",
                 help="default: the papers' attacks (Attack-P, Attack-R, "
                      "RMIA) and tfmia's recipe; mia_snn: the study as the "
                      "MIA_SNN seed code runs it (its three attacks, "
                      "per-timestep dropout masks, its calibration chain, "
                      "T = 1..4; see the README)")
  cliargs.add_executor_args(p, "each model's training, each model's SNN "
                               "variants and each audit cell")
  cliargs.add_no_progress(p)


def handle(args: argparse.Namespace) -> int:

  from tfmia import data as tfdata
  from tfmia.infra import io
  from tfmia.studies import snn_mia as study
  dataset = cliargs.available_dataset(args)
  overrides = dict(dataset=dataset, data_dir=args.data_dir,
                   download=args.download, models=args.models,
                   timesteps=args.timesteps,
                   num_references=args.num_references, epochs=args.epochs,
                   calibration_epochs=args.calibration_epochs,
                   dropout_copies=args.dropout_copies,
                   pool_size=args.pool_size,
                   population_size=args.population_size, seed=args.seed,
                   matched_accuracy=False if args.no_matched_accuracy
                   else None)
  overrides = {k: v for k, v in overrides.items() if v is not None}
  # Settings are checked before the data is loaded, then against it.
  config = (study.SnnMiaConfig.quick_mode(protocol=args.protocol, **overrides)
            if args.quick else
            study.SnnMiaConfig.full_mode(protocol=args.protocol, **overrides))
  io.check_output_dir(args.out, "--out")
  raw = tfdata.load_dataset(dataset, data_dir=args.data_dir,
                            download=args.download, seed=args.seed)
  if args.quick:
    config = study.SnnMiaConfig.quick_mode(
        split_sizes=(len(raw.y_train), len(raw.y_test)),
        image_size=raw.x_train.shape[1], protocol=args.protocol, **overrides)
  mode = cliargs.mode_label(config.quick, overrides)
  print(f"SNN membership-inference study ({mode}; protocol "
        f"{config.protocol}) on {dataset}: "
        f"{', '.join(config.models)}, T = "
        f"{', '.join(map(str, config.timesteps))}, {config.num_references} "
        f"reference models. Output: {args.out}/")
  if args.seeds:
    return seeds_cli.over_seeds(
        study.run, config, args, raw, lambda r: r.table(),
        ["model", "dropout_calibration", "setting", "attack"])
  result = study.run(config, args.out, raw=raw, overwrite=args.overwrite,
                     progress=not args.no_progress,
                     executor=cliargs.executor_from(args))
  print("\nMIA AUC (rows: model, input-dropout calibration):")
  print(result.wide_table("auc").to_string(float_format=lambda v: f"{v:.3f}"))
  print("\nTest accuracy:", json.dumps(result.accuracy))
  print(f"\nTables, results and figures are in {args.out}/")
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`tfmia case-study snn-mia`, as a script of its own."""
  return cliargs.main_of(f"tfmia case-study {NAME}", add_arguments, handle,
                         DESCRIPTION, argv)
