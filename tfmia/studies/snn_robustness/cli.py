"""`tfmia case-study snn-robustness`: the study's flags and what they run."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

from tfmia import cliargs

NAME = "snn-robustness"
HELP = ("robustness of an ANN, a traditionally trained SNN and a HIRE-SNN "
        "(HIRE-SNN's comparison)")
DESCRIPTION = ("Trains the ANN twin, a BPTT-trained SNN and a HIRE-SNN "
               "of HIRE-SNN's spiking VGG, each with K reference models "
               "of its own kind; attacks each target with FGSM and PGD "
               "through ART, white-box and black-box, with the "
               "gradient-masking checks; audits its membership leakage "
               "(RMIA with its own kind's references); and sweeps "
               "pooling and input encoders against input-gradient "
               "sparsity (grad-obf-snn). Trained models are reused on a "
               "rerun.")


def add_arguments(p: argparse.ArgumentParser) -> None:
  cliargs.add_data_args(p, default_dataset="cifar10", sizes=False)
  cliargs.add_quick(p, help="VGG-5 at width 0.25, T = 4, a 4,000-image "
                            "pool, 8 epochs, 2 references per kind, a "
                            "5-model sweep")
  cliargs.add_num_references(p, aliases=("--references",),
                             type=cliargs.positive_int,
                             help="reference models per kind (even; 4 in "
                                  "full mode)")
  p.add_argument("--no-sweep", action="store_true",
                 help="skip the pooling and encoder sweep")
  p.add_argument("--sweep-design", choices=("grid", "axes"), default=None,
                 help="grid: every pooling with every encoder (8 models; "
                      "full mode's default); axes: the encoders with "
                      "average pooling and max pooling with direct input "
                      "(5 models; --quick's default)")
  cliargs.add_fallback_dataset(p)
  p.add_argument("--epochs", type=cliargs.positive_int, default=None)
  p.add_argument("--attacks", type=cliargs.csv, default=None,
                 help="from fgsm, pgd, pgd_l2, apgd, autoattack, square")
  cliargs.add_examples(p, aliases=("--attack-examples",),
                       help="test examples attacked (the first N; full: "
                            "1000, quick: 200)")
  cliargs.add_executor_args(p, "every model (each kind's target and "
                               "references, each sweep model)")
  cliargs.add_study_out(p, "plots/snn_robustness")
  cliargs.add_no_progress(p)


def handle(args: argparse.Namespace) -> int:

  from tfmia import data as tfdata
  from tfmia.infra import io
  from tfmia.studies import snn_robustness as study
  dataset = cliargs.available_dataset(args)
  overrides = dict(dataset=dataset, data_dir=args.data_dir,
                   download=args.download, epochs=args.epochs,
                   attacks=args.attacks, attack_examples=args.examples,
                   references=args.num_references, seed=args.seed,
                   sweep_design=args.sweep_design)
  overrides = {k: v for k, v in overrides.items() if v is not None}
  if args.no_sweep:
    overrides.update(sweep_pooling=(), sweep_encoders=())
  if args.quick:
    raw = tfdata.load_dataset(dataset, data_dir=args.data_dir,
                              download=args.download, seed=args.seed)
    config = study.SnnRobustnessConfig.quick_mode(
        split_sizes=(len(raw.y_train), len(raw.y_test)), **overrides)
  else:
    config = study.SnnRobustnessConfig(**overrides)
  io.check_output_dir(args.out, "--out")
  print(f"SNN robustness study ({cliargs.mode_label(config.quick, overrides)}) "
        f"on {dataset}: spiking VGG-{config.depth}, T = {config.timesteps}, "
        f"ANN / SNN / HIRE-SNN; {', '.join(config.attacks)} at "
        f"eps = {config.eps:.4g}. Output: {args.out}/")
  result = study.run(config, args.out, progress=not args.no_progress,
                     overwrite=args.overwrite,
                     executor=cliargs.executor_from(args))
  cliargs.print_table(result.table(),
                      ["model", "setting", "attack", "accuracy", "ci_low",
                       "ci_high", "zero_input_gradient"])
  print(f"\nMembership leakage (each target against {config.references} "
        "references of its own kind):")
  cliargs.print_table(result.privacy_table(),
                      ["model", "attack", "auc", "auc_ci_low", "auc_ci_high",
                       "tpr_at_1%_fpr"])
  if len(result.sweep):
    print("\nPooling and encoder sweep (white-box):")
    cliargs.print_table(result.sweep_table(),
                        ["pooling", "encoder", "clean", "pgd", "square",
                         "square_beats_pgd", "zero_input_gradient",
                         "zero_encoded_input_gradient"])
  print(f"\nTables and figures are in {args.out}/")
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`tfmia case-study snn-robustness`, as a script of its own."""
  return cliargs.main_of(f"tfmia case-study {NAME}", add_arguments, handle,
                         DESCRIPTION, argv)
