"""`tfmia config show COMMAND`: a command's settings and their defaults, as
the YAML a `--cf FILE` takes."""

from __future__ import annotations

import argparse

from tfmia import cliargs

NAME = "config"
HELP = "print a command's settings as a --cf YAML file"
DESCRIPTION = ("Print the settings of a command (or `case-study STUDY`) with "
               "their defaults, as the YAML file `--cf FILE` reads. Edit it "
               "and pass it with --cf; flags given on the command line win.")


def add_arguments(p: argparse.ArgumentParser) -> None:
  p.add_argument("action", choices=("show",))
  p.add_argument("words", nargs="+", metavar="COMMAND",
                 help="the command, e.g. `audit` or `case-study pruning`")


def handle(args: argparse.Namespace) -> int:
  import yaml  # pylint: disable=g-import-not-at-top
  from tfmia.infra import io
  p = cliargs.subcommand(args._top, args.words)  # pylint: disable=protected-access
  if any(isinstance(a, argparse._SubParsersAction)  # pylint: disable=protected-access
         for a in p._actions):  # pylint: disable=protected-access
    raise ValueError(f"`tfmia {' '.join(args.words)}` has subcommands of "
                     "its own; name one.")
  out = {dest.replace("_", "-"): io.to_jsonable(action.default)
         for dest, action in cliargs.settings(p).items()
         if action.default is not argparse.SUPPRESS}
  print(f"# tfmia {' '.join(args.words)}: pass with --cf FILE; flags "
        "given on the command line win.")
  print(yaml.safe_dump(out, sort_keys=False, default_flow_style=False),
        end="")
  return 0
