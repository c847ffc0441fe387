"""Fast DP clipping: per-example norms and clipped gradients against brute
force (one gradient per example), against tensorflow-privacy's own fast
clipping on a Dense model, the DP step by hand, masks that stay zero, and
tfmot's magnitude masks."""

import numpy as np
import pytest
import tensorflow as tf

from tfmia.training import defenses, dp_clipping

from tfmia.variants import pruning
from tfmia.training import TrainConfig


def _loss(y, logits):
  return tf.keras.losses.sparse_categorical_crossentropy(y, logits,
                                                         from_logits=True)


def _mixed_model(seed=0):
  """Conv (strided, valid; dilated, same), BN, an Add, dropout-free Dense:
  every rule, the ghost branch (2x2 maps, wide kernels) and the direct one."""
  tf.keras.utils.set_random_seed(seed)
  L = tf.keras.layers
  x = inp = L.Input((8, 8, 2))
  x = L.Conv2D(4, 3, strides=2, padding="valid", activation="relu")(x)
  y = L.Conv2D(4, 3, dilation_rate=2, padding="same", use_bias=False)(x)
  y = L.BatchNormalization()(y)
  x = L.ReLU()(L.Add()([x, y]))
  x = L.Conv2D(16, 3, strides=2, padding="same")(x)   # 2x2 maps: ghost
  x = L.BatchNormalization(center=False)(x)
  x = L.Dense(3)(L.Flatten()(x))
  model = tf.keras.Model(inp, x)
  # Non-trivial moving statistics and γ, β.
  for layer in model.layers:
    if isinstance(layer, L.BatchNormalization):
      layer.set_weights([np.random.default_rng(1).uniform(0.5, 2, w.shape)
                         .astype("float32") for w in layer.get_weights()])
  return model


def _frozen_forward(model, x):
  """The forward pass fast clipping differentiates: BN on moving statistics."""
  from tensorflow_privacy.privacy.fast_gradient_clipping import (
      gradient_clipping_utils)

  def gen(layer, args, kwargs):
    kwargs = dict(kwargs)
    if isinstance(layer, tf.keras.layers.BatchNormalization):
      kwargs["training"] = False
    return layer(*args, **kwargs), None
  return gradient_clipping_utils.model_forward_pass(model, x, gen)[0]


def _brute_force(model, x, y, micro=None):
  """Each unit's gradient, one tape.gradient per unit."""
  with tf.GradientTape(persistent=True) as tape:
    losses = _loss(y, _frozen_forward(model, x))
    if micro:
      losses = tf.reduce_mean(tf.reshape(losses, [micro, -1]), axis=1)
    units = [losses[i] for i in range(losses.shape[0])]
  return [[g.numpy() for g in tape.gradient(u, model.trainable_variables)]
          for u in units]


def _data(n=6, shape=(8, 8, 2), classes=3):
  rng = np.random.default_rng(0)
  return (tf.constant(rng.normal(size=(n, *shape)).astype("float32")),
          tf.constant(np.arange(n) % classes, tf.int64))


def test_matmul_sqr_norms_by_hand_both_branches():
  # One example, two positions: grad = a0ᵀg0 + a1ᵀg1.
  a = np.array([[[1., 2.], [0., 1.]]], "float32")        # [1, P=2, K=2]
  g = np.array([[[3., 0., 1.], [1., 1., 0.]]], "float32")  # [1, 2, C=3]
  grad = a[0].T @ g[0]        # [[3, 0, 1], [7, 1, 2]]
  assert grad.tolist() == [[3, 0, 1], [7, 1, 2]]
  want = 9 + 0 + 1 + 49 + 1 + 4
  # P²(K+C) = 20 > PKC = 12: direct.
  assert float(dp_clipping.matmul_sqr_norms(a, g, None)[0]) == want
  # Wide: P²(K+C) = 4·(8+9) = 68 < PKC = 144: the ghost norm.
  rng = np.random.default_rng(0)
  a = rng.normal(size=(3, 2, 8)).astype("float32")
  g = rng.normal(size=(3, 2, 9)).astype("float32")
  want = [np.sum((a[i].T @ g[i]) ** 2) for i in range(3)]
  np.testing.assert_allclose(dp_clipping.matmul_sqr_norms(a, g, None), want,
                             rtol=1e-5)
  # Microbatches of 3 examples: the norm of the summed gradient.
  a6, g6 = np.concatenate([a, a]), np.concatenate([g, -g])
  want = [np.sum(sum(a6[i].T @ g6[i] for i in range(j, j + 3)) ** 2)
          for j in (0, 3)]
  np.testing.assert_allclose(dp_clipping.matmul_sqr_norms(a6, g6, 2), want,
                             rtol=1e-5)


@pytest.mark.parametrize("micro", [None, 3])
def test_norms_and_clipped_gradients_match_brute_force(micro):
  model = _mixed_model()
  assert dp_clipping.unsupported_layers(model) == []
  x, y = _data()
  per_unit = _brute_force(model, x, y, micro)
  norms = [np.sqrt(sum(np.sum(g ** 2) for g in u)) for u in per_unit]
  clip = float(np.median(norms))   # some units clipped, some not
  grads, logits, got = dp_clipping.clipped_gradients(model, x, y, _loss,
                                                     clip, micro)
  np.testing.assert_allclose(got, norms, rtol=1e-4)
  want = [sum(min(1, clip / n) * u[k] for n, u in zip(norms, per_unit))
          for k in range(len(per_unit[0]))]
  for g, w in zip(grads, want):
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(logits, _frozen_forward(model, x), rtol=1e-5)


def test_matches_tensorflow_privacys_fast_clipping_on_a_dense_model():
  from tensorflow_privacy.privacy.fast_gradient_clipping import (
      clip_grads, layer_registry)
  tf.keras.utils.set_random_seed(0)
  inp = tf.keras.layers.Input((5,))
  h = tf.keras.layers.Dense(7, activation="relu")(inp)
  model = tf.keras.Model(inp, tf.keras.layers.Dense(3)(h))
  model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(
      from_logits=True))
  x, y = _data(8, (5,))
  theirs, _, _ = clip_grads.compute_clipped_gradients_and_outputs(
      model, 0.5, layer_registry.make_default_layer_registry(), x, y)
  ours, _, _ = dp_clipping.clipped_gradients(model, x, y, _loss, 0.5)
  # Theirs is the mean over the batch; ours the sum.
  for a, b in zip(ours, theirs):
    np.testing.assert_allclose(np.asarray(a) / 8, b, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_one_noiseless_step_by_hand():
  model = _mixed_model()
  x, y = _data()
  per_unit = _brute_force(model, x, y)
  norms = [np.sqrt(sum(np.sum(g ** 2) for g in u)) for u in per_unit]
  before = [v.numpy() for v in model.trainable_variables]
  dp = dp_clipping.FastDPModel(model, l2_norm_clip=0.3, noise_multiplier=0.0)
  dp.compile(tf.keras.optimizers.SGD(0.5),
             tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  dp.train_on_batch(x, y)
  for k, v in enumerate(model.trainable_variables):
    mean = sum(min(1, 0.3 / n) * u[k] for n, u in zip(norms, per_unit)) / 6
    np.testing.assert_allclose(v.numpy(), before[k] - 0.5 * mean,
                               rtol=1e-4, atol=1e-6)


def test_noise_has_the_dp_sgd_scale():
  # All-zero input and a zero-initialised Dense: zero gradients, so the
  # update is the noise alone, N(0, (σ·C / B)²) times the learning rate.
  inp = tf.keras.layers.Input((4,))
  model = tf.keras.Model(inp, tf.keras.layers.Dense(
      500, kernel_initializer="zeros", use_bias=False)(inp))
  dp = dp_clipping.FastDPModel(model, l2_norm_clip=2.0, noise_multiplier=3.0)
  dp.compile(tf.keras.optimizers.SGD(1.0),
             tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  tf.keras.utils.set_random_seed(0)
  dp.train_on_batch(np.zeros((8, 4), "float32"), np.zeros(8, "int64"))
  # A zero input gives a zero gradient even through the loss.
  std = float(np.std(model.get_weights()[0]))
  assert std == pytest.approx(3.0 * 2.0 / 8, rel=0.05)


@pytest.mark.slow
def test_masked_weights_stay_zero_under_adam_and_noise():
  model = _mixed_model()
  masks = pruning.magnitude_masks(model, 0.6)
  assert set(masks) == {l.name for l in model.layers
                        if isinstance(l, (tf.keras.layers.Conv2D,
                                          tf.keras.layers.Dense))}
  dp = dp_clipping.FastDPModel(model, l2_norm_clip=1.0, noise_multiplier=1.0,
                               masks=masks)
  dp.compile(tf.keras.optimizers.Adam(0.01),
             tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  x, y = _data()
  for _ in range(3):
    dp.train_on_batch(x, y)
  for layer in model.layers:
    if layer.name in masks:
      k = layer.kernel.numpy()
      assert np.all(k[masks[layer.name] == 0] == 0)
      assert np.all(k[masks[layer.name] == 1] != 0)
  with pytest.raises(ValueError, match="not a layer with a kernel"):
    dp_clipping.FastDPModel(model, l2_norm_clip=1.0, noise_multiplier=1.0,
                            masks={"nope": np.ones(1)})


@pytest.mark.slow
def test_magnitude_masks_match_tfmots_masks():
  model = _mixed_model()
  ours = pruning.magnitude_masks(model, 0.7)
  wrapped = pruning.wrap_unstructured(model, 0.7)
  wrapped.compile(tf.keras.optimizers.SGD(0.0),
                  tf.keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
  x, y = _data()
  wrapped.fit(x, y, epochs=1, verbose=0,
              callbacks=pruning.unstructured_callbacks())
  seen = 0
  for layer in wrapped.layers:
    masks = [w for w in layer.weights if "mask" in w.name]
    if masks:
      np.testing.assert_array_equal(ours[layer.layer.name], masks[0].numpy())
      seen += 1
  assert seen == len(ours) == 4


def test_unsupported_layers_are_named():
  L = tf.keras.layers
  inp = L.Input((8, 8, 2))
  x = L.DepthwiseConv2D(3)(inp)
  x = L.Conv2D(2, 3, groups=2)(x)
  x = L.LayerNormalization()(x)
  model = tf.keras.Model(inp, L.Dense(2)(L.Flatten()(x)))
  bad = dp_clipping.unsupported_layers(model)
  assert len(bad) == 3
  assert "DepthwiseConv2D" in bad[0] and "groups" not in bad[1]
  assert "LayerNormalization" in bad[2]
  with pytest.raises(ValueError, match="no rule for"):
    dp_clipping.FastDPModel(model, l2_norm_clip=1.0, noise_multiplier=1.0)


@pytest.mark.slow
def test_train_with_defense_uses_fast_clipping_and_keeps_bn_frozen(digits):
  from tfmia.data import DataConfig, prepare_data
  data = prepare_data(DataConfig(train_size=48, test_size=16), raw=digits)
  assert data.input_shape == (8, 8, 1)
  tf.keras.utils.set_random_seed(0)
  L = tf.keras.layers
  inp = L.Input((8, 8, 1))
  x = L.ReLU()(L.BatchNormalization()(L.Conv2D(4, 3)(inp)))
  model = tf.keras.Model(inp, L.Dense(10)(L.Flatten()(x)))
  bn = model.layers[2]
  stats = [w.copy() for w in bn.get_weights()[2:]]
  gamma = bn.get_weights()[0].copy()
  steps = []
  out = defenses.train_with_defense(
      model, data, TrainConfig(epochs=1, batch_size=16, optimizer="sgd",
                               learning_rate=0.1),
      defenses.Defense("dp", 1.0, num_microbatches=2),
      callbacks=[tf.keras.callbacks.LambdaCallback(
          on_train_batch_end=lambda b, logs: steps.append(b))])
  assert out.model is model and len(steps) == 3
  for a, b in zip(stats, bn.get_weights()[2:]):   # moving stats frozen
    np.testing.assert_array_equal(a, b)
  assert np.abs(bn.get_weights()[0] - gamma).max() > 0   # γ learns
  assert out.epsilon == pytest.approx(defenses.dp_epsilon(
      48, 16, 1, 1.0, 1e-5, used_microbatching=True))


def test_a_sequential_model_clips_fast_and_matches_brute_force():
  tf.keras.utils.set_random_seed(0)
  L = tf.keras.layers
  m = tf.keras.Sequential([tf.keras.Input((8, 8, 2)), L.Conv2D(3, 3),
                           L.ReLU(), L.Flatten(), L.Dense(3)])
  assert dp_clipping.unsupported_layers(m) == []
  x, y = _data()
  per_unit = _brute_force(m, x, y)
  norms = [np.sqrt(sum(np.sum(g ** 2) for g in u)) for u in per_unit]
  _, _, got = dp_clipping.clipped_gradients(m, x, y, _loss, 1.0)
  np.testing.assert_allclose(got, norms, rtol=1e-4)
