"""A by-hand check (not in `make bench`, about 4 minutes): the pruning study,
small, on digits, run locally and through a local 2-CPU Ray cluster; its
outputs must be byte-identical.

    python benchmarks/check_pruning_ray.py /tmp/ray_prune
"""

import argparse
import filecmp
import shutil
import time
from pathlib import Path

from tfmia.infra import executors
from tfmia.studies import pruning as study


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("out", type=Path)
  out = p.parse_args().out
  shutil.rmtree(out, ignore_errors=True)
  config = study.PruningStudyConfig.quick_mode(
      split_sizes=(1437, 360), image_size=8, dataset="digits", pool_size=600,
      epochs=3, num_shadows=2, pruners=("l1_unstructured", "l1_structured"),
      sparsities=(0.5,), defenses=(("ppb", 4.0), ("dp", 1.0)),
      defended=(("l1_structured", 0.5),),
      attacks=("samia", "sm_entropy", "nn", "rmia", "lira_offline"),
      attack_epochs=3)
  start = time.perf_counter()
  study.run(config, out / "local", progress=False)
  local = time.perf_counter() - start
  import ray
  ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
  start = time.perf_counter()
  study.run(config, out / "ray", progress=False,
            executor=executors.RayExecutor(max_retries=0))
  remote = time.perf_counter() - start
  ray.shutdown()
  print(f"local {local:.1f} s, Ray (2 CPUs, cluster start included) "
        f"{remote:.1f} s")
  for name in ("results.csv", "table.csv", "summary.json", "histograms.npz"):
    same = filecmp.cmp(out / "local" / name, out / "ray" / name,
                       shallow=False)
    print(f"{name}: {'identical' if same else 'DIFFERENT'}")
    if not same:
      raise SystemExit(1)


if __name__ == "__main__":
  main()
