"""Pruners: requested sparsity, genuinely smaller models that compute what a
masked original computes, the pruners' rankings on hand-built weights, and
errors before any work."""

import numpy as np
import pytest
import tensorflow as tf

from tfmia import models

from tfmia.variants import pruning
from tfmia.training import TrainConfig
from tfmia_testing import masked_copy

L = tf.keras.layers


def _random_bn(model, seed=0):
  """Non-trivial BatchNorm statistics, so that masking is a real test."""
  rng = np.random.default_rng(seed)
  for layer in model.layers:
    if isinstance(layer, L.BatchNormalization):
      g = layer.gamma.shape
      layer.set_weights([rng.normal(1, .5, g), rng.normal(0, .5, g),
                         rng.normal(0, .5, g), rng.uniform(.5, 2, g)])
  return model


@pytest.fixture(scope="module")
def resnet():
  tf.keras.utils.set_random_seed(0)
  return _random_bn(models.build_model("resnet20", (8, 8, 3), 10,
                                       width_multiplier=0.5))


@pytest.mark.parametrize("pruner", pruning.STRUCTURED)
def test_structured_pruning_shrinks_a_resnet_and_matches_a_masked_copy(
    resnet, pruner):
  pruned, stats = pruning.prune_structured(resnet, pruner, 0.5)
  kept, _ = pruning.channels_to_keep(resnet, pruner, 0.5)
  masked = masked_copy(resnet, kept)
  x = np.random.default_rng(1).random((6, 8, 8, 3)).astype("float32")
  np.testing.assert_allclose(pruned(x).numpy(), masked(x).numpy(), atol=1e-4)
  # ... and the original differs, so the masking did something.
  assert np.abs(resnet(x).numpy() - masked(x).numpy()).max() > 1e-3
  assert stats.sparsity == pytest.approx(0.5, abs=0.02)
  assert stats.params_after < 0.4 * stats.params_before
  assert stats.flops_after < 0.4 * stats.flops_before
  assert stats.params_after == pruned.count_params()
  # Every residual Add still joins tensors of one width.
  for layer in pruned.layers:
    if isinstance(layer, L.Add):
      assert len({tuple(s) for s in layer.input_shape}) == 1


def test_filter_pruners_remove_the_same_fraction_of_every_conv(resnet):
  pruned, _ = pruning.prune_structured(resnet, "l1_structured", 0.5)
  for layer in resnet.layers:
    if isinstance(layer, L.Conv2D):
      n = layer.filters
      assert pruned.get_layer(layer.name).filters == n - int(n * 0.5)


def test_flatten_then_dense_inputs_are_sliced_per_position():
  tf.keras.utils.set_random_seed(0)
  model = models.build_model("conv", (8, 8, 1), 10, filters=6, conv_layers=1)
  pruned, stats = pruning.prune_structured(model, "l2_structured", 0.5)
  kept, _ = pruning.channels_to_keep(model, "l2_structured", 0.5)
  x = np.random.default_rng(2).random((5, 8, 8, 1)).astype("float32")
  np.testing.assert_allclose(
      pruned(x).numpy(), masked_copy(model, kept)(x).numpy(),
      atol=1e-5)
  assert pruned.get_layer("conv1").filters == 3
  assert stats.flops_after < stats.flops_before


def _two_filter_model(kernels):
  inp = tf.keras.Input((1, 4, 1))
  x = L.Conv2D(len(kernels), (1, 4), use_bias=False, name="c")(inp)
  x = L.Flatten()(x)
  out = L.Dense(2, name="logits")(x)
  m = tf.keras.Model(inp, out)
  m.get_layer("c").set_weights([np.array(kernels, "float32").T.reshape(
      1, 4, 1, len(kernels))])
  return m


def test_l1_and_l2_rank_filters_by_their_own_norm():
  # Filter 0: L1 = 4, L2 = 2. Filter 1: L1 = 3, L2 = 3.
  m = _two_filter_model([[1, 1, 1, 1], [3, 0, 0, 0]])
  assert pruning.channels_to_keep(m, "l1_structured", 0.5)[0]["c"].tolist() \
      == [0]
  assert pruning.channels_to_keep(m, "l2_structured", 0.5)[0]["c"].tolist() \
      == [1]


def test_slimming_uses_one_threshold_over_all_batchnorms():
  inp = tf.keras.Input((4, 4, 1))
  x = L.Conv2D(4, 1, name="c1")(inp)
  x = L.BatchNormalization(name="bn1")(x)
  x = L.Conv2D(4, 1, name="c2")(x)
  x = L.BatchNormalization(name="bn2")(x)
  out = L.Dense(2, name="logits")(L.Flatten()(x))
  m = tf.keras.Model(inp, out)
  for name, g in (("bn1", [.1, .9, .5, .6]), ("bn2", [.3, .05, .2, .7])):
    w = m.get_layer(name).get_weights()
    m.get_layer(name).set_weights([np.array(g, "float32")] + w[1:])
  # Sorted scales .05 .1 .2 .3 | .5 .6 .7 .9: the 4th smallest, 0.3, is the
  # threshold; bn1 keeps three channels and bn2 one (per layer: 2 and 2).
  kept, info = pruning.channels_to_keep(m, "slim", 0.5)
  assert kept["bn1"].tolist() == [1, 2, 3]
  assert kept["bn2"].tolist() == [3]
  assert info["sparsity"] == 0.5
  pruned, _ = pruning.prune_structured(m, "slim", 0.5)
  assert pruned.get_layer("c1").filters == 3
  assert pruned.get_layer("c2").filters == 1


def test_flops_are_multiply_accumulates():
  inp = tf.keras.Input((8, 8, 1))
  x = L.Conv2D(4, 3, padding="same")(inp)
  out = L.Dense(10)(L.Flatten()(x))
  m = tf.keras.Model(inp, out)
  assert pruning.count_flops(m) == 8 * 8 * 4 * 9 + 256 * 10


@pytest.mark.slow
def test_unstructured_pruning_reaches_the_sparsity_of_every_kernel(digits):
  from tfmia.data import DataConfig, prepare_data
  data = prepare_data(DataConfig(train_size=128, test_size=32), raw=digits)
  tf.keras.utils.set_random_seed(0)
  model = models.build_model("conv", data.input_shape, 10, filters=8,
                             conv_layers=1)
  original = [w.copy() for w in model.get_weights()]
  wrapped = pruning.wrap_unstructured(model, 0.7)
  x = data.x_train[:4]
  np.testing.assert_allclose(wrapped(x).numpy(), model(x).numpy(), atol=1e-6)
  wrapped.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(
      from_logits=True))
  wrapped.fit(data.x_train, data.y_train, batch_size=32, epochs=2, verbose=0,
              callbacks=pruning.unstructured_callbacks())
  plain = pruning.strip(wrapped)
  for a, b in zip(original, model.get_weights()):   # the original is intact
    np.testing.assert_array_equal(a, b)
  assert not any("prune" in type(l).__name__.lower() for l in plain.layers)
  for layer in plain.layers:
    if isinstance(layer, (L.Conv2D, L.Dense)):
      k = layer.kernel.numpy()
      assert np.mean(k == 0) == pytest.approx(0.7, abs=1.5 / k.size)
  stats = pruning.unstructured_stats(model, plain, 0.7)
  assert stats.sparsity == pytest.approx(0.7, abs=0.01)
  assert stats.params_after == stats.params_before
  assert stats.nonzero_params_after < 0.4 * stats.params_before


def test_unstructured_pruning_with_dp_sgd_keeps_one_shot_masks(digits):
  # DP fine-tuning of l1_unstructured runs on plain layers with fixed
  # masks (tfmot's magnitude rule on the pre-fine-tuning weights).
  from tfmia.training import defenses
  from tfmia.data import DataConfig, prepare_data
  data = prepare_data(DataConfig(train_size=64, test_size=32), raw=digits)
  tf.keras.utils.set_random_seed(0)
  model = models.build_model("conv", data.input_shape, 10, filters=8,
                             conv_layers=1)
  masks = pruning.magnitude_masks(model, 0.7)
  res = pruning.prune_and_finetune(
      model, data, "l1_unstructured", 0.7,
      TrainConfig(epochs=1, batch_size=16, optimizer="sgd"),
      defenses.Defense("dp", 1.0))
  for layer in res.model.layers:
    if layer.name in masks:
      k = layer.kernel.numpy()
      np.testing.assert_array_equal(k != 0, masks[layer.name] == 1)
  assert res.stats.sparsity == pytest.approx(0.7, abs=0.01)
  assert res.epsilon == pytest.approx(defenses.dp_epsilon(64, 16, 1, 1.0,
                                                          1e-5))


@pytest.mark.parametrize("pruner, sparsity, match", [
    ("l3_structured", 0.5, "`pruner` must be one of"),
    ("l1_structured", 0.0, r"`sparsity` must be a number in \(0, 1\)"),
    ("l1_structured", 1.0, r"`sparsity` must be a number in \(0, 1\)"),
    ("slim", -0.2, r"`sparsity` must be a number in \(0, 1\)"),
    ("l1_unstructured", True, r"`sparsity` must be a number"),
])
def test_bad_pruner_arguments_are_refused(pruner, sparsity, match):
  with pytest.raises(ValueError, match=match):
    pruning.check_pruner(pruner, sparsity)


def test_structured_pruners_refuse_models_they_cannot_prune():
  mlp = models.build_model("dense", (8, 8, 1), 10, depth=1, units=8)
  with pytest.raises(ValueError, match="no Conv2D layer"):
    pruning.check_pruner("l2_structured", 0.5, mlp)
  conv = models.build_model("conv", (8, 8, 1), 10, conv_layers=1, filters=4)
  with pytest.raises(ValueError, match="no BatchNormalization"):
    pruning.check_pruner("slim", 0.5, conv)
  pruning.check_pruner("l1_unstructured", 0.5, mlp)  # any model


@pytest.mark.slow
@pytest.mark.parametrize("pruner", ["l1_unstructured", "l1_structured"])
def test_privacy_callback_watches_the_fine_tuning(digits, pruner):
  from tfmia.data import DataConfig, prepare_data
  from tfmia.audits.callback import PrivacyMetrics
  from tfmia.training import TrainConfig
  data = prepare_data(DataConfig(train_size=128, test_size=64), raw=digits)
  tf.keras.utils.set_random_seed(0)
  model = models.build_model("conv", data.input_shape, 10, filters=8,
                             conv_layers=1)
  cb = PrivacyMetrics((data.x_train, data.y_train),
                      (data.x_test, data.y_test), every_n_epochs=1,
                      attacks=("threshold",))
  res = pruning.prune_and_finetune(model, data, pruner, 0.5,
                                   TrainConfig(epochs=1, batch_size=32),
                                   callbacks=[cb])
  assert len(cb.history) == 1 and 0 <= cb.history[0].results[0].auc <= 1
  assert res.stats.pruner == pruner


@pytest.mark.parametrize("pruner", ["l1_structured", "slim"])
def test_a_sequential_model_ending_in_softmax_prunes(pruner):
  tf.keras.utils.set_random_seed(0)
  model = tf.keras.Sequential([
      tf.keras.Input((8, 8, 1)),
      L.Conv2D(6, 3, padding="same", use_bias=False),
      L.BatchNormalization(), L.ReLU(), L.Flatten(),
      L.Dense(10, activation="softmax")])
  _random_bn(model)
  pruned, stats = pruning.prune_structured(model, pruner, 0.5)
  kept, _ = pruning.channels_to_keep(model, pruner, 0.5)
  x = np.random.default_rng(3).random((4, 8, 8, 1)).astype("float32")
  out = pruned(x).numpy()
  np.testing.assert_allclose(out, masked_copy(model, kept)(x).numpy(),
                             atol=1e-5)
  np.testing.assert_allclose(out.sum(1), 1, atol=1e-5)   # softmax kept
  assert stats.params_after < stats.params_before
  wrapped = pruning.wrap_unstructured(model, 0.5)        # tfmot takes it too
  np.testing.assert_allclose(wrapped(x).numpy(), model(x).numpy(), atol=1e-6)
  from tfmia.training import TrainConfig
  with pytest.raises(ValueError, match="ends in a softmax"):
    pruning.prune_and_finetune(model, None, pruner, 0.5, TrainConfig())
