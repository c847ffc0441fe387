"""`tfmia train`: train one model with the privacy callback."""

from __future__ import annotations

import argparse

from tfmia import cliargs

NAME = "train"
HELP = "train one model with the privacy callback"
DESCRIPTION = ("Train a model on the train split (members), validate on the "
               "test split (non-members), attacking it every N epochs.")


def add_arguments(p: argparse.ArgumentParser) -> None:
  cliargs.add_data_args(p, default_dataset="digits")
  p.add_argument("--model", default="conv",
                 help="model builder (tfmia models)")
  p.add_argument("--classes", type=cliargs.positive_int, default=None,
                 help="keep only the first k classes")
  p.add_argument("--width-multiplier", type=float, default=None,
                 help="width multiplier for vgg/resnet/cifarnet")
  p.add_argument("--optimizer", default="adam")
  p.add_argument("--learning-rate", type=float, default=1e-3)
  p.add_argument("--lr-schedule", default="constant")
  p.add_argument("--epochs", type=cliargs.positive_int, default=10)
  p.add_argument("--batch-size", type=cliargs.positive_int, default=50)
  p.add_argument("--augment", action="store_true")
  p.add_argument("--early-stopping", action="store_true")
  p.add_argument("--every-n-epochs", type=cliargs.positive_int, default=2)
  p.add_argument("--attacks", type=cliargs.csv, default=("threshold",))
  p.add_argument("--tensorboard", type=cliargs.path_arg, default=None,
                 help="write privacy metrics to this TensorBoard log dir")
  cliargs.add_out(p, required=True,
                  help="run folder: holds one run; a rerun with the same "
                       "settings resumes (loads it when complete), other "
                       "settings are refused")
  cliargs.add_overwrite(p, help="replace the run in --out, deleting its "
                                "outputs")
  cliargs.add_no_progress(p)


def _model_kwargs(args) -> dict:
  return ({"width_multiplier": args.width_multiplier}
          if args.width_multiplier is not None else {})


def handle(args: argparse.Namespace) -> int:

  from tfmia import data as tfdata
  from tfmia import models, results
  from tfmia.attacks import check_names
  from tfmia.audits.callback import train_with_privacy
  from tfmia.infra import io
  from tfmia.reporting import tables as reports
  from tfmia.training import TrainConfig
  # Unknown names and options fail before any work.
  models.check_kwargs(args.model, _model_kwargs(args))
  train_cfg = TrainConfig(
      optimizer=args.optimizer, learning_rate=args.learning_rate,
      lr_schedule=args.lr_schedule, epochs=args.epochs,
      batch_size=args.batch_size, seed=args.seed, augment=args.augment,
      early_stopping=args.early_stopping)
  data_cfg = tfdata.DataConfig(
      dataset=args.dataset, data_dir=args.data_dir, download=args.download,
      classes=args.classes, train_size=args.train_size,
      test_size=args.test_size, seed=args.seed)
  check_names(args.attacks)
  io.check_output_dir(args.out, "--out")
  data = tfdata.prepare_data(data_cfg)
  run = train_with_privacy(
      args.model, _model_kwargs(args), data, train_cfg, out_dir=args.out,
      attacks=args.attacks, every_n_epochs=min(args.every_n_epochs,
                                               args.epochs),
      name=args.model, seed=args.seed, progress=not args.no_progress,
      tensorboard_dir=args.tensorboard,
      extra_config={"data": data_cfg,
                    "privacy": {"attacks": list(args.attacks),
                                "every_n_epochs": args.every_n_epochs}},
      overwrite=args.overwrite)
  if run.resumed:
    print(f"{args.out} already holds this run, complete; loaded it "
          "(--overwrite trains it again).")
  reports.write_training_run(args.model, run.history, run.privacy, args.out)
  cliargs.print_table(results.history_dataframe(run.privacy),
                      ["epoch", "member_accuracy", "nonmember_accuracy",
                       "attack", "auc", "advantage"])
  print(f"\nWeights, config, history and privacy results are in {args.out}/")
  return 0
