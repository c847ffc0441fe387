"""SAMIA: tokens, mia_prune's architecture, training."""

import numpy as np
import pytest
from sklearn import metrics

from tfmia.attacks import samia


def test_tokens():
  p = np.array([[0.7, 0.3], [0.1, 0.9]])
  s = np.array([[1.0, 2.0], [3.0, 4.0]])
  t = samia.samia_tokens(p, s, [0, 1])
  assert t.shape == (2, 2, 3)
  np.testing.assert_allclose(t[0], [[0.7, 1.0, 1.0], [0.3, 2.0, 0.0]])
  np.testing.assert_allclose(t[1, :, 2], [0.0, 1.0])
  with pytest.raises(ValueError, match="sensitivity"):
    samia.samia_tokens(p, s[:, :1], [0, 1])


@pytest.mark.slow
def test_architecture_matches_mia_prune_for_ten_classes():
  """Layer shapes and the parameter count of mia_prune's `Transformer(
  input_dim=30)`, worked out from its code: BatchNorm1d(30) 60; fc1
  Linear(3, 64) 256; per encoder layer in_proj 3*64*64 + 192, out_proj
  64*64 + 64, linear1 64*128 + 128, linear2 128*64 + 64, two LayerNorms 256:
  33,472, x3; fc2 Linear(640, 64) 41,024; fc3 Linear(64, 2) 130. Total
  141,886 trainable parameters."""
  m = samia.build_samia_model(10)
  trainable = sum(int(np.prod(w.shape)) for w in m.trainable_weights)
  assert trainable == 141_886
  assert m.input_shape == (None, 30) and m.output_shape == (None, 2)
  assert m.get_layer("embed").kernel.shape == (3, 64)
  assert m.get_layer("flatten").output_shape == (None, 640)
  assert m.get_layer("head").kernel.shape == (640, 64)
  attn = [l for l in m.layers if l.name.startswith("attn")]
  assert len(attn) == 3
  assert all(l.get_config()["num_heads"] == 4 and
             l.get_config()["dropout"] == 0.2 for l in attn)
  assert m.get_layer("ff0_a").kernel.shape == (64, 128)
  cfg = samia.SamiaConfig()
  assert (cfg.epochs, cfg.batch_size, cfg.learning_rate, cfg.weight_decay) \
      == (100, 128, 1e-3, 5e-4)
  with pytest.raises(ValueError, match="divisible"):
    samia.SamiaConfig(embed_dim=30, num_heads=4)


def test_tokens_reach_the_model_in_mia_prune_order():
  """mia_prune splits the 3C features into p, s, y thirds; token c must be
  (p_c, s_c, y_c)."""
  tokens = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
  f = samia._features(tokens)
  np.testing.assert_array_equal(f[0, :4], tokens[0, :, 0])   # p
  np.testing.assert_array_equal(f[0, 4:8], tokens[0, :, 1])  # s
  np.testing.assert_array_equal(f[0, 8:], tokens[0, :, 2])   # y


def _one_class_sensitivity_toy(rng, n, c):
  """Membership shows only in which class holds the largest sensitivity:
  members have it at class 0, non-members at another class. Posteriors,
  labels and the multiset of sensitivities are alike in both. Members are
  1/C of the data, so every class is the largest equally often and the
  BatchNorm over the 3C inputs treats every class position alike: only the
  readout can tell the positions apart."""
  member = rng.random(n) < 1.0 / c
  y = rng.integers(0, c, n)
  p = rng.dirichlet(np.ones(c), n)
  sens = rng.uniform(0, 0.5, (n, c))
  where = np.where(member, 0, rng.integers(1, c, n))
  sens[np.arange(n), where] = 1.0
  return samia.samia_tokens(p, sens, y), member


@pytest.mark.slow
def test_flatten_readout_sees_which_class_a_class_blind_one_cannot():
  rng = np.random.default_rng(0)
  train, m_train = _one_class_sensitivity_toy(rng, 1200, 4)
  test, m_test = _one_class_sensitivity_toy(rng, 600, 4)
  small = dict(embed_dim=16, num_layers=1, num_heads=2, ff_dim=32,
               head_units=16, epochs=30, batch_size=64, learning_rate=0.05,
               dropout=0.0, seed=1)
  aware = samia.samia_scores(train, m_train, test,
                             samia.SamiaConfig(**small))
  blind = samia.samia_scores(train, m_train, test,
                             samia.SamiaConfig(readout="mean", **small))
  auc_aware = metrics.roc_auc_score(m_test, aware)
  auc_blind = metrics.roc_auc_score(m_test, blind)
  assert auc_aware > 0.9
  assert auc_blind < 0.65
  again = samia.samia_scores(train, m_train, test,
                             samia.SamiaConfig(**small))
  np.testing.assert_array_equal(aware, again)   # seeded
