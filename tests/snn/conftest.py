import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits_data():
  from tfmia import data as tfdata
  return tfdata.prepare_data(tfdata.DataConfig(dataset="digits"))


@pytest.fixture(scope="session")
def trained_conv(digits_data):
  """A small conv net (max pooling) trained on digits for 10 epochs."""
  import tensorflow as tf
  from tfmia import models
  from tfmia.training import TrainConfig, train_model
  tf.keras.utils.set_random_seed(0)
  ann = models.build_model("conv", digits_data.input_shape,
                           digits_data.num_classes, filters=16)
  train_model(ann, digits_data, TrainConfig(epochs=10))
  return ann
