"""`tfmia attack`: attack a trained model or saved logits."""

from __future__ import annotations

import argparse

from tfmia import cliargs

NAME = "attack"
HELP = "attack a trained model or saved logits"
DESCRIPTION = ("Attack a run folder written by `tfmia train`, or an npz of "
               "a model's saved outputs (logits, probabilities or losses) "
               "with `labels` and `is_member`. Writes summary.csv, "
               "results.{json,npz}, roc.png and config.json.")


def add_arguments(p: argparse.ArgumentParser) -> None:
  src = p.add_mutually_exclusive_group(required=True)
  cliargs.add_run(src, required=False)
  src.add_argument("--logits", type=cliargs.path_arg, metavar="NPZ",
                   help="npz of saved outputs: logits (n,k), probabilities "
                        "(n,k) or loss (n,), with labels (n,) and "
                        "is_member (n,)")
  p.add_argument("--outputs", default="auto",
                 choices=("auto", "logits", "probabilities", "loss"),
                 help="what the --logits npz holds (default: the one of "
                      "logits, probabilities, loss it has); losses feed "
                      "only the attacks that read the loss or p_y")
  p.add_argument("--population", type=cliargs.path_arg, metavar="NPZ",
                 help="npz of the same outputs and labels on data the "
                      "target never saw, for attack_p")
  p.add_argument("--attacks", type=cliargs.csv,
                 default=("threshold", "threshold_entropy",
                          "logistic_regression"))
  p.add_argument("--by-class", action="store_true", help="slice by class")
  p.add_argument("--by-correctness", action="store_true",
                 help="slice by classification correctness")
  cliargs.add_data_dir(p, help="override the run's tfds data directory")
  cliargs.add_seed(p)
  cliargs.add_out(p, help="results folder (default: RUN/attack, or beside "
                          "the npz)")
  cliargs.add_no_progress(p)


def handle(args: argparse.Namespace) -> int:

  from tfmia.attacks import SlicingConfig, check_names
  from tfmia.audits import audit as audit_lib
  from tfmia.infra import io
  from tfmia.reporting import tables as reports
  attacks = check_names(args.attacks)
  slicing = SlicingConfig(by_class=args.by_class,
                          by_classification_correctness=args.by_correctness)
  out = args.out or (args.run / "attack" if args.run is not None
                     else args.logits.with_suffix(""))
  source_path = args.run if args.run is not None else args.logits
  if not source_path.exists():
    raise FileNotFoundError(2, "No such run folder or logits file",
                            str(source_path))
  if args.run is not None and not args.run.is_dir():
    raise NotADirectoryError(20, "--run must be a folder written by "
                             "`tfmia train`, but this is a file",
                             str(args.run))
  if args.run is not None and (args.population is not None
                               or args.outputs != "auto"):
    raise ValueError("--outputs and --population go with --logits; a run "
                     "is attacked on its own train and test splits.")
  io.check_output_dir(out, "--out")   # before any work
  if args.run is not None:
    res, source = audit_lib.attack_run(args.run, attacks, slicing=slicing,
                                       seed=args.seed, data_dir=args.data_dir)
  else:
    res, source = audit_lib.attack_logits_file(
        args.logits, attacks, outputs=args.outputs,
        population=args.population, slicing=slicing, seed=args.seed)
  reports.write_attack(res, out, {"source": source, "attacks": attacks,
                                  "slicing": slicing, "seed": args.seed})
  cliargs.print_table(res.to_dataframe(),
                      ["attack", "slice", "auc", "auc_ci_low", "auc_ci_high",
                       "advantage", "tpr_at_0.1%_fpr", "tpr_at_1%_fpr", "ppv_at_1%_fpr",
                       "epsilon_lower_bound"])
  print(f"\nResults are in {out}/")
  return 0
