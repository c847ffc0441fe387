"""SNN benchmarks, measured side by side in one run on one small VGG-like
net (vgg11, width 0.25, average pooling, a 128-unit classifier), batch 64.

1. Simulation cost at T = 32 against the dense floor (T compiled forward
   passes of the ANN on the same batch): tfmia's simulator and snntoolbox's
   INI simulator. Floor and tfmia alternate (medians of 7); snntoolbox
   medians of 3.
2. Conversion time: tfmia (BN folding, thresholds from a 256-image
   calibration batch) against snntoolbox's parse + normalise + convert.
3. Calibrated accuracy at T = 1, 2, 4 against the ANN on the quick CIFAR-10
   setting: the ANN trained on 3,000 CIFAR-10 train images (Adam, 15
   epochs), tested on 2,000 test images; data-driven thresholds; 2 epochs of
   surrogate-gradient calibration per T, each T starting from the previous.
4. Calibration cost: one BPTT epoch at T = 1, 2, 4 relative to one ANN
   training epoch (both on the same 3,000 images, batch 64).

Usage: python benchmarks/bench_snn.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf

from tfmia import data as tfdata
from tfmia import models, snn
from tfmia.training import TrainConfig, train_model

T = 32
BATCH = 64


class _EpochTimer(tf.keras.callbacks.Callback):
  def __init__(self):
    super().__init__()
    self.times = []

  def on_epoch_begin(self, epoch, logs=None):
    self._start = time.perf_counter()

  def on_epoch_end(self, epoch, logs=None):
    self.times.append(time.perf_counter() - self._start)


def _accuracy(model, x, y):
  return float(np.mean(model.predict(x, batch_size=256, verbose=0).argmax(1)
                       == y))


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--data-dir", default=os.environ.get("TFMIA_DATA_DIR"))
  p.add_argument("--calibration-only", action="store_true",
                 help="train the ANN and print only the calibrated-accuracy "
                      "table (BN folded and unfolded)")
  p.add_argument("--surrogates", default=None,
                 help="with --calibration-only: instead, compare these "
                      "surrogates (comma-separated; BN folded)")
  args = p.parse_args()
  dataset = "cifar10" if tfdata.dataset_available("cifar10", args.data_dir) \
      else "digits"
  if dataset != "cifar10":
    print(f"CIFAR-10 not found (data_dir={args.data_dir!r}); using digits.")
  size = dict(train_size=3000, test_size=2000) if dataset == "cifar10" else {}
  d = tfdata.prepare_data(tfdata.DataConfig(dataset=dataset,
                                            data_dir=args.data_dir, **size))
  tf.keras.utils.set_random_seed(0)
  ann = models.build_model("vgg11", d.input_shape, d.num_classes,
                           width_multiplier=0.25, pooling="avg",
                           classifier_units=(128,))
  timer = _EpochTimer()
  train_model(ann, d, TrainConfig(epochs=15, batch_size=BATCH),
              callbacks=[timer])
  ann_epoch = float(np.median(timer.times[1:]))
  ann_acc = _accuracy(ann, d.x_test, d.y_test)
  x = tf.constant(d.x_test[:BATCH])
  calib = d.x_train[:256]
  if args.calibration_only:
    if args.surrogates:
      for name in args.surrogates.split(","):
        _calibration_table(ann, d, calib, ann_acc, ann_epoch,
                           surrogate=name, folds=(True,))
    else:
      _calibration_table(ann, d, calib, ann_acc, ann_epoch)
    return

  # 1 + 2: simulation and conversion.
  start = time.perf_counter()
  ours = snn.convert(ann, calib, timesteps=T, thresholds="percentile")
  ours_convert = time.perf_counter() - start
  floor_fn = tf.function(lambda z: ann(z, training=False))
  sim_fn = tf.function(lambda z: ours(z, training=False))
  floor_fn(x)
  sim_fn(x)
  floor, sim = [], []
  for _ in range(7):
    s = time.perf_counter()
    for _ in range(T):
      floor_fn(x).numpy()
    floor.append(time.perf_counter() - s)
    s = time.perf_counter()
    sim_fn(x).numpy()
    sim.append(time.perf_counter() - s)
  floor, sim = float(np.median(floor)), float(np.median(sim))
  start = time.perf_counter()
  toolbox = snn.convert_with_snntoolbox(ann, calib, timesteps=T,
                                        batch_size=BATCH)
  toolbox_convert = time.perf_counter() - start
  toolbox.spike_counts(x.numpy())   # warm-up
  tb = []
  for _ in range(3):
    s = time.perf_counter()
    toolbox.spike_counts(x.numpy())
    tb.append(time.perf_counter() - s)
  tb = float(np.median(tb))
  toolbox.cleanup()
  print(f"SNN simulation, {dataset}, vgg11 x0.25, batch {BATCH}, T = {T}:")
  print(f"  dense floor ({T} compiled ANN passes)  {floor * 1e3:8.1f} ms")
  print(f"  tfmia simulator                        {sim * 1e3:8.1f} ms   "
        f"{sim / floor:.2f}x floor (target <= 1.2)")
  print(f"  snntoolbox INI simulator               {tb * 1e3:8.1f} ms   "
        f"{tb / floor:.2f}x floor; {tb / sim:.2f}x tfmia (target >= 3)")
  print("\nConversion (256 calibration images):")
  print(f"  tfmia convert (BN folding, percentile thresholds)  "
        f"{ours_convert:6.2f} s")
  print(f"  snntoolbox parse + normalise + convert             "
        f"{sum(toolbox.seconds.values()):6.2f} s  ("
        + ", ".join(f"{k} {v:.2f}" for k, v in toolbox.seconds.items())
        + f"; {toolbox_convert:.2f} s with model saving)")

  _calibration_table(ann, d, calib, ann_acc, ann_epoch)


def _calibration_table(ann, d, calib, ann_acc, ann_epoch, *,
                       surrogate="boxcar", folds=(True, False)):
  """3 + 4: calibrated accuracy and calibration cost, with BatchNorm folded
  into the weights and kept as a layer trained on batch statistics."""
  print(f"\nCalibrated accuracy ({len(d.x_train)} train / {len(d.x_test)} "
        f"test images; ANN {ann_acc:.4f}; ANN epoch {ann_epoch:.2f} s; "
        f"surrogate {surrogate}):")
  for fold in folds:
    print(f"  BatchNorm {'folded' if fold else 'kept as a layer (unfolded)'}:")
    prev = None
    for t in (1, 2, 4):
      model = (snn.convert(ann, calib, timesteps=t, thresholds="data_driven",
                           fold_batchnorm=fold, surrogate=surrogate)
               if prev is None else snn.with_timesteps(prev, t))
      before = _accuracy(model, d.x_test, d.y_test)
      timer = _EpochTimer()
      tf.keras.utils.set_random_seed(0)
      snn.calibrate(model, d, snn.CalibrationConfig(epochs=2),
                    callbacks=[timer])
      after = _accuracy(model, d.x_test, d.y_test)
      epoch = min(timer.times)
      print(f"    T={t}: {before:.4f} converted -> {after:.4f} calibrated "
            f"({(after - ann_acc) * 100:+.1f} points vs ANN); one BPTT epoch "
            f"{epoch:.2f} s = {epoch / ann_epoch:.2f}x an ANN epoch")
      prev = model
  print("  targets: within 2 points of the ANN at T=4, within 6 at T=1")


if __name__ == "__main__":
  main()
