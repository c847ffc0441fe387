"""Reference models trained together against one after another.

For K = 1, 2, 4, 8, 16, trains K models of one architecture on their own
random halves of a pool, first one after another (`train_member_model`, as
`tfmia reference train` does with together=1), then together in one graph
(`tfmia.training.together`), side by side in this one run, and reports the
ratio apart / together. Both ways build, trace and train from nothing, so the
ratio includes each model's graph building and tracing, which is what a
reference folder pays.

Settings:
  conv: the attack-budget study's quick CIFAR-10 model and sizes (the
    `conv` builder, members = half of the 2,000-image pool, its batch of
    32), 10 epochs (the study trains 40), to keep the benchmark to minutes;
    the first epoch's building and tracing weigh more at 10 epochs than
    at 40.
  mlp: a digits MLP (dense, depth 2, 64 units), members = half of 800
    examples, batch 32, 20 epochs.

With --profile, also splits a training step at K = 1 and K = 8 into the
kernels (forward, backward, update on tensors in memory), the data feeding
and the rest (Keras' per-step overhead), and times the first epoch's
building and tracing: the ceiling on this machine, measured. If the kernels
of K models together take K times one model's, the only gain left is the
per-step overhead and the tracing saved.

Usage: python benchmarks/bench_together.py [--ks 1,2,4,8,16]
       [--settings conv,mlp] [--profile] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf

from tfmia import models
from tfmia.data import DataConfig, prepare_data
from tfmia.references.membership import membership_matrix
from tfmia.references import train_member_model
from tfmia.studies.attack_budget import BudgetConfig
from tfmia.training import TrainConfig
from tfmia.training.loop import make_train_dataset
from tfmia.training.together import train_together


def _setting(name: str, data_dir):
  if name == "conv":
    study = BudgetConfig.quick_mode()
    cfg = study.reference_config("cifar10", "/tmp/unused")
    data = prepare_data(cfg.data.replace(data_dir=data_dir or cfg.data.data_dir))
    return (data, cfg.model, dict(cfg.model_kwargs),
            cfg.train.replace(epochs=10))
  data = prepare_data(DataConfig(dataset="digits", train_size=800,
                                 test_size=200))
  return (data, "dense", {"depth": 2, "units": 64},
          TrainConfig(epochs=20, batch_size=32))


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


class _EpochTimes(tf.keras.callbacks.Callback):
  def on_train_begin(self, logs=None):
    self.times = []

  def on_epoch_begin(self, epoch, logs=None):
    self._t = time.perf_counter()

  def on_epoch_end(self, epoch, logs=None):
    self.times.append(time.perf_counter() - self._t)


def _profile(data, builder, kwargs, config, k, epochs=4):
  """Where a training step of a stack of k models goes, in ms per step:
  the whole step in `fit` (the fastest epoch after the first, validation
  included), the
  kernels alone (the stack's forward, backward and update on tensors
  already in memory, in one tf.function), the data feeding alone (one pass
  over the zipped, shuffled datasets), and the first epoch's extra time
  (building and tracing)."""
  from tfmia.training import together
  from tfmia.training.config import make_optimizer
  from tfmia.training.loop import classification_loss
  masks = membership_matrix(len(data.x_train), 16, 0)[:k]
  sets = [data.members(m, validation=~m) for m in masks]
  build = lambda: models.build_model(builder, data.input_shape,
                                     data.num_classes, **kwargs)
  tf.keras.backend.clear_session()
  timer = _EpochTimes()
  cfg = config.replace(epochs=epochs)
  together.train_together(build, sets, cfg, list(range(k)),
                          callbacks=[timer])
  steps = math.ceil(len(sets[0].x_train) / config.batch_size)
  fit_step = np.min(timer.times[1:]) / steps
  first_extra = timer.times[0] - np.min(timer.times[1:])
  # Data feeding alone.
  ds = together._zip([make_train_dataset(s.x_train, s.y_train, config)
                      for s in sets])
  for _ in ds:   # warm-up pass
    pass
  t = time.perf_counter()
  for _ in ds:
    pass
  data_step = (time.perf_counter() - t) / steps
  # Kernels alone: one step of the stack on fixed tensors.
  tf.keras.backend.clear_session()
  ms = [build() for _ in range(k)]
  opt = make_optimizer(config, steps)
  losses = [classification_loss(m) for m in ms]
  b = config.batch_size
  xs = [tf.constant(s.x_train[:b]) for s in sets]
  ys = [tf.constant(s.y_train[:b]) for s in sets]
  variables = [v for m in ms for v in m.trainable_variables]

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      total = tf.add_n([loss(y, m(x, training=True))
                        for m, loss, x, y in zip(ms, losses, xs, ys)])
    opt.apply_gradients(zip(tape.gradient(total, variables), variables))

  for _ in range(3):
    step()
  kernel_step = np.inf
  for _ in range(3):          # the fastest of 3 rounds of 20 steps
    t = time.perf_counter()
    for _ in range(20):
      step()
    kernel_step = min(kernel_step, (time.perf_counter() - t) / 20)
  return dict(fit=fit_step * 1e3, kernels=kernel_step * 1e3,
              data=data_step * 1e3, first_epoch_extra=first_extra)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--ks", default="1,2,4,8,16")
  p.add_argument("--settings", default="conv,mlp")
  p.add_argument("--profile", action="store_true")
  p.add_argument("--repeats", type=int, default=2,
                 help="runs of each measurement; the fastest is kept")
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
      # The faster of `args.repeats` runs of each, alternating: on a shared
      # 2-core machine a single run varies by 10-20%.
      apart, tog = np.inf, np.inf
      for _ in range(args.repeats):
        apart = min(apart, _apart(data, builder, kwargs, config, masks))
        tog = min(tog, _together(data, builder, kwargs, config, masks))
      print(f"{name:8s} {k:3d} {apart:9.1f} {tog:11.1f} {apart / tog:6.2f}",
            flush=True)
    if args.profile:
      base = _profile(data, builder, kwargs, config, 1)
      for k in (1, 8):
        p = base if k == 1 else _profile(data, builder, kwargs, config, k)
        print(f"  profile {name} K={k}: per step {p['fit']:.1f} ms in fit "
              f"(x{p['fit'] / base['fit']:.2f} of K=1), kernels "
              f"{p['kernels']:.1f} ms (x{p['kernels'] / base['kernels']:.2f})"
              f", data feeding {p['data']:.1f} ms, the rest "
              f"{p['fit'] - p['kernels'] - p['data']:.1f} ms; first epoch "
              f"+{p['first_epoch_extra']:.1f} s (building, tracing)",
              flush=True)
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
