"""Why DP-SGD fine-tuning after pruning learns nothing at mia_prune's
settings, and what does learn: one model pruned (l1_structured, 0.7) and
fine-tuned under each setting, with its test accuracy and ε.

Sizes of the pruning study's quick mode on CIFAR-10: VGG-11 at width 0.25
trained on 750 images (validated on 500), 6 fine-tuning epochs, batch 64.
The numbers in docs/studies/pruning.md ("DP-SGD that learns") come from
this script on a 2-core CPU (about 3 minutes).

Usage: python benchmarks/probe_dp_finetuning.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf

from tfmia import data, models
from tfmia.studies.pruning.study import PruningStudyConfig
from tfmia.training import train_model
from tfmia.training.defenses import Defense
from tfmia.variants import pruning


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--data-dir", default=None)
  args = p.parse_args()
  raw = data.load_dataset("cifar10", data_dir=args.data_dir)
  cfg = PruningStudyConfig.quick_mode(
      dataset="cifar10", split_sizes=(len(raw.y_train), len(raw.y_test)),
      image_size=32)
  d = data.prepare_data(data.DataConfig(dataset="cifar10", train_size=1500,
                                        test_size=1000), raw=raw)
  members = d.replace(x_train=d.x_train[:750], y_train=d.y_train[:750],
                      x_test=d.x_test[:500], y_test=d.y_test[:500])
  x_test, y_test = d.x_test[500:], d.y_test[500:]
  ref = cfg.reference_config("unused")
  tf.keras.utils.set_random_seed(0)
  model = models.build_model(ref.model, d.input_shape, d.num_classes,
                             **dict(ref.model_kwargs))
  train_model(model, members, cfg.train_config())

  def acc(m):
    return float(np.mean(np.argmax(m.predict(x_test, verbose=0), 1)
                         == y_test))

  print(f"trained: test accuracy {acc(model):.3f}")
  pruned, _ = pruning.prune_structured(model, "l1_structured", 0.7)
  print(f"pruned to 30% of the filters, before fine-tuning: "
        f"{acc(pruned):.3f}")
  weights = model.get_weights()
  base = cfg.train_config().replace(epochs=max(1, cfg.epochs // 2))
  sgd = dict(optimizer="sgd", momentum=0.9, weight_decay=0.0)
  settings = [
      ("no defense (Adam 1e-3)", base, Defense()),
      ("mia_prune: dp σ=1, 2 microbatches, Adam 1e-3", base,
       Defense("dp", 1.0, num_microbatches=2)),
      ("clipping only (σ=1e-6), 2 microbatches, Adam 1e-3", base,
       Defense("dp", 1e-6, num_microbatches=2)),
      ("dp σ=1, per-example, Adam 1e-3", base, Defense("dp", 1.0)),
      ("dp σ=1, per-example, Adam 1e-4", base.replace(learning_rate=1e-4),
       Defense("dp", 1.0))]
  # ε = 8's noise multiplier without re-estimating BatchNorm ("dp").
  sigma8 = Defense("dp_sgd", 8.0).at_noise(750, base.batch_size,
                                           base.epochs).arg
  for lr in (0.01, 0.05, 0.2):
    settings.append((f"dp σ={sigma8:.2f} (ε=8), per-example: SGD momentum "
                     f"0.9, rate {lr}, clip 1.0 (BatchNorm frozen as it was)",
                     base.replace(learning_rate=lr, **sgd),
                     Defense("dp", sigma8)))
  for lr in (0.005, 0.01, 0.02):
    for clip in (0.5, 1.0):
      settings.append((f"dp_sgd ε=8: SGD momentum 0.9, rate {lr}, clip {clip}"
                       " (BatchNorm from the dev set)",
                       base.replace(learning_rate=lr, **sgd),
                       Defense("dp_sgd", 8.0, l2_norm_clip=clip)))
  for name, finetune, defense in settings:
    model.set_weights(weights)
    tf.keras.utils.set_random_seed(0)
    r = pruning.prune_and_finetune(model, members, "l1_structured", 0.7,
                                   finetune, defense)
    eps = "" if r.epsilon is None else f", ε {r.epsilon:.1f}"
    print(f"{name}: test accuracy {acc(r.model):.3f}{eps}")


if __name__ == "__main__":
  main()
