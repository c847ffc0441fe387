"""Plots drawn from result objects; nothing here recomputes a result.

Each function draws on the Axes it is given (or on new ones) and returns the
Figure. Saving is a separate call (`save_figure`). These are the generic
figures (training, attacks, ROC, robustness); each case study's own figures
are in its `tfmia/studies/<name>/report.py`, drawn with `figure_axes` and
`two_panels` from here.
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


def figure_axes(ax=None, ncols: int = 1, figsize=None):
  """(Figure, Axes) to draw on: `ax` and its Figure, or new ones."""
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


CI_NOTE = "bars and bands: 95% CI"


def tight_layout(fig) -> None:
  """`fig.tight_layout()`, leaving room under a suptitle for the top tick
  labels, which stand half above their axes."""
  fig.tight_layout(rect=(0, 0, 1, 0.96) if fig._suptitle is not None
                   else None)


def legend_outside(ax, *, fontsize="small", **kwargs):
  """The legend to the right of `ax`, where it covers no data (figures are
  saved with a tight bounding box, so it stays in the picture)."""
  return ax.legend(fontsize=fontsize, loc="upper left",
                   bbox_to_anchor=(1.02, 1), borderaxespad=0, **kwargs)


def chance_line(ax, y: float, label: str = "chance", **kwargs):
  """A dotted grey horizontal line at `y`, labelled `label` in the legend."""
  kwargs = {"color": "grey", "linewidth": 0.9, "linestyle": ":", **kwargs}
  return ax.axhline(y, label=label, **kwargs)


_OFFSETS = [(dx * r, dy * r) for r in (5, 12, 20, 30)
            for dx, dy in ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0),
                           (-1, 0), (0, 1), (0, -1))]


def label_points(ax, xs, ys, labels, *, fontsize=8):
  """Writes each label beside its point, moving it round the point until it
  overlaps no text already on the figure. Call it after `tight_layout`:
  positions are chosen in the figure's final layout."""
  fig = ax.figure
  fig.canvas.draw()
  renderer = fig.canvas.get_renderer()
  taken = [b for _, b in text_boxes(fig)]
  for x, y, label in zip(xs, ys, labels):
    if not (np.isfinite(x) and np.isfinite(y)):
      continue
    for dx, dy in _OFFSETS:
      t = ax.annotate(label, (x, y), xytext=(dx, dy),
                      textcoords="offset points", fontsize=fontsize,
                      ha="left" if dx > 0 else "right" if dx < 0 else "center",
                      va="bottom" if dy > 0 else "top" if dy < 0 else "center")
      box = t.get_window_extent(renderer)
      if not any(box.overlaps(b) for b in taken):
        break
      if (dx, dy) != _OFFSETS[-1]:
        t.remove()
    taken.append(box)


def text_boxes(fig) -> list:
  """(text, display bounding box) of every visible, non-empty text on the
  figure: titles, labels, tick labels, annotations, and each legend as one
  box."""
  from matplotlib import text as mtext
  fig.canvas.draw()
  renderer = fig.canvas.get_renderer()
  out = []
  legends = [a.get_legend() for a in fig.axes if a.get_legend()] + \
      list(fig.legends)
  inside = {id(t) for lg in legends for t in lg.get_texts()}
  inside |= {id(lg.get_title()) for lg in legends}
  # Ticks outside the axis' view keep their labels but are not drawn.
  for ax in fig.axes:
    for axis in (ax.xaxis, ax.yaxis):
      lo, hi = sorted(axis.get_view_interval())
      span = 1e-9 * max(abs(lo), abs(hi), 1.0)
      for tick in axis.get_major_ticks() + axis.get_minor_ticks():
        if not lo - span <= tick.get_loc() <= hi + span:
          inside |= {id(tick.label1), id(tick.label2)}
  for t in fig.findobj(mtext.Text):
    if id(t) in inside or not t.get_visible() or not t.get_text().strip():
      continue
    if t.axes is not None and not t.axes.get_visible():
      continue
    out.append((t.get_text(), t.get_window_extent(renderer)))
  for lg in legends:
    if lg.get_visible():
      out.append(("<legend>", lg.get_window_extent(renderer)))
  return out


def overlapping_texts(fig, tolerance: float = 1.0) -> list:
  """Pairs of texts on `fig` whose boxes intersect by more than `tolerance`
  pixels each way (boxes that only touch do not count); empty when none
  do."""
  boxes = text_boxes(fig)
  return [(a, b) for i, (a, ba) in enumerate(boxes)
          for b, bb in boxes[i + 1:]
          if min(ba.x1, bb.x1) - max(ba.x0, bb.x0) > tolerance
          and min(ba.y1, bb.y1) - max(ba.y0, bb.y0) > tolerance]


def points_under_legends(fig) -> int:
  """How many drawn data points (line vertices and markers, scatter points,
  bar tops) lie under a legend of `fig`. Reference lines drawn across the
  axes (`axhline`) are not data."""
  from matplotlib import collections as mcollections
  fig.canvas.draw()
  renderer = fig.canvas.get_renderer()
  count = 0
  for ax in fig.axes:
    lg = ax.get_legend()
    if lg is None or not lg.get_visible():
      continue
    box = lg.get_window_extent(renderer)
    pts = [np.column_stack(l.get_data()).astype(float) for l in ax.lines
           if l.get_transform() is ax.transData]
    pts += [np.asarray(c.get_offsets(), float) for c in ax.collections
            if isinstance(c, mcollections.PathCollection)]   # scatter
    pts += [np.array([[p.get_x() + p.get_width() / 2,
                       p.get_y() + p.get_height()]])
            for p in ax.patches if p.get_height() > 0]
    for p in pts:
      if not len(p):
        continue
      xy = ax.transData.transform(p)
      xy = xy[np.all(np.isfinite(xy), axis=1)]
      count += int(box.count_contains(xy))
  return count


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
  fig, ax = figure_axes(ax)
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
  legend_outside(ax)
  ax.grid(alpha=0.3)
  return fig


def plot_training_history(histories: Mapping[str, "TrainingHistory"], *,
                          axes: Optional[Sequence] = None, title: str = ""):
  """Accuracy (left) and loss (right) per epoch, one line pair per model."""
  return two_panels(
      lambda ax: plot_training_curve(histories, metric="accuracy", ax=ax),
      lambda ax: plot_training_curve(histories, metric="loss", ax=ax),
      axes=axes, title=title)


def two_panels(left, right, *, axes, title, figsize=(11, 4),
               shared_legend: bool = True):
  """Draws `left(ax)` and `right(ax)` side by side; returns the Figure.
  With `shared_legend` the panels show the same lines, so only the right
  one keeps its legend (outside the axes)."""
  import matplotlib.pyplot as plt
  if axes is None:
    _, axes = plt.subplots(1, 2, figsize=figsize)
  fig = axes[0].figure
  left(axes[0])
  right(axes[1])
  if (shared_legend and axes[0].get_legend() is not None
      and axes[1].get_legend() is not None):
    axes[0].get_legend().remove()
  if title:
    fig.suptitle(title)
  tight_layout(fig)
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
  fig, ax = figure_axes(ax)
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
                       for h in history
                       if np.isfinite(getattr(h.get(attack, slice), metric))))
        ax.fill_between(epochs, lo, hi, color=f"C{i}", alpha=0.15,
                        linewidth=0)
  if metric in ("auc", "balanced_accuracy", "advantage"):
    chance_line(ax, 0.0 if metric == "advantage" else 0.5)
  _integer_epochs(ax)
  ax.set_ylabel(METRIC_LABELS[metric]
                + (" (band: 95% bootstrap CI)" if band and metric == "auc"
                   else ""))
  legend_outside(ax)
  ax.grid(alpha=0.3)
  return fig


def plot_privacy_history(histories: Mapping[str, Sequence[AttackResults]], *,
                         axes: Optional[Sequence] = None, title: str = ""):
  """AUC (left) and attacker advantage (right) per epoch."""
  return two_panels(
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
  fig, ax = figure_axes(ax)
  floor = 1.0
  drawn = []
  for i, (label, r) in enumerate(results.items()):
    # Two attacks that rank the examples (nearly) alike (attack_p and
    # threshold, often) draw one curve: say so, and dash the second over
    # the first.
    same = next((l for l, q in drawn if _same_curve(q, r)), None)
    drawn.append((label, r))
    # Ten colours, then the same colours dashed, then dotted.
    # Log-log axes are read at low FPR: the legend gives those TPRs too.
    tail = (f", TPR@0.1%={r.tpr_at_fpr(0.001):.3f}, "
            f"@1%={r.tpr_at_fpr(0.01):.3f}" if log_scale else "")
    ax.plot(r.roc.fpr, r.roc.tpr, color=f"C{i % 10}",
            linestyle=(0, (4, 3)) if same else ("-", "--", ":")[(i // 10) % 3],
            linewidth=2.2 if same else 1.5,
            label=f"{label}, AUC={r.auc:.3f}{tail}"
            + (f" (on {same}'s curve)" if same else ""))
    floor = min(floor, 1.0 / max(r.num_nonmembers, 1))
  if log_scale:
    grid = np.logspace(np.log10(floor), 0, 100)
    ax.plot(grid, grid, color="grey", linestyle="--", linewidth=0.8,
            label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1)
    ax.set_ylim(floor, 1)
  else:
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8,
            label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
  ax.set_xlabel("False positive rate")
  ax.set_ylabel("True positive rate")
  legend_outside(ax, fontsize="x-small" if len(results) > 6 else "small")
  ax.grid(alpha=0.3)
  return fig


def _same_curve(a: AttackResult, b: AttackResult, tol: float = 0.01) -> bool:
  """Whether two ROC curves lie within `tol` of each other in TPR at every
  FPR where either has a point (the one would hide the other)."""
  if a.is_member.size != b.is_member.size:
    return False
  grid = np.union1d(a.roc.fpr, b.roc.fpr)
  ta = np.interp(grid, a.roc.fpr, a.roc.tpr)
  tb = np.interp(grid, b.roc.fpr, b.roc.tpr)
  return bool(np.max(np.abs(ta - tb)) <= tol)


def plot_roc_pair(results, *, axes: Optional[Sequence] = None, title: str = ""):
  """ROC curves on linear (left) and log-log (right) axes."""
  return two_panels(lambda ax: plot_roc(results, ax=ax),
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
  save_figures({path: fig}, dpi=dpi)


def save_figures(figures: dict, dpi: int = 120) -> None:
  """Saves each {path: figure} atomically and closes it."""
  import matplotlib.pyplot as plt
  for path, fig in figures.items():
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
  legend_outside(axes[min(n, ncols) - 1], fontsize="x-small")
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
  ax.set_ylabel("accuracy (bars: 95% CI)")
  ax.set_ylim(0, 1)
  ax.grid(alpha=0.3, axis="y")
  legend_outside(ax, fontsize=8)
  ax.set_title(title)
  fig.tight_layout()
  return fig
