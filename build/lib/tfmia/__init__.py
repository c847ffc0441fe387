"""tfmia: membership-inference case studies for TensorFlow/Keras models."""

__version__ = "0.1.0"
