"""TensorFlow log hygiene shared by the modules that compile many functions."""

import logging

import tensorflow as tf


class _NoRetracingWarning(logging.Filter):
  """Drops TF's "triggered tf.function retracing" warning: tfmia compiles one
  forward function per model (auditing K models, converting and simulating
  SNNs), once each, which is intended."""

  def filter(self, record):
    return "triggered tf.function retracing" not in record.getMessage()


_FILTER = _NoRetracingWarning()
if _FILTER not in tf.get_logger().filters:
  tf.get_logger().addFilter(_FILTER)
