"""Graph-tracing benchmark: what a model's first `fit` and `predict` cost.

1. protobuf's compiled (upb) implementation against its pure-Python one, in
   two fresh processes side by side (`PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION`
   selects it): small spiking VGGs and digits MLPs are built, fitted for
   one step and queried once, one model after another in one process (as a
   study or the test suite does); every call traces its model's graph.
   Target: all the calls together at least 1.3x faster with upb (`make`
   installs it). The pure-Python cost grows as a process accumulates traced
   functions, so one model's first calls in a fresh process show less of it
   (and vary by 20% or more from process to process): hence several models
   per process, fresh processes alternating, the fastest of each.
2. The audit's queries: signals of a folder's K + 1 models built and traced
   one by one, against the same models' weights loaded in turn into one
   model whose graph is traced once (`tfmia.audits.audit`). The logits are
   checked equal, bit for bit. Target: faster, and identical.
3. One trace per `fit`: `tfmia.training.train_model` on small spiking VGGs
   and digits MLPs, with the optimizer's slots and the metrics' totals
   created before `fit` (`tfmia.training.loop.build_step_variables`)
   against Keras' own path, which creates them inside the first step and
   so traces the step twice; each model both ways in turn in one process.
   The trained weights are checked equal, bit for bit. Target: at least
   1.3x faster, and identical.
4. Shape inference: Keras infers each layer's output shape by calling it
   in a scratch graph that is never run; there the LIF layers initialise no
   data thresholds and a converted network simulates nothing
   (`tfmia.snn.neurons.shape_inference_only`). Building spiking VGGs, and
   converting a conv net and loading its saved SNN, against tracing that
   work there too, both ways in turn in one process. The converted
   SNNs' outputs are checked equal. Target: at least 1.3x faster.

Usage: python benchmarks/bench_tracing.py [--rounds 2] [--per-kind 6]
                                         [--models 9] [--only fit|build]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# One process's measurement: printed as JSON by `--child`.
_CHILD = """
import json, sys, time
import numpy as np, tensorflow as tf
from google.protobuf.internal import api_implementation
from tfmia import models
rng = np.random.default_rng(0)
out = {"protobuf": api_implementation.Type()}
for name, shape, kw in (
    ("spiking_vgg", (8, 8, 1), dict(depth=5, timesteps=1,
                                   width_multiplier=0.25, hidden=32)),
    ("dense", (8, 8, 1), dict(depth=2, units=64))):
  x = rng.random((128,) + shape, dtype=np.float32)
  y = rng.integers(0, 10, 128)
  times = {"build": 0.0, "fit": 0.0, "predict": 0.0}
  for i in range(int(sys.argv[1])):   # models one after another, as a
    tf.keras.utils.set_random_seed(i)  # study or the test suite trains them
    t = time.perf_counter()
    m = models.build_model(name, shape, 10, **kw)
    times["build"] += time.perf_counter() - t
    m.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    t = time.perf_counter()
    m.fit(x, y, epochs=1, batch_size=128, verbose=0)
    times["fit"] += time.perf_counter() - t
    t = time.perf_counter()
    m.predict(x, verbose=0)
    times["predict"] += time.perf_counter() - t
  out[name] = times
print(json.dumps(out))
"""


def _child(implementation: str, models_per_kind: int) -> dict:
  env = dict(os.environ)
  if implementation == "python":
    env["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
  else:
    env.pop("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", None)
  proc = subprocess.run([sys.executable, "-c", _CHILD, str(models_per_kind)],
                        env=env, check=True,
                        capture_output=True, text=True)
  return json.loads(proc.stdout.strip().splitlines()[-1])


def protobuf_tracing(rounds: int, models_per_kind: int) -> None:
  """Part 1: fresh processes, alternating, the fastest of `rounds` each."""
  runs = {"upb": [], "python": []}
  for _ in range(rounds):
    for impl in ("python", "upb"):
      runs[impl].append(_child(impl, models_per_kind))
  if runs["upb"][0]["protobuf"] != "upb":
    print(f"\nprotobuf here has no compiled implementation "
          f"({runs['upb'][0]['protobuf']}): install protobuf==4.25.8 "
          "(requirements-nodeps.txt) to compare.")
    return
  print(f"\n{models_per_kind} models of each kind built, fitted (one step) "
        "and queried in turn, each call traced: seconds summed per process, "
        f"fresh processes, fastest of {rounds}")
  print(f"   {'model':12s} {'call':8s} {'python (s)':>11s} {'upb (s)':>8s} "
        " ratio")
  calls = [(m, c) for m in ("spiking_vgg", "dense")
           for c in ("build", "fit", "predict")]
  for model, call in calls:
    py = min(r[model][call] for r in runs["python"])
    upb = min(r[model][call] for r in runs["upb"])
    print(f"   {model:12s} {call:8s} {py:11.2f} {upb:8.2f}  {py / upb:5.2f}")
  total = {impl: min(sum(r[m][c] for m, c in calls) for r in rs)
           for impl, rs in runs.items()}
  print(f"   {'all':21s} {total['python']:11.2f} {total['upb']:8.2f}  "
        f"{total['python'] / total['upb']:5.2f}  (target >= 1.3)")


def shared_query_graph(num_models: int) -> None:
  """Part 2: a trained folder of `num_models` spiking VGGs (one epoch: the
  weights only need to differ), queried both ways."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from tfmia import references
  from tfmia.audits import audit
  from tfmia.data import DataConfig, prepare_data
  from tfmia.models.adapter import predict_logits
  from tfmia.training import TrainConfig
  with tempfile.TemporaryDirectory() as d:
    k = max(2, num_models - 1 + (num_models - 1) % 2)  # pairs of references
    config = references.ReferenceConfig(
        data=DataConfig(dataset="digits", train_size=400, test_size=200),
        model="spiking_vgg",
        model_kwargs=dict(depth=5, timesteps=1, width_multiplier=0.25,
                          hidden=32),
        train=TrainConfig(epochs=1, batch_size=64), num_models=k,
        reference_dir=d)
    data = prepare_data(config.data)
    references.train_references(config, data=data, progress=False)
    refs = references.ReferenceSet.load(d)
    names = references.job_names(k)
    x = data.x_train
    start = time.perf_counter()
    alone = [predict_logits(refs.load_model(n, data.input_shape,
                                            data.num_classes), x,
                            batch_size=256) for n in names]
    t_alone = time.perf_counter() - start
    start = time.perf_counter()
    shared = [audit._queried(refs, n, data, None, 256, False)(x)  # pylint: disable=protected-access
              for n in names]
    t_shared = time.perf_counter() - start
  same = all(np.array_equal(a, b) for a, b in zip(alone, shared))
  print(f"\nThe audit's queries: {len(names)} spiking VGG-5s (T = 1) on "
        f"{len(x)} digits")
  print(f"   built one by one {t_alone:6.2f} s   one traced graph "
        f"{t_shared:6.2f} s   ratio {t_alone / t_shared:4.2f}   logits "
        f"{'identical' if same else 'DIFFER'}")
  if not same:
    raise SystemExit("the shared graph's logits differ")


# Part 3's process: `train_model` on models one after another, each model
# twice with one seed: with the step's variables created before `fit`, and
# with Keras creating them inside the first step (in turn, each first for
# half of the models, so that both see the same process state).
_FIT_CHILD = """
import json, sys, time
import numpy as np, tensorflow as tf
from tfmia import models
from tfmia.data import DataConfig, prepare_data
from tfmia.training import TrainConfig, loop
ours = loop.build_step_variables
data = prepare_data(DataConfig(dataset="digits", train_size=200,
                               test_size=100))
config = TrainConfig(epochs=1, batch_size=64)
out = {"tfmia": {}, "keras": {}, "identical": True}
for name, kw in (("spiking_vgg", dict(depth=5, timesteps=1,
                                      width_multiplier=0.25, hidden=32)),
                 ("dense", dict(depth=2, units=64))):
  for mode in out["tfmia"], out["keras"]:
    mode[name] = 0.0
  for i in range(int(sys.argv[1])):
    weights = []
    ways = [("keras", lambda model: None), ("tfmia", ours)]
    for mode, build in ways[::1 if i % 2 else -1]:   # each first in turn
      loop.build_step_variables = build
      tf.keras.utils.set_random_seed(i)
      m = models.build_model(name, data.input_shape, 10, **kw)
      t = time.perf_counter()
      loop.train_model(m, data, config)
      out[mode][name] += time.perf_counter() - t
      weights.append(m.get_weights())
    out["identical"] &= all(np.array_equal(a, b)
                            for a, b in zip(*weights))
print(json.dumps(out))
"""


def one_trace_per_fit(rounds: int, models_per_kind: int) -> None:
  """Part 3: both ways in one process, alternating; the fastest of
  `rounds` fresh processes."""
  runs = []
  for _ in range(rounds):
    proc = subprocess.run(
        [sys.executable, "-c", _FIT_CHILD, str(models_per_kind)],
        check=True, capture_output=True, text=True)
    runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
  print(f"\nOne trace per fit: {models_per_kind} models of each kind trained "
        "(one epoch, 200 digits) by train_model, each both ways in turn in "
        f"one process: seconds summed, fastest of {rounds} processes")
  print(f"   {'model':12s} {'two traces (s)':>15s} {'one (s)':>8s}  ratio")
  for model in ("spiking_vgg", "dense"):
    two = min(r["keras"][model] for r in runs)
    one = min(r["tfmia"][model] for r in runs)
    print(f"   {model:12s} {two:15.2f} {one:8.2f}  {two / one:5.2f}")
  two = min(sum(r["keras"].values()) for r in runs)
  one = min(sum(r["tfmia"].values()) for r in runs)
  same = all(r["identical"] for r in runs)
  print(f"   {'all':12s} {two:15.2f} {one:8.2f}  {two / one:5.2f}  (target "
        f">= 1.3)   weights {'identical' if same else 'DIFFER'}")
  if not same:
    raise SystemExit("the weights trained with one trace differ")


def spiking_build(models_per_kind: int) -> None:
  """Part 4: spiking VGG-5s built, and a converted conv net's SNN converted,
  saved and loaded, both ways in turn, in this process."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from tfmia import models, snn
  from tfmia.snn import neurons
  ours = neurons.shape_inference_only
  rng = np.random.default_rng(0)
  x = rng.random((64, 8, 8, 1), dtype=np.float32)
  ann = models.build_model("conv", (8, 8, 1), 10)
  times = {(k, w): 0.0 for k in ("build", "convert", "load")
           for w in ("traced", "skipped")}
  outputs = {"traced": [], "skipped": []}
  with tempfile.TemporaryDirectory() as d:
    for i in range(2 * models_per_kind):
      for way in (("traced", "skipped") if i % 2 else ("skipped", "traced")):
        neurons.shape_inference_only = ours if way == "skipped" else (
            lambda: False)
        t = time.perf_counter()
        models.build_model("spiking_vgg", (8, 8, 1), 10, depth=5,
                           timesteps=1, width_multiplier=0.25, hidden=32)
        times["build", way] += time.perf_counter() - t
        t = time.perf_counter()
        converted = snn.convert(ann, x, timesteps=2)
        times["convert", way] += time.perf_counter() - t
        path = os.path.join(d, f"{way}{i}.keras")
        snn.save(converted, path)
        t = time.perf_counter()
        loaded = snn.load(path)
        times["load", way] += time.perf_counter() - t
        outputs[way].append(loaded.predict(x, verbose=0))
  neurons.shape_inference_only = ours
  same = all(np.array_equal(a, b) for a, b in zip(*outputs.values()))
  n = 2 * models_per_kind
  print(f"\nShape inference without tracing the spiking work: {n} models "
        "each way, in turn (seconds)")
  print(f"   {'':34s} {'traced':>7s} {'skipped':>8s}  ratio")
  for kind, what in (("build", "spiking VGG-5 built"),
                     ("convert", "conv net converted to an SNN"),
                     ("load", "that SNN loaded from .keras")):
    tr, sk = times[kind, "traced"], times[kind, "skipped"]
    print(f"   {what:34s} {tr:7.2f} {sk:8.2f}  {tr / sk:5.2f}")
  tr = sum(v for (k, w), v in times.items() if w == "traced")
  sk = sum(v for (k, w), v in times.items() if w == "skipped")
  print(f"   {'all':34s} {tr:7.2f} {sk:8.2f}  {tr / sk:5.2f}  (target >= "
        f"1.3)   SNN outputs {'identical' if same else 'DIFFER'}")
  if not same:
    raise SystemExit("the converted SNN's outputs differ")


def main():  # pylint: disable=missing-function-docstring
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--rounds", type=int, default=2)
  p.add_argument("--per-kind", type=int, default=6,
                 help="models of each kind per process")
  p.add_argument("--models", type=int, default=9,
                 help="the target and its references (made even K + 1)")
  p.add_argument("--only", choices=("protobuf", "queries", "fit", "build"),
                 help="run one part")
  args = p.parse_args()
  if args.only in (None, "protobuf"):
    protobuf_tracing(args.rounds, args.per_kind)
  if args.only in (None, "queries"):
    shared_query_graph(args.models)
  if args.only in (None, "fit"):
    one_trace_per_fit(args.rounds, args.per_kind)
  if args.only in (None, "build"):
    spiking_build(args.per_kind)


if __name__ == "__main__":
  main()
