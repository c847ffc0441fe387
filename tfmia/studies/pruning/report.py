"""The pruning study's tables and figures, drawn from its result: one row
per cell (`summary_table`), attack strength against sparsity, the defenses'
privacy–accuracy trade-off, and members' against non-members' confidence
and sensitivity."""

from __future__ import annotations

import numpy as np

from tfmia.infra import fs, io
from tfmia.reporting import plots as plotting


def summary_table(table):
  """Per (cell, adaptive): test accuracy, ε, the strongest mia_prune attack
  by attack accuracy (with its interval), and RMIA's AUC and TPR@1%FPR."""
  import pandas as pd
  from tfmia.attacks.registry import MIA_PRUNE_ATTACKS
  rows = []
  for (cell, adaptive), g in table.groupby(["cell", "adaptive"], sort=False):
    first = g.iloc[0]
    row = {"cell": cell, "adaptive": adaptive, "pruner": first["pruner"],
           "sparsity": first["sparsity"], "defense": first["defense"],
           "test_accuracy": first["test_accuracy"],
           "epsilon": first["epsilon"], "params": first["params"],
           "flops": first["flops"]}
    mp = g[g["attack"].isin(MIA_PRUNE_ATTACKS)]
    if len(mp):
      best = mp.loc[mp["attack_accuracy"].idxmax()]
      row.update(best_attack=best["attack"],
                 attack_accuracy=best["attack_accuracy"],
                 attack_accuracy_ci_low=best["attack_accuracy_ci_low"],
                 attack_accuracy_ci_high=best["attack_accuracy_ci_high"])
    for name in ("rmia", "lira_offline"):
      r = g[g["attack"] == name]
      if len(r):
        r = r.iloc[0]
        for col in ("auc", "auc_ci_low", "auc_ci_high", "tpr_at_1%_fpr",
                    "tpr_at_1%_fpr_ci_low", "tpr_at_1%_fpr_ci_high"):
          row[f"{name}_{col}"] = r[col]
    rows.append(row)
  return pd.DataFrame(rows)


def _errors(rows, col):
  """(2, n) distances from `col` to its 95% interval, zeros where the
  summary has none."""
  y = np.asarray(rows[col], float)
  if f"{col}_ci_low" not in rows:
    return np.zeros((2, len(y)))
  lo = np.asarray(rows[f"{col}_ci_low"], float)
  hi = np.asarray(rows[f"{col}_ci_high"], float)
  return np.nan_to_num(np.vstack([y - lo, hi - y]))


def plot_attack_vs_sparsity(summary):
  """Attack strength against sparsity, one line per pruner (no defense):
  the strongest mia_prune attack's accuracy, and RMIA's AUC, each with its
  95% interval; solid non-adaptive, dashed adaptive. Sparsity 0 is the
  original model; 0.5 is chance for both."""
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  plain = summary[summary["defense"] == "none"]
  original = plain[plain["pruner"] == "none"]
  pruners = [p for p in plain["pruner"].unique() if p != "none"]
  for ax, col, label in ((axes[0], "attack_accuracy",
                          "best mia_prune attack's accuracy"),
                         (axes[1], "rmia_auc", "RMIA AUC")):
    if col not in summary:
      ax.set_visible(False)
      continue
    for i, pruner in enumerate(pruners):
      for adaptive, style in ((False, "-"), (True, "--")):
        g = plain[(plain["pruner"] == pruner)
                  & (plain["adaptive"] == adaptive)].sort_values("sparsity")
        rows = pd_concat(original.iloc[:1], g)
        # Side by side, so the intervals of the two variants do not hide
        # each other.
        dx = (i * 2 + adaptive - len(pruners) + 0.5) * 0.006
        ax.errorbar(np.asarray([0.0] + list(g["sparsity"])) + dx, rows[col],
                    yerr=_errors(rows, col), fmt=style, marker="o",
                    markersize=4, capsize=2, color=f"C{i}",
                    label=f"{pruner}{' (adaptive)' if adaptive else ''}")
    plotting.chance_line(ax, 0.5)
    ax.set_xlabel("sparsity (0 = original)")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
  visible = [ax for ax in axes if ax.get_visible()]
  if visible:
    plotting.legend_outside(visible[-1], fontsize=8)
  fig.suptitle("Membership leakage after pruning (bars: 95% CI)")
  plotting.tight_layout(fig)
  return fig


def pd_concat(first, rest):
  import pandas as pd
  return pd.concat([first, rest], ignore_index=True)


def plot_privacy_tradeoff(summary):
  """Test accuracy against attack strength for each defense at the
  defended cells (adaptive attacks), with 95% intervals; ε written beside
  DP-SGD's points, placed so that no two labels overlap; 0.5 is the
  attack's chance level."""
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(6.5, 4.5))
  pruned = summary[(summary["pruner"] != "none") & summary["adaptive"]]
  defended = pruned[pruned["defense"] != "none"]["cell"]
  keys = {c.rsplit("_", 1)[0] for c in defended}
  y = "attack_accuracy" if "attack_accuracy" in summary else "rmia_auc"
  labels = []
  for i, d in enumerate(sorted(pruned["defense"].unique())):
    g = pruned[(pruned["defense"] == d)
               & pruned["cell"].map(lambda c: c.rsplit("_", 1)[0] in keys)]
    ax.errorbar(g["test_accuracy"], g[y], yerr=_errors(g, y), fmt="o",
                color=f"C{i}", label=d, markersize=6, capsize=2)
    for _, r in g.iterrows():
      if r["epsilon"] is not None and np.isfinite(r["epsilon"] or np.nan):
        labels.append((r["test_accuracy"], r[y], f"ε={r['epsilon']:.1f}"))
  orig = summary[summary["pruner"] == "none"]
  ax.scatter(orig["test_accuracy"], orig[y], marker="*", s=120, color="k",
             label="original", zorder=3)
  plotting.chance_line(ax, 0.5, label="attack chance")
  ax.set_xlabel("test accuracy")
  ax.set_ylabel(y.replace("_", " ") + " (bars: 95% CI)")
  ax.set_title("Privacy–accuracy trade-off of the defenses (adaptive)")
  ax.grid(alpha=0.3)
  plotting.legend_outside(ax, fontsize=8)
  fig.tight_layout()
  if labels:
    xs, ys, texts = zip(*labels)
    plotting.label_points(ax, xs, ys, texts)
  return fig


def plot_member_histograms(hist):
  """Log-scale histograms of member and non-member confidence and
  sensitivity, original against pruned (mia_prune's divergence plot)."""
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(2, 2, figsize=(10, 7))
  label = str(hist.get("pruned_label", "pruned"))
  for row, model in enumerate(("original", "pruned")):
    for col, what in enumerate(("confidence", "sensitivity")):
      ax = axes[row, col]
      m = np.asarray(hist[f"{model}_member_{what}"], float)
      n = np.asarray(hist[f"{model}_nonmember_{what}"], float)
      both = np.concatenate([m, n])
      both = both[np.isfinite(both)]
      if not len(both):
        ax.set_visible(False)
        continue
      bins = np.linspace(both.min(), both.max(), 40)
      ax.hist(m, bins=bins, alpha=0.6, label="members", log=True)
      ax.hist(n, bins=bins, alpha=0.6, label="non-members", log=True)
      ax.set_title(f"{'original' if row == 0 else label}: {what}")
  for ax in axes[0, ::-1]:
    if ax.get_visible():          # one legend, outside the top-right panel
      plotting.legend_outside(ax, fontsize=8)
      break
  fig.tight_layout()
  return fig


def write(result, out: fs.PathLike) -> None:
  """results.csv (every attack), table.csv (one row per cell),
  summary.json, histograms.npz and the three figures."""
  out = fs.path(out)
  table = result.table()
  io.atomic_write_csv(table, out / "results.csv", index=False,
                      float_format="%.6g")
  summary = summary_table(table)
  io.atomic_write_csv(summary, out / "table.csv", index=False,
                      float_format="%.4f")
  io.atomic_write_json(out / "summary.json",
                       {"cells": summary.to_dict(orient="records")})
  io.atomic_save_npz(out / "histograms.npz", **result.histograms)
  plotting.save_figure(plot_attack_vs_sparsity(summary),
                       out / "attack_vs_sparsity.png")
  plotting.save_figure(plot_privacy_tradeoff(summary), out / "tradeoff.png")
  plotting.save_figure(plot_member_histograms(result.histograms),
                       out / "histograms.png")

