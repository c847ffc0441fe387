"""The SNN-MIA study's tables and figures, drawn from its result: leakage
and accuracy against T, per model."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from tfmia.infra import fs, io
from tfmia.reporting import plots as plotting


def plot_leakage_vs_timesteps(results: Mapping, timesteps: Sequence[int],
                              attacks: Sequence[str], *,
                              mixed_attacks: Sequence[str] = (),
                              dropout: bool = False, axes=None,
                              title: str = ""):
  """AUC (left) and TPR at 1% FPR (right) of an SNN against T.

  One solid line per attack (SNN target, SNN references), the ANN as a
  dashed horizontal line and, for `mixed_attacks`, the SNN target with ANN
  references dotted.

  Args:
    results: {(setting, dropout): AttackResults}, settings "ann",
      "snn_T{t}", "snn_T{t}_ann_refs" and, when present, "ann_matched_T{t}"
      (the ANN checkpoint at the SNN's test accuracy, drawn with triangles).
    timesteps: the T values.
    attacks: attack names to draw.
    mixed_attacks: attacks that use references (drawn with ANN ones too).
    dropout: which input-dropout setting to draw.
    axes: two Axes; new ones when None.
  """
  ts = list(timesteps)
  floor = [1.0]

  def draw(ax, metric, label):
    key = "auc" if metric == "auc" else "tpr_at_1%_fpr"

    def point(setting):
      r = results[setting, dropout].get(attack)
      floor[0] = min(floor[0], 1.0 / max(r.num_nonmembers, 1))
      v = r.auc if metric == "auc" else r.tpr_at_fpr(0.01)
      lo, hi = r.confidence_intervals[key]
      return v, lo, hi

    def line(settings, fmt, **kw):
      v, lo, hi = (np.asarray(a, float) for a in
                   zip(*(point(s_) for s_ in settings)))
      if metric != "auc":   # a TPR of 0 sits at the log axis' floor
        v, lo, hi = (np.maximum(a, floor[0]) for a in (v, lo, hi))
      ax.errorbar(ts, v, yerr=np.vstack([v - lo, hi - v]), fmt=fmt,
                  capsize=2, markersize=5, **kw)

    for i, attack in enumerate(attacks):
      color = f"C{i}"
      line([f"snn_T{t}" for t in ts], "o-", color=color,
           label=f"{attack}, SNN refs")
      if attack in mixed_attacks:
        line([f"snn_T{t}_ann_refs" for t in ts], "s:", color=color,
             label=f"{attack}, ANN refs")
      v, lo, hi = point("ann")
      if metric != "auc":
        v, lo, hi = (max(a, floor[0]) for a in (v, lo, hi))
      ax.axhline(v, color=color, linestyle="--", linewidth=1,
                 label=f"{attack}, ANN")
      ax.axhspan(lo, hi, color=color, alpha=0.08, linewidth=0)
      if all((f"ann_matched_T{t}", dropout) in results for t in ts):
        line([f"ann_matched_T{t}" for t in ts], "^--", color=color,
             alpha=0.6, label=f"{attack}, ANN at the SNN's accuracy")
    plotting.chance_line(ax, 0.5 if metric == "auc" else 0.01)
    if metric != "auc":
      # TPR at low FPR is read on a log axis; 0 is drawn at the floor, one
      # non-member's share.
      ax.set_yscale("log")
      ax.set_ylim(bottom=floor[0] / 1.5, top=1.0)
    ax.set_xticks(ts)
    ax.set_xlabel("Timesteps T")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)

  return plotting.two_panels(
      lambda ax: draw(ax, "auc", "MIA AUC"),
      lambda ax: (draw(ax, "tpr", "TPR at 1% FPR (0 at the floor)"),
                  plotting.legend_outside(ax, fontsize="x-small")),
      axes=axes,
      title=f"{title}: membership leakage of the SNN against T "
            f"({'with' if dropout else 'without'} input-dropout calibration;"
            " bars and bands: 95% CI)")


def plot_accuracy_sops(accuracy: Mapping, sops: Mapping, ann_macs: float,
                       timesteps: Sequence[int], *, axes=None,
                       title: str = ""):
  """SNN test accuracy (left, the ANN dashed) and synaptic operations per
  example (right, the ANN's MACs dashed) against T.

  Args:
    accuracy: {"ann": acc, t: acc, ...}.
    sops: {t: mean SOPs per example}.
    ann_macs: the ANN's multiply-accumulates per example.
    timesteps: the T values.
    axes: two Axes; new ones when None.
  """
  ts = list(timesteps)

  def left(ax):
    ax.plot(ts, [accuracy[t] for t in ts], "o-", label="SNN")
    ax.axhline(accuracy["ann"], color="grey", linestyle="--", label="ANN")
    ax.set_ylabel("Test accuracy")

  def right(ax):
    ax.plot(ts, [sops[t] for t in ts], "o-", label="SNN SOPs")
    ax.axhline(ann_macs, color="grey", linestyle="--", label="ANN MACs")
    ax.set_ylabel("Operations per example")

  def panel(draw):
    def fn(ax):
      draw(ax)
      ax.set_xticks(ts)
      ax.set_xlabel("Timesteps T")
      ax.legend(fontsize="small", loc="best")
      ax.grid(alpha=0.3)
    return fn

  return plotting.two_panels(
      panel(left), panel(right), axes=axes, shared_legend=False,
      title=f"{title}: calibrated SNN accuracy and synaptic operations")


def write(result, out: fs.PathLike) -> None:
  """Tables, results and figures of an SnnMiaResult."""
  out = fs.path(out)
  io.atomic_write_csv(result.table(), out / "results.csv", index=False,
                      float_format="%.6g")
  io.atomic_write_csv(result.cell_table(), out / "table.csv")
  for metric in ("auc", "tpr_at_1%_fpr", "tpr_at_0.1%_fpr", "tpr_at_0%_fpr"):
    name = metric.replace("%", "pct").replace(".", "_")
    io.atomic_write_csv(result.wide_table(metric), out / f"table_{name}.csv",
                        float_format="%.4f")
  io.atomic_write_json(out / "summary.json", {
      "accuracy": {m: {str(k): v for k, v in a.items()}
                   for m, a in result.accuracy.items()},
      "sops_per_example": {m: {str(k): v for k, v in s.items()}
                           for m, s in result.sops.items()},
      "ann_macs_per_example": result.ann_macs,
      "matched_accuracy": {m: {str(t): v for t, v in d.items()}
                           for m, d in result.matched.items()},
      "checkpoint_accuracy": {m: {str(e): a for e, a in d.items()}
                              for m, d in result.checkpoint_accuracy.items()}})
  for (model, setting, dropout), res in result.attacks.items():
    tag = "dropout" if dropout else "plain"
    res.save(out / "attacks" / f"{model}_{setting}_{tag}")
  from tfmia.attacks.registry import ATTACKS
  timesteps = list(result.config.timesteps)
  attacks = list(result.config.attacks)
  with_refs = [a for a in attacks if ATTACKS[a].references]  # Attack-P: none
  roc_attack = next((a for a in ("rmia", "confidence_ratio") if a in attacks),
                    attacks[0])
  for model in result.config.models:
    plotting.save_figure(
        plot_leakage_vs_timesteps(
            {(s, d): res for (m, s, d), res in result.attacks.items()
             if m == model}, timesteps, attacks, mixed_attacks=with_refs,
            title=model),
        out / f"{model}_auc_tpr_vs_T.png")
    curves = {"ANN": result.attacks[model, "ann", False].get(roc_attack)}
    for t in timesteps:
      curves[f"SNN T={t}"] = result.attacks[model, f"snn_T{t}", False].get(
          roc_attack)
    fig = plotting.plot_roc(curves, log_scale=True)
    fig.axes[0].set_title(f"{model}: {roc_attack}, ANN vs SNN")
    plotting.save_figure(fig, out / f"{model}_roc_loglog.png")
    plotting.save_figure(
        plot_accuracy_sops(result.accuracy[model], result.sops[model],
                           result.ann_macs[model], timesteps, title=model),
        out / f"{model}_accuracy_sops_vs_T.png")
