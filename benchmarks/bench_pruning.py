"""Pruning and DP-SGD benchmarks, measured side by side in one run.

1. Structured pruning at 0.5 (l1_structured): parameters, FLOPs and the
   inference time of the pruned model against the original, for VGG-16 and
   ResNet-18 (width 0.5) on 32x32x3 inputs. The time must drop with the
   FLOPs: a masked model (NNI's way) would keep the original's.
2. DP-SGD: one DP epoch against one non-DP epoch of the same model and
   batch size, alternating, after a warm-up epoch of each (tracing).
   Target: at most 3x. Fast per-example clipping (tfmia.training.dp_clipping, what
   `train_with_defense` uses), mia_prune's two microbatches per batch, and
   tensorflow-privacy's vectorised optimizer (the fallback) for reference.

Inputs are seeded random images of CIFAR-10's shape: timings do not depend
on the pixels, and the benchmark runs without the dataset.

Usage: python benchmarks/bench_pruning.py [--repeats N] [--examples N]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf

from tfmia.training import defenses

from tfmia import models

from tfmia.variants import pruning
from tfmia.training import TrainConfig
from tfmia.training.loop import compile_model, make_train_dataset


def _infer_seconds(model, x, repeats):
  fn = tf.function(lambda t: model(t, training=False))
  fn(x)  # trace
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn(x).numpy()
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def structured(repeats: int) -> None:
  rng = np.random.default_rng(0)
  x = tf.constant(rng.random((256, 32, 32, 3), dtype=np.float32))
  print(flush=True)
  print("1. Structured pruning (l1_structured, sparsity 0.5), inference on "
        "256 images, median of", repeats)
  print(f"   {'model':10s} {'params':>21s} {'FLOPs (MACs)':>27s} "
        f"{'time (s)':>17s}  time ratio  FLOP ratio")
  for name, kw in (("vgg16", {}), ("resnet18", {"width_multiplier": 0.5})):
    tf.keras.utils.set_random_seed(0)
    model = models.build_model(name, (32, 32, 3), 10, **kw)
    pruned, st = pruning.prune_structured(model, "l1_structured", 0.5)
    # Interleave the two models' runs, so that drift hits both alike.
    t0, t1 = [], []
    for _ in range(3):
      t0.append(_infer_seconds(model, x, repeats))
      t1.append(_infer_seconds(pruned, x, repeats))
    a, b = float(np.median(t0)), float(np.median(t1))
    print(f"   {name:10s} {st.params_before:>10,} -> {st.params_after:>8,} "
          f"{st.flops_before:>13,} -> {st.flops_after:>11,} "
          f"{a:>7.3f} -> {b:>7.3f}  {b / a:>10.2f}  "
          f"{st.flops_after / st.flops_before:>10.2f}")


def _epoch_seconds(model, ds):
  start = time.perf_counter()
  for xb, yb in ds:
    model.train_on_batch(xb, yb)
  return time.perf_counter() - start


def _dp_model(name, kw, config, steps, clipping, micro):
  """The model as `defenses.train_with_defense` compiles it for DP-SGD."""
  from tfmia.training import dp_clipping
  tf.keras.utils.set_random_seed(0)
  m = models.build_model(name, (32, 32, 3), 10, **kw)
  defense = defenses.Defense("dp", 1.0, num_microbatches=micro)
  if clipping == "fast":
    m = dp_clipping.FastDPModel(m, l2_norm_clip=1.0, noise_multiplier=1.0,
                                num_microbatches=micro)
    compile_model(m, config, steps,
                  optimizer=defenses.plain_optimizer(config, steps))
  else:
    compile_model(m, config, steps, optimizer=defenses.dp_optimizer(
        config, defense, steps), loss=tf.keras.losses.
                  SparseCategoricalCrossentropy(
                      from_logits=True,
                      reduction=tf.keras.losses.Reduction.NONE))
  return m


def dp_epoch(examples: int, rounds: int, vectorised_examples: int) -> None:
  config = TrainConfig(epochs=1, batch_size=128, optimizer="sgd",
                       learning_rate=0.01)
  print(f"\n2. DP-SGD epoch vs non-DP epoch (batch 128, SGD), alternating, "
        f"median of {rounds}")
  print(f"   {'model':22s} {'clipping':46s} {'examples':>8s} "
        f"{'non-DP (s)':>10s} {'DP (s)':>8s}  ratio (target <= 3)")
  vgg = {"width_multiplier": 0.25, "pooling": "avg"}
  cases = [("conv", {}, "fast", None, examples),
           ("vgg11", vgg, "fast", None, examples),
           ("resnet18", {"width_multiplier": 0.25}, "fast", None, examples),
           ("vgg11", vgg, "fast", 2, examples),
           ("conv", {}, "vectorised", None, vectorised_examples)]
  for name, kw, clipping, micro, n in cases:
    rng = np.random.default_rng(0)
    x = rng.random((n, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, n)
    steps = -(-n // config.batch_size)
    ds = make_train_dataset(x, y, config, drop_remainder=True)
    tf.keras.utils.set_random_seed(0)
    plain = models.build_model(name, (32, 32, 3), 10, **kw)
    compile_model(plain, config, steps)
    runs = {False: (plain, []),
            True: (_dp_model(name, kw, config, steps, clipping, micro), [])}
    for m, _ in runs.values():
      _epoch_seconds(m, ds)   # warm-up: tracing
    for _ in range(rounds):
      for dp in (False, True):
        runs[dp][1].append(_epoch_seconds(runs[dp][0], ds))
    a, b = (float(np.median(runs[k][1])) for k in (False, True))
    label = name + (f" (width {kw['width_multiplier']:g})" if kw else "")
    how = {"fast": "fast (tfmia.training.dp_clipping)",
           "vectorised": "vectorised (tensorflow-privacy)"}[clipping]
    how += ", per example" if micro is None else f", {micro} microbatches"
    print(f"   {label:22s} {how:46s} {n:>8d} {a:>10.2f} {b:>8.2f}  "
          f"{b / a:5.2f}x", flush=True)


def main():  # pylint: disable=missing-function-docstring
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--repeats", type=int, default=5)
  p.add_argument("--examples", type=int, default=2560)
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--vectorised-examples", type=int, default=256,
                 help="examples for the (slow) vectorised DP epoch")
  args = p.parse_args()
  structured(args.repeats)
  dp_epoch(args.examples, args.rounds, args.vectorised_examples)


if __name__ == "__main__":
  main()
