"""SAMIA: tokens, architecture, training."""

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


def test_architecture():
  m = samia.build_samia_model(10)
  names = [l.name for l in m.layers]
  assert m.get_layer("embed").kernel.shape == (3, 64)
  attn = [l for l in m.layers if l.name.startswith("attn")]
  assert len(attn) == 3 and all(l.get_config()["num_heads"] == 4 for l in attn)
  assert "head" in names and m.output_shape == (None, 1)
  with pytest.raises(ValueError, match="divisible"):
    samia.SamiaConfig(embed_dim=30, num_heads=4)


def test_samia_learns_and_is_deterministic():
  rng = np.random.default_rng(0)
  n, c = 300, 5
  member = rng.random(n) < 0.5
  y = rng.integers(0, c, n)
  conf = np.where(member, 0.95, 0.5)
  p = np.full((n, c), 0.0)
  p[np.arange(n), y] = conf
  p[np.arange(n), (y + 1) % c] = 1 - conf
  sens = np.where(member[:, None], 0.1, 1.0) * np.ones((n, c))
  tokens = samia.samia_tokens(p, sens, y)
  cfg = samia.SamiaConfig(embed_dim=16, num_layers=1, num_heads=2, ff_dim=16,
                          head_units=8, epochs=15, seed=1)
  s1 = samia.samia_scores(tokens, member, tokens, cfg)
  s2 = samia.samia_scores(tokens, member, tokens, cfg)
  np.testing.assert_array_equal(s1, s2)
  assert metrics.roc_auc_score(member, s1) > 0.95
