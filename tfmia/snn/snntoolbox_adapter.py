"""Conversion and simulation through snntoolbox 0.6.0, with per-example
outputs.

snntoolbox's own pipeline is used: parse, normalise at a percentile (99.9),
convert to its INI simulator with the temporal mean-rate code, then simulate.
Its `run` only reports accuracy, so tfmia drives the converted INI model
batch by batch through its `simulate` (which steps the network once per
timestep) and keeps the output spike counts of every example.

Every conversion gets a fresh working folder with a config file written
here: snntoolbox caches normalisation factors under its run folder and would
otherwise silently reuse a previous model's. The final softmax is replaced by
a ReLU (`softmax_to_relu`) so that results are deterministic.

snntoolbox 0.6.0 still uses `np.bool`, removed in numpy 1.24; the alias is
set here, in one place, before snntoolbox is imported.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io as _io
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import tensorflow as tf

from tfmia.snn.graph import UnsupportedLayerError, as_functional, parse

_SNNTOOLBOX_LAYERS = ("InputLayer", "Conv2D", "Dense", "BatchNormalization",
                      "ReLU", "Activation", "AveragePooling2D", "MaxPooling2D",
                      "GlobalAveragePooling2D", "Flatten", "Dropout")


def _np_bool_alias() -> None:
  """snntoolbox 0.6.0 calls `np.bool`; numpy >= 1.24 removed it."""
  if "bool" not in np.__dict__:
    np.bool = bool  # type: ignore[attr-defined]


def _relu_output(layer) -> bool:
  act = getattr(layer, "activation", None)
  name = getattr(act, "__name__", None)
  if isinstance(layer, tf.keras.layers.ReLU):
    return True
  return name == "relu"


def check_convertible(model: tf.keras.Model) -> None:
  """Raises UnsupportedLayerError for what snntoolbox cannot convert
  faithfully, naming the layer and pointing to tfmia's simulator."""
  model = as_functional(model)   # Sequential and nested models, inlined
  last = model.layers[-1]
  if isinstance(last, tf.keras.layers.Softmax) or getattr(
      getattr(last, "activation", None), "__name__", "") == "softmax":
    raise UnsupportedLayerError(
        f"The model's output {last.name!r} is a softmax; snntoolbox adds its "
        "own and needs a model that outputs logits. Use tfmia.snn.convert, "
        "which drops an output softmax.")
  parse(model)   # everything tfmia cannot express, snntoolbox cannot either
  for layer in model.layers:
    kind = type(layer).__name__
    if kind == "Add":
      for inb in layer._inbound_nodes[0].inbound_layers:  # pylint: disable=protected-access
        if not _relu_output(inb):
          raise UnsupportedLayerError(
              f"snntoolbox cannot convert the residual Add {layer.name!r} "
              f"faithfully: its input {inb.name!r} is not ReLU'd, so it can be "
              "negative, and snntoolbox turns the Add into spiking neurons "
              "that drop negative values. Use tfmia.snn.convert, which "
              "simulates Add exactly.")
    elif kind not in _SNNTOOLBOX_LAYERS:
      raise UnsupportedLayerError(
          f"snntoolbox cannot convert layer {layer.name!r} ({kind}). Use "
          "tfmia.snn.convert instead.")


@dataclasses.dataclass(frozen=True)
class SnntoolboxConversion:
  """What snntoolbox built, and how long each stage took.

  Attributes:
    timesteps: T simulated per example.
    batch_size: the INI model's fixed batch size.
    workdir: the fresh working folder (config file, saved models, logs).
    seconds: {"parse": ..., "normalize": ..., "convert": ...}.
  """

  model: object            # snntoolbox's INI SNN object
  timesteps: int
  batch_size: int
  workdir: Path
  seconds: dict

  def spike_counts(self, x: np.ndarray, *, progress: bool = False
                   ) -> np.ndarray:
    """(N, C) output spike counts over T, per example, by driving the INI
    simulator timestep by timestep."""
    x = np.asarray(x, dtype=np.float32)
    b = self.batch_size
    out = []
    from tqdm.auto import tqdm
    for i in tqdm(range(0, len(x), b), disable=not progress,
                  desc="snntoolbox", leave=False):
      xb = x[i:i + b]
      n = len(xb)
      if n < b:   # the INI model has a fixed batch size: pad
        xb = np.concatenate([xb, np.zeros((b - n,) + xb.shape[1:],
                                          np.float32)])
      with contextlib.redirect_stdout(_io.StringIO()):
        cum = self.model.simulate(x_b_l=xb, truth_b=np.zeros(b, int))
        self.model.reset(i // b)
      out.append(cum[:n, :, -1])
    return np.concatenate(out)

  def predict(self, x: np.ndarray) -> np.ndarray:
    """(N,) the class with the most output spikes (the first on ties)."""
    return self.spike_counts(x).argmax(axis=1)

  def cleanup(self) -> None:
    shutil.rmtree(self.workdir, ignore_errors=True)


def _config_text(workdir: Path, *, timesteps: int, batch_size: int,
                 percentile: float, poisson: bool) -> str:
  return f"""[paths]
path_wd = {workdir}
dataset_path = {workdir}
log_dir_of_current_run = {workdir / 'log'}
runlabel = tfmia
filename_ann = ann
filename_parsed_model = ann_parsed
filename_snn = ann_snn

[tools]
evaluate_ann = False
parse = True
normalize = True
convert = True
simulate = False

[normalization]
percentile = {percentile}

[conversion]
softmax_to_relu = True
spike_code = temporal_mean_rate

[input]
poisson_input = {poisson}

[simulation]
simulator = INI
keras_backend = tensorflow
duration = {timesteps}
dt = 1
batch_size = {batch_size}
num_to_test = {batch_size}

[output]
log_vars = {{}}
plot_vars = {{}}
verbose = 0
overwrite = True
"""


def convert_with_snntoolbox(ann: tf.keras.Model, x_norm: np.ndarray, *,
                            timesteps: int = 64, batch_size: int = 64,
                            percentile: float = 99.9, poisson: bool = False,
                            workdir: Optional[os.PathLike] = None
                            ) -> SnntoolboxConversion:
  """Converts `ann` (logits output) through snntoolbox 0.6.0.

  Args:
    ann: a functional or Sequential Keras ReLU model that outputs logits
      (nested models are inlined first).
    x_norm: (M, H, W, C) data for snntoolbox's percentile normalisation.
    timesteps: simulation duration (dt = 1).
    batch_size: the INI simulator's batch size.
    percentile: normalisation percentile.
    poisson: Poisson input instead of analog (direct) input.
    workdir: an empty or new folder; a fresh temporary one when None.

  Returns:
    A SnntoolboxConversion; `.spike_counts(x)` gives per-example outputs.
  """
  if not isinstance(timesteps, int) or timesteps < 1:
    raise ValueError(f"`timesteps` must be a positive int. "
                     f"Received: timesteps={timesteps!r}")
  ann = as_functional(ann)
  x_norm = np.asarray(x_norm, dtype=np.float32)
  if x_norm.ndim != 4 or x_norm.shape[1:] != tuple(ann.input_shape[1:]):
    raise ValueError(f"`x_norm` must be (M,) + {tuple(ann.input_shape[1:])}. "
                     f"Received: shape={x_norm.shape}")
  check_convertible(ann)
  if workdir is None:
    workdir = Path(tempfile.mkdtemp(prefix="tfmia_snntoolbox_"))
  else:
    workdir = Path(workdir)
    if workdir.exists() and any(workdir.iterdir()):
      raise ValueError(f"`workdir` must be empty or new (snntoolbox would "
                       f"reuse cached normalisation factors). Received: "
                       f"{workdir}")
    workdir.mkdir(parents=True, exist_ok=True)
  _np_bool_alias()
  from tfmia.infra import extras  # pylint: disable=g-import-not-at-top
  extras.require("snntoolbox", "Conversion with snntoolbox")
  from snntoolbox.bin.utils import import_target_sim, update_setup  # pylint: disable=g-import-not-at-top
  from snntoolbox.conversion.utils import normalize_parameters
  from snntoolbox.parsing.model_libs import keras_input_lib

  # snntoolbox expects probabilities and one-hot labels (categorical
  # cross-entropy); softmax_to_relu then makes the output layer a ReLU.
  probs = tf.keras.layers.Activation("softmax", name="tfmia_softmax")(
      ann.output)
  model = tf.keras.Model(ann.input, probs, name=ann.name)
  model.compile("sgd", "categorical_crossentropy", ["accuracy"])
  with warnings.catch_warnings():   # snntoolbox reads only HDF5
    warnings.simplefilter("ignore", UserWarning)
    model.save(workdir / "ann.h5", save_format="h5")
  np.savez_compressed(workdir / "x_norm.npz", arr_0=x_norm)
  # update_setup insists on a test set; tfmia simulates its own inputs.
  np.savez_compressed(workdir / "x_test.npz", arr_0=x_norm[:1])
  np.savez_compressed(workdir / "y_test.npz", arr_0=np.eye(
      int(ann.output_shape[-1]), dtype=np.float32)[:1])
  (workdir / "config.ini").write_text(_config_text(
      workdir, timesteps=timesteps, batch_size=batch_size,
      percentile=percentile, poisson=poisson))
  seconds = {}
  log = _io.StringIO()
  import matplotlib  # pylint: disable=g-import-not-at-top
  # snntoolbox's update_setup sets matplotlib's rcParams for its own plots
  # (xx-large fonts): the context restores them for the user's figures.
  with contextlib.redirect_stdout(log), matplotlib.rc_context():
    config = update_setup(str(workdir / "config.ini"))
    start = time.perf_counter()
    loaded = keras_input_lib.load(str(workdir), "ann")
    parser = keras_input_lib.ModelParser(loaded["model"], config)
    parser.parse()
    parsed = parser.build_parsed_model()
    seconds["parse"] = time.perf_counter() - start
    start = time.perf_counter()
    normalize_parameters(parsed, config, x_norm=x_norm)
    seconds["normalize"] = time.perf_counter() - start
    start = time.perf_counter()
    snn = import_target_sim(config).SNN(config)
    snn.build(parsed)
    seconds["convert"] = time.perf_counter() - start
  (workdir / "snntoolbox.log").write_text(log.getvalue())
  return SnntoolboxConversion(model=snn, timesteps=timesteps,
                              batch_size=batch_size, workdir=workdir,
                              seconds=seconds)
