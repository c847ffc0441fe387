"""The SNN-robustness study's tables and figures, drawn from its result:
accuracy under attack per model, membership leakage per model, and the
sweep's input-gradient sparsity."""

from __future__ import annotations

import numpy as np

from tfmia.infra import fs, io
from tfmia.reporting import plots as plotting


def plot_privacy_models(table, *, title: str = "Membership leakage"):
  """Attack AUC (bars) and TPR at 1% FPR (points on a log axis, 0 drawn at
  its floor, 10⁻³) per attack, one per model, with 95% intervals. `table`
  has model, attack, auc, auc_ci_low, auc_ci_high and (optionally) the TPR
  columns with their intervals."""
  import matplotlib.pyplot as plt
  df = table
  attacks = list(dict.fromkeys(df["attack"]))
  names = list(dict.fromkeys(df["model"]))
  metrics = [m for m in ("auc", "tpr_at_1%_fpr") if m in df.columns]
  fig, axes = plt.subplots(1, len(metrics),
                           figsize=(max(5, 1.6 * len(attacks)) * len(metrics),
                                    4), squeeze=False)
  width = 0.8 / max(1, len(names))
  for ax, metric in zip(axes[0], metrics):
    for j, m in enumerate(names):
      val, lo, hi = [], [], []
      for a in attacks:
        r = df[(df["model"] == m) & (df["attack"] == a)]
        v = float(r[metric].iloc[0]) if len(r) else np.nan
        val.append(v)
        lo.append(float(r[f"{metric}_ci_low"].iloc[0])
                  if len(r) and f"{metric}_ci_low" in r else v)
        hi.append(float(r[f"{metric}_ci_high"].iloc[0])
                  if len(r) and f"{metric}_ci_high" in r else v)
      val, lo, hi = map(np.asarray, (val, lo, hi))
      pos = np.arange(len(attacks)) + (j - (len(names) - 1) / 2) * width
      err = np.vstack([np.clip(val - lo, 0, None), np.clip(hi - val, 0, None)])
      if metric == "auc":
        ax.bar(pos, val, width, capsize=3, label=m, color=f"C{j}", yerr=err)
      else:   # low TPRs are read on a log axis: points, 0 at the floor
        v, l, h = (np.maximum(a, _TPR_FLOOR) for a in (val, lo, hi))
        ax.errorbar(pos, v, yerr=np.vstack([v - l, h - v]), fmt="o",
                    capsize=3, label=m, color=f"C{j}")
    if metric != "auc":
      ax.set_yscale("log")
      ax.set_ylim(_TPR_FLOOR / 1.5, 1.0)
    plotting.chance_line(ax, 0.5 if metric == "auc" else 0.01)
    ax.set_xticks(np.arange(len(attacks)))
    ax.set_xticklabels(attacks)
    ax.set_ylabel({"auc": "MIA AUC",
                   "tpr_at_1%_fpr": "TPR at 1% FPR (0 at the floor)"}[metric])
    ax.grid(alpha=0.3, axis="y")
  plotting.legend_outside(axes[0][-1], fontsize=8)
  fig.suptitle(f"{title} (bars: 95% CI)")
  plotting.tight_layout(fig)
  return fig


_TPR_FLOOR = 1e-3


def plot_gradient_sparsity(table, *, attack: str = "pgd",
                           title: str = "Input-gradient sparsity"):
  """grad-obf-snn's view: each model's fraction of zero input-gradient
  entries against its robust (`attack`) and its clean accuracy, one point
  per pooling and encoder. A red ring marks a model where the gradient-free
  Square attack fooled examples that `attack` left correct (its robust
  accuracy rests on masked gradients). `table` has pooling, encoder,
  zero_input_gradient, clean, `attack` and square_beats_pgd columns."""
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
  markers = {"avg": "o", "max": "s"}
  encoders = list(dict.fromkeys(table["encoder"])) if len(table) else []
  for ax, col, label in ((axes[0], attack, f"{attack} accuracy (white-box)"),
                         (axes[1], "clean", "clean accuracy")):
    for _, r in table.iterrows():
      c = f"C{encoders.index(r['encoder'])}"
      ax.scatter(r["zero_input_gradient"], r[col], c=c, s=50,
                 marker=markers.get(r["pooling"], "o"))
      beats = r.get("square_beats_pgd")
      if beats is not None and np.isfinite(beats) and beats > 0:
        ax.scatter(r["zero_input_gradient"], r[col], s=180,
                   facecolors="none", edgecolors="red", linewidths=1.5)
    ax.set_xlabel("fraction of zero input-gradient entries")
    ax.set_ylabel(label)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
  from matplotlib.lines import Line2D
  handles = ([Line2D([], [], marker=markers[p], ls="", color="k", label=p)
              for p in markers if p in set(table.get("pooling", []))]
             + [Line2D([], [], marker="o", ls="", color=f"C{i}", label=e)
                for i, e in enumerate(encoders)]
             + [Line2D([], [], marker="o", ls="", mfc="none", mec="red",
                       markersize=10, label="Square beats PGD")])
  plotting.legend_outside(axes[1], handles=handles, fontsize=8)
  fig.suptitle(title)
  plotting.tight_layout(fig)
  for ax, col in ((axes[0], attack), (axes[1], "clean")):
    if len(table):
      plotting.label_points(ax, table["zero_input_gradient"], table[col],
                            [f"{p}/{e}" for p, e in
                             zip(table["pooling"], table["encoder"])],
                            fontsize=7)
  return fig



def write(result, out: fs.PathLike) -> None:
  """results.csv, privacy.csv, sweep.csv, results.json, robustness.png,
  privacy.png and sparsity.png of an SnnRobustnessResult."""
  out = fs.path(out)
  table = result.table()
  io.atomic_write_csv(table, out / "results.csv", index=False,
                      float_format="%.4f")
  io.atomic_write_csv(result.privacy_table(), out / "privacy.csv", index=False,
                      float_format="%.4f")
  io.atomic_write_csv(result.sweep_table(), out / "sweep.csv", index=False,
                      float_format="%.4f")
  io.atomic_write_json(out / "results.json", {
      "rows": list(result.rows), "privacy": list(result.privacy),
      "sweep": list(result.sweep)})
  plotting.save_figure(plotting.plot_robustness_models(table),
                       out / "robustness.png")
  plotting.save_figure(plot_privacy_models(result.privacy_table()),
                       out / "privacy.png")
  plotting.save_figure(plot_gradient_sparsity(result.sweep_table()),
                       out / "sparsity.png")
