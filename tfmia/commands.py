"""What each `tfmia` subcommand does; argument parsing lives in `tfmia.cli`."""

from __future__ import annotations

import argparse
import json

from tfmia import data as tfdata
from tfmia.infra import fs, io
from tfmia import models, results
from tfmia.reporting import tables as reports


def _print_table(df, columns) -> None:
  cols = [c for c in columns if c in df.columns]
  print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def _available_dataset(args: argparse.Namespace) -> str:
  """args.dataset, or args.fallback_dataset (saying so) when it is absent."""
  dataset = args.dataset
  if not args.download and not tfdata.dataset_available(dataset, args.data_dir):
    where = tfdata.resolve_data_dir(args.data_dir)
    if not args.fallback_dataset:
      raise ValueError(
          f"Dataset {dataset!r} is not available offline in data_dir="
          f"{where!r}. Pass --data-dir (or set ${tfdata.DATA_DIR_ENV}), "
          f"--download, or --fallback-dataset digits.")
    print(f"{dataset} was not found in data_dir={where!r}; running on "
          f"{args.fallback_dataset!r} instead.")
    dataset = args.fallback_dataset
  return dataset


def case_study(args: argparse.Namespace) -> int:
  if args.study == "snn-mia":
    return _snn_mia(args)
  if args.study == "pruning":
    return _pruning(args)
  if args.study == "snn-robustness":
    return _snn_robustness(args)
  if args.study == "dp-audit":
    return _dp_audit(args)
  from tfmia.studies import architectures as study
  dataset = _available_dataset(args)
  every = args.every_n_epochs
  if every is None and args.epochs is not None:
    every = min(2, args.epochs)   # the default cadence, within the epochs
  overrides = dict(dataset=dataset, data_dir=args.data_dir,
                   download=args.download, epochs=args.epochs,
                   batch_size=args.batch_size, every_n_epochs=every,
                   train_size=args.train_size, test_size=args.test_size,
                   attacks=args.attacks, seed=args.seed)
  overrides = {k: v for k, v in overrides.items() if v is not None}
  # Settings are checked before the data is loaded, then against it.
  config = study.ArchitectureStudyConfig(
      **(dict(overrides, quick=True, train_size=None, test_size=None)
         if args.quick else overrides))
  io.check_output_dir(args.out, "--out")
  raw = tfdata.load_dataset(dataset, data_dir=args.data_dir,
                            download=args.download, seed=args.seed)
  if args.quick:
    config = study.ArchitectureStudyConfig.quick_mode(
        split_sizes=(len(raw.y_train), len(raw.y_test)), **overrides)
  mode = "quick" if config.quick else "full"
  print(f"Architecture case study ({mode} mode) on {dataset}: 5 models, "
        f"{config.epochs} epochs, attacks every {config.every_n_epochs}: "
        f"{', '.join(config.attacks)}. Output: {args.out}/")
  if args.seeds:
    return _over_seeds(study.run, config, args, raw,
                       lambda r: r.to_dataframe(), ["model", "attack"])
  result = study.run(config, args.out, raw=raw, progress=not args.no_progress,
                     overwrite=args.overwrite, executor=_executor_from(args))
  print()
  _print_table(result.to_dataframe(),
               ["model", "num_classes", "num_params", "member_accuracy",
                "nonmember_accuracy", "attack", "auc", "advantage",
                "tpr_at_1%_fpr"])
  print(f"\nFigures, results.json and summary.csv are in {args.out}/")
  return 0


def _over_seeds(run, config, args, raw, table_of, keys) -> int:
  """A study once per seed (`--seeds`), then seeds_summary.csv: per cell
  (`keys`) the spread across seeds beside the mean bootstrap interval."""
  from tfmia.studies import seeds as seeds_lib
  results = seeds_lib.run_over_seeds(
      run, config, args.out, args.seeds, raw=raw, overwrite=args.overwrite,
      progress=not args.no_progress)
  table = seeds_lib.spread_table({s: table_of(r) for s, r in results.items()},
                                 keys, ["auc", "tpr_at_1%_fpr"])
  reports.write_csv(table, args.out / seeds_lib.SUMMARY_FILE, index=False)
  print()
  _print_table(table, [*keys, "num_seeds", "auc_mean", "auc_std",
                       "auc_ci_low_mean", "auc_ci_high_mean",
                       "tpr_at_1%_fpr_mean", "tpr_at_1%_fpr_std"])
  print(f"\nPer seed: {args.out}/seed_<s>/; across seeds: "
        f"{args.out / seeds_lib.SUMMARY_FILE}")
  return 0


def _model_kwargs(args) -> dict:
  return ({"width_multiplier": args.width_multiplier}
          if args.width_multiplier is not None else {})


def train(args: argparse.Namespace) -> int:
  from tfmia.audits.callback import train_with_privacy
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
  from tfmia.attacks import check_names
  check_names(args.attacks)
  io.check_output_dir(args.out, "--out")
  data = tfdata.prepare_data(data_cfg)
  run = train_with_privacy(
      args.model, _model_kwargs(args), data, train_cfg, out_dir=args.out,
      attacks=args.attacks, every_n_epochs=min(args.every_n_epochs,
                                               args.epochs),
      name=args.model, seed=args.seed, tensorboard_dir=args.tensorboard,
      extra_config={"data": data_cfg,
                    "privacy": {"attacks": list(args.attacks),
                                "every_n_epochs": args.every_n_epochs}},
      overwrite=args.overwrite)
  if run.resumed:
    print(f"{args.out} already holds this run, complete; loaded it "
          "(--overwrite trains it again).")
  reports.write_training_run(args.model, run.history, run.privacy, args.out)
  _print_table(results.history_dataframe(run.privacy),
               ["epoch", "member_accuracy", "nonmember_accuracy", "attack",
                "auc", "advantage"])
  print(f"\nWeights, config, history and privacy results are in {args.out}/")
  return 0


def _accuracy(model, data) -> tuple[float, float]:
  """(train, test) accuracy of `model`, through the model adapter."""
  import numpy as np
  from tfmia.models.adapter import predict_logits
  x = np.concatenate([data.x_train, data.x_test])
  pred = predict_logits(model, x, batch_size=1024).argmax(1)
  n = len(data.x_train)
  return (float(np.mean(pred[:n] == data.y_train)),
          float(np.mean(pred[n:] == data.y_test)))


def prune(args: argparse.Namespace) -> int:
  import os

  from tfmia import variants
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


def robustness(args: argparse.Namespace) -> int:
  import os

  from tfmia import robustness as rob
  from tfmia import variants
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
  x, y = data.x_test[:args.examples], data.y_test[:args.examples]
  print(f"Robustness of {what} on {len(y)} test examples: "
        f"{', '.join(attacks)} at eps = {config.eps:.4g}"
        + (f", black-box from {args.transfer_from}" if source else ""))
  res = rob.evaluate(model, x, y, attacks, config, source=source,
                     progress=True)
  reports.write_robustness(res, out, {
      "run": os.fspath(args.run), "snn_timesteps": args.snn_timesteps,
      "transfer_from": (os.fspath(args.transfer_from)
                        if args.transfer_from else None)},
                           title=f"Robustness of {what}")
  import pandas as pd
  _print_table(pd.DataFrame(res.rows()),
               ["setting", "attack", "accuracy", "ci_low", "ci_high"])
  if args.label_only:
    n = args.label_only
    print(f"Label-only membership attacks on {len(data.y_train[:n])} "
          f"members and {len(data.y_test[:n])} non-members")
    summaries = _label_only(model, data, n, args.seed)
    io.atomic_write_json(fs.path(out) / "label_only.json",
                         {"results": summaries})
    _print_table(pd.DataFrame(summaries),
                 ["attack", "auc", "auc_ci_low", "auc_ci_high",
                  "tpr_at_1%_fpr"])
  print("Gradient check (fraction of examples): " + ", ".join(
      f"{k} {v:.2f}" for k, v in res.gradient_check.items()))
  for w in res.warnings:
    print("WARNING: " + w)
  print(f"\nResults are in {out}/")
  return 0


def attack(args: argparse.Namespace) -> int:
  from tfmia.audits import audit as audit_lib
  from tfmia.attacks import SlicingConfig, check_names
  attacks = check_names(args.attacks)
  slicing = SlicingConfig(by_class=args.by_class,
                          by_classification_correctness=args.by_correctness)
  out = args.out or (args.run / "attack" if args.run is not None
                     else args.logits.with_suffix(""))
  source_path = args.run if args.run is not None else args.logits
  if not source_path.exists():
    raise FileNotFoundError(2, "No such run folder or logits file",
                            str(source_path))
  if args.run is not None and not args.run.is_dir():
    raise NotADirectoryError(20, "--run must be a folder written by "
                             "`tfmia train`, but this is a file",
                             str(args.run))
  io.check_output_dir(out, "--out")   # before any work
  if args.run is not None:
    res, source = audit_lib.attack_run(args.run, attacks, slicing=slicing,
                                       seed=args.seed, data_dir=args.data_dir)
  else:
    res, source = audit_lib.attack_logits_file(args.logits, attacks,
                                               slicing=slicing, seed=args.seed)
  reports.write_attack(res, out, {"source": source, "attacks": attacks,
                                  "slicing": slicing, "seed": args.seed})
  _print_table(res.to_dataframe(),
               ["attack", "slice", "auc", "auc_ci_low", "auc_ci_high",
                "advantage", "tpr_at_0.1%_fpr", "tpr_at_1%_fpr", "ppv",
                "epsilon_lower_bound"])
  print(f"\nResults are in {out}/")
  return 0


def list_models(args: argparse.Namespace) -> int:
  del args
  for name in models.available_models():
    doc = (models.get_builder(name).__doc__ or "").strip().splitlines()[0]
    print(f"{name:10s} {doc}")
  return 0


def _reference_config(args: argparse.Namespace):
  from tfmia.reference import ReferenceConfig
  config = ReferenceConfig.load(args.config)
  if getattr(args, "num_models", None) is not None:
    config = config.replace(num_models=args.num_models)
  if getattr(args, "data_dir", None) is not None:
    config = config.replace(data=config.data.replace(data_dir=args.data_dir))
  return config


def reference(args: argparse.Namespace) -> int:
  from tfmia import reference as ref
  from tfmia.training import TrainConfig
  if args.action == "init":
    if args.path.exists() and not args.force:
      raise ValueError(f"{args.path} exists; pass --force to overwrite it.")
    config = ref.ReferenceConfig(
        data=tfdata.DataConfig(dataset=args.dataset, data_dir=args.data_dir,
                               download=args.download,
                               train_size=args.train_size,
                               test_size=args.test_size, seed=args.seed),
        model=args.model, train=TrainConfig(epochs=args.epochs),
        num_models=args.num_models, seed=args.seed,
        reference_dir=args.reference_dir)
    io.atomic_write_json(args.path, config)
    print(f"Wrote {args.path}. Edit it, then run: tfmia reference train "
          f"--config {args.path}")
    return 0
  config = _reference_config(args)
  directory = args.dir or fs.path(config.reference_dir)
  if args.action == "status":
    done, missing = ref.status(config, directory)
    print(f"{directory}: {len(done)} of {len(done) + len(missing)} models "
          "complete.")
    if missing:
      print("Missing or incomplete: " + ", ".join(missing))
    return 0
  if args.action == "sbatch":
    from tfmia.infra import executors
    tasks = args.tasks or len(ref.job_names(config.num_models))
    if tasks > len(ref.job_names(config.num_models)):
      raise ValueError(f"--tasks ({tasks}) is more than the models to train "
                       f"({len(ref.job_names(config.num_models))}).")
    command = "tfmia reference train"
    if args.dir is not None:
      command += f" --dir {args.dir.resolve()}"
    if args.num_models is not None:
      command += f" --num-models {args.num_models}"
    if args.data_dir is not None:
      command += f" --data-dir {fs.path(args.data_dir).resolve()}"
    script = executors.slurm_script(
        str(args.config.resolve()), tasks, job_name="tfmia-refs",
        cpus_per_task=args.cpus_per_task, gpus_per_task=args.gpus_per_task,
        time_limit=args.time, command=command)
    io.atomic_write_bytes(args.out, script.encode())
    args.out.chmod(0o755)
    print(f"Wrote {args.out}: {tasks} array tasks for the target and "
          f"{config.num_models} references. Submit it with: sbatch {args.out}")
    return 0
  shard = ref.parse_shard(args.shard)
  jobs = ref.shard_jobs(config.num_models, shard)
  print(f"Reference models: {config.model} on {config.data.dataset}, target + "
        f"{config.num_models} references in {directory}/"
        + (f"; shard {shard[0]}/{shard[1]}: {', '.join(jobs)}" if shard else ""))
  executor = resources = None
  if args.executor != "local" or args.max_retries is not None:
    from tfmia.infra import executors
    executor = executors.make_executor(
        args.executor, address=args.address, max_retries=args.max_retries,
        progress=not args.no_progress)
    resources = executors.Resources(args.cpus_per_model, args.gpus_per_model)
  elif args.address is not None:
    raise ValueError("--address is for --executor ray.")
  out = ref.train_references(config, directory=directory, shard=shard,
                             progress=not args.no_progress,
                             executor=executor, resources=resources)
  print(f"Trained {len(out['trained'])}, skipped {len(out['skipped'])} "
        "already complete.")
  for name, why in out["redone"].items():
    print(f"  {name} was redone: {why}.")
  return 0


def _rmia_a(text: str):
  if text == "auto":
    return None
  try:
    return float(text)
  except ValueError:
    raise ValueError(f"--rmia-a must be a number in [0, 1] or 'auto'. "
                     f"Received: {text!r}") from None


def audit(args: argparse.Namespace) -> int:
  from tfmia.audits import audit as audit_lib
  from tfmia.attacks.registry import AttackConfig, DEFAULT_ATTACKS
  from tfmia.signals import SignalConfig
  if args.list:
    from tfmia.attacks.registry import ATTACKS
    for name, spec in ATTACKS.items():
      print(f"{name:26s} {spec.description}")
    return 0
  if args.render is not None:
    res = reports.render_audit(args.render)
    _print_table(reports.report(res), reports.PRINT_COLUMNS)
    print(f"\nRedrew report.csv, roc_loglog.png and score_hist.png in "
          f"{args.render}/")
    return 0
  if args.config is None:
    raise ValueError("--config (or --render, or --list) is required.")
  if args.out is None:
    raise ValueError("--out is required with --config.")
  io.check_output_dir(args.out, "--out")   # before any work
  from tfmia import variants
  config = _reference_config(args)
  variant = (variants.from_spec(args.variant, train=config.train)
             if args.variant is not None else None)
  reference_variant = (variants.from_spec(args.reference_variant,
                                          train=config.train)
                       if args.reference_variant is not None else "same")
  audit_config = audit_lib.AuditConfig(
      attacks=args.attacks or DEFAULT_ATTACKS,
      signals=SignalConfig(augmentations=args.augment,
                           dropout_copies=args.dropout_copies,
                           dropout_rate=args.dropout_rate, seed=args.seed),
      attack=AttackConfig(rmia_a=_rmia_a(args.rmia_a), rmia_gamma=args.rmia_gamma,
                          rmia_population=args.rmia_population,
                          lira_fix_variance=not args.lira_per_example_variance,
                          seed=args.seed))
  res = audit_lib.audit_reference_folder(
      config, audit_config, variant=variant,
      reference_variant=reference_variant, out_dir=args.out,
      directory=args.dir, progress=not args.no_progress)
  print(f"Target: member accuracy {res.member_accuracy:.4f}, non-member "
        f"{res.nonmember_accuracy:.4f}\n")
  _print_table(reports.report(res), reports.PRINT_COLUMNS)
  print(f"\nReport, figures and scores are in {args.out}/")
  return 0


def _snn_mia(args: argparse.Namespace) -> int:
  from tfmia.studies import snn_mia as study
  dataset = _available_dataset(args)
  timesteps = args.timesteps
  overrides = dict(dataset=dataset, data_dir=args.data_dir,
                   download=args.download, models=args.models,
                   timesteps=timesteps, num_references=args.num_references,
                   epochs=args.epochs,
                   calibration_epochs=args.calibration_epochs,
                   dropout_copies=args.dropout_copies,
                   pool_size=args.pool_size,
                   population_size=args.population_size, seed=args.seed,
                   matched_accuracy=False if args.no_matched_accuracy
                   else None)
  overrides = {k: v for k, v in overrides.items() if v is not None}
  # Settings are checked before the data is loaded, then against it.
  config = (study.SnnMiaConfig.quick_mode(protocol=args.protocol, **overrides)
            if args.quick else
            study.SnnMiaConfig.full_mode(protocol=args.protocol, **overrides))
  io.check_output_dir(args.out, "--out")
  raw = tfdata.load_dataset(dataset, data_dir=args.data_dir,
                            download=args.download, seed=args.seed)
  if args.quick:
    config = study.SnnMiaConfig.quick_mode(
        split_sizes=(len(raw.y_train), len(raw.y_test)),
        image_size=raw.x_train.shape[1], protocol=args.protocol, **overrides)
  mode = "quick" if config.quick else "full"
  print(f"SNN membership-inference study ({mode} mode, protocol "
        f"{config.protocol}) on {dataset}: "
        f"{', '.join(config.models)}, T = "
        f"{', '.join(map(str, config.timesteps))}, {config.num_references} "
        f"reference models. Output: {args.out}/")
  if args.seeds:
    return _over_seeds(study.run, config, args, raw, lambda r: r.table(),
                       ["model", "dropout_calibration", "setting", "attack"])
  executor = _executor_from(args)
  result = study.run(config, args.out, raw=raw, overwrite=args.overwrite,
                     progress=not args.no_progress, executor=executor)
  print("\nMIA AUC (rows: model, input-dropout calibration):")
  print(result.wide_table("auc").to_string(float_format=lambda v: f"{v:.3f}"))
  print("\nTest accuracy:", json.dumps(result.accuracy))
  print(f"\nTables, results and figures are in {args.out}/")
  return 0


def _snn_robustness(args: argparse.Namespace) -> int:
  from tfmia.studies import snn_robustness as study
  dataset = _available_dataset(args)
  overrides = dict(dataset=dataset, data_dir=args.data_dir,
                   download=args.download, epochs=args.epochs,
                   attacks=args.attacks, attack_examples=args.attack_examples,
                   references=args.references, seed=args.seed,
                   sweep_design=args.sweep_design)
  overrides = {k: v for k, v in overrides.items() if v is not None}
  if args.no_sweep:
    overrides.update(sweep_pooling=(), sweep_encoders=())
  if args.quick:
    raw = tfdata.load_dataset(dataset, data_dir=args.data_dir,
                              download=args.download, seed=args.seed)
    config = study.SnnRobustnessConfig.quick_mode(
        split_sizes=(len(raw.y_train), len(raw.y_test)), **overrides)
  else:
    config = study.SnnRobustnessConfig(**overrides)
  io.check_output_dir(args.out, "--out")
  print(f"SNN robustness study ({'quick' if config.quick else 'full'} mode) "
        f"on {dataset}: spiking VGG-{config.depth}, T = {config.timesteps}, "
        f"ANN / SNN / HIRE-SNN; {', '.join(config.attacks)} at "
        f"eps = {config.eps:.4g}. Output: {args.out}/")
  result = study.run(config, args.out, progress=not args.no_progress,
                     overwrite=args.overwrite, executor=_executor_from(args))
  _print_table(result.table(), ["model", "setting", "attack", "accuracy",
                                "ci_low", "ci_high", "zero_input_gradient"])
  print(f"\nMembership leakage (each target against {config.references} "
        "references of its own kind):")
  _print_table(result.privacy_table(), ["model", "attack", "auc",
                                        "auc_ci_low", "auc_ci_high",
                                        "tpr_at_1%_fpr"])
  if len(result.sweep):
    print("\nPooling and encoder sweep (white-box):")
    _print_table(result.sweep_table(), ["pooling", "encoder", "clean", "pgd",
                                        "square", "square_beats_pgd",
                                        "zero_input_gradient"])
  print(f"\nTables and figures are in {args.out}/")
  return 0


def _pruning(args: argparse.Namespace) -> int:
  from tfmia.studies import pruning as study
  dataset = _available_dataset(args)
  try:
    sparsities = (tuple(float(v) for v in args.sparsities)
                  if args.sparsities else None)
  except ValueError:
    raise ValueError("--sparsities must be numbers, e.g. 0.5,0.7,0.9. "
                     f"Received: {','.join(args.sparsities)}") from None
  overrides = dict(dataset=dataset, data_dir=args.data_dir,
                   download=args.download, model=args.model,
                   pool_size=args.pool_size, epochs=args.epochs,
                   num_shadows=args.num_shadows, pruners=args.pruners,
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
  mode = "quick" if config.quick else "full"
  print(f"Pruning study ({mode} mode) on {dataset}: {config.model}, "
        f"pruners {', '.join(config.pruners)} at "
        f"{', '.join(f'{s:g}' for s in config.sparsities)}, "
        f"{config.num_shadows} shadow models. Output: {args.out}/")
  result = study.run(config, args.out, progress=not args.no_progress,
                     overwrite=args.overwrite, executor=_executor_from(args))
  from tfmia.studies.pruning import report
  summary = report.summary_table(result.table())
  _print_table(summary, ["cell", "adaptive", "test_accuracy", "epsilon",
                         "best_attack", "attack_accuracy", "rmia_auc",
                         "rmia_tpr_at_1%_fpr"])
  print(f"\nTables and figures are in {args.out}/")
  return 0


def _epsilon(text: str):
  if text.lower() in ("inf", "none", "nondp"):
    return None
  try:
    return float(text)
  except ValueError:
    raise ValueError(f"--epsilons takes numbers or 'inf'. Received: "
                     f"{text!r}") from None


def _dp_audit(args: argparse.Namespace) -> int:
  from tfmia.studies import dp_audit as study
  overrides = dict(
      dataset=args.dataset, data_dir=args.data_dir, download=args.download,
      epsilons=(tuple(_epsilon(e) for e in args.epsilons)
                if args.epsilons else None),
      delta=args.delta, num_canaries=args.canaries,
      canary_kinds=args.canary_kinds, selection=args.selection,
      references=args.references, model=args.model, epochs=args.epochs,
      seed=args.seed)
  overrides = {k: v for k, v in overrides.items() if v is not None}
  if args.model is not None:
    overrides["model_kwargs"] = ()
  config = (study.DpAuditStudyConfig.quick_mode(**overrides) if args.quick
            else study.DpAuditStudyConfig(**overrides))
  if config.dataset != "digits" and not args.download and \
      not tfdata.dataset_available(config.dataset, args.data_dir):
    raise ValueError(f"Dataset {config.dataset!r} is not available offline "
                     f"in data_dir={tfdata.resolve_data_dir(args.data_dir)!r}."
                     " Pass --data-dir, or --dataset digits.")
  io.check_output_dir(args.out, "--out")
  mode = "quick" if config.quick else "full"
  print(f"DP-audit case study ({mode} mode) on {config.dataset}: "
        f"{len(config.epsilons)} models, {config.num_canaries} canaries of "
        f"each kind ({', '.join(config.canary_kinds)}), δ = {config.delta:g}. "
        f"Output: {args.out}/", flush=True)
  executor = _executor_from(args)
  result = study.run(config, args.out, progress=not args.no_progress,
                     overwrite=args.overwrite, executor=executor)
  print()
  _print_table(result.table(),
               ["model", "accountant_epsilon", "one_run_mislabelled",
                "one_run_mislabelled_uncorrected", "one_run_natural",
                "one_run_natural_uncorrected", "rmia_roc_epsilon",
                "rmia_one_run_epsilon", "test_accuracy_natural"])
  print(f"\nML Privacy Meter (CIFAR-10, 1,000 canaries, its grid search "
        f"uncorrected): non-DP ε̂ {study.ANCHOR[('mislabelled', 'nondp')]} "
        f"(mislabelled), {study.ANCHOR[('natural', 'nondp')]} (natural); "
        f"DP ε = {study.ANCHOR_DP_EPSILON}: "
        f"{study.ANCHOR[('mislabelled', 'dp')]}, "
        f"{study.ANCHOR[('natural', 'dp')]}.")
  print(f"Figures and results.csv are in {args.out}/")
  return 0


def _executor_from(args: argparse.Namespace):
  """The executor --executor / --address name (None: the local default)."""
  if getattr(args, "executor", "local") == "local":
    if getattr(args, "address", None) is not None:
      raise ValueError("--address is for --executor ray.")
    return None
  from tfmia.infra import executors
  return executors.make_executor(args.executor, address=args.address,
                                 progress=not args.no_progress)
