"""The optional parts of tfmia and the pip extra that installs each: a
missing one is named, with its install line, when it is first needed."""

import importlib

# module -> (package, extra)
EXTRAS = {
    "snntoolbox": ("snntoolbox", "snn"),
    "tensorflow_model_optimization": ("tensorflow-model-optimization",
                                      "prune"),
    "art": ("adversarial-robustness-toolbox", "robust"),
    "ray": ("ray", "ray"),
}


def require(module: str, what: str):
  """Imports `module`; when it is missing, raises an ImportError saying that
  `what` needs it and the `pip install 'tfmia[EXTRA]'` that adds it."""
  package, extra = EXTRAS[module]
  try:
    return importlib.import_module(module)
  except ImportError as e:
    raise ImportError(f"{what} needs {package}, which is not installed: "
                      f"pip install 'tfmia[{extra}]'") from e
