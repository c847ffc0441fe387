"""Membership-inference attacks: one registry, one front door.

    from tfmia.attacks import AttackConfig, AttackSignals, run_attacks
    results = run_attacks(("rmia", "lira", "logistic_regression"), signals,
                          AttackConfig(), is_member=is_member)

`inputs` holds what an attack takes, `registry` every attack and its needs,
`run` the front door. Score functions (`scores`, `shadow`, `samia`,
`label_only`) are pure numpy: higher means member. tensorflow-privacy's
trained attacks run through the same door (`tf_privacy` is their backend).
Adversarial robustness lives apart, in `tfmia.robustness`.
"""

from tfmia.attacks.inputs import AttackConfig, AttackSignals, Provided
from tfmia.attacks.registry import (ATTACKS, DEFAULT_ATTACKS, check_names,
                                    check_needs)
from tfmia.attacks.run import run_attacks
from tfmia.attacks.tf_privacy import (TF_PRIVACY_ATTACKS, AttackInput,
                                      SlicingConfig)

__all__ = ["ATTACKS", "DEFAULT_ATTACKS", "TF_PRIVACY_ATTACKS", "AttackConfig",
           "AttackInput", "AttackSignals", "Provided", "SlicingConfig",
           "check_names", "check_needs", "run_attacks"]
