"""Foundation benchmarks, measured side by side in one run.

1. PrivacyMetrics overhead: one fit of the conv model on the CIFAR-10 train
   split with the published settings (Adam, batch 50). The callback attacks
   10,000 members + 10,000 non-members with the threshold attack every second
   epoch, so epochs with and without it alternate in the same run. Ratio =
   mean time of an epoch with the callback / mean time of one without.
2. Wall time of the quick architecture case study on CIFAR-10 (a fresh output
   folder, so nothing is resumed).

Usage: python benchmarks/bench_foundation.py [--data-dir DIR] [--skip-study]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf

from tfmia import data as tfdata
from tfmia import models
from tfmia.audits.callback import PrivacyMetrics
from tfmia.training import TrainConfig, train_model


class _EpochStart(tf.keras.callbacks.Callback):
  def __init__(self, times):
    super().__init__()
    self.times = times

  def on_epoch_begin(self, epoch, logs=None):
    self.times[epoch] = time.perf_counter()


class _EpochEnd(tf.keras.callbacks.Callback):
  def __init__(self, times, durations):
    super().__init__()
    self.times, self.durations = times, durations

  def on_epoch_end(self, epoch, logs=None):
    self.durations[epoch] = time.perf_counter() - self.times[epoch]


class _TimedPrivacyMetrics(PrivacyMetrics):
  """Also records the time spent inside the callback, as a cross-check."""

  def on_train_begin(self, logs=None):
    super().on_train_begin(logs)
    self.seconds = []

  def on_epoch_end(self, epoch, logs=None):
    start = time.perf_counter()
    super().on_epoch_end(epoch, logs)
    if (epoch + 1) % self.every_n_epochs == 0:
      self.seconds.append(time.perf_counter() - start)


def callback_overhead(data_dir: str, epochs: int = 9) -> dict:
  raw = tfdata.load_dataset("cifar10", data_dir=data_dir)
  data = tfdata.prepare_data(tfdata.DataConfig(dataset="cifar10"), raw=raw)
  tf.keras.utils.set_random_seed(0)
  model = models.conv(data.input_shape, data.num_classes)
  cb = _TimedPrivacyMetrics(member_data=(data.x_train[:10000], data.y_train[:10000]),
                      nonmember_data=(data.x_test, data.y_test),
                      every_n_epochs=2, attacks=("threshold",))
  starts, durations = {}, {}
  # The timers wrap every other callback: start first, end last.
  train_model(model, data, TrainConfig(epochs=epochs, batch_size=50),
              callbacks=[_EpochStart(starts), cb, _EpochEnd(starts, durations)])
  with_cb = [durations[e] for e in range(epochs) if (e + 1) % 2 == 0]
  # Epoch 1 (index 0) is the warm-up (tracing), so it is left out.
  without = [durations[e] for e in range(1, epochs) if (e + 1) % 2 != 0]
  print("epoch seconds:", ", ".join(
      f"{e + 1}{'*' if (e + 1) % 2 == 0 else ''}={durations[e]:.2f}"
      for e in range(epochs)), "(* = with callback; epoch 1 is warm-up)")
  ratio = float(np.median(with_cb) / np.median(without))
  inside = float(np.median(cb.seconds))
  return {"epoch_without_s": float(np.median(without)),
          "epoch_with_s": float(np.median(with_cb)), "ratio": ratio,
          "callback_s": inside,
          "ratio_from_callback_time": 1 + inside / float(np.median(without)),
          "amortised_every_2": (1 + ratio) / 2}


def callback_paths(data_dir: str, repeats: int = 5) -> dict:
  """One evaluation of PrivacyMetrics (the adapter, Signals and the one
  attack front door, with tensorflow-privacy's ε bound) against the path it
  replaced (logits, then tensorflow-privacy's threshold attack directly), on
  the same model and data, alternating; medians of `repeats`."""
  from tfmia.models.adapter import predict_logits
  from tfmia.attacks import tf_privacy
  raw = tfdata.load_dataset("cifar10", data_dir=data_dir)
  data = tfdata.prepare_data(tfdata.DataConfig(dataset="cifar10"), raw=raw)
  tf.keras.utils.set_random_seed(0)
  model = models.conv(data.input_shape, data.num_classes)
  members = (data.x_train[:10000], data.y_train[:10000])
  cb = PrivacyMetrics(member_data=members,
                      nonmember_data=(data.x_test, data.y_test),
                      attacks=("threshold",))
  cb.set_model(model)

  def old():
    ai = tf_privacy.AttackInput(
        predict_logits(model, members[0]), members[1],
        predict_logits(model, data.x_test), data.y_test)
    return tf_privacy.run_tf_privacy(ai, attacks=("threshold",))

  new_s, old_s = [], []
  cb.evaluate(), old()   # warm-up: tracing
  for _ in range(repeats):
    start = time.perf_counter()
    a = cb.evaluate().get("threshold")
    new_s.append(time.perf_counter() - start)
    start = time.perf_counter()
    b = old().get("threshold")
    old_s.append(time.perf_counter() - start)
  assert abs(a.auc - b.auc) < 1e-9, (a.auc, b.auc)
  return {"new_s": float(np.median(new_s)), "old_s": float(np.median(old_s))}


def quick_study_wall_time(data_dir: str) -> float:
  tfmia = Path(sys.executable).parent / "tfmia"
  with tempfile.TemporaryDirectory() as out:
    start = time.perf_counter()
    subprocess.run([str(tfmia), "case-study", "architectures", "--quick",
                    "--dataset", "cifar10", "--data-dir", data_dir,
                    "--no-progress", "--out", out], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  default_dir = os.environ.get(tfdata.DATA_DIR_ENV) or str(
      Path(__file__).resolve().parents[2] / "shared" / "data" / "tfds")
  p.add_argument("--data-dir", default=default_dir)
  p.add_argument("--skip-study", action="store_true")
  args = p.parse_args()
  if not tfdata.dataset_available("cifar10", args.data_dir):
    print(f"CIFAR-10 not found in {args.data_dir}; the benchmarks need it.")
    return 1
  print("== PrivacyMetrics overhead: conv, CIFAR-10 (50,000 train, batch 50), "
        "threshold attack on 10,000 + 10,000 ==")
  o = callback_overhead(args.data_dir)
  print(f"epoch without callback  {o['epoch_without_s']:8.2f} s")
  print(f"epoch with callback     {o['epoch_with_s']:8.2f} s")
  print(f"ratio (target <= 1.10)  {o['ratio']:8.3f}   (medians of 4 epochs each)")
  print(f"time inside callback    {o['callback_s']:8.2f} s -> "
        f"1 + callback/epoch = {o['ratio_from_callback_time']:.3f}")
  print(f"amortised, every 2 epochs {o['amortised_every_2']:6.3f}")
  print("\n== One PrivacyMetrics evaluation (10,000 + 10,000 CIFAR-10): the "
        "front door vs the tensorflow-privacy path it replaced ==")
  c = callback_paths(args.data_dir)
  print(f"adapter + run_attacks   {c['new_s']:8.3f} s")
  print(f"logits + tf-privacy     {c['old_s']:8.3f} s")
  print(f"ratio (target <= 1.05)  {c['new_s'] / c['old_s']:8.3f}")
  if not args.skip_study:
    print("\n== Quick architecture case study on CIFAR-10 (target < 300 s) ==")
    print(f"wall time               {quick_study_wall_time(args.data_dir):8.1f} s")
  return 0


if __name__ == "__main__":
  sys.exit(main())
