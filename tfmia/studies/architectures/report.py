"""The architecture study's figures and tables, drawn from its result."""

from __future__ import annotations

from tfmia.infra import fs, io
from tfmia.reporting import plots as plotting


def write(result, raw, out: fs.PathLike, experiments) -> None:
  """Figures, results.json and summary.csv of an ArchitectureStudyResult.

  Args:
    result: the study's `ArchitectureStudyResult`.
    raw: the loaded dataset (its first images are drawn).
    out: the study's folder.
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
  io.atomic_write_csv(result.to_dataframe(), out / "summary.csv", index=False)
  io.atomic_write_json(out / "results.json", {
      "config": result.config,
      "models": {n: {"final": o.final_row(),
                     "per_epoch": [h.to_json_dict() for h in o.privacy]}
                 for n, o in result.outcomes.items()}})
