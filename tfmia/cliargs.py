"""What every `tfmia` command shares: argument types, the flags defined
once, the executor they name, and running a parsed command.

A command module (`tfmia/commands/<name>.py`, `tfmia/studies/<name>/cli.py`)
adds its flags with these helpers, so that one concept has one flag name,
type and help everywhere, and its `handle(args)` only turns them into a
config and calls the library. Nothing here imports a command or a study.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
import zipfile
from pathlib import Path
from typing import Callable, Optional, Sequence

from tfmia.infra import fs

# ---------------------------------------------------------------------------
# Argument types


# Schemes whose files live in this process's memory only: a command that
# wrote there would report results that vanish when it exits.
IN_MEMORY_SCHEMES = ("ram://", "mem://", "memory://")


def path_arg(text: str):
  """A file or folder argument: a local path or a URL (`gs://...`), as
  `tfmia.infra.fs.path`; in-memory schemes (`ram://`) are refused, since
  what a command writes there is gone when it exits (the Python API takes
  them)."""
  if str(text).lower().startswith(IN_MEMORY_SCHEMES):
    raise argparse.ArgumentTypeError(
        f"{text!r} is an in-memory location, which vanishes when tfmia "
        "exits; give a local path or a bucket URL (gs://, s3://)")
  return fs.path(text)


def csv(text: str) -> tuple[str, ...]:
  """'a,b' -> ('a', 'b'); empty items are refused."""
  items = tuple(t.strip() for t in text.split(","))
  if not text.strip() or not all(items):
    raise argparse.ArgumentTypeError(
        f"expected comma-separated names, none empty. Received: {text!r}")
  return items


def positive_int(text: str) -> int:
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(
        f"expected a positive integer. Received: {text!r}") from None
  if value < 1:
    raise argparse.ArgumentTypeError(
        f"expected a positive integer. Received: {text!r}")
  return value


def seed_csv(text: str) -> tuple[int, ...]:
  """'0,1,2' -> (0, 1, 2): distinct non-negative integers."""
  try:
    seeds = tuple(int(t) for t in csv(text))
  except (ValueError, argparse.ArgumentTypeError):
    seeds = ()
  if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
    raise argparse.ArgumentTypeError(
        "expected distinct non-negative integers, e.g. 0,1,2. "
        f"Received: {text!r}")
  return seeds


def int_csv(text: str) -> tuple[int, ...]:
  """'1,2,4' -> (1, 2, 4); empty or non-integer items are refused."""
  try:
    return tuple(positive_int(t.strip()) for t in csv(text))
  except argparse.ArgumentTypeError:
    raise argparse.ArgumentTypeError(
        "expected comma-separated positive integers, e.g. 1,2,4. "
        f"Received: {text!r}") from None


# ---------------------------------------------------------------------------
# Flags


class _Alias(argparse.Action):
  """An old flag name kept for one release: stores into the new flag's
  `dest` and says, on stderr, which flag replaces it."""

  def __init__(self, option_strings, dest, canonical: str = "", **kwargs):
    self.canonical = canonical
    super().__init__(option_strings, dest, **kwargs)

  def __call__(self, parser, namespace, values, option_string=None):
    print(f"{parser.prog}: {option_string} is an alias of {self.canonical} "
          f"and will be removed; use {self.canonical}.", file=sys.stderr)
    setattr(namespace, self.dest, values)


def add_renamed(p, flag: str, *, aliases: Sequence[str] = (), help: str,
                **kwargs) -> None:
  """`flag`, and each of `aliases` as a hidden old name of it (same `dest`,
  type and default) that will be removed. `help` gains the old names."""
  if aliases:
    help += (f" ({', '.join(aliases)}: alias of {flag}; will be removed)")
  action = p.add_argument(flag, help=help, **kwargs)
  for alias in aliases:
    p.add_argument(alias, dest=action.dest, type=action.type,
                   metavar=action.metavar, action=_Alias, canonical=flag,
                   default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_num_references(p, *, aliases: Sequence[str] = (), type=int,
                       default=None, help: str) -> None:
  """--num-references: how many reference (shadow) models, everywhere."""
  add_renamed(p, "--num-references", aliases=aliases, type=type,
              default=default, metavar="K", help=help)


def add_examples(p, *, aliases: Sequence[str] = (), default=None,
                 help: str) -> None:
  """--examples: how many examples an attack is run on, everywhere."""
  add_renamed(p, "--examples", aliases=aliases, type=positive_int,
              default=default, metavar="N", help=help)


def add_data_args(p: argparse.ArgumentParser, *,
                  default_dataset: Optional[str], sizes: bool = True,
                  dataset_help: Optional[str] = None) -> None:
  """--dataset, --data-dir, --download, (--train-size, --test-size) and
  --seed, in a "data" group."""
  g = p.add_argument_group("data")
  g.add_argument("--dataset", default=default_dataset,
                 help=dataset_help or (
                     "'digits' (offline, bundled with scikit-learn) or a "
                     "tensorflow-datasets name such as cifar10, cifar100, "
                     "mnist, fashion_mnist, svhn_cropped (default: "
                     f"{default_dataset})"))
  add_data_dir(g, help="tensorflow-datasets data directory "
                       "(default: $TFMIA_DATA_DIR, then tfds' own default)")
  g.add_argument("--download", action="store_true",
                 help="let tensorflow-datasets download a missing dataset")
  if sizes:
    g.add_argument("--train-size", type=positive_int, default=None,
                   help="members: how many training examples to use; more "
                        "than the train split holds is refused")
    g.add_argument("--test-size", type=positive_int, default=None,
                   help="non-members: how many test examples to use; more "
                        "than the test split holds is refused")
  add_seed(g)


def add_data_dir(p, *, help: str = "override the tfds data directory "
                                   "recorded in the run or config") -> None:
  p.add_argument("--data-dir", default=None, help=help)


def add_run(p, *, required: bool = True,
            help: str = "a folder written by tfmia train") -> None:
  """--run: a `tfmia train` run folder, the input of attack, prune and
  robustness."""
  p.add_argument("--run", type=path_arg, required=required, help=help)


def add_seed(p) -> None:
  p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")


def add_fallback_dataset(p) -> None:
  p.add_argument("--fallback-dataset", default=None,
                 help="dataset to use instead when --dataset is not "
                      "available offline (e.g. digits)")


# Settings that say where the data and randomness come from, not how the
# study runs: changing them keeps a study in its mode.
_NOT_A_MODE_CHANGE = ("dataset", "data_dir", "download", "seed")


def mode_label(quick: bool, overrides: dict) -> str:
  """How a study announces its settings: "quick mode" or "full mode", and
  the settings changed from that mode's, so that `--epochs 1` is not
  announced as the full mode."""
  base = "quick mode" if quick else "full mode"
  changed = {k: v for k, v in overrides.items()
             if k not in _NOT_A_MODE_CHANGE}
  if not changed:
    return base
  def show(v):
    return ",".join(map(str, v)) if isinstance(v, (tuple, list)) else v
  return base + " settings, changed: " + ", ".join(
      f"{k}={show(v)}" for k, v in changed.items())


def add_quick(p, *, help: str) -> None:
  p.add_argument("--quick", action="store_true", help=help)


def add_out(p, *, default: Optional[Path] = None, required: bool = False,
            help: str) -> None:
  p.add_argument("--out", type=path_arg, default=default, required=required,
                 help=help)


STUDY_OUT_HELP = ("output folder (default: {default}); it holds one study: a "
                  "rerun with the same settings resumes, other settings are "
                  "refused")


def add_study_out(p, default: str) -> None:
  """--out and --overwrite of a study's folder."""
  add_out(p, default=Path(default), help=STUDY_OUT_HELP.format(
      default=default))
  add_overwrite(p, help="replace a study of other settings in --out")


def add_overwrite(p, *, help: str) -> None:
  p.add_argument("--overwrite", action="store_true", help=help)


def add_no_progress(p) -> None:
  p.add_argument("--no-progress", action="store_true",
                 help="show no progress bars or progress lines")


def add_seeds(p) -> None:
  p.add_argument("--seeds", type=seed_csv, default=None,
                 help="run once per seed (e.g. 0,1,2) in --out/seed_<s>/ "
                      "and write seeds_summary.csv: per cell the mean and "
                      "spread across seeds next to the bootstrap interval")


def add_executor_args(p: argparse.ArgumentParser, units: str) -> None:
  """--executor and --address: where the command's units of work run."""
  p.add_argument("--executor", default="local", choices=("local", "ray"),
                 help=f"local: one after another here (default); ray: "
                      f"{units} as Ray tasks")
  p.add_argument("--address", default=None,
                 help="ray: the cluster ('auto': the one this machine is "
                      "in; default: start a local one)")


def add_verbose(p) -> None:
  p.add_argument("-v", "--verbose", action="store_true",
                 help="show tfmia's log messages")


# ---------------------------------------------------------------------------
# From flags to the library


def executor_from(args: argparse.Namespace):
  """The executor --executor / --address (and --max-retries, where the
  command has it) name; None for the local default."""
  retries = getattr(args, "max_retries", None)
  if getattr(args, "executor", "local") == "local" and retries is None:
    if getattr(args, "address", None) is not None:
      raise ValueError("--address is for --executor ray.")
    return None
  from tfmia.infra import executors
  executor = executors.make_executor(args.executor, address=args.address,
                                     max_retries=retries,
                                     progress=not args.no_progress)
  if getattr(executor, "address", None) is not None:
    executor.connect()     # an unreachable cluster is named before any work
  return executor


def check_offline(dataset: str, data_dir: Optional[str], *,
                  download: bool = False,
                  instead: str = "--download") -> None:
  """Refuses, before any work, a dataset that is neither offline nor in
  `data_dir` (unless it may be downloaded); `instead` names the other way
  out, e.g. "--fallback-dataset digits"."""
  from tfmia import data as tfdata
  if (download or dataset in tfdata.OFFLINE_DATASETS
      or tfdata.dataset_available(dataset, data_dir)):
    return
  raise ValueError(
      f"Dataset {dataset!r} is not available offline in data_dir="
      f"{tfdata.resolve_data_dir(data_dir)!r}. Pass --data-dir (or set "
      f"${tfdata.DATA_DIR_ENV}), or {instead}.")


def available_dataset(args: argparse.Namespace) -> str:
  """args.dataset, or args.fallback_dataset (saying so) when it is absent."""
  from tfmia import data as tfdata
  dataset = args.dataset
  if not args.download and not tfdata.dataset_available(dataset, args.data_dir):
    where = tfdata.resolve_data_dir(args.data_dir)
    if not args.fallback_dataset:
      check_offline(dataset, args.data_dir,
                    instead="--download, or --fallback-dataset digits")
    print(f"{dataset} was not found in data_dir={where!r}; running on "
          f"{args.fallback_dataset!r} instead.")
    dataset = args.fallback_dataset
  return dataset


def print_table(df, columns) -> None:
  """`columns` of `df` (those it has), as aligned text."""
  cols = [c for c in columns if c in df.columns]
  print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))



# ---------------------------------------------------------------------------
# Running a parsed command

# Failures a user can meet and fix: bad settings or files (ValueError,
# TypeError), missing, unreadable, read-only or full disks (OSError: also
# PermissionError, IsADirectoryError, NotADirectoryError, tfmia.infra.io's
# NoSpaceError), truncated archives (BadZipFile, EOFError) and a missing
# optional dependency (ImportError). Anything else is a bug, and keeps its
# traceback.
EXPECTED_ERRORS = (ValueError, TypeError, OSError, zipfile.BadZipFile,
                   EOFError, ImportError)


def quiet_tensorflow() -> None:
  """Silences TensorFlow's start-up noise (CUDA, TensorRT, oneDNN lines)."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  import warnings
  warnings.filterwarnings("ignore", category=DeprecationWarning)
  import absl.logging
  absl.logging.set_verbosity(absl.logging.ERROR)


class _Stdout:
  """Whatever sys.stdout is when a line is written (pytest and notebooks
  replace it)."""

  def write(self, text: str) -> int:
    return sys.stdout.write(text)

  def flush(self) -> None:
    sys.stdout.flush()


class _Stderr:
  """Whatever sys.stderr is when a line is written: the log handler
  `run` installs must not keep a stream that is later closed (a notebook
  cell's, a test's captured one)."""

  def write(self, text: str) -> int:
    return sys.stderr.write(text)

  def flush(self) -> None:
    sys.stderr.flush()


def add_command(subparsers, name: str, *, help: str, description: str,
                add_arguments: Callable, handle: Callable
                ) -> argparse.ArgumentParser:
  """Subcommand `name`: its flags (`add_arguments(parser)`), `--cf FILE`
  and what it runs (`handle(args) -> int`)."""
  p = subparsers.add_parser(name, help=help, description=description)
  add_arguments(p)
  add_config_file(p)
  p.set_defaults(handle=handle)
  return p


# ---------------------------------------------------------------------------
# --cf: every command's flags from a YAML or JSON file


def add_config_file(p: argparse.ArgumentParser) -> None:
  """`--cf FILE`: this command's settings from a YAML or JSON file, keyed
  by flag name (`num-references` or `num_references`); flags given on the
  command line win. `tfmia config show COMMAND` prints the keys and their
  defaults."""
  p.add_argument("--cf", type=path_arg, default=None, metavar="FILE",
                 help="settings from a YAML or JSON file (keys: the flag "
                      "names; flags given here win; see `tfmia config "
                      "show`)")
  p.set_defaults(_parser=p)


_NOT_SETTINGS = ("help", "version", "cf", "handle", "_parser")


def settings(p: argparse.ArgumentParser) -> dict:
  """{dest: action} of the settings a config file may give `p` (each
  setting's current flag, not its old aliases)."""
  out = {}
  for a in p._actions:   # pylint: disable=protected-access
    if (a.dest not in _NOT_SETTINGS and a.option_strings
        and a.dest != argparse.SUPPRESS and not isinstance(a, _Alias)):
      out.setdefault(a.dest, a)
  return out


def _setting(action, value, where: str):
  """`value` from a config file as the flag would give it."""
  if isinstance(action, (argparse._StoreTrueAction,  # pylint: disable=protected-access
                         argparse._StoreFalseAction)):  # pylint: disable=protected-access
    if not isinstance(value, bool):
      raise ValueError(f"{where} must be true or false. Received: "
                       f"{value!r}")
    return value
  if value is None:
    return None
  if isinstance(value, (list, tuple)):
    value = ",".join(str(v) for v in value)
  if action.type is not None:
    try:
      value = action.type(str(value))
    except (TypeError, ValueError, argparse.ArgumentTypeError) as e:
      raise ValueError(f"{where}: {e}") from None
  if action.choices is not None and value not in action.choices:
    raise ValueError(f"{where} must be one of {list(action.choices)}. "
                     f"Received: {value!r}")
  return value


def config_defaults(p: argparse.ArgumentParser, path) -> dict:
  """The defaults `--cf path` gives parser `p`, checked like its flags; an
  unknown key is named with the file."""
  from tfmia.infra import io  # pylint: disable=g-import-not-at-top
  raw = io.read_config(path)
  known = settings(p)
  out = {}
  for key, value in raw.items():
    dest = str(key).replace("-", "_")
    if dest not in known:
      raise ValueError(
          f"{path}: unknown setting {key!r} for `{p.prog}`. Known: "
          f"{', '.join(k.replace('_', '-') for k in sorted(known))}")
    out[dest] = _setting(known[dest], value, f"{path}: {key!r}")
  return out


def _leaf(parser: argparse.ArgumentParser, argv: Sequence[str]):
  """The subcommand parser `argv` names (its leading words), or None."""
  p, words = parser, [t for t in argv if not t.startswith("-")]
  for word in words:
    subs = [a for a in p._actions  # pylint: disable=protected-access
            if isinstance(a, argparse._SubParsersAction)]  # pylint: disable=protected-access
    if not subs:
      break
    if word not in subs[0].choices:
      return None
    p = subs[0].choices[word]
  return p


def _cf_path(argv: Sequence[str]):
  for i, t in enumerate(argv):
    if t == "--cf" and i + 1 < len(argv):
      return argv[i + 1]
    if t.startswith("--cf="):
      return t[len("--cf="):]
  return None


def parse(parser: argparse.ArgumentParser,
          argv: Optional[Sequence[str]]) -> argparse.Namespace:
  """`parser.parse_args(argv)`, with a command's `--cf FILE` read first as
  its defaults (so flags given in `argv` win, and a required flag may come
  from the file)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  path = _cf_path(argv)
  if path is None:
    return parser.parse_args(argv)
  sub = _leaf(parser, argv)
  if sub is None or sub.get_default("_parser") is not sub:
    # The words did not name the command plainly: let argparse find it.
    sub = getattr(parser.parse_args(argv), "_parser", None)
    if sub is None:
      return parser.parse_args(argv)
  try:
    defaults = config_defaults(sub, fs.path(path))
  except (ValueError, OSError) as e:
    error = e

    def fail(_):   # reported by `run`, as any other bad setting
      raise error
    # Parse without the file's checks, so the error names the file.
    for action in sub._actions:  # pylint: disable=protected-access
      action.required = False
    for group in sub._mutually_exclusive_groups:  # pylint: disable=protected-access
      group.required = False
    args = parser.parse_args(argv)
    args.handle = fail
    return args
  sub.set_defaults(**defaults)
  # A required flag (or one of a required group) the file gives is given.
  for action in sub._actions:  # pylint: disable=protected-access
    if defaults.get(action.dest) is not None:
      action.required = False
  for group in sub._mutually_exclusive_groups:  # pylint: disable=protected-access
    if any(defaults.get(a.dest) is not None for a in group._group_actions):  # pylint: disable=protected-access
      group.required = False
  return parser.parse_args(argv)


def subcommand(parser: argparse.ArgumentParser,
               words: Sequence[str]) -> argparse.ArgumentParser:
  """The parser of the command `words` (e.g. ["case-study", "pruning"])."""
  p = parser
  for i, word in enumerate(words):
    subs = [a for a in p._actions  # pylint: disable=protected-access
            if isinstance(a, argparse._SubParsersAction)]  # pylint: disable=protected-access
    if not subs or word not in subs[0].choices:
      known = ", ".join(subs[0].choices) if subs else "none"
      raise ValueError(f"No command {' '.join(words[:i + 1])!r}. "
                       f"Known here: {known}")
    p = subs[0].choices[word]
  return p


def add_module(subparsers, module) -> argparse.ArgumentParser:
  """The subcommand of a command module (`tfmia.commands.*`, a study's
  `cli`): its NAME, HELP, DESCRIPTION, `add_arguments` and `handle`; a
  module with subcommands of its own defines `add_parser` instead."""
  if hasattr(module, "add_parser"):
    return module.add_parser(subparsers)
  return add_command(subparsers, module.NAME, help=module.HELP,
                     description=module.DESCRIPTION,
                     add_arguments=module.add_arguments, handle=module.handle)


def main_of(prog: str, add_arguments: Callable, handle: Callable,
            description: str, argv: Optional[Sequence[str]] = None) -> int:
  """A command as a program of its own (a case study's `main`): `prog`'s
  flags, -v, and `run`."""
  p = argparse.ArgumentParser(prog=prog, description=description)
  add_verbose(p)
  add_arguments(p)
  add_config_file(p)
  p.set_defaults(handle=handle)
  return run(parse(p, argv), prog)


def run(args: argparse.Namespace, name: str) -> int:
  """Runs the parsed command (`args.handle(args)`) and returns its exit
  status: 2, with one line on stderr, for an error the user can fix.

  Args:
    args: parsed arguments, with `handle` and `verbose`.
    name: what the error line starts with, e.g. "tfmia train".
  """
  logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                      format="%(levelname)s %(name)s: %(message)s",
                      stream=_Stderr())
  from tfmia.infra import progress
  if getattr(args, "no_progress", False):
    progress.hide()
  else:
    progress.show(_Stdout())    # the library's progress lines
  quiet_tensorflow()
  from tfmia.infra import io
  io.forget_created()
  try:
    return args.handle(args) or 0
  except EXPECTED_ERRORS + _tensorflow_io_errors() as e:
    if args.verbose:
      traceback.print_exc()
    print(f"{name}: error: {_one_line(e)}", file=sys.stderr)
    io.remove_created_if_empty()   # a refused command leaves no empty folder
    return 2


def _tensorflow_io_errors() -> tuple:
  """TensorFlow's file-system errors (`tf.errors.OpError`) that reach a
  command outside `tfmia.infra.fs` (a bucket that stops answering mid-run):
  errors the user can fix, like `OSError`. Empty when TensorFlow is not
  loaded."""
  tf = sys.modules.get("tensorflow")
  errors = getattr(tf, "errors", None)
  if errors is None:
    return ()
  return (errors.NotFoundError, errors.PermissionDeniedError,
          errors.UnimplementedError, errors.FailedPreconditionError,
          errors.UnavailableError)


def _one_line(e: BaseException) -> str:
  from tfmia.infra.io import describe_error
  return " ".join(describe_error(e).split())
