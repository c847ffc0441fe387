"""`tfmia reference`: train reference (shadow) models, resumably, in shards
if wanted (init, train, status, sbatch)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tfmia import cliargs
from tfmia.infra import fs

NAME = "reference"
HELP = "train reference (shadow) models"
DESCRIPTION = ("Train a target model and K reference models on a pooled "
               "membership split, resumably, in shards if wanted.")
ACTIONS = (("train", "train the missing models (resumes)"),
           ("status", "list complete and missing models"),
           ("sbatch", "write a Slurm job-array script that trains the "
                      "models, one shard per task"))


def add_config_arguments(p: argparse.ArgumentParser) -> None:
  """--config and what overrides it: flags shared with `tfmia audit`."""
  p.add_argument("--config", type=cliargs.path_arg, required=True,
                 help="reference config (see `tfmia reference init`)")
  cliargs.add_num_references(p, aliases=("--num-models",),
                             help="K reference models (even; default: the "
                                  "config's)")
  p.add_argument("--dir", type=cliargs.path_arg, default=None,
                 help="reference folder (default: the config's "
                      "reference_dir)")
  cliargs.add_data_dir(p, help="tfds data directory (overrides the "
                               "config's)")


def add_arguments(p: argparse.ArgumentParser) -> None:
  actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
  init = actions.add_parser("init", help="write a starting config file",
                            description="Write a reference config (JSON) to "
                                        "edit, with every field present.")
  init.add_argument("path", type=cliargs.path_arg, help="config file to write")
  cliargs.add_data_args(init, default_dataset="cifar10")
  init.add_argument("--model", default="conv", help="model builder")
  init.add_argument("--epochs", type=cliargs.positive_int, default=20)
  cliargs.add_num_references(init, aliases=("--num-models",), default=4,
                             help="K reference models (even; default: 4)")
  init.add_argument("--reference-dir", default="references")
  init.add_argument("--force", action="store_true", help="overwrite PATH")
  cliargs.add_no_progress(init)
  cliargs.add_config_file(init)
  for name, helptext in ACTIONS:
    a = actions.add_parser(name, help=helptext, description=helptext + ".")
    add_config_arguments(a)
    cliargs.add_config_file(a)
    if name == "train":
      a.add_argument("--shard", default=None,
                     help="i/N: train only part i of N (1-based), e.g. 3/8; "
                          "'auto': this Slurm array task's part (from "
                          "SLURM_ARRAY_TASK_ID/_MIN/_COUNT)")
      a.add_argument("--together", type=cliargs.positive_int, default=None,
                     help="train up to K models at once, side by side in "
                          "one graph: the same weights as one by one, "
                          "faster for small models (default: the config's "
                          "`together`, 1)")
      cliargs.add_executor_args(a, "the models")
      a.add_argument("--cpus-per-model", type=float, default=1.0)
      a.add_argument("--gpus-per-model", type=float, default=0.0)
      a.add_argument("--max-retries", type=int, default=None,
                     help="further attempts of a model that fails (ray "
                          "default: 2, local: 0)")
    if name == "sbatch":
      cliargs.add_out(a, default=Path("train_references.sh"),
                      help="script to write (default: train_references.sh)")
      a.add_argument("--tasks", type=cliargs.positive_int, default=None,
                     help="array size (default: one task per model)")
      a.add_argument("--cpus-per-task", type=cliargs.positive_int, default=4)
      a.add_argument("--gpus-per-task", type=int, default=0)
      a.add_argument("--time", default="24:00:00",
                     help="Slurm time limit per task (HH:MM:SS, D-HH:MM:SS)")
      a.add_argument("--mem", default=None,
                     help="Slurm memory per task, e.g. 16G (default: the "
                          "cluster's)")
      a.add_argument("--partition", default=None,
                     help="Slurm partition(s), comma-separated (default: the "
                          "cluster's)")
    cliargs.add_no_progress(a)


def config_from(args: argparse.Namespace):
  """The reference config of --config, with --num-references, --data-dir
  and --together applied."""
  from tfmia.references import ReferenceConfig
  config = ReferenceConfig.load(args.config)
  if getattr(args, "num_references", None) is not None:
    config = config.replace(num_models=args.num_references)
  if getattr(args, "data_dir", None) is not None:
    config = config.replace(data=config.data.replace(data_dir=args.data_dir))
  if getattr(args, "together", None) is not None:
    config = config.replace(together=args.together)
  return config


def handle(args: argparse.Namespace) -> int:
  return {"init": _init, "status": _status, "sbatch": _sbatch,
          "train": _train}[args.action](args)


def _init(args: argparse.Namespace) -> int:

  from tfmia import data as tfdata
  from tfmia import references as ref
  from tfmia.training import TrainConfig
  if args.path.exists() and not args.force:
    raise ValueError(f"{args.path} exists; pass --force to overwrite it.")
  config = ref.ReferenceConfig(
      data=tfdata.DataConfig(dataset=args.dataset, data_dir=args.data_dir,
                             download=args.download,
                             train_size=args.train_size,
                             test_size=args.test_size, seed=args.seed),
      model=args.model, train=TrainConfig(epochs=args.epochs),
      num_models=args.num_references, seed=args.seed,
      reference_dir=args.reference_dir)
  config.save(args.path)
  print(f"Wrote {args.path}. Edit it, then run: tfmia reference train "
        f"--config {args.path}")
  return 0


def _status(args: argparse.Namespace) -> int:
  from tfmia import references as ref
  config = config_from(args)
  directory = args.dir or fs.path(config.reference_dir)
  done, missing = ref.status(config, directory)
  print(f"{directory}: {len(done)} of {len(done) + len(missing)} models "
        "complete.")
  if missing:
    print("Missing or incomplete: " + ", ".join(missing))
  return 0


def _sbatch(args: argparse.Namespace) -> int:

  from tfmia import references as ref
  from tfmia.infra import executors, io
  config = config_from(args)
  tasks = args.tasks or len(ref.job_names(config.num_models))
  if tasks > len(ref.job_names(config.num_models)):
    raise ValueError(f"--tasks ({tasks}) is more than the models to train "
                     f"({len(ref.job_names(config.num_models))}).")
  command = "tfmia reference train"
  if args.dir is not None:
    command += f" --dir {args.dir.resolve()}"
  if args.num_references is not None:
    command += f" --num-references {args.num_references}"
  if args.data_dir is not None:
    command += f" --data-dir {fs.path(args.data_dir).resolve()}"
  script = executors.slurm_script(
      str(args.config.resolve()), tasks, job_name="tfmia-refs",
      cpus_per_task=args.cpus_per_task, gpus_per_task=args.gpus_per_task,
      time_limit=args.time, command=command, mem=args.mem,
      partition=args.partition)
  io.atomic_write_bytes(args.out, script.encode())
  args.out.chmod(0o755)
  print(f"Wrote {args.out}: {tasks} array tasks for the target and "
        f"{config.num_models} references. Submit it with: sbatch {args.out}")
  return 0


def _train(args: argparse.Namespace) -> int:

  from tfmia import references as ref
  from tfmia.infra import executors
  config = config_from(args)
  directory = args.dir or fs.path(config.reference_dir)
  shard = ref.parse_shard(args.shard)
  jobs = ref.shard_jobs(config.num_models, shard)
  print(f"Reference models: {config.model} on {config.data.dataset}, target + "
        f"{config.num_models} references in {directory}/"
        + (f"; shard {shard[0]}/{shard[1]}: {', '.join(jobs)}" if shard
           else ""))
  executor = cliargs.executor_from(args)
  resources = (executors.Resources(args.cpus_per_model, args.gpus_per_model)
               if executor is not None else None)
  out = ref.train_references(config, directory=directory, shard=shard,
                             progress=not args.no_progress,
                             executor=executor, resources=resources)
  print(f"Trained {len(out['trained'])}, skipped {len(out['skipped'])} "
        "already complete.")
  for name, why in out["redone"].items():
    print(f"  {name} was redone: {why}.")
  return 0
