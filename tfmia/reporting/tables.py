"""Reports: the tables, figures and summaries of `tfmia audit`, `attack`,
`train` and `robustness`, drawn from results, and `tfmia.infra.io.atomic_write_csv` for all.

Nothing here computes a result: each writer takes result objects (and the
config to record) and writes files atomically; the figures come from
`tfmia.reporting.plots`. Each case study's own tables and figures are in
its `tfmia/studies/<name>/report.py`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from tfmia.infra import fs, io, store

from tfmia.reporting import plots as plotting
from tfmia.results import ENTIRE_DATASET, AttackResults

PathLike = Union[str, os.PathLike]
REPORT_COLUMNS = ("attack", "auc", "auc_ci_low", "auc_ci_high",
                  "tpr_at_0.1%_fpr", "tpr_at_0.1%_fpr_ci_low",
                  "tpr_at_0.1%_fpr_ci_high", "tpr_at_1%_fpr",
                  "tpr_at_1%_fpr_ci_low", "tpr_at_1%_fpr_ci_high",
                  "tpr_at_0%_fpr", "balanced_accuracy", "advantage",
                  "ppv_at_1%_fpr", "ppv_prior", "decision_accuracy",
                  "epsilon_lower_bound", "epsilon_delta",
                  "epsilon_confidence")
# What the CLI prints of a report (report.csv has every column).
PRINT_COLUMNS = ("attack", "auc", "auc_ci_low", "auc_ci_high",
                 "tpr_at_0.1%_fpr", "tpr_at_1%_fpr", "tpr_at_1%_fpr_ci_low",
                 "tpr_at_1%_fpr_ci_high", "ppv_at_1%_fpr")
RESULTS_NAME = "results"


# ---------------------------------------------------------------------------
# One audit: tfmia audit, audit.audit, audit.audit_signals


def report(results: AttackResults):
  """One row per attack (entire dataset): the report.csv table. A column
  empty in every row (`decision_accuracy` when no attack decides, the ε
  columns when no bound was computed) is left out."""
  import pandas as pd
  rows = [{c: r.summary()[c] for c in REPORT_COLUMNS}
          for r in results if r.slice == ENTIRE_DATASET]
  return pd.DataFrame(rows, columns=list(REPORT_COLUMNS)).dropna(
      axis=1, how="all")


def _draw_audit(results: AttackResults, out_dir: Path) -> None:
  entire = [r for r in results if r.slice == ENTIRE_DATASET]
  table = report(results)
  roc = plotting.plot_roc(entire, log_scale=True)
  roc.axes[0].set_title(f"{results.model}: membership inference, log-log ROC")
  plotting.save_figures({out_dir / "roc_loglog.png": roc,
                         out_dir / "score_hist.png":
                         plotting.plot_score_histograms(entire)})
  io.atomic_write_csv(table, out_dir / "report.csv", index=False,
                      float_format="%.6g")


def write_audit(results: AttackResults, out_dir: PathLike, config,
                extra_config: Optional[dict] = None) -> None:
  """An audit folder: config.json, results.{json,npz}, scores.npz,
  report.csv, roc_loglog.png and score_hist.png."""
  out_dir = fs.path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  io.atomic_write_json(out_dir / store.CONFIG_FILE,
                       {"audit": config, **(extra_config or {})})
  results.save(out_dir / RESULTS_NAME)
  first = results.results[0]
  io.atomic_save_npz(out_dir / "scores.npz", is_member=first.is_member,
                     **{r.attack: r.scores for r in results
                        if r.slice == ENTIRE_DATASET})
  _draw_audit(results, out_dir)


def render_audit(out_dir: PathLike) -> AttackResults:
  """Redraws report.csv and the figures of an audit folder from its saved
  results; recomputes nothing."""
  out_dir = fs.path(out_dir)
  if not (out_dir / f"{RESULTS_NAME}.json").is_file():
    raise FileNotFoundError(f"No audit results in {out_dir} "
                            f"({RESULTS_NAME}.json is missing).")
  results = AttackResults.load(out_dir / RESULTS_NAME)
  _draw_audit(results, out_dir)
  return results


# ---------------------------------------------------------------------------
# tfmia attack and tfmia train


def write_attack(results: AttackResults, out: PathLike, config: dict) -> None:
  """results.{json,npz}, summary.csv, roc.png and config.json in `out`."""
  out = fs.path(out)
  out.mkdir(parents=True, exist_ok=True)
  io.atomic_write_json(out / store.CONFIG_FILE, config)
  results.save(out / RESULTS_NAME)
  io.atomic_write_csv(results.to_dataframe(), out / "summary.csv", index=False)
  whole = [r for r in results if r.slice == ENTIRE_DATASET] or list(results)
  plotting.save_figure(plotting.plot_roc_pair(whole), out / "roc.png")


def write_training_run(name: str, history, privacy_history,
                       out: PathLike) -> None:
  """A `tfmia train` folder's figures (its per-epoch privacy results are
  saved by `train_with_privacy`, under its done marker)."""
  out = fs.path(out)
  plotting.save_figure(plotting.plot_training_history({name: history}),
                       out / "training.png")
  plotting.save_figure(plotting.plot_privacy_history({name: privacy_history}),
                       out / "mia.png")
  if any(np.isfinite(r.epsilon) for h in privacy_history for r in h):
    plotting.save_figure(plotting.plot_privacy_over_epochs(
        {name: privacy_history}, metric="epsilon"), out / "epsilon.png")


# ---------------------------------------------------------------------------
# tfmia robustness


def write_robustness(result, out: PathLike, record: Optional[dict] = None,
                     title: str = "Robustness") -> None:
  """robustness.json (the result and `record`), robustness.csv and
  robustness.png."""
  import pandas as pd
  out = fs.path(out)
  io.atomic_write_json(out / "robustness.json",
                       {"result": result, **(record or {})})
  io.atomic_write_csv(pd.DataFrame(result.rows()), out / "robustness.csv",
                      index=False, float_format="%.4f")
  plotting.save_figure(plotting.plot_robustness(result.rows(), title=title),
                       out / "robustness.png")
