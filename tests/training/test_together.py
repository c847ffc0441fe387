"""Models trained together equal the same models trained one by one."""

import numpy as np
import pytest

from tfmia import models, references
from tfmia.data import DataConfig, prepare_data
from tfmia.references.membership import membership_matrix
from tfmia.references import one_model as ref_training
from tfmia.training import TrainConfig
from tfmia.training import together
from tfmia_testing import tiny_reference_config


def _sets(n=300, k=2):
  data = prepare_data(DataConfig(dataset="digits", train_size=n,
                                 test_size=100))
  return data, [data.members(m, validation=~m)
                for m in membership_matrix(n, k, 0)]


def _same(a, b):
  return all(np.array_equal(x, y) for x, y in
             zip(a.get_weights(), b.get_weights()))


@pytest.mark.slow
@pytest.mark.parametrize("builder, kwargs, augment", [
    ("dense", {"depth": 2, "units": 32}, False),
    ("conv", {"filters": 8, "dense_units": 16}, True),
    # BatchNorm: each model its own statistics, as alone.
    ("tfmia_testing:bn_dropout_mlp", {}, False),
    # A user's Sequential model ending in a softmax (loss on probabilities).
    ("tfmia_testing:sequential_softmax", {}, False)])
def test_two_models_together_equal_them_apart_bit_for_bit(builder, kwargs,
                                                          augment):
  data, sets = _sets()
  config = TrainConfig(epochs=2, batch_size=32, augment=augment)
  apart = [ref_training.train_member_model(builder, kwargs, s, config,
                                           seed=7 + k)
           for k, s in enumerate(sets)]
  tog = together.train_together(
      lambda: models.build_model(builder, data.input_shape, data.num_classes,
                                 **kwargs), sets, config, [7, 8])
  for a, b in zip(apart, tog):
    assert _same(a.model, b.model)
    assert a.history.metrics == b.history.metrics
  # Different seeds: different models (the test can fail).
  assert not _same(tog[0].model, tog[1].model)
  assert tog[0].model.name == apart[0].model.name   # its name given back


@pytest.mark.slow
def test_reference_folder_together_equals_one_by_one_and_resumes(tmp_path):
  one = tiny_reference_config(tmp_path / "one", num_models=2, epochs=2
                              ).replace(loss_traces=True)
  references.train_references(one, progress=False)
  four = one.replace(reference_dir=str(tmp_path / "four"), together=4)
  # (a stack of the two models left: target and ref_000)
  assert four.fingerprint() == one.fingerprint()
  # An interrupted stack: ref_001 finished alone, the rest is to do.
  data = prepare_data(one.data)
  refs_one = references.ReferenceSet.load(tmp_path / "one")
  mask = refs_one.ref_is_member[1]
  references.train_references(one.replace(reference_dir=str(tmp_path / "four")),
                              progress=False,
                              train_fn=_only("ref_001"))
  out = references.train_references(four, progress=False)
  assert sorted(out["trained"]) == ["ref_000", "target"]
  assert out["skipped"] == ["ref_001"]
  refs_four = references.ReferenceSet.load(tmp_path / "four")
  for name in references.job_names(2):
    a = refs_one.load_model(name, data.input_shape, data.num_classes)
    b = refs_four.load_model(name, data.input_shape, data.num_classes)
    assert _same(a, b), name
    # The loss traces, from one pass of the stack, are each model's own.
    np.testing.assert_array_equal(refs_one.loss_trace(name),
                                  refs_four.loss_trace(name))
  assert refs_four.loss_trace("target").shape == (400, 3)
  np.testing.assert_array_equal(refs_four.is_member_of("ref_001"), mask)
  assert references.train_references(four, progress=False)["trained"] == []
  # A model whose loss trace is gone is incomplete: named, then redone.
  trace = tmp_path / "four" / "ref_000" / references.LOSS_TRACE_FILE
  trace.unlink()
  with pytest.raises(FileNotFoundError, match="ref_000 .*loss_trace.npy is "
                     "missing"):
    references.ReferenceSet.load(tmp_path / "four")
  out = references.train_references(four, progress=False)
  assert out["trained"] == ["ref_000"]
  assert "loss_trace.npy is missing" in out["redone"]["ref_000"]
  np.testing.assert_array_equal(   # (now trained alone: the same trace)
      references.ReferenceSet.load(tmp_path / "four").loss_trace("ref_000"),
      refs_one.loss_trace("ref_000"))


def _only(keep):
  def train(config, data, mask, name, model_dir, **kw):
    if name == keep:
      return references.train_one(config, data, mask, name, model_dir, **kw)
    return None
  return train


@pytest.mark.slow
def test_checkpoints_of_a_stacked_model_are_its_own(tmp_path):
  config = tiny_reference_config(tmp_path / "r", num_models=2, epochs=2
                                 ).replace(together=3,
                                           checkpoints=("ref_001",))
  references.train_references(config, progress=False)
  refs = references.ReferenceSet.load(tmp_path / "r")
  data = prepare_data(config.data)
  assert refs.checkpoint_epochs("ref_001") == [1, 2]
  assert refs.checkpoint_epochs("target") == []
  last = refs.load_checkpoint("ref_001", 2, data.input_shape,
                              data.num_classes)
  assert _same(last, refs.load_model("ref_001", data.input_shape,
                                     data.num_classes))


def test_a_stack_that_does_not_fit_is_refused_with_the_largest_that_does():
  with pytest.raises(ValueError, match=r"fits 3\. Use --together 3"):
    together.check_memory(8, per_model=2**30, available=4 * 2**30)
  together.check_memory(3, per_model=2**30, available=4 * 2**30)
  data, _ = _sets()
  m = models.build_model("dense", data.input_shape, data.num_classes,
                         depth=1, units=10)
  # (64*10 + 10 + 10*10 + 10) params x 4 slots + 2 x batch x outputs
  params = m.count_params()
  assert together.model_memory(m, 5, 0, optimizer_slots=2) == 4 * (
      params * 4 + 2 * 5 * (64 + 64 + 10 + 10))


def test_what_cannot_be_trained_together_is_refused():
  from tfmia.training.hire import HireConfig
  base = tiny_reference_config("r")
  with pytest.raises(ValueError, match="together"):
    base.replace(together=0)
  with pytest.raises(ValueError, match="HIRE"):
    base.replace(together=2, hire=HireConfig())
  with pytest.raises(ValueError, match="Early stopping"):
    base.replace(together=2, train=base.train.replace(early_stopping=True))
  data, sets = _sets()
  uneven = [sets[0], data.members(np.arange(300) < 100)]
  with pytest.raises(ValueError, match="one size"):
    together.train_together(lambda: None, uneven, base.train, [0, 1])
  import tensorflow as tf
  with pytest.raises(ValueError, match="global_clipnorm"):
    together.check_optimizer(tf.keras.optimizers.Adam(global_clipnorm=1.0))


@pytest.mark.slow
def test_cli_together_flag(tmp_path, capsys):
  from tfmia import cli
  from tfmia.infra import io
  config = tiny_reference_config(tmp_path / "r", num_models=2, epochs=1)
  io.atomic_write_json(tmp_path / "c.json", config.to_dict())
  assert cli.main(["reference", "train", "--config", str(tmp_path / "c.json"),
                   "--together", "3", "--no-progress"]) == 0
  assert "Trained 3" in capsys.readouterr().out
  done = references.status(config)[0]
  assert sorted(done) == ["ref_000", "ref_001", "target"]
  record = io.read_json(tmp_path / "r" / "ref_000" / "done.json")
  assert record["together"] == 3


@pytest.mark.slow
def test_dropout_stays_per_model():
  """Dropout's masks are each model's own: two models of one seed trained
  together on the same data differ (their draws differ), and each learns."""
  data, sets = _sets()
  config = TrainConfig(epochs=3, batch_size=32)
  same = [sets[0], sets[0]]
  tog = together.train_together(
      lambda: models.build_model("tfmia_testing:bn_dropout_mlp",
                                 data.input_shape, data.num_classes,
                                 dropout=0.5), same, config, [3, 3])
  assert not _same(tog[0].model, tog[1].model)
  for r in tog:
    assert r.history["accuracy"][-1] > r.history["accuracy"][0]
