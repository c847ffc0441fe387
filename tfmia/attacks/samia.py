"""SAMIA: the self-attention membership-inference attack (Yuan & Zhang,
USENIX Security 2022, "Membership Inference Attacks and Defenses in Neural
Network Pruning").

Each example becomes C tokens, one per class c: (p_c, s_c, y_c), the
posterior, the sensitivity (`tfmia.signals` computes it) and the one-hot
label. A small transformer encoder reads the C tokens and outputs member /
non-member logits. It is trained on shadow models' members and non-members.
Architecture and training follow mia_prune (Machine-Learning-Security-Lab/
mia_prune: `transformer.py`, `attackers.py`, `base_model.py`).

Where we differ: PyTorch's SGD adds weight decay to the gradient (coupled
L2, through the momentum buffer); Keras 2.15's SGD applies it to the weights
directly (decoupled, scaled by the learning rate). Initialisation is Keras'
Glorot uniform, not mia_prune's `weight_init`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tfmia.attacks.nn_attack import member_log_odds, trained_attack
from tfmia.infra.validation import as_finite_array, as_labels


@dataclasses.dataclass(frozen=True)
class SamiaConfig:
  """SAMIA's architecture and training. Defaults are mia_prune's
  (`transformer.py`, `attackers.py`, `base_model.py`, `utils.py`)."""

  embed_dim: int = 64          # Linear(3 -> 64), then GELU
  num_layers: int = 3          # TransformerEncoderLayer x 3 (post-norm)
  num_heads: int = 4           # attention heads per layer
  ff_dim: int = 128            # encoder feed-forward width (GELU)
  dropout: float = 0.2         # encoder dropout (attention weights too)
  head_units: int = 64         # Linear(C*64 -> 64), ReLU, Linear(64 -> 2)
  readout: str = "flatten"     # flatten the C tokens (class-aware), or
                               # "mean": tfmia's earlier class-blind design
                               # (no input BatchNorm, whose per-feature
                               # scale would tell positions apart; mean
                               # over tokens), for comparison only
  epochs: int = 100            # lr x0.1 at 50% and 75% of them
  batch_size: int = 128
  learning_rate: float = 1e-3  # SGD, momentum 0.9
  weight_decay: float = 5e-4
  seed: int = 0

  def __post_init__(self):
    for name in ("embed_dim", "num_layers", "num_heads", "ff_dim",
                 "head_units", "epochs", "batch_size"):
      v = getattr(self, name)
      if not isinstance(v, int) or v < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={v!r}")
    if self.embed_dim % self.num_heads:
      raise ValueError("`embed_dim` must be divisible by `num_heads`. "
                       f"Received: {self.embed_dim} and {self.num_heads}")
    if self.readout not in ("flatten", "mean"):
      raise ValueError("`readout` must be 'flatten' or 'mean'. "
                       f"Received: readout={self.readout!r}")
    if not 0.0 <= self.dropout < 1.0:
      raise ValueError(f"`dropout` must be in [0, 1). Received: {self.dropout}")


def samia_tokens(probs, sensitivity, labels) -> np.ndarray:
  """Stacks (p_c, s_c, y_c) per class.

  Args:
    probs: (N, C) posteriors; sensitivity: (N, C); labels: (N,).

  Returns:
    (N, C, 3) float32 tokens.
  """
  p = as_finite_array(probs, "probs", ndim=2)
  s = as_finite_array(sensitivity, "sensitivity", ndim=2)
  if s.shape != p.shape:
    raise ValueError(f"`sensitivity` must have the shape of `probs`, "
                     f"{p.shape}. Received: {s.shape}")
  y = as_labels(labels, "labels", p.shape[1])
  if len(y) != len(p):
    raise ValueError(f"`probs` and `labels` must have the same length. "
                     f"Received: {len(p)} and {len(y)}")
  return np.stack([p, s, np.eye(p.shape[1])[y]], axis=-1).astype(np.float32)


def build_samia_model(num_classes: int,
                      config: SamiaConfig = SamiaConfig()) -> tf.keras.Model:
  """mia_prune's `Transformer`, in Keras.

  Input: the 3C raw features [p_1..p_C, s_1..s_C, y_1..y_C] (as mia_prune
  concatenates them), BatchNorm over them; C tokens (p_c, s_c, y_c);
  Dense(3 -> 64) and GELU; `num_layers` post-norm encoder layers (as
  PyTorch's `TransformerEncoderLayer`: x = LN(x + Drop(MHA(x))),
  x = LN(x + Drop(W2 Drop(GELU(W1 x))))); the C x 64 outputs flattened, so
  the readout knows which token is which class; Dense(64), ReLU, Dense(2).
  Outputs the two logits (non-member, member).
  """
  seeds = iter(range(config.seed * 1000, config.seed * 1000 + 1000))

  def init():
    return tf.keras.initializers.GlorotUniform(seed=next(seeds))

  L = tf.keras.layers
  c, d = num_classes, config.embed_dim
  inp = tf.keras.Input((3 * c,), name="features")
  h = inp
  if config.readout == "flatten":
    h = L.BatchNormalization(momentum=0.9, epsilon=1e-5, name="bn")(h)
  h = L.Reshape((3, c), name="split")(h)           # rows: p, s, y
  h = L.Permute((2, 1), name="tokens")(h)          # (C, 3): (p_c, s_c, y_c)
  h = L.Dense(d, kernel_initializer=init(), name="embed")(h)
  h = L.Activation(lambda x: tf.nn.gelu(x, approximate=False),
                   name="embed_gelu")(h)
  for i in range(config.num_layers):
    att = L.MultiHeadAttention(config.num_heads, d // config.num_heads,
                               dropout=config.dropout,
                               kernel_initializer=init(), name=f"attn{i}")(h, h)
    att = L.Dropout(config.dropout, name=f"drop_attn{i}")(att)
    h = L.LayerNormalization(epsilon=1e-5, name=f"ln_attn{i}")(h + att)
    ff = L.Dense(config.ff_dim, kernel_initializer=init(), name=f"ff{i}_a")(h)
    ff = L.Activation(lambda x: tf.nn.gelu(x, approximate=False),
                      name=f"ff{i}_gelu")(ff)
    ff = L.Dropout(config.dropout, name=f"drop_ff{i}_a")(ff)
    ff = L.Dense(d, kernel_initializer=init(), name=f"ff{i}_b")(ff)
    ff = L.Dropout(config.dropout, name=f"drop_ff{i}_b")(ff)
    h = L.LayerNormalization(epsilon=1e-5, name=f"ln_ff{i}")(h + ff)
  if config.readout == "flatten":
    h = L.Flatten(name="flatten")(h)
  else:
    h = L.GlobalAveragePooling1D(name="mean")(h)
  h = L.Dense(config.head_units, activation="relu", kernel_initializer=init(),
              name="head")(h)
  out = L.Dense(2, kernel_initializer=init(), name="logits")(h)
  return tf.keras.Model(inp, out, name="samia")


def _features(tokens: np.ndarray) -> np.ndarray:
  """(N, C, 3) tokens -> (N, 3C) [p..., s..., y...], mia_prune's layout."""
  return np.transpose(tokens, (0, 2, 1)).reshape(len(tokens), -1)


def samia_scores(shadow_tokens, shadow_is_member, target_tokens,
                 config: SamiaConfig = SamiaConfig()) -> np.ndarray:
  """Trains SAMIA on shadow tokens and scores the target's.

  Args:
    shadow_tokens: (M, C, 3) from `samia_tokens` on shadow models' outputs.
    shadow_is_member: (M,) bool.
    target_tokens: (N, C, 3) from the target model's outputs.
    config: architecture, training and seed.

  Returns:
    (N,) member logits; higher means member.
  """
  x = as_finite_array(shadow_tokens, "shadow_tokens", ndim=3, dtype=np.float32)
  t = as_finite_array(target_tokens, "target_tokens", ndim=3, dtype=np.float32)
  y = np.asarray(shadow_is_member, dtype=bool)
  if len(y) != len(x):
    raise ValueError("`shadow_tokens` and `shadow_is_member` must have the "
                     f"same length. Received: {len(x)} and {len(y)}")
  if x.shape[1:] != t.shape[1:] or x.shape[2] != 3:
    raise ValueError("`shadow_tokens` and `target_tokens` must both be "
                     f"(n, C, 3). Received: {x.shape} and {t.shape}")
  if y.all() or not y.any():
    raise ValueError("Shadow data must hold both members and non-members.")
  model = trained_attack("samia", config, _features(x), y,
                         lambda: build_samia_model(x.shape[1], config))
  return member_log_odds(model, _features(t))
