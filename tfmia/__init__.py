"""tfmia: membership-inference case studies for TensorFlow/Keras models.

`from tfmia import PrivacyMetrics` gives the Keras callback; the rest lives
in the stage packages (`tfmia.audits`, `tfmia.attacks`, `tfmia.references`,
...). Names here are imported on first use, so `import tfmia` stays light.
"""

import os as _os

__version__ = "0.1.0"

# TensorFlow's C++ start-up lines (oneDNN, CUDA stubs, cuDNN/cuFFT/cuBLAS
# factory registration, TensorRT) say nothing about a tfmia run; a value the
# user set, e.g. TF_CPP_MIN_LOG_LEVEL=0, wins.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The stack tfmia runs on: TensorFlow 2.15 with Keras 2 (tensorflow-privacy
# and snntoolbox need Keras 2). Checked from the installed metadata, without
# importing TensorFlow.
TENSORFLOW = "2.15"
INSTALL_TENSORFLOW = ("pip install 'tensorflow==2.15.1' (with a GPU: "
                      "pip install 'tensorflow[and-cuda]==2.15.1')")


def _installed_tensorflow():
  from importlib import metadata
  for dist in ("tensorflow", "tensorflow-cpu", "tensorflow-macos",
               "tensorflow-intel"):
    try:
      return metadata.version(dist)
    except metadata.PackageNotFoundError:
      continue
  return None


def _check_stack():
  version = _installed_tensorflow()
  if version is None:
    raise ImportError(f"tfmia needs TensorFlow {TENSORFLOW}, which is not "
                      f"installed: {INSTALL_TENSORFLOW}.")
  if not version.startswith(TENSORFLOW + "."):
    raise ImportError(f"tfmia needs TensorFlow {TENSORFLOW} (Keras 2); "
                      f"found TensorFlow {version}: {INSTALL_TENSORFLOW}.")


_check_stack()

# name -> the module that defines it
_LAZY = {"PrivacyMetrics": "tfmia.audits.callback"}
__all__ = ["__version__", *_LAZY]


def __getattr__(name):
  if name in _LAZY:
    import importlib
    return getattr(importlib.import_module(_LAZY[name]), name)
  raise AttributeError(f"module 'tfmia' has no attribute {name!r}")


def __dir__():
  return sorted(list(globals()) + list(_LAZY))
