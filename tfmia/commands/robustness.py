"""`tfmia robustness`: adversarial robustness of a trained model (or its
SNN), and its label-only membership leakage."""

from __future__ import annotations

import argparse

from tfmia import cliargs
from tfmia.infra import fs

NAME = "robustness"
HELP = ("attack a trained model (or its SNN) with FGSM, PGD, AutoAttack, "
        "Square through ART")
DESCRIPTION = ("Adversarial robustness of the model of a `tfmia train` "
               "run, or of its SNN conversion (--snn-timesteps), on its "
               "test split, white-box and (with --transfer-from) "
               "black-box, with the gradient-masking checks. Writes "
               "robustness.json, robustness.csv and robustness.png.")


def add_arguments(p: argparse.ArgumentParser) -> None:
  cliargs.add_run(p)
  p.add_argument("--attacks", type=cliargs.csv, default=("fgsm", "pgd"),
                 help="from fgsm, pgd, pgd_l2, apgd, autoattack, square")
  p.add_argument("--eps", default="8/255",
                 help="L-infinity budget in [0, 1] pixels, e.g. 8/255")
  p.add_argument("--eps-l2", type=float, default=0.5,
                 help="L2 budget of pgd_l2")
  p.add_argument("--pgd-steps", type=int, default=7)
  p.add_argument("--pgd-step", type=float, default=0.01)
  p.add_argument("--square-queries", type=int, default=1000)
  p.add_argument("--eot-samples", type=int, default=1,
                 help="average gradients over this many draws of a "
                      "stochastic (Poisson-coded) model")
  cliargs.add_examples(p, default=500,
                       help="test examples attacked (the first N; default: "
                            "500)")
  p.add_argument("--snn-timesteps", type=cliargs.positive_int, default=None,
                 help="convert the ANN to an SNN with T timesteps first, as "
                      "the SNN variant does (tfmia.variants.SnnVariant: "
                      "data-driven thresholds on 512 random training "
                      "images), without calibration")
  p.add_argument("--label-only", type=cliargs.positive_int, default=None,
                 metavar="N",
                 help="also run the label-only membership attacks (gap, "
                      "decision boundary by HopSkipJump) on N training "
                      "members and N test non-members")
  p.add_argument("--transfer-from", type=cliargs.path_arg, default=None,
                 help="a tfmia train run whose model crafts the black-box "
                      "examples")
  cliargs.add_data_dir(p, help="override the run's tfds data directory")
  cliargs.add_seed(p)
  cliargs.add_out(p, help="results folder (default: RUN/robustness)")
  cliargs.add_no_progress(p)


def _label_only(model, data, n: int, seed: int) -> list:
  """The label-only membership attacks (label_gap and label_boundary,
  through the attack registry) on the first `n` members and `n` test
  non-members: their summaries."""

  import dataclasses

  import numpy as np

  from tfmia import robustness as rob
  from tfmia.attacks import AttackConfig, AttackSignals, run_attacks
  from tfmia.models.adapter import predict_logits
  from tfmia.signals import Signals
  x = np.concatenate([data.x_train[:n], data.x_test[:n]])
  y = np.concatenate([data.y_train[:n], data.y_test[:n]])
  # The target's signals: its logits and its distances to the boundary.
  target = dataclasses.replace(
      Signals.from_logits(predict_logits(model, x), y),
      boundary_distance=rob.boundary_distances(
          model, x, y, rob.BoundaryConfig(seed=seed)))
  res = run_attacks(["label_gap", "label_boundary"],
                    AttackSignals(target=target), AttackConfig(seed=seed),
                    is_member=np.arange(len(y)) < len(data.y_train[:n]))
  return [r.summary() for r in res.results]


def handle(args: argparse.Namespace) -> int:

  import os

  import pandas as pd

  from tfmia import data as tfdata
  from tfmia import robustness as rob
  from tfmia import variants
  from tfmia.infra import io
  from tfmia.reporting import tables as reports
  from tfmia.training.calibration import CalibrationConfig
  from tfmia.training.loop import load_run
  # Settings are checked before anything is loaded.
  attacks = rob.check_attacks(args.attacks)
  config = rob.RobustnessConfig(
      eps=rob.parse_eps(args.eps), eps_l2=args.eps_l2,
      pgd_steps=args.pgd_steps, pgd_step=args.pgd_step,
      square_queries=args.square_queries, eot_samples=args.eot_samples,
      seed=args.seed)
  for path, what in ((args.run, "--run"), (args.transfer_from,
                                            "--transfer-from")):
    if path is not None and not fs.path(path).is_dir():
      raise NotADirectoryError(20, f"{what} must be a folder written by "
                               "`tfmia train`", str(path))
  out = args.out or fs.path(args.run) / "robustness"
  io.check_output_dir(out, "--out")
  model, data, record = load_run(args.run, data_dir=args.data_dir)
  source = (load_run(args.transfer_from, data_dir=args.data_dir)[0]
            if args.transfer_from is not None else None)
  what = record["model"]["builder"]
  if args.snn_timesteps:
    snn = variants.SnnVariant(timesteps=args.snn_timesteps,
                              calibration=CalibrationConfig(epochs=0),
                              seed=args.seed)
    model = snn.apply(model, data, name=what)
    what = f"{what} SNN (T = {args.snn_timesteps})"
  tfdata.check_at_most("examples", args.examples, len(data.y_test),
                       data.name, flag="--examples")
  if args.label_only:
    tfdata.check_at_most("label_only", args.label_only,
                         min(len(data.y_train), len(data.y_test)), data.name,
                         flag="--label-only")
  x, y = data.x_test[:args.examples], data.y_test[:args.examples]
  print(f"Robustness of {what} on {len(y)} test examples: "
        f"{', '.join(attacks)} at eps = {config.eps:.4g}"
        + (f", black-box from {args.transfer_from}" if source else ""))
  res = rob.evaluate(model, x, y, attacks, config, source=source,
                     progress=not args.no_progress)
  reports.write_robustness(res, out, {
      "run": os.fspath(args.run), "snn_timesteps": args.snn_timesteps,
      "transfer_from": (os.fspath(args.transfer_from)
                        if args.transfer_from else None)},
                           title=f"Robustness of {what}")
  cliargs.print_table(pd.DataFrame(res.rows()),
                      ["setting", "attack", "accuracy", "ci_low", "ci_high"])
  if args.label_only:
    n = args.label_only
    print(f"Label-only membership attacks on {len(data.y_train[:n])} "
          f"members and {len(data.y_test[:n])} non-members")
    summaries = _label_only(model, data, n, args.seed)
    io.atomic_write_json(fs.path(out) / "label_only.json",
                         {"results": summaries})
    cliargs.print_table(pd.DataFrame(summaries),
                        ["attack", "auc", "auc_ci_low", "auc_ci_high",
                         "tpr_at_1%_fpr"])
  print("Gradient check (fraction of examples): " + ", ".join(
      f"{k} {v:.2f}" for k, v in res.gradient_check.items()))
  for w in res.warnings:
    print("WARNING: " + w)
  print(f"\nResults are in {out}/")
  return 0
