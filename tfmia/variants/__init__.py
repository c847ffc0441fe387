"""Variants: named, fingerprinted transformations of a trained model, stored
beside the model they come from (`base`): an SNN at T (`snn`), a pruned and
fine-tuned model (`pruned`, with its pruners in `pruning`), the model at an
earlier epoch (`checkpoint`). A new kind is one module here: every module of
this package is imported below, so its command-line form (`register_spec`)
is known to `from_spec` without another edit.
"""

import importlib
import pkgutil

from tfmia.variants.base import (MODEL_FILE, VARIANTS_DIR, Variant,
                                 check_applicable,
                                 fingerprint, from_spec, is_complete,
                                 load_model, make_variants, members_of,
                                 register_spec, spec_help, variant_dir)
from tfmia.variants.checkpoint import CheckpointVariant
from tfmia.variants.pruned import PRUNE_INFO_FILE, PrunedVariant, prune_info
from tfmia.variants.snn import SnnVariant

for _module in pkgutil.iter_modules(__path__):
  importlib.import_module(f"{__name__}.{_module.name}")

SPEC_HELP = spec_help()   # every kind is registered by now

__all__ = ["CheckpointVariant", "MODEL_FILE", "PRUNE_INFO_FILE",
           "PrunedVariant", "SPEC_HELP", "SnnVariant", "VARIANTS_DIR",
           "Variant", "fingerprint", "from_spec", "is_complete", "load_model",
           "make_variants", "members_of", "prune_info", "register_spec",
           "spec_help", "variant_dir"]
