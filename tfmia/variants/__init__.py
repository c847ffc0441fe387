"""Variants: named, fingerprinted transformations of a trained model (an SNN
at T, pruned at s, a checkpoint), stored beside the model they come from.
"""

from tfmia.variants.base import (CheckpointVariant, MODEL_FILE,
                                 PRUNE_INFO_FILE, PrunedVariant, SPEC_HELP,
                                 SnnVariant, VARIANTS_DIR, Variant,
                                 fingerprint, from_spec, is_complete,
                                 load_model, make_variants, members_of,
                                 prune_info, variant_dir)

__all__ = ["CheckpointVariant", "MODEL_FILE", "PRUNE_INFO_FILE",
           "PrunedVariant", "SPEC_HELP", "SnnVariant", "VARIANTS_DIR",
           "Variant", "fingerprint", "from_spec", "is_complete", "load_model",
           "make_variants", "members_of", "prune_info", "variant_dir"]
