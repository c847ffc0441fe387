"""`tfmia case-study dp-audit`: the study's flags and what they run."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

from tfmia import cliargs

NAME = "dp-audit"
HELP = ("the accountant's ε beside empirical ε lower bounds (one-run "
        "canary audits, RMIA) at several DP-SGD noise levels")
DESCRIPTION = ("Trains one model per accountant ε (DP-SGD; 'inf' = no "
               "DP) with mislabelled and with natural canaries, each "
               "included by a fair coin; bounds ε from one training run "
               "(Steinke et al.), and from RMIA with reference models "
               "trained the same way. Writes results.csv, dp_audit.png "
               "(bounds against the accountant, with the diagonal) and "
               "guesses.png. Resumable.")


def add_arguments(p: argparse.ArgumentParser) -> None:
  cliargs.add_data_args(p, default_dataset=None, sizes=False,
                        dataset_help="digits (quick default) or a "
                                     "tensorflow-datasets name (full "
                                     "default: cifar10)")
  cliargs.add_quick(p, help="digits, a 4x128 MLP, 500 canaries, 40 epochs, "
                            "2 references: about 2 minutes on 2 CPU cores")
  p.add_argument("--epsilons", type=cliargs.csv, default=None,
                 help="accountant ε per model, 'inf' for no DP "
                      "(default: inf,8,4,1)")
  p.add_argument("--delta", type=float, default=None,
                 help="δ of every ε (default: 1e-5)")
  p.add_argument("--canaries", type=cliargs.positive_int, default=None,
                 help="canaries of each kind (quick: 500, full: 1000)")
  p.add_argument("--canary-kinds", type=cliargs.csv, default=None,
                 help="mislabelled,natural (default: both)")
  p.add_argument("--selection", default=None,
                 choices=("holdout", "bonferroni"),
                 help="how the one-run audit picks its guesses without a "
                      "free search (default: holdout)")
  cliargs.add_num_references(p, aliases=("--references",),
                             help="RMIA reference models (even; 0 skips "
                                  "RMIA; full: 4, quick: 2)")
  p.add_argument("--model", default=None)
  p.add_argument("--epochs", type=cliargs.positive_int, default=None)
  cliargs.add_executor_args(p, "every model (one-run audits, references)")
  cliargs.add_study_out(p, "plots/dp_audit")
  cliargs.add_no_progress(p)


def _epsilon(text: str):
  if text.lower() in ("inf", "none", "nondp"):
    return None
  try:
    return float(text)
  except ValueError:
    raise ValueError(f"--epsilons takes numbers or 'inf'. Received: "
                     f"{text!r}") from None


def handle(args: argparse.Namespace) -> int:

  from tfmia.infra import io
  from tfmia.studies import dp_audit as study
  overrides = dict(
      dataset=args.dataset, data_dir=args.data_dir, download=args.download,
      epsilons=(tuple(_epsilon(e) for e in args.epsilons)
                if args.epsilons else None),
      delta=args.delta, num_canaries=args.canaries,
      canary_kinds=args.canary_kinds, selection=args.selection,
      references=args.num_references, model=args.model, epochs=args.epochs,
      seed=args.seed)
  overrides = {k: v for k, v in overrides.items() if v is not None}
  if args.model is not None:
    overrides["model_kwargs"] = ()
  config = (study.DpAuditStudyConfig.quick_mode(**overrides) if args.quick
            else study.DpAuditStudyConfig(**overrides))
  cliargs.check_offline(config.dataset, args.data_dir,
                        download=args.download, instead="--dataset digits")
  io.check_output_dir(args.out, "--out")
  mode = cliargs.mode_label(config.quick, overrides)
  print(f"DP-audit case study ({mode}) on {config.dataset}: "
        f"{len(config.epsilons)} models, {config.num_canaries} canaries of "
        f"each kind ({', '.join(config.canary_kinds)}), δ = {config.delta:g}. "
        f"Output: {args.out}/", flush=True)
  result = study.run(config, args.out, progress=not args.no_progress,
                     overwrite=args.overwrite,
                     executor=cliargs.executor_from(args))
  print()
  cliargs.print_table(result.table(),
                      ["model", "accountant_epsilon", "one_run_mislabelled",
                       "one_run_mislabelled_uncorrected", "one_run_natural",
                       "one_run_natural_uncorrected", "rmia_roc_epsilon",
                       "rmia_one_run_epsilon", "test_accuracy_natural"])
  print(f"\nML Privacy Meter (CIFAR-10, 1,000 canaries, its grid search "
        f"uncorrected): non-DP ε̂ {study.ANCHOR[('mislabelled', 'nondp')]} "
        f"(mislabelled), {study.ANCHOR[('natural', 'nondp')]} (natural); "
        f"DP ε = {study.ANCHOR_DP_EPSILON}: "
        f"{study.ANCHOR[('mislabelled', 'dp')]}, "
        f"{study.ANCHOR[('natural', 'dp')]}.")
  print(f"Figures and results.csv are in {args.out}/")
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`tfmia case-study dp-audit`, as a script of its own."""
  return cliargs.main_of(f"tfmia case-study {NAME}", add_arguments, handle,
                         DESCRIPTION, argv)
