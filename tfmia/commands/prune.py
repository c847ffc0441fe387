"""`tfmia prune`: prune a trained model and fine-tune it, with a defense."""

from __future__ import annotations

import argparse

from tfmia import cliargs
from tfmia.infra import fs

NAME = "prune"
HELP = "prune a trained model, fine-tune it (with a defense)"
DESCRIPTION = ("Prune the model of a `tfmia train` run folder, fine-tune "
               "it on its members for half its training epochs (as "
               "mia_prune does), with a membership-inference defense if "
               "asked, and write the pruned model, its sparsity, "
               "parameters, FLOPs, accuracy and (DP-SGD) epsilon.")


def add_arguments(p: argparse.ArgumentParser) -> None:
  cliargs.add_run(p)
  p.add_argument("--pruner", required=True,
                 help="l1_unstructured, l1_structured, l2_structured or "
                      "slim")
  p.add_argument("--sparsity", type=float, required=True,
                 help="in (0, 1): of each kernel's weights (unstructured), "
                      "of each conv's filters (l1/l2_structured) or of all "
                      "BatchNorm channels (slim)")
  p.add_argument("--defense", default="none",
                 help="none, ppb, adv (adversarial regularisation), dp "
                      "(DP-SGD at a noise multiplier) or dp_sgd (DP-SGD at "
                      "a target epsilon) during the fine-tuning")
  p.add_argument("--defense-arg", type=float, default=4.0,
                 help="ppb: lambda; adv: privacy weight; dp: noise "
                      "multiplier; dp_sgd: target epsilon (default: 4, "
                      "mia_prune's)")
  p.add_argument("--delta", type=float, default=1e-5,
                 help="dp: the delta of the reported epsilon")
  p.add_argument("--epochs", type=cliargs.positive_int, default=None,
                 help="fine-tuning epochs (default: half the run's)")
  cliargs.add_data_dir(p, help="override the run's tfds data directory")
  cliargs.add_out(p, help="output folder (default: RUN/pruned_<pruner>_"
                          "<sparsity>[_<defense>])")
  cliargs.add_no_progress(p)


def _accuracy(model, data) -> tuple[float, float]:
  """(train, test) accuracy of `model`, through the model adapter."""

  import numpy as np
  from tfmia.models.adapter import predict_logits
  from tfmia.results import accuracy
  x = np.concatenate([data.x_train, data.x_test])
  logits = predict_logits(model, x, batch_size=1024)
  n = len(data.x_train)
  return accuracy(logits[:n], data.y_train), accuracy(logits[n:], data.y_test)


def handle(args: argparse.Namespace) -> int:

  import os

  from tfmia import variants
  from tfmia.infra import io
  from tfmia.training import TrainConfig, defenses
  from tfmia.training.loop import load_run
  from tfmia.variants import pruning
  # Settings are checked before the run is loaded or anything trains.
  pruning.check_pruner(args.pruner, args.sparsity)
  defense = defenses.Defense(args.defense, args.defense_arg, delta=args.delta)
  model, data, record = load_run(args.run, data_dir=args.data_dir)
  pruning.check_pruner(args.pruner, args.sparsity, model)
  train_cfg = io.from_dict(TrainConfig, record["train"], "train")
  finetune = train_cfg.replace(
      epochs=args.epochs or max(1, train_cfg.epochs // 2))
  # Pruned and fine-tuned on the run's members, as every pruned variant is.
  variant = variants.PrunedVariant(
      pruner=args.pruner, sparsity=args.sparsity, finetune=finetune,
      defense=defense, seed=train_cfg.seed)
  out = fs.path(args.out or fs.path(args.run) / f"pruned_{variant.label()}")
  io.check_output_dir(out, "--out")
  before = _accuracy(model, data)
  # Writes model.keras and the variant's prune.json (sparsity, parameters,
  # FLOPs, ε, history); the command's record below replaces the latter,
  # adding the run, the settings and the accuracies.
  pruned = variant.make(model, data, out / variants.MODEL_FILE,
                        name=record["model"]["builder"])
  after = _accuracy(pruned, data)
  info = io.read_json(out / variants.PRUNE_INFO_FILE)
  io.atomic_write_json(out / variants.PRUNE_INFO_FILE, {
      "run": os.fspath(args.run), "pruner": args.pruner,
      "sparsity": args.sparsity, "defense": defense, "finetune": finetune,
      "stats": info["stats"], "epsilon": info["epsilon"],
      "accuracy_before": {"train": before[0], "test": before[1]},
      "accuracy_after": {"train": after[0], "test": after[1]},
      "history": info["history"]})
  print(pruning.describe(pruning.PruneStats(**info["stats"])))
  print(f"Accuracy (train / test): {before[0]:.4f} / {before[1]:.4f} before, "
        f"{after[0]:.4f} / {after[1]:.4f} after {finetune.epochs} epochs of "
        f"fine-tuning" + ("" if defense.name == "none"
                          else f" with {defense.label()}"))
  if info["epsilon"] is not None:
    print(f"DP-SGD: epsilon = {info['epsilon']:.3f} at delta = "
          f"{defense.delta:g} ({defense.accountant.upper()} accounting, "
          "Poisson sampling)")
  print(f"Pruned model and prune.json are in {out}/")
  return 0
