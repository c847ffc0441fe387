"""Running a study over several seeds, and the spread across them.

A study run with `--seeds 0,1,2` is run once per seed, each in its own
folder (`out/seed_<s>/`, resumable like any study folder), and
`seeds_summary.csv` gives per cell the mean and the spread (standard
deviation, min, max) of each metric across seeds, next to the mean of the
per-seed 95% bootstrap intervals. A difference smaller than both the spread
and the intervals is a tie.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tfmia.infra import fs
from typing import Callable, Sequence

SUMMARY_FILE = "seeds_summary.csv"


def check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
  seeds = tuple(seeds)
  if not seeds or any(not isinstance(s, int) or s < 0 for s in seeds):
    raise ValueError("`seeds` must be non-negative ints. "
                     f"Received: seeds={seeds!r}")
  if len(set(seeds)) != len(seeds):
    raise ValueError(f"`seeds` must not repeat. Received: seeds={seeds!r}")
  return seeds


def seed_dir(out, seed: int) -> Path:
  return fs.path(out) / f"seed_{seed}"


def run_over_seeds(run: Callable, config, out, seeds: Sequence[int],
                   **kwargs) -> dict:
  """`run(config with seed s, out/seed_<s>, **kwargs)` for each seed;
  returns seed -> result."""
  return {s: run(dataclasses.replace(config, seed=s), seed_dir(out, s),
                 **kwargs) for s in check_seeds(seeds)}


def spread_table(tables: dict, keys: Sequence[str],
                 metrics: Sequence[str]):
  """Per cell (`keys`), each metric's mean, std (ddof=1; 0 for one seed),
  min and max across seeds, and the mean of its per-seed bootstrap bounds
  (`<metric>_ci_low` / `_ci_high`) where the tables have them.

  Args:
    tables: seed -> a DataFrame with one row per cell.
    keys: the columns naming a cell.
    metrics: the metric columns.
  """
  import pandas as pd
  df = pd.concat([t.assign(seed=s) for s, t in tables.items()],
                 ignore_index=True)
  g = df.groupby(list(keys), sort=False)
  parts = [g.size().rename("num_seeds")]
  for m in metrics:
    parts += [g[m].mean().rename(f"{m}_mean"),
              g[m].std(ddof=1).fillna(0.0).rename(f"{m}_std"),
              g[m].min().rename(f"{m}_min"), g[m].max().rename(f"{m}_max")]
    for bound in ("ci_low", "ci_high"):
      if f"{m}_{bound}" in df.columns:
        parts.append(g[f"{m}_{bound}"].mean().rename(f"{m}_{bound}_mean"))
  return pd.concat(parts, axis=1).reset_index()
