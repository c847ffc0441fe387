"""Reference models through the local executor and through Ray, side by side.

1. K = 4 small reference models (and the target: 5 units) on digits, a
   2 x 256 MLP for 20 epochs, trained by the local executor, then the same
   five by Ray with 2 workers on this machine (a local cluster with 2 CPUs,
   started before the clock runs). Both write their own folder; the weights
   are then compared, array by array (bit for bit).
2. Ray's fixed overhead per unit: 40 no-op units, after a warm-up, and the
   time to start the local cluster.

Usage: python benchmarks/bench_executors.py [--epochs E]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # pylint: disable=g-import-not-at-top

from tfmia.infra import executors

from tfmia import references
from tfmia.data import DataConfig
from tfmia.training import TrainConfig


def _noop(i):
  return i


def _same_weights(a, b) -> bool:
  import h5py  # pylint: disable=g-import-not-at-top
  def arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
      f.visititems(lambda k, v: out.__setitem__(k, v[()])
                   if isinstance(v, h5py.Dataset) else None)
    return out
  x, y = arrays(a), arrays(b)
  return x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--epochs", type=int, default=20)
  a = p.parse_args()
  import ray  # pylint: disable=g-import-not-at-top
  tmp = Path(tempfile.mkdtemp(prefix="bench_executors_"))
  config = references.ReferenceConfig(
      data=DataConfig(dataset="digits", train_size=800, test_size=400),
      model="dense", model_kwargs={"depth": 2, "units": 256},
      train=TrainConfig(epochs=a.epochs, batch_size=32), num_models=4,
      reference_dir=str(tmp / "local"))
  print(flush=True)
  print(f"Executors: target + 4 reference MLPs (2 x 256) on digits, "
        f"{a.epochs} epochs each; this machine has {os.cpu_count()} CPUs")
  start = time.perf_counter()
  references.train_references(config, progress=False)
  t_local = time.perf_counter() - start
  start = time.perf_counter()
  ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
           configure_logging=False)
  t_start = time.perf_counter() - start
  try:
    start = time.perf_counter()
    references.train_references(config, directory=tmp / "ray", progress=False,
                               executor=executors.RayExecutor(max_retries=0))
    t_ray = time.perf_counter() - start
    ex = executors.RayExecutor(max_retries=0)
    ex.run([executors.Unit(f"w{i}", _noop, (i,)) for i in range(4)])  # warm
    start = time.perf_counter()
    ex.run([executors.Unit(f"u{i}", _noop, (i,)) for i in range(40)])
    t_unit = (time.perf_counter() - start) / 40
  finally:
    ray.shutdown()
  same = all(_same_weights(tmp / "local" / n / references.WEIGHTS_FILE,
                           tmp / "ray" / n / references.WEIGHTS_FILE)
             for n in references.job_names(4))
  print(f"   local executor, 5 models     {t_local:8.2f} s")
  print(f"   Ray, 2 workers, 5 models     {t_ray:8.2f} s   "
        f"({t_local / t_ray:.2f}x the local speed)")
  print(f"   Ray local cluster start      {t_start:8.2f} s (not counted above)")
  print(f"   Ray overhead per no-op unit  {1000 * t_unit:8.2f} ms "
        "(mean of 40, after warm-up)")
  print(f"   weights identical, bit for bit: {same}")


if __name__ == "__main__":
  main()
