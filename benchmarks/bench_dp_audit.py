"""The one-run audit's cost against one plain training run of the same model.

Plain: the model trained on N fixed members. Audit: the same model and
members plus m canaries, half of them included by a fair coin (so N + m/2
trained examples), then every canary scored by the loss attack and the
one-run bound computed (holdout selection over ML Privacy Meter's grid).
Target: at most 1.2x, i.e. the canaries and the scoring add at most 20%.
Runs alternate (plain, audit, plain, audit, ...) so drift hits both alike;
medians are printed.

Inputs are seeded random images of CIFAR-10's shape: timings do not depend
on the pixels, and the benchmark runs without the dataset.

Usage: python benchmarks/bench_dp_audit.py [--repeats N] [--members N]
       [--canaries M] [--epochs E]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf

from tfmia.audits import one_run as dp_audit

from tfmia import models
from tfmia.data import ClassificationData
from tfmia.training.defenses import train_with_defense
from tfmia.training import TrainConfig


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--repeats", type=int, default=3)
  p.add_argument("--members", type=int, default=4000)
  p.add_argument("--canaries", type=int, default=500)
  p.add_argument("--epochs", type=int, default=3)
  a = p.parse_args()
  rng = np.random.default_rng(0)
  shape = (32, 32, 3)
  x = rng.random((a.members + a.canaries + 500,) + shape, dtype=np.float32)
  y = rng.integers(0, 10, len(x))
  n, m = a.members, a.canaries
  data = ClassificationData("random", x[:n], y[:n], x[n + m:], y[n + m:],
                            tuple(str(i) for i in range(10)), 1.0)
  source = (x[n:n + m], y[n:n + m])
  train = TrainConfig(epochs=a.epochs, batch_size=64)
  config = dp_audit.OneRunConfig(canaries=dp_audit.CanaryConfig(
      "mislabelled", m))

  def plain() -> float:
    tf.keras.utils.set_random_seed(0)
    start = time.perf_counter()
    model = models.build_model("conv", shape, 10)
    train_with_defense(model, data, train)
    return time.perf_counter() - start

  def audit() -> tuple[float, float]:
    start = time.perf_counter()
    r = dp_audit.one_run_audit("conv", {}, data, source, train, config=config)
    return time.perf_counter() - start, r.audit_seconds

  print(flush=True)
  print(f"One-run audit against plain training: conv on {n} random "
        f"32x32x3 images, {a.epochs} epochs, batch 64; {m} canaries "
        f"(~{m // 2} included); median of {a.repeats}", flush=True)
  plain(), audit()   # warm-up: tracing, first-call costs
  t_plain, t_audit, t_extra = [], [], []
  for _ in range(a.repeats):
    t_plain.append(plain())
    total, extra = audit()
    t_audit.append(total)
    t_extra.append(extra)
  tp, ta = float(np.median(t_plain)), float(np.median(t_audit))
  print(f"   plain training          {tp:8.2f} s")
  print(f"   one-run audit           {ta:8.2f} s   (of which draw, scoring "
        f"and bound {float(np.median(t_extra)):.2f} s)")
  print(f"   ratio audit / plain     {ta / tp:8.2f}x   (target <= 1.2x; the "
        f"extra examples alone are {(n + m / 2) / n:.2f}x)")


if __name__ == "__main__":
  main()
