"""The attack-budget study's tables and figure, drawn from its rows: power
against the number of trained reference models, one line per attack; the
mean over seeds and the seeds' range; which attack leads at each budget."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfmia.infra import fs, io
from tfmia.reporting import plots as plotting

METRICS = (("auc", "AUC", 0.5), ("tpr_at_1%_fpr", "TPR at 1% FPR", 0.01),
           ("tpr_at_0.1%_fpr", "TPR at 0.1% FPR", 0.001))
# The attacks drawn in the figure (all are in the tables): one per family.
DRAWN = ("threshold", "attack_p", "quantile", "attack_r",
         "rmia", "rmia_online", "lira_offline", "lira", "bavaria_t_offline",
         "bavaria_t", "bavaria_n")


def summary(rows: pd.DataFrame) -> pd.DataFrame:
  """Per dataset, K and attack: each metric's mean over seeds and its
  range (min, max) across seeds."""
  cols = [m for m, _, _ in METRICS]
  g = rows.groupby(["dataset", "k", "attack"], sort=False)
  out = g[cols].mean()
  for c in cols:
    out[f"{c}_min"] = g[c].min()
    out[f"{c}_max"] = g[c].max()
  out["seeds"] = g.size()
  return out.reset_index()


def best(rows: pd.DataFrame, metric: str = "tpr_at_1%_fpr") -> pd.DataFrame:
  """At each dataset and K, the attack of highest mean `metric`, and the
  runner-up, with their means."""
  s = summary(rows)
  out = []
  for (dataset, k), g in s.groupby(["dataset", "k"], sort=False):
    g = g.sort_values([metric, "auc"], ascending=False)
    first = g.iloc[0]
    second = g.iloc[1] if len(g) > 1 else None
    out.append(dict(
        dataset=dataset, k=int(k), best=first.attack,
        **{f"best_{metric}": first[metric], "best_auc": first.auc},
        runner_up=None if second is None else second.attack,
        **{f"runner_up_{metric}": (np.nan if second is None
                                   else second[metric])}))
  return pd.DataFrame(out)


def plot_power_vs_budget(rows: pd.DataFrame, *, drawn=DRAWN,
                         title: str = "Attack power against the number of "
                                      "reference models"):
  """One row of panels per dataset (AUC, TPR at 1% and 0.1% FPR) against K
  on evenly spaced positions; markers at the mean over seeds, bars from
  the lowest to the highest seed."""
  s = summary(rows)
  datasets = list(dict.fromkeys(s.dataset))
  ks = sorted(s.k.unique())
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(len(datasets), len(METRICS),
                           figsize=(4.6 * len(METRICS) + 2.6,
                                    3.4 * len(datasets)),
                           squeeze=False)
  attacks = [a for a in drawn if a in set(s.attack)]
  colours = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(attacks), 1)))
  for r, dataset in enumerate(datasets):
    d = s[s.dataset == dataset]
    for c, (metric, label, chance) in enumerate(METRICS):
      ax = axes[r, c]
      # TPRs on a log axis: a 0 is drawn at the axis floor, half the
      # chance level (said in the title).
      floor = None if metric == "auc" else chance / 2
      for i, attack in enumerate(attacks):
        a = d[d.attack == attack].sort_values("k")
        if not len(a):
          continue
        x = [ks.index(k) + (i - len(attacks) / 2) * 0.02 for k in a.k]
        mid, lo, hi = (a[metric], a[f"{metric}_min"], a[f"{metric}_max"])
        if floor is not None:
          mid, lo, hi = (np.maximum(v, floor) for v in (mid, lo, hi))
        ax.errorbar(x, mid, yerr=[mid - lo, hi - mid], marker="o", ms=3,
                    lw=1, capsize=2, color=colours[i], label=attack)
      plotting.chance_line(ax, chance)
      if floor is not None:
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor * 0.9)
      ax.set_xticks(range(len(ks)), [str(k) for k in ks])
      ax.set_xlabel("reference models trained (K)")
      ax.set_ylabel(label)
      ax.set_title(f"{dataset}: {label}", fontsize=10)
  plotting.legend_outside(axes[0, -1])
  fig.suptitle(f"{title}\n(mean over seeds; bars: lowest to highest seed; "
               "a TPR of 0 is drawn at half the chance level)", fontsize=11)
  plotting.tight_layout(fig)
  return fig


def write(result, config, out) -> None:
  """Writes results.csv, summary.csv, best.csv, lt_iqr.csv, training.json
  and the figure into `out`."""
  out = fs.path(out)
  io.atomic_write_json(out / "training.json", result.training)
  for name, df in (("results.csv", result.results),
                   ("summary.csv", summary(result.results)),
                   ("best.csv", best(result.results)),
                   ("lt_iqr.csv", result.lt_iqr)):
    io.atomic_write_csv(df, out / name, index=False)
  plotting.save_figure(plot_power_vs_budget(result.results),
                       out / "power_vs_budget.png")
