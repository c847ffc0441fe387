"""`tfmia models`: list the model builders."""

from __future__ import annotations

import argparse


NAME = "models"
DESCRIPTION = None
HELP = "list the model builders"


def add_arguments(p: argparse.ArgumentParser) -> None:
  del p   # no flags


def handle(args: argparse.Namespace) -> int:
  from tfmia import models
  del args
  for name in models.available_models():
    doc = (models.get_builder(name).__doc__ or "").strip().splitlines()[0]
    print(f"{name:10s} {doc}")
  return 0
