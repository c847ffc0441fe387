"""`--seeds` for a study's command line: the study once per seed, then
seeds_summary.csv and its table on stdout (`tfmia.studies.seeds` does the
work)."""

from __future__ import annotations

import argparse
from typing import Callable, Sequence

from tfmia.infra import io
from tfmia import cliargs
from tfmia.studies import seeds as seeds_lib


def over_seeds(run: Callable, config, args: argparse.Namespace, raw,
               table_of: Callable, keys: Sequence[str]) -> int:
  """A study once per seed (`--seeds`), then seeds_summary.csv: per cell
  (`keys`) the spread across seeds beside the mean bootstrap interval."""

  results = seeds_lib.run_over_seeds(
      run, config, args.out, args.seeds, raw=raw, overwrite=args.overwrite,
      progress=not args.no_progress)
  table = seeds_lib.spread_table({s: table_of(r) for s, r in results.items()},
                                 keys, ["auc", "tpr_at_1%_fpr"])
  io.atomic_write_csv(table, args.out / seeds_lib.SUMMARY_FILE, index=False)
  print()
  cliargs.print_table(table, [*keys, "num_seeds", "auc_mean", "auc_std",
                      "auc_ci_low_mean", "auc_ci_high_mean",
                      "tpr_at_1%_fpr_mean", "tpr_at_1%_fpr_std"])
  print(f"\nPer seed: {args.out}/seed_<s>/; across seeds: "
        f"{args.out / seeds_lib.SUMMARY_FILE}")
  return 0
