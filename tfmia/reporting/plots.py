"""Plots drawn from result objects; nothing here recomputes a result.

Each function draws on the Axes it is given (or on new ones) and returns the
Figure. Saving is a separate call (`save_figure`).
"""

from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from tfmia.infra import io
from tfmia.results import ENTIRE_DATASET, AttackResult, AttackResults

METRIC_LABELS = {"auc": "MIA AUC", "advantage": "Attacker advantage",
                 "balanced_accuracy": "Balanced accuracy",
                 "epsilon": "ε lower bound (tensorflow-privacy, δ = 0)"}


def _axes(ax=None, ncols: int = 1, figsize=None):
  import matplotlib.pyplot as plt
  if ax is not None:
    return (ax.figure, ax)
  fig, ax = plt.subplots(1, ncols, figsize=figsize or (5 * ncols, 4),
                         squeeze=True)
  return fig, ax


def _integer_epochs(ax):
  from matplotlib.ticker import MaxNLocator
  ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  ax.set_xlabel("Epoch")


def plot_training_curve(histories: Mapping[str, "TrainingHistory"], *,
                        metric: str = "accuracy", ax=None):
  """Train (solid) and validation (dashed) `metric` per epoch, per model.

  Args:
    histories: model name -> `tfmia.training.TrainingHistory`.
    metric: "accuracy" or "loss".
    ax: Axes to draw on; new ones when None.
  """
  if metric not in ("accuracy", "loss"):
    raise ValueError(f"`metric` must be 'accuracy' or 'loss'. "
                     f"Received: metric={metric!r}")
  fig, ax = _axes(ax)
  for i, (name, h) in enumerate(histories.items()):
    color = f"C{i}"
    train = h[metric]
    epochs = np.arange(1, len(train) + 1)
    ax.plot(epochs, train, color=color, label=f"{name} train")
    if f"val_{metric}" in h.metrics:
      ax.plot(epochs, h[f"val_{metric}"], color=color, linestyle="--",
              label=f"{name} validation")
  _integer_epochs(ax)
  ax.set_ylabel(metric.capitalize())
  ax.legend(fontsize="small")
  ax.grid(alpha=0.3)
  return fig


def plot_training_history(histories: Mapping[str, "TrainingHistory"], *,
                          axes: Optional[Sequence] = None, title: str = ""):
  """Accuracy (left) and loss (right) per epoch, one line pair per model."""
  return _two_panels(
      lambda ax: plot_training_curve(histories, metric="accuracy", ax=ax),
      lambda ax: plot_training_curve(histories, metric="loss", ax=ax),
      axes=axes, title=title)


def _two_panels(left, right, *, axes, title, figsize=(11, 4)):
  """Draws `left(ax)` and `right(ax)` side by side; returns the Figure."""
  import matplotlib.pyplot as plt
  if axes is None:
    _, axes = plt.subplots(1, 2, figsize=figsize)
  fig = axes[0].figure
  left(axes[0])
  right(axes[1])
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  return fig


def plot_privacy_over_epochs(
    histories: Mapping[str, Sequence[AttackResults]], *, metric: str = "auc",
    slice: str = ENTIRE_DATASET, ax=None,  # pylint: disable=redefined-builtin
    band: bool = True):
  """An MIA metric per evaluated epoch, one line per (model, attack).

  Args:
    histories: model name -> the `PrivacyMetrics.history` of that model.
    metric: "auc", "advantage", "balanced_accuracy" or "epsilon" (the
      results' tensorflow-privacy ε lower bound, `AttackResult.epsilon`;
      epochs without one are left out).
    slice: which data slice to plot.
    ax: Axes to draw on; new ones when None.
    band: for the AUC, shade its 95% bootstrap interval
      (`AttackResult.confidence_intervals`).
  """
  if metric not in METRIC_LABELS:
    raise ValueError(f"`metric` must be one of {tuple(METRIC_LABELS)}. "
                     f"Received: metric={metric!r}")
  fig, ax = _axes(ax)
  styles = ("-", "--", ":", "-.")
  for i, (name, history) in enumerate(histories.items()):
    attacks = history[0].attacks if history else ()
    for j, attack in enumerate(attacks):
      points = [(h.epoch, getattr(h.get(attack, slice), metric))
                for h in history]
      points = [(e, v) for e, v in points if np.isfinite(v)]
      if not points:
        continue
      epochs, values = zip(*points)
      ax.plot(epochs, values, color=f"C{i}", linestyle=styles[j % len(styles)],
              marker="o", markersize=3, label=f"{name} · {attack}")
      if band and metric == "auc":
        lo, hi = zip(*(h.get(attack, slice).confidence_intervals["auc"]
                       for h in history))
        ax.fill_between(epochs, lo, hi, color=f"C{i}", alpha=0.15,
                        linewidth=0)
  if metric == "auc":
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
  _integer_epochs(ax)
  ax.set_ylabel(METRIC_LABELS[metric])
  ax.legend(fontsize="small")
  ax.grid(alpha=0.3)
  return fig


def plot_privacy_history(histories: Mapping[str, Sequence[AttackResults]], *,
                         axes: Optional[Sequence] = None, title: str = ""):
  """AUC (left) and attacker advantage (right) per epoch."""
  return _two_panels(
      lambda ax: plot_privacy_over_epochs(histories, metric="auc", ax=ax),
      lambda ax: plot_privacy_over_epochs(histories, metric="advantage", ax=ax),
      axes=axes, title=title)


def plot_roc(results: Union[AttackResult, Sequence[AttackResult],
                            Mapping[str, AttackResult]], *,
             log_scale: bool = False, ax=None):
  """ROC curves with the chance diagonal.

  Args:
    results: one result, a sequence (labelled by attack and slice), or a
      mapping label -> result.
    log_scale: log-log axes, to read TPR at low FPR.
    ax: Axes to draw on; new ones when None.
  """
  if isinstance(results, AttackResult):
    results = [results]
  if not isinstance(results, Mapping):
    results = {f"{r.attack} ({r.slice})" if r.slice != ENTIRE_DATASET
               else r.attack: r for r in results}
  fig, ax = _axes(ax)
  floor = 1.0
  for i, (label, r) in enumerate(results.items()):
    # Ten colours, then the same colours dashed, then dotted.
    ax.plot(r.roc.fpr, r.roc.tpr, color=f"C{i % 10}",
            linestyle=("-", "--", ":")[(i // 10) % 3],
            label=f"{label}, AUC={r.auc:.3f}")
    floor = min(floor, 1.0 / max(r.num_nonmembers, 1))
  if log_scale:
    grid = np.logspace(np.log10(floor), 0, 100)
    ax.plot(grid, grid, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1)
    ax.set_ylim(floor, 1)
  else:
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
  ax.set_xlabel("False positive rate")
  ax.set_ylabel("True positive rate")
  if len(results) > 6:   # many curves: keep the legend off the plot
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1))
  else:
    ax.legend(fontsize="small", loc="lower right")
  ax.grid(alpha=0.3)
  return fig


def plot_roc_pair(results, *, axes: Optional[Sequence] = None, title: str = ""):
  """ROC curves on linear (left) and log-log (right) axes."""
  return _two_panels(lambda ax: plot_roc(results, ax=ax),
                     lambda ax: plot_roc(results, log_scale=True, ax=ax),
                     axes=axes, title=title, figsize=(11, 4.5))


def plot_sample_images(images: np.ndarray, labels: np.ndarray,
                       class_names: Sequence[str], *, ncols: int = 8,
                       nrows: int = 2, pixel_max: Optional[float] = None,
                       axes=None):
  """A grid of images titled with their class names.

  Args:
    images: (n, H, W, C) images, raw or scaled.
    labels: (n,) integer labels indexing `class_names`.
    class_names: one name per class.
    ncols, nrows: grid size; the first ncols*nrows images are shown.
    pixel_max: value of a white pixel; inferred from the dtype when None.
    axes: an array of at least ncols*nrows Axes; new ones when None.
  """
  import matplotlib.pyplot as plt
  n = min(len(images), ncols * nrows)
  if n == 0:
    raise ValueError("`images` is empty.")
  if axes is None:
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.4 * ncols, 1.6 * nrows))
  axes = np.asarray(axes).reshape(-1)
  fig = axes[0].figure
  if pixel_max is None:
    pixel_max = 255.0 if np.issubdtype(images.dtype, np.integer) else float(
        max(np.max(images), 1e-8))
  for i, ax in enumerate(axes):
    ax.axis("off")
    if i >= n:
      continue
    img = np.clip(images[i].astype(np.float32) / pixel_max, 0, 1)
    if img.shape[-1] == 1:
      ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1)
    else:
      ax.imshow(img)
    ax.set_title(class_names[int(labels[i])], fontsize=8)
  fig.tight_layout()
  return fig


def save_figure(fig, path: Union[str, os.PathLike], dpi: int = 120) -> None:
  """Saves a figure atomically and closes it."""
  import matplotlib.pyplot as plt
  suffix = os.path.splitext(os.fspath(path))[1] or ".png"
  with io.atomic_path(path, suffix=suffix) as tmp:
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
  plt.close(fig)


def plot_score_histograms(results: Union[AttackResults, Sequence[AttackResult]],
                          *, bins: int = 50, ncols: int = 3, axes=None):
  """Members' and non-members' score distributions, one panel per attack.

  Args:
    results: the results to draw (entire-dataset slices of an AttackResults,
      or a sequence of AttackResult).
    bins: histogram bins per panel.
    ncols: panels per row.
    axes: an array of at least len(results) Axes; new ones when None.
  """
  import matplotlib.pyplot as plt
  if isinstance(results, AttackResults):
    results = [r for r in results if r.slice == ENTIRE_DATASET]
  results = list(results)
  if not results:
    raise ValueError("`results` is empty.")
  n = len(results)
  ncols = min(ncols, n)
  nrows = -(-n // ncols)
  if axes is None:
    _, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3 * nrows),
                           squeeze=False)
  axes = np.asarray(axes).reshape(-1)
  fig = axes[0].figure
  for ax in axes[n:]:
    ax.axis("off")
  for ax, r in zip(axes, results):
    edges = np.histogram_bin_edges(r.scores, bins=bins)
    ax.hist(r.scores[~r.is_member], bins=edges, alpha=0.6, density=True,
            label="non-members", color="C0")
    ax.hist(r.scores[r.is_member], bins=edges, alpha=0.6, density=True,
            label="members", color="C3")
    ax.set_title(f"{r.attack}  (AUC {r.auc:.3f})", fontsize=9)
    ax.set_xlabel("score (higher = member)", fontsize=8)
    ax.legend(fontsize="x-small")
  fig.tight_layout()
  return fig


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

  def draw(ax, metric, label):
    for i, attack in enumerate(attacks):
      def value(setting):
        r = results[setting, dropout].get(attack)
        return r.auc if metric == "auc" else r.tpr_at_fpr(0.01)
      color = f"C{i}"
      ax.plot(ts, [value(f"snn_T{t}") for t in ts], "o-", color=color,
              label=f"{attack}, SNN refs")
      if attack in mixed_attacks:
        ax.plot(ts, [value(f"snn_T{t}_ann_refs") for t in ts], "s:",
                color=color, label=f"{attack}, ANN refs")
      ax.axhline(value("ann"), color=color, linestyle="--", linewidth=1,
                 label=f"{attack}, ANN")
      if all((f"ann_matched_T{t}", dropout) in results for t in ts):
        ax.plot(ts, [value(f"ann_matched_T{t}") for t in ts], "^--",
                color=color, alpha=0.6,
                label=f"{attack}, ANN at the SNN's accuracy")
    ax.set_xticks(ts)
    ax.set_xlabel("Timesteps T")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)

  def right(ax):
    draw(ax, "tpr", "TPR at 1% FPR")
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1))

  return _two_panels(
      lambda ax: draw(ax, "auc", "MIA AUC"), right, axes=axes,
      title=f"{title}: membership leakage of the SNN against T "
            f"({'with' if dropout else 'without'} input-dropout calibration)")


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
      ax.legend(fontsize="small")
      ax.grid(alpha=0.3)
    return fn

  return _two_panels(
      panel(left), panel(right), axes=axes,
      title=f"{title}: calibrated SNN accuracy and synaptic operations")


# ---------------------------------------------------------------------------
# The pruning study (tables from `reports.pruning_summary_table`)


def plot_attack_vs_sparsity(summary):
  """Attack strength against sparsity, one line per pruner (no defense):
  the strongest mia_prune attack's accuracy, and RMIA's AUC; solid
  non-adaptive, dashed adaptive. Sparsity 0 is the original model."""
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  plain = summary[summary["defense"] == "none"]
  original = plain[plain["pruner"] == "none"]
  for ax, col, label in ((axes[0], "attack_accuracy",
                          "attack accuracy (best mia_prune attack)"),
                         (axes[1], "rmia_auc", "RMIA AUC")):
    if col not in summary:
      ax.set_visible(False)
      continue
    for i, pruner in enumerate(p for p in plain["pruner"].unique()
                               if p != "none"):
      for adaptive, style in ((False, "-"), (True, "--")):
        g = plain[(plain["pruner"] == pruner)
                  & (plain["adaptive"] == adaptive)].sort_values("sparsity")
        x = [0.0] + list(g["sparsity"])
        y = list(original[col]) [:1] + list(g[col])
        ax.plot(x, y, style, marker="o", color=f"C{i}",
                label=f"{pruner}{' (adaptive)' if adaptive else ''}")
    ax.set_xlabel("sparsity (0 = original)")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=8)
  fig.suptitle("Membership leakage after pruning")
  fig.tight_layout()
  return fig


def plot_privacy_tradeoff(summary):
  """Test accuracy against attack strength for each defense at the
  defended cells (adaptive attacks), ε written beside DP-SGD's points."""
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(6.5, 4.5))
  pruned = summary[(summary["pruner"] != "none") & summary["adaptive"]]
  defended = pruned[pruned["defense"] != "none"]["cell"]
  keys = {c.rsplit("_", 1)[0] for c in defended}
  y = "attack_accuracy" if "attack_accuracy" in summary else "rmia_auc"
  for i, d in enumerate(sorted(pruned["defense"].unique())):
    g = pruned[(pruned["defense"] == d)
               & pruned["cell"].map(lambda c: c.rsplit("_", 1)[0] in keys)]
    ax.scatter(g["test_accuracy"], g[y], color=f"C{i}", label=d, s=40)
    for _, r in g.iterrows():
      if r["epsilon"] is not None and np.isfinite(r["epsilon"] or np.nan):
        ax.annotate(f"ε={r['epsilon']:.1f}", (r["test_accuracy"], r[y]),
                    fontsize=8, xytext=(4, 4), textcoords="offset points")
  orig = summary[summary["pruner"] == "none"]
  ax.scatter(orig["test_accuracy"], orig[y], marker="*", s=120, color="k",
             label="original")
  ax.set_xlabel("test accuracy")
  ax.set_ylabel(y.replace("_", " "))
  ax.set_title("Privacy–accuracy trade-off of the defenses (adaptive)")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
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
      ax.legend(fontsize=8)
  fig.tight_layout()
  return fig


def plot_robustness(rows, *, title: str = "Robustness"):
  """One model's accuracy per attack, white-box and black-box, with 95%
  intervals: `plot_robustness_models` with a single model. `rows` are
  `RobustnessResult.rows()` dicts (or a DataFrame of them)."""
  import pandas as pd
  df = pd.DataFrame(list(rows) if not isinstance(rows, pd.DataFrame)
                    else rows)
  return plot_robustness_models(df.assign(model="model"), title=title)


def plot_robustness_models(table, *, title: str = "Accuracy under attack"):
  """HIRE-SNN's grouped bars: for clean inputs and each attack, white-box
  then black-box, one bar per model, with 95% intervals. `table` has
  model, setting, attack, accuracy, ci_low, ci_high columns."""
  import matplotlib.pyplot as plt
  df = table
  groups = [("clean", "none")] + [
      (s, a) for s in ("white-box", "black-box")
      for a in df[df["setting"] == s]["attack"].unique()]
  names = list(dict.fromkeys(df["model"]))
  fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(groups)), 4))
  width = 0.8 / max(1, len(names))
  for j, m in enumerate(names):
    acc, lo, hi = [], [], []
    for s, a in groups:
      r = df[(df["model"] == m) & (df["setting"] == s) & (df["attack"] == a)]
      acc.append(float(r["accuracy"].iloc[0]) if len(r) else np.nan)
      lo.append(float(r["ci_low"].iloc[0]) if len(r) else np.nan)
      hi.append(float(r["ci_high"].iloc[0]) if len(r) else np.nan)
    acc, lo, hi = map(np.asarray, (acc, lo, hi))
    pos = np.arange(len(groups)) + (j - (len(names) - 1) / 2) * width
    ax.bar(pos, acc, width, yerr=np.vstack([acc - lo, hi - acc]), capsize=3,
           label=m, color=f"C{j}")
  ax.set_xticks(np.arange(len(groups)))
  ax.set_xticklabels(["clean" if s == "clean" else f"{a}\n{s}"
                      for s, a in groups])
  ax.set_ylabel("accuracy")
  ax.set_ylim(0, 1)
  ax.grid(alpha=0.3, axis="y")
  ax.legend(fontsize=8)
  ax.set_title(title)
  fig.tight_layout()
  return fig


def plot_privacy_models(table, *, title: str = "Membership leakage"):
  """Attack AUC and TPR at 1% FPR per attack, one bar per model, with 95%
  intervals. `table` has model, attack, auc, auc_ci_low, auc_ci_high and
  (optionally) the TPR columns with their intervals."""
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
      ax.bar(pos, val, width, capsize=3, label=m, color=f"C{j}",
             yerr=np.vstack([np.clip(val - lo, 0, None),
                             np.clip(hi - val, 0, None)]))
    if metric == "auc":
      ax.axhline(0.5, color="grey", lw=1, ls="--")
    ax.set_xticks(np.arange(len(attacks)))
    ax.set_xticklabels(attacks)
    ax.set_ylabel(metric.replace("_", " "))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
  fig.suptitle(title)
  fig.tight_layout()
  return fig


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
      ax.annotate(f"{r['pooling']}/{r['encoder']}",
                  (r["zero_input_gradient"], r[col]), fontsize=7,
                  xytext=(4, 3), textcoords="offset points")
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
  axes[1].legend(handles=handles, fontsize=8, loc="center")
  fig.suptitle(title)
  fig.tight_layout()
  return fig


DP_AUDIT_BOUNDS = {"one_run_mislabelled": ("one-run, mislabelled canaries", "o"),
                   "one_run_natural": ("one-run, natural canaries", "s"),
                   "rmia_roc_epsilon": ("RMIA, ROC (corrected)", "^"),
                   "rmia_one_run_epsilon": ("RMIA, one-run", "D")}


def plot_dp_audit(table, *, title: str = "Empirical ε lower bounds against "
                  "the accountant's ε"):
  """Each model's empirical ε lower bounds (y) at its accountant ε (x), with
  the diagonal: DP forbids any point above it. Models without DP sit at
  the right edge, at "∞". `table` has accountant_epsilon and any of
  DP_AUDIT_BOUNDS' columns, one row per model."""
  fig, ax = _axes(figsize=(6, 4.6))
  acc = [a if a is not None and np.isfinite(a) else np.nan
         for a in table["accountant_epsilon"]]
  finite = [a for a in acc if np.isfinite(a)]
  top = max(finite) if finite else 1.0
  cols = [c for c in DP_AUDIT_BOUNDS if c in table.columns]
  highest = max([top] + [float(v) for c in cols for v in table[c]
                         if v is not None and np.isfinite(v)])
  inf_x = 1.25 * max(top, highest)
  xs = [a if np.isfinite(a) else inf_x for a in acc]
  line = np.linspace(0, inf_x, 50)
  ax.plot(line, line, color="grey", linestyle="--", linewidth=1,
          label="ε̂ = accountant ε")
  ax.fill_between(line, line, 1.1 * inf_x, color="red", alpha=0.06,
                  linewidth=0)
  for i, c in enumerate(cols):
    label, marker = DP_AUDIT_BOUNDS[c]
    ax.scatter(xs, table[c], marker=marker, s=45, color=f"C{i}", label=label,
               zorder=3)
  ticks = sorted(set(x for x in xs if x != inf_x))
  if any(x == inf_x for x in xs):
    ax.set_xticks(ticks + [inf_x])
    ax.set_xticklabels([f"{t:.3g}" for t in ticks] + ["∞ (no DP)"])
  ax.set_xlim(0, 1.08 * inf_x)
  ax.set_ylim(0, 1.08 * inf_x)
  ax.set_xlabel("accountant ε (RDP)")
  ax.set_ylabel("empirical ε lower bound")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8, loc="upper left")
  ax.set_title(title, fontsize=10)
  fig.tight_layout()
  return fig


def plot_epsilon_vs_guesses(bounds: Mapping, *,
                            title: str = "One-run audit: ε̂ against the "
                            "number of guesses"):
  """ML Privacy Meter's audit figure, one colour per audit: over its grid
  of (k−, k+), the ε̂ (left) and the guesses' accuracy (right) against the
  number of guesses, each point at the uncorrected level; the legend gives
  each audit's reported (corrected) ε̂. `bounds`: name ->
  `dp_bounds.OneRunAudit`."""
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
  for i, (name, b) in enumerate(bounds.items()):
    guesses = np.asarray(b.grid_k_neg) + np.asarray(b.grid_k_pos)
    correct = np.asarray(b.grid_correct)
    axes[0].scatter(guesses, b.grid_epsilon, s=10, alpha=0.5, color=f"C{i}",
                    label=f"{name}: ε̂ = {b.epsilon:.2f}")
    axes[1].scatter(guesses, correct / np.maximum(guesses, 1), s=10,
                    alpha=0.5, color=f"C{i}", label=name)
  axes[0].set_ylabel("ε̂ (each point uncorrected)")
  axes[1].set_ylabel("accuracy of the guesses")
  axes[1].axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
  for ax in axes:
    ax.set_xlabel("number of guesses (k− + k+)")
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=7)
  fig.suptitle(title)
  fig.tight_layout()
  return fig
