"""Reports: every table, figure and summary tfmia writes, drawn from results.

One module writes the outputs of `audit`, `attack` and every study. Nothing
here computes a result: each writer takes result objects (and the config to
record) and writes files atomically; the figures come from `tfmia.reporting.plots`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from tfmia.infra import fs, io

from tfmia.reporting import plots as plotting
from tfmia.results import ENTIRE_DATASET, AttackResults

PathLike = Union[str, os.PathLike]
REPORT_COLUMNS = ("attack", "auc", "auc_ci_low", "auc_ci_high",
                  "tpr_at_0.1%_fpr", "tpr_at_0.1%_fpr_ci_low",
                  "tpr_at_0.1%_fpr_ci_high", "tpr_at_1%_fpr",
                  "tpr_at_1%_fpr_ci_low", "tpr_at_1%_fpr_ci_high",
                  "tpr_at_0%_fpr", "balanced_accuracy", "advantage", "ppv",
                  "decision_accuracy")
# What the CLI prints of a report (report.csv has every column).
PRINT_COLUMNS = ("attack", "auc", "auc_ci_low", "auc_ci_high",
                 "tpr_at_0.1%_fpr", "tpr_at_1%_fpr", "tpr_at_1%_fpr_ci_low",
                 "tpr_at_1%_fpr_ci_high", "ppv")
RESULTS_NAME = "results"


def write_csv(df, path: PathLike, **kwargs) -> None:
  """Writes a DataFrame as CSV, atomically."""
  with io.atomic_path(path, suffix=".csv") as tmp:
    df.to_csv(tmp, **kwargs)


# ---------------------------------------------------------------------------
# One audit: tfmia audit, audit.audit, audit.audit_signals


def report(results: AttackResults):
  """One row per attack (entire dataset): the report.csv table."""
  import pandas as pd
  rows = [{c: r.summary()[c] for c in REPORT_COLUMNS}
          for r in results if r.slice == ENTIRE_DATASET]
  return pd.DataFrame(rows, columns=list(REPORT_COLUMNS))


def _draw_audit(results: AttackResults, out_dir: Path) -> None:
  entire = [r for r in results if r.slice == ENTIRE_DATASET]
  fig = plotting.plot_roc(entire, log_scale=True)
  fig.axes[0].set_title(f"{results.model}: membership inference, log-log ROC")
  plotting.save_figure(fig, out_dir / "roc_loglog.png")
  plotting.save_figure(plotting.plot_score_histograms(entire),
                       out_dir / "score_hist.png")
  write_csv(report(results), out_dir / "report.csv", index=False,
            float_format="%.6g")


def write_audit(results: AttackResults, out_dir: PathLike, config,
                extra_config: Optional[dict] = None) -> None:
  """An audit folder: config.json, results.{json,npz}, scores.npz,
  report.csv, roc_loglog.png and score_hist.png."""
  out_dir = fs.path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  io.atomic_write_json(out_dir / "config.json",
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
  io.atomic_write_json(out / "config.json", config)
  results.save(out / RESULTS_NAME)
  write_csv(results.to_dataframe(), out / "summary.csv", index=False)
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
# The architecture study


def write_architecture_study(result, raw, out: PathLike,
                             experiments) -> None:
  """Figures, results.json and summary.csv of an ArchitectureStudyResult.

  Args:
    experiments: (key, title, model names) per two-model comparison.
  """
  out = fs.path(out)
  for key, title, names in experiments:
    chosen = {n: result.outcomes[n] for n in names}
    fig = plotting.plot_training_history(
        {n: o.history for n, o in chosen.items()}, title=title)
    plotting.save_figure(fig, out / f"{key}_training.png")
    fig = plotting.plot_privacy_history(
        {n: list(o.privacy) for n, o in chosen.items()}, title=title)
    plotting.save_figure(fig, out / f"{key}_mia.png")
  fig = plotting.plot_roc_pair(
      {n: o.privacy[-1].get(result.config.attacks[0])
       for n, o in result.outcomes.items()},
      title=f"{result.config.attacks[0]} attack, final epoch")
  plotting.save_figure(fig, out / "roc_final.png")
  fig = plotting.plot_sample_images(raw.x_train[:16], raw.y_train[:16],
                                    raw.class_names, pixel_max=raw.pixel_max)
  plotting.save_figure(fig, out / "sample_data.png")
  write_csv(result.to_dataframe(), out / "summary.csv", index=False)
  io.atomic_write_json(out / "results.json", {
      "config": result.config,
      "models": {n: {"final": o.final_row(),
                     "per_epoch": [h.to_json_dict() for h in o.privacy]}
                 for n, o in result.outcomes.items()}})


# ---------------------------------------------------------------------------
# The SNN-MIA study


def write_snn_mia_study(result, out: PathLike) -> None:
  """Tables, results and figures of an SnnMiaResult."""
  out = fs.path(out)
  write_csv(result.table(), out / "results.csv", index=False,
            float_format="%.6g")
  write_csv(result.cell_table(), out / "table.csv")
  for metric in ("auc", "tpr_at_1%_fpr", "tpr_at_0.1%_fpr", "tpr_at_0%_fpr"):
    name = metric.replace("%", "pct").replace(".", "_")
    write_csv(result.wide_table(metric), out / f"table_{name}.csv",
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
        plotting.plot_leakage_vs_timesteps(
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
        plotting.plot_accuracy_sops(result.accuracy[model], result.sops[model],
                                    result.ann_macs[model], timesteps,
                                    title=model),
        out / f"{model}_accuracy_sops_vs_T.png")


# ---------------------------------------------------------------------------
# The pruning study


def pruning_summary_table(table):
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


def write_pruning_study(result, out: PathLike) -> None:
  """results.csv (every attack), table.csv (one row per cell),
  summary.json, histograms.npz and the three figures."""
  out = fs.path(out)
  table = result.table()
  write_csv(table, out / "results.csv", index=False, float_format="%.6g")
  summary = pruning_summary_table(table)
  write_csv(summary, out / "table.csv", index=False, float_format="%.4f")
  io.atomic_write_json(out / "summary.json",
                       {"cells": summary.to_dict(orient="records")})
  io.atomic_save_npz(out / "histograms.npz", **result.histograms)
  plotting.save_figure(plotting.plot_attack_vs_sparsity(summary),
                       out / "attack_vs_sparsity.png")
  plotting.save_figure(plotting.plot_privacy_tradeoff(summary),
                       out / "tradeoff.png")
  plotting.save_figure(plotting.plot_member_histograms(result.histograms),
                       out / "histograms.png")


def write_robustness(result, out: PathLike, record: Optional[dict] = None,
                     title: str = "Robustness") -> None:
  """robustness.json (the result and `record`), robustness.csv and
  robustness.png."""
  import pandas as pd
  out = fs.path(out)
  io.atomic_write_json(out / "robustness.json",
                       {"result": result, **(record or {})})
  write_csv(pd.DataFrame(result.rows()), out / "robustness.csv", index=False,
            float_format="%.4f")
  plotting.save_figure(plotting.plot_robustness(result.rows(), title=title),
                       out / "robustness.png")
