"""Directly trained SNN benchmark: one BPTT training step of the spiking VGG
(`spiking_vgg`, tfmia.snn.direct) at T against T compiled training steps of
its ANN twin (the same convs and Dense layers with ReLU, no encoder), on the
same batch, alternating, after a warm-up of each. Target: at most 1.3x.

Inputs are seeded random images of CIFAR-10's shape (timings do not depend
on the pixels).

Usage: python benchmarks/bench_spiking.py [--timesteps 4,8] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf

from tfmia import models

from tfmia.snn import direct as spiking

def _compiled(model):
  model.compile(tf.keras.optimizers.SGD(0.01),
                tf.keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  return model


def main():  # pylint: disable=missing-function-docstring
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--timesteps", default="4,8")
  p.add_argument("--rounds", type=int, default=5)
  p.add_argument("--batch", type=int, default=32)
  args = p.parse_args()
  rng = np.random.default_rng(0)
  x = rng.random((args.batch, 32, 32, 3), dtype=np.float32)
  y = rng.integers(0, 10, args.batch)
  print(f"\nSpiking VGG-11 (width 0.25, 1024 hidden) training step vs T ANN "
        f"steps, batch {args.batch}, median of {args.rounds}")
  print(f"   {'T':>3s} {'T ANN steps (s)':>16s} {'1 SNN step (s)':>15s}  "
        "ratio (target <= 1.3)")
  for t in (int(v) for v in args.timesteps.split(",")):
    tf.keras.utils.set_random_seed(0)
    snn = _compiled(models.build_model(
        "spiking_vgg", (32, 32, 3), 10, depth=11, timesteps=t,
        width_multiplier=0.25, hidden=1024))
    ann = _compiled(spiking.ann_twin(snn))
    snn.train_on_batch(x, y)       # traces; thresholds from the data
    ann.train_on_batch(x, y)
    a, s = [], []
    for _ in range(args.rounds):
      start = time.perf_counter()
      for _ in range(t):
        ann.train_on_batch(x, y)
      a.append(time.perf_counter() - start)
      start = time.perf_counter()
      snn.train_on_batch(x, y)
      s.append(time.perf_counter() - start)
    ma, ms = float(np.median(a)), float(np.median(s))
    print(f"   {t:>3d} {ma:>16.3f} {ms:>15.3f}  {ms / ma:5.2f}x", flush=True)


if __name__ == "__main__":
  main()
