"""Reference models trained together against one after another.

For K = 1, 2, 4, 8, 16, trains K models of one architecture on their own
random halves of a pool, first one after another (`train_member_model`, as
`tfmia reference train` does with together=1), then together in one graph
(`tfmia.training.together`), side by side in this one run, and reports the
ratio apart / together. Both ways build, trace and train from nothing, so the
ratio includes each model's graph building and tracing, which is what a
reference folder pays.

Settings:
  conv: the attack-budget study's quick CIFAR-10 model and sizes (the `conv`
    builder, members = half of the quick pool), 2 epochs.
  mlp: the digits MLP of the tests and tutorials (dense, depth 2, 64 units),
    members = half of 1,000 examples, 5 epochs.

With --profile, also times one training step of the conv stack at K = 1 and
K = 8 (data already in memory, after warm-up), so the ceiling on this
machine is measured: if K models together take K times the time of one
step, the gain is only the per-model overhead saved.

Usage: python benchmarks/bench_together.py [--ks 1,2,4,8,16]
       [--settings conv,mlp] [--profile] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf

from tfmia import models
from tfmia.data import DataConfig, prepare_data
from tfmia.references.membership import membership_matrix
from tfmia.references.training import train_member_model
from tfmia.studies.attack_budget import BudgetConfig
from tfmia.training import TrainConfig
from tfmia.training.together import train_together


def _setting(name: str, data_dir):
  if name == "conv":
    study = BudgetConfig.quick_mode()
    cfg = study.reference_config("cifar10", "/tmp/unused")
    data = prepare_data(cfg.data.replace(data_dir=data_dir or cfg.data.data_dir))
    return (data, cfg.model, dict(cfg.model_kwargs),
            cfg.train.replace(epochs=2))
  data = prepare_data(DataConfig(dataset="digits", train_size=1000,
                                 test_size=200))
  return (data, "dense", {"depth": 2, "units": 64},
          TrainConfig(epochs=5, batch_size=32))


def _apart(data, builder, kwargs, config, masks):
  start = time.perf_counter()
  for k, m in enumerate(masks):
    tf.keras.backend.clear_session()
    train_member_model(builder, kwargs, data.members(m, validation=~m),
                       config, seed=k)
  return time.perf_counter() - start


def _together(data, builder, kwargs, config, masks):
  tf.keras.backend.clear_session()
  start = time.perf_counter()
  train_together(
      lambda: models.build_model(builder, data.input_shape, data.num_classes,
                                 **kwargs),
      [data.members(m, validation=~m) for m in masks], config,
      list(range(len(masks))))
  return time.perf_counter() - start


def _step_time(data, builder, kwargs, config, k, steps=20):
  """Seconds per training step of a stack of k models, after warm-up."""
  from tfmia.training import together
  from tfmia.training.loop import classification_loss
  tf.keras.backend.clear_session()
  ms = [models.build_model(builder, data.input_shape, data.num_classes,
                           **kwargs) for _ in range(k)]
  stack = together.stack(ms)
  stack.compile(optimizer="adam",
                loss={m.name: classification_loss(m) for m in ms})
  b = config.batch_size
  x = tuple(data.x_train[:b] for _ in range(k))
  y = tuple(data.y_train[:b] for _ in range(k))
  for _ in range(3):
    stack.train_on_batch(x, y)
  start = time.perf_counter()
  for _ in range(steps):
    stack.train_on_batch(x, y)
  return (time.perf_counter() - start) / steps


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--ks", default="1,2,4,8,16")
  p.add_argument("--settings", default="conv,mlp")
  p.add_argument("--profile", action="store_true")
  p.add_argument("--data-dir", default=None)
  args = p.parse_args(argv)
  ks = [int(k) for k in args.ks.split(",")]
  print(f"{'setting':8s} {'K':>3s} {'apart s':>9s} {'together s':>11s} "
        f"{'ratio':>6s}")
  for name in args.settings.split(","):
    data, builder, kwargs, config = _setting(name, args.data_dir)
    for k in ks:
      pairs = max(k, 2)
      masks = membership_matrix(len(data.x_train), pairs + pairs % 2, 0)[:k]
      apart = _apart(data, builder, kwargs, config, masks)
      tog = _together(data, builder, kwargs, config, masks)
      print(f"{name:8s} {k:3d} {apart:9.1f} {tog:11.1f} {apart / tog:6.2f}",
            flush=True)
    if args.profile:
      one = _step_time(data, builder, kwargs, config, 1)
      for k in (2, 8):
        many = _step_time(data, builder, kwargs, config, k)
        print(f"  profile {name}: one step of 1 model {one * 1e3:.1f} ms, of "
              f"{k} together {many * 1e3:.1f} ms ({many / one:.2f}x one; "
              f"{k}x would be no gain in the step itself)", flush=True)
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
