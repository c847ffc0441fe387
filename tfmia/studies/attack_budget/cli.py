"""`tfmia case-study attack-budget`: the study's flags and what they run."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

from tfmia import cliargs

NAME = "attack-budget"
HELP = ("every attack at K = 0, 1, 2, 4, 8, 16 reference models (trained "
        "together): which attack to run at which budget")
DESCRIPTION = ("Trains, per dataset, one folder of models on random halves "
               "of a pool, 8 at a time in one graph, recording each "
               "model's loss trace; attacks 3 targets with the first K "
               "reference models for each K. Writes results.csv (every "
               "seed, with 95% bootstrap intervals), summary.csv, best.csv "
               "(the leading attack at each K), lt_iqr.csv (LT-IQR against "
               "LiRA's vulnerable members) and power_vs_budget.png. "
               "Resumable.")


def add_arguments(p: argparse.ArgumentParser) -> None:
  cliargs.add_quick(p, help="CIFAR-10 (2,000 pool images, conv, 40 epochs) "
                            "and synthetic Purchase (8,000 rows, 2x256 MLP): "
                            "about 10 minutes on 2 CPU cores")
  p.add_argument("--dataset", type=cliargs.csv, default=None,
                 help="which of the mode's datasets to run, comma-separated "
                      "(default: cifar10,purchase_synthetic)")
  p.add_argument("--ks", type=cliargs.csv, default=None,
                 help="reference-model budgets (default: 0,1,2,4,8,16)")
  p.add_argument("--seeds", type=cliargs.positive_int, default=None,
                 help="targets attacked per dataset (default: 3)")
  p.add_argument("--attacks", type=cliargs.csv, default=None,
                 help="attacks (default: every registry attack the study "
                      "can run)")
  p.add_argument("--together", type=cliargs.positive_int, default=None,
                 help="models trained at once in one graph (default: 8)")
  p.add_argument("--epochs", type=cliargs.positive_int, default=None,
                 help="training epochs of every dataset's models")
  cliargs.add_data_dir(p)
  cliargs.add_seed(p)
  cliargs.add_executor_args(p, "the reference models (one unit per stack)")
  cliargs.add_study_out(p, "plots/attack_budget")
  cliargs.add_no_progress(p)


def _ints(values, flag):
  try:
    return tuple(int(v) for v in values)
  except ValueError:
    raise ValueError(f"{flag} takes integers. Received: "
                     f"{','.join(values)}") from None


def handle(args: argparse.Namespace) -> int:

  import dataclasses
  from tfmia.infra import io
  from tfmia.studies import attack_budget as study
  overrides = dict(
      ks=_ints(args.ks, "--ks") if args.ks else None, seeds=args.seeds,
      attacks=tuple(args.attacks) if args.attacks else None,
      together=args.together, data_dir=args.data_dir, seed=args.seed)
  overrides = {k: v for k, v in overrides.items() if v is not None}
  base = study.QUICK_SETTINGS if args.quick else study.FULL_SETTINGS
  settings = base
  if args.dataset:
    known = {s.dataset: s for s in base}
    unknown = [d for d in args.dataset if d not in known]
    if unknown:
      raise ValueError(f"--dataset: {unknown} is not among this mode's "
                       f"datasets {list(known)}")
    settings = tuple(known[d] for d in args.dataset)
  if args.epochs is not None:
    settings = tuple(dataclasses.replace(s, epochs=args.epochs)
                     for s in settings)
  if settings != base:
    overrides["settings"] = settings
  config = (study.BudgetConfig.quick_mode(**overrides) if args.quick
            else study.BudgetConfig(**overrides))
  for s in config.settings:
    cliargs.check_offline(s.dataset, args.data_dir,
                          instead="--dataset purchase_synthetic")
  io.check_output_dir(args.out, "--out")
  mode = cliargs.mode_label(config.quick, {k: v for k, v in overrides.items()
                                           if k != "settings"})
  print(f"Attack-budget case study ({mode}): "
        f"{', '.join(s.dataset for s in config.settings)}; K = "
        f"{', '.join(map(str, config.ks))}; {config.seeds} seeds; "
        f"{len(config.attack_names())} attacks; "
        f"{config.num_models + 1} models per dataset, {config.together} "
        f"together. Output: {args.out}/", flush=True)
  result = study.run(config, args.out, progress=not args.no_progress,
                     overwrite=args.overwrite,
                     executor=cliargs.executor_from(args))
  print()
  cliargs.print_table(result.best(), list(result.best().columns))
  print(f"\nTables and power_vs_budget.png are in {args.out}/")
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`tfmia case-study attack-budget`, as a script of its own."""
  return cliargs.main_of(f"tfmia case-study {NAME}", add_arguments, handle,
                         DESCRIPTION, argv)
