"""The DP-audit study's tables and figures, drawn from its result: the
empirical ε lower bounds against the accountant's ε, and each one-run
audit's ε̂ against its number of guesses."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from tfmia.infra import fs, io
from tfmia.reporting import plots as plotting

# Each bound's legend label and marker.
BOUNDS = {"one_run_mislabelled": ("one-run, mislabelled canaries", "o"),
          "one_run_natural": ("one-run, natural canaries", "s"),
          "rmia_roc_epsilon": ("RMIA, ROC (corrected)", "^"),
          "rmia_one_run_epsilon": ("RMIA, one-run", "D")}


def plot_dp_audit(table, *, title: str = "Empirical ε lower bounds against "
                  "the accountant's ε", confidence: float = 0.95):
  """Each model's empirical ε lower bounds (y) at its accountant ε (x), with
  the diagonal: DP forbids any point above it. Models without DP sit in a
  column of their own at the right, "∞", past a dotted break; the diagonal
  stops at the largest finite ε. Each bound is drawn slightly to the side
  so that equal values do not hide each other. `table` has
  accountant_epsilon and any of BOUNDS' columns, one row per model."""
  fig, ax = plotting.figure_axes(figsize=(6, 4.6))
  acc = [a if a is not None and np.isfinite(a) else np.nan
         for a in table["accountant_epsilon"]]
  finite = [a for a in acc if np.isfinite(a)]
  top = max(finite) if finite else 1.0
  cols = [c for c in BOUNDS if c in table.columns]
  highest = max([top] + [float(v) for c in cols for v in table[c]
                         if v is not None and np.isfinite(v)])
  inf_x = 1.25 * max(top, highest)
  xs = [a if np.isfinite(a) else inf_x for a in acc]
  # The diagonal (and the region DP forbids) stops at the largest finite
  # ε: "no DP" is a separate column past a break, not a point on the axis.
  line = np.linspace(0, top, 50)
  ax.plot(line, line, color="grey", linestyle="--", linewidth=1,
          label="ε̂ = accountant ε")
  ax.fill_between(line, line, 1.1 * inf_x, color="red", alpha=0.06,
                  linewidth=0)
  if any(x == inf_x for x in xs):
    ax.axvline(0.5 * (top + inf_x), color="grey", linewidth=0.8,
               linestyle=":")
  # Each bound a little to the side, so equal values (often 0) stay visible.
  width = 0.025 * inf_x
  for i, c in enumerate(cols):
    label, marker = BOUNDS[c]
    shift = (i - (len(cols) - 1) / 2) * width
    ax.scatter([x + shift for x in xs], table[c], marker=marker, s=45,
               color=f"C{i}", label=label, zorder=3, alpha=0.9)
  ticks = sorted(set(x for x in xs if x != inf_x))
  if any(x == inf_x for x in xs):
    ax.set_xticks(ticks + [inf_x])
    ax.set_xticklabels([f"{t:.3g}" for t in ticks] + ["∞ (no DP)"])
  ax.set_xlim(0, 1.08 * inf_x)
  ax.set_ylim(0, 1.08 * inf_x)
  ax.set_xlabel("accountant ε (RDP)")
  ax.set_ylabel(f"empirical ε lower bound ({confidence:.0%} confidence)")
  ax.grid(alpha=0.3)
  plotting.legend_outside(ax, fontsize=8)
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
    axes[0].scatter(guesses, b.grid_epsilon, s=10, alpha=0.5, color=f"C{i}")
    axes[1].scatter(guesses, correct / np.maximum(guesses, 1), s=10,
                    alpha=0.5, color=f"C{i}",
                    label=f"{name}: ε̂ = {b.epsilon:.2f}")
  axes[0].set_ylabel("ε̂ (each point uncorrected)")
  axes[1].set_ylabel("accuracy of the guesses")
  plotting.chance_line(axes[1], 0.5)
  for ax in axes:
    ax.set_xlabel("number of guesses (k− + k+)")
    ax.grid(alpha=0.3)
  plotting.legend_outside(axes[1], fontsize=7)
  fig.suptitle(title)
  plotting.tight_layout(fig)
  return fig


def write_tables(result, out: fs.PathLike) -> None:
  """results.csv and results.json of a DpAuditStudyResult."""
  out = fs.path(out)
  io.atomic_write_csv(result.table(), out / "results.csv", index=False,
                      float_format="%.4f")
  io.atomic_write_json(out / "results.json", {
      "rows": list(result.rows),
      "audits": [{"model": m, "canaries": k, **a.to_dict()}
                 for (m, k), a in result.audits.items()]})


def write_figures(result, out: fs.PathLike) -> None:
  """dp_audit.png and guesses.png of a DpAuditStudyResult."""
  out = fs.path(out)
  plotting.save_figure(plot_dp_audit(result.table(),
                                    confidence=result.config.confidence),
                       out / "dp_audit.png")
  plotting.save_figure(plot_epsilon_vs_guesses(
      {f"{m} · {k}": a.bound for (m, k), a in result.audits.items()}),
      out / "guesses.png")
