"""Reference models (shadow models, in the older papers' word): the membership matrix, resumable and shardable
training, and loading a finished reference folder.

Layout of a reference folder::

    refdir/
      config.json        the ReferenceConfig
      membership.npz     ref_is_member (K, N) bool, target_is_member (N,)
                         bool, seed
      target/            the target model
      ref_000/ ...       reference model k
        is_member.npy    its row of the membership matrix
        model.weights.h5, history.json, config.json
        loss_trace.npy   its pool losses before and after each epoch
                         (`ReferenceConfig(loss_traces=True)` only)
        done.json        written last (`tfmia.infra.store`): marks the model
                         complete, with the SHA-256 of is_member.npy, of
                         the weights and of the loss trace
        variants/        its variants (`tfmia.variants`), each a store unit
        signals/         its cached signals (`tfmia.audits.audit`)

The pool (N examples) is the prepared data's train split and the population
is its test split (`DataConfig.train_size` / `test_size` set their sizes), so
the population never overlaps any model's training data.
"""


from tfmia.references.config import ReferenceConfig
from tfmia.references.folder import ReferenceSet
from tfmia.references.membership import (CONFIG_FILE, DONE_FILE,
                                         LOSS_TRACE_FILE, MEMBER_FILE,
                                         MEMBERSHIP_FILE, SPLITS, TARGET,
                                         WEIGHTS_FILE,
                                         membership_matrix, mia_prune_split,
                                         model_index, model_name,
                                         target_membership)
from tfmia.references.one_model import (CHECKPOINTS_DIR, checkpoint_epochs,
                                        checkpoint_path, train_member_model,
                                        train_one, train_stack)
from tfmia.references.training import (check_buildable, is_complete,
                                       job_names, parse_shard,
                                       read_membership, shard_jobs, status,
                                       train_reference_models,
                                       train_references, unit_problem)

__all__ = ["CHECKPOINTS_DIR", "CONFIG_FILE", "DONE_FILE", "LOSS_TRACE_FILE",
           "MEMBERSHIP_FILE",
           "MEMBER_FILE", "ReferenceConfig", "ReferenceSet", "SPLITS",
           "TARGET", "WEIGHTS_FILE", "check_buildable", "checkpoint_epochs",
           "checkpoint_path", "is_complete", "job_names", "membership_matrix",
           "mia_prune_split", "model_index", "model_name", "parse_shard",
           "read_membership", "shard_jobs", "status", "target_membership",
           "train_member_model", "train_one", "train_reference_models",
           "train_references", "train_stack", "unit_problem"]
