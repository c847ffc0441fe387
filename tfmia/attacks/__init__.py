"""Membership-inference attacks.

Score functions are pure numpy: higher means member. tensorflow-privacy's
attacks are reached through `run_attacks`.
"""

from tfmia.attacks.tf_privacy import (TF_PRIVACY_ATTACKS, AttackInput,
                                      SlicingConfig, run_attacks)

__all__ = ["TF_PRIVACY_ATTACKS", "AttackInput", "SlicingConfig", "run_attacks"]
