"""`tfmia case-study pruning`: the study's flags and what they run."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

from tfmia import cliargs

NAME = "pruning"
HELP = ("membership leakage of pruned models, with defenses (mia_prune's "
        "study)")
DESCRIPTION = ("Yuan & Zhang's pruning study: a victim and shadow models "
               "on mia_prune's split of the pooled data; every pruner at "
               "each sparsity, with PPB, adversarial regularisation or "
               "DP-SGD in the fine-tuning; attacked non-adaptively and "
               "adaptively by mia_prune's attacks, RMIA and LiRA. "
               "Resumable.")


def add_arguments(p: argparse.ArgumentParser) -> None:
  cliargs.add_data_args(p, default_dataset="cifar10", sizes=False)
  cliargs.add_quick(p, help="a 3,000-image pool, a narrow VGG-11 for 12 "
                            "epochs, 2 shadows, two pruners, the defenses "
                            "at l1_structured 0.7 (17 minutes on 2 CPU "
                            "cores)")
  cliargs.add_fallback_dataset(p)
  p.add_argument("--model", default=None, help="architecture (full: resnet18)")
  p.add_argument("--pool-size", type=cliargs.positive_int, default=None)
  p.add_argument("--epochs", type=cliargs.positive_int, default=None)
  cliargs.add_num_references(p, aliases=("--num-shadows",),
                             type=cliargs.positive_int,
                             help="shadow models (full: 5, quick: 2)")
  p.add_argument("--pruners", type=cliargs.csv, default=None)
  p.add_argument("--sparsities", type=cliargs.csv, default=None,
                 help="e.g. 0.5,0.7,0.9")
  p.add_argument("--attacks", type=cliargs.csv, default=None)
  p.add_argument("--attack-epochs", type=cliargs.positive_int, default=None,
                 help="training epochs of the NN attacks and SAMIA "
                      "(full: 100, mia_prune's; quick: 10)")
  cliargs.add_study_out(p, "plots/pruning")
  cliargs.add_executor_args(p, "each model's training, each model's pruned "
                               "variants and each audit cell")
  cliargs.add_no_progress(p)


def handle(args: argparse.Namespace) -> int:

  from tfmia import data as tfdata
  from tfmia.infra import io
  from tfmia.studies import pruning as study
  from tfmia.studies.pruning import report
  dataset = cliargs.available_dataset(args)
  try:
    sparsities = (tuple(float(v) for v in args.sparsities)
                  if args.sparsities else None)
  except ValueError:
    raise ValueError("--sparsities must be numbers, e.g. 0.5,0.7,0.9. "
                     f"Received: {','.join(args.sparsities)}") from None
  overrides = dict(dataset=dataset, data_dir=args.data_dir,
                   download=args.download, model=args.model,
                   pool_size=args.pool_size, epochs=args.epochs,
                   num_shadows=args.num_references, pruners=args.pruners,
                   sparsities=sparsities, attacks=args.attacks,
                   attack_epochs=args.attack_epochs, seed=args.seed)
  overrides = {k: v for k, v in overrides.items() if v is not None}
  io.check_output_dir(args.out, "--out")
  if args.quick:
    raw = tfdata.load_dataset(dataset, data_dir=args.data_dir,
                              download=args.download, seed=args.seed)
    config = study.PruningStudyConfig.quick_mode(
        split_sizes=(len(raw.y_train), len(raw.y_test)),
        image_size=raw.x_train.shape[1], **overrides)
  else:
    config = study.PruningStudyConfig(**overrides)
  mode = cliargs.mode_label(config.quick, overrides)
  print(f"Pruning study ({mode}) on {dataset}: {config.model}, "
        f"pruners {', '.join(config.pruners)} at "
        f"{', '.join(f'{s:g}' for s in config.sparsities)}, "
        f"{config.num_shadows} shadow models. Output: {args.out}/")
  result = study.run(config, args.out, progress=not args.no_progress,
                     overwrite=args.overwrite,
                     executor=cliargs.executor_from(args))
  cliargs.print_table(report.summary_table(result.table()),
                      ["cell", "adaptive", "test_accuracy", "epsilon",
                       "best_attack", "attack_accuracy", "rmia_auc",
                       "rmia_tpr_at_1%_fpr"])
  print(f"\nTables and figures are in {args.out}/")
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`tfmia case-study pruning`, as a script of its own."""
  return cliargs.main_of(f"tfmia case-study {NAME}", add_arguments, handle,
                         DESCRIPTION, argv)
