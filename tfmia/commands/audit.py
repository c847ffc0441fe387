"""`tfmia audit`: attack the target of a reference folder with many
attacks, and write a report (or redraw one)."""

from __future__ import annotations

import argparse

from tfmia import cliargs
from tfmia.commands import reference

NAME = "audit"
HELP = "attack a target with reference models; write a report"
DESCRIPTION = ("Audit the target of a reference folder with many attacks. "
               "Writes report.csv, roc_loglog.png, score_hist.png, "
               "scores.npz, results.{json,npz} and config.json. With "
               "--render, redraw an existing audit folder instead.")


def add_arguments(p: argparse.ArgumentParser) -> None:
  src = p.add_mutually_exclusive_group(required=True)
  src.add_argument("--config", type=cliargs.path_arg, help="reference config file")
  src.add_argument("--render", type=cliargs.path_arg, metavar="AUDIT_DIR",
                   help="redraw report and figures of an audit folder")
  src.add_argument("--list", action="store_true",
                   help="list the attacks and what each is")
  src.add_argument("--model", type=cliargs.path_arg, metavar="MODEL",
                   help="your saved Keras model (.keras / .h5), audited on "
                        "--data; with --builder, tfmia trains reference "
                        "models for it (RMIA, LiRA, Attack-R), otherwise "
                        "only the attacks that need none run")
  p.add_argument("--data", type=cliargs.path_arg, metavar="NPZ",
                 help="with --model: x, y, is_member (and optionally "
                      "x_population, y_population)")
  own = p.add_argument_group(
      "reference models for your --model (trained on random halves of "
      "--data's examples, resumable in --dir, default OUT/references)")
  own.add_argument("--builder", default=None, metavar="BUILDER",
                   help="the references' architecture: a registered builder "
                        "or mypkg.module:function(input_shape, num_classes, "
                        "...)")
  own.add_argument("--builder-options", default=None, metavar="JSON",
                   help='the builder\'s options, e.g. \'{"width": 128}\'')
  own.add_argument("--epochs", type=cliargs.positive_int, default=10)
  own.add_argument("--batch-size", type=cliargs.positive_int, default=50)
  own.add_argument("--optimizer", default="adam")
  own.add_argument("--learning-rate", type=float, default=1e-3)
  p.add_argument("--variant", default=None,
                 help="audit a variant of the target: snn:T, "
                      "snn:T1,T2,...,T (calibrated progressively), "
                      "pruned:PRUNER:SPARSITY[:DEFENSE[:ARG]], or a chain "
                      "joined by + (pruned:l1_structured:0.5+snn:4); made "
                      "once per model and stored beside it")
  p.add_argument("--reference-variant", default=None,
                 help="the references' variant (default: --variant, i.e. "
                      "an adaptive attack; 'none' for the trained "
                      "references, i.e. non-adaptive)")
  p.add_argument("--attacks", type=cliargs.csv, default=None,
                 help="comma-separated attacks (default: rmia,lira,"
                      "lira_offline,attack_p,attack_r,threshold); see "
                      "`tfmia audit --list`")
  cliargs.add_out(p, help="audit folder")
  p.add_argument("--dir", type=cliargs.path_arg, default=None,
                 help="reference folder (default: the config's; with "
                      "--model --builder, OUT/references)")
  cliargs.add_num_references(p, aliases=("--num-models",),
                             help="use the first K reference models (with "
                                  "--model --builder: train K, default 4)")
  cliargs.add_data_dir(p, help="tfds data directory (overrides the "
                               "config's)")
  g = p.add_argument_group("signals")
  g.add_argument("--augment", default="none",
                 choices=("none", "flip", "flip_shift"),
                 help="query-time augmentations (default: none)")
  g.add_argument("--dropout-copies", type=int, default=0,
                 help="input-dropout calibration: copies per example "
                      "(0 = off; the SNN-MIA work uses 30)")
  g.add_argument("--dropout-rate", type=float, default=0.01,
                 help="fraction of pixels dropped per copy (default: 0.01)")
  g = p.add_argument_group("attacks")
  g.add_argument("--rmia-a", default="0.3",
                 help="offline RMIA's a in [0, 1], or 'auto' to tune it by "
                      "attacking a reference model (needs K >= 4)")
  g.add_argument("--rmia-gamma", type=float, default=1.0)
  g.add_argument("--rmia-population", type=int, default=None,
                 help="number of population points z (default: all)")
  g.add_argument("--lira-per-example-variance", action="store_true",
                 help="per-example σ (needs >= 2 IN and OUT models each)")
  cliargs.add_seed(g)
  cliargs.add_no_progress(p)


def _rmia_a(text: str):
  if text == "auto":
    return None
  try:
    return float(text)
  except ValueError:
    raise ValueError(f"--rmia-a must be a number in [0, 1] or 'auto'. "
                     f"Received: {text!r}") from None


def handle(args: argparse.Namespace) -> int:
  if args.list:
    from tfmia.attacks.registry import ATTACKS
    for name, spec in ATTACKS.items():
      print(f"{name:26s} {spec.description}")
    return 0
  if args.model is None and args.builder is not None:
    raise ValueError("--builder trains reference models for your --model; "
                     "a reference folder (--config) names its own builder.")
  if args.model is not None:
    return _audit_model(args)
  if args.render is None:
    return _audit(args)
  from tfmia.reporting import tables as reports
  res = reports.render_audit(args.render)
  cliargs.print_table(reports.report(res), reports.PRINT_COLUMNS)
  print(f"\nRedrew report.csv, roc_loglog.png and score_hist.png in "
        f"{args.render}/")
  return 0


def _signals(args: argparse.Namespace):
  from tfmia.signals import SignalConfig
  return SignalConfig(augmentations=args.augment,
                      dropout_copies=args.dropout_copies,
                      dropout_rate=args.dropout_rate, seed=args.seed)


def _audit_config(args: argparse.Namespace, default_attacks):
  """The AuditConfig of the flags: the attacks (`default_attacks` when
  none are named), the signals and the attacks' settings."""
  from tfmia.attacks.registry import AttackConfig
  from tfmia.audits import audit as audit_lib
  return audit_lib.AuditConfig(
      attacks=args.attacks or default_attacks, signals=_signals(args),
      attack=AttackConfig(rmia_a=_rmia_a(args.rmia_a),
                          rmia_gamma=args.rmia_gamma,
                          rmia_population=args.rmia_population,
                          lira_fix_variance=not args.lira_per_example_variance,
                          seed=args.seed))


def _check_out(args: argparse.Namespace) -> None:
  from tfmia.infra import io
  if args.out is None:
    raise ValueError("--out is required with --config or --model.")
  if (args.model is None) != (args.data is None):
    raise ValueError("--model and --data go together.")
  io.check_output_dir(args.out, "--out")   # before any work


def _builder_options(text):
  import json
  if text is None:
    return {}
  try:
    value = json.loads(text)
  except ValueError:
    value = None
  if not isinstance(value, dict):
    raise ValueError("--builder-options must be a JSON object, e.g. "
                     f"'{{\"width\": 128}}'. Received: {text!r}")
  return value


def _own_reference_config(args: argparse.Namespace, target):
  """The ReferenceConfig of the references trained for your --model."""
  from tfmia.audits import audit as audit_lib
  from tfmia.data import DataConfig
  from tfmia.references import ReferenceConfig
  from tfmia.training.config import TrainConfig
  return ReferenceConfig(
      data=DataConfig(dataset="npz:" + audit_lib.data_digest(target.x,
                                                             target.y)),
      model=args.builder, model_kwargs=_builder_options(args.builder_options),
      train=TrainConfig(optimizer=args.optimizer,
                        learning_rate=args.learning_rate, epochs=args.epochs,
                        batch_size=args.batch_size, seed=args.seed),
      num_models=args.num_references or 4, seed=args.seed)


def _audit_model(args: argparse.Namespace) -> int:
  """Your saved model on your data: with --builder, with reference models
  tfmia trains for it; otherwise with the attacks that need none."""
  from tfmia.attacks.registry import DEFAULT_ATTACKS
  from tfmia.audits import audit as audit_lib
  _check_out(args)
  if args.builder_options is not None and args.builder is None:
    raise ValueError("--builder-options goes with --builder.")
  target, population = audit_lib.load_target(args.model, args.data)
  with_pop = population is not None
  if args.builder is None:
    default = ("threshold", "attack_p") if with_pop else ("threshold",)
  else:
    default = tuple(a for a in DEFAULT_ATTACKS
                    if with_pop or a not in ("rmia", "attack_p"))
  config = _audit_config(args, default)
  if args.builder is None:
    res = audit_lib.audit(target, population=population, config=config,
                          out_dir=args.out, progress=not args.no_progress)
    return _show(res, args.out)
  ref_config = _own_reference_config(args, target)
  directory = args.dir or args.out / "references"
  if not args.no_progress:
    print(f"Training {ref_config.num_models} reference models "
          f"({args.builder}, {args.epochs} epochs) on halves of the "
          f"{len(target.x)} examples in {directory}/ (resumable)")
  res = audit_lib.audit_with_references(
      target, ref_config, directory, population=population, config=config,
      out_dir=args.out, progress=not args.no_progress)
  return _show(res, args.out)


def _audit(args: argparse.Namespace) -> int:
  """The target of a reference folder, with its reference models."""
  from tfmia import variants
  from tfmia.attacks.registry import DEFAULT_ATTACKS
  from tfmia.audits import audit as audit_lib
  _check_out(args)
  config = reference.config_from(args)
  variant = (variants.from_spec(args.variant, train=config.train)
             if args.variant is not None else None)
  reference_variant = (variants.from_spec(args.reference_variant,
                                          train=config.train)
                       if args.reference_variant is not None else "same")
  audit_config = _audit_config(args, DEFAULT_ATTACKS)
  res = audit_lib.audit_reference_folder(
      config, audit_config, variant=variant,
      reference_variant=reference_variant, out_dir=args.out,
      directory=args.dir, progress=not args.no_progress)
  return _show(res, args.out)


def _show(res, out) -> int:
  from tfmia.reporting import tables as reports
  print(f"Target: member accuracy {res.member_accuracy:.4f}, non-member "
        f"{res.nonmember_accuracy:.4f}\n")
  cliargs.print_table(reports.report(res), reports.PRINT_COLUMNS)
  print(f"\nReport, figures and scores are in {out}/")
  return 0
