"""SAMIA: the self-attention membership-inference attack (Yuan & Zhang,
USENIX Security 2022, "Membership Inference Attacks and Defenses in Neural
Network Pruning").

Each example becomes C tokens, one per class c: (p_c, s_c, y_c), the
posterior, the sensitivity (`tfmia.signals` computes it) and the one-hot
label. A small transformer encoder reads the C tokens and outputs the member
logit. It is trained on shadow models' members and non-members.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tfmia.validation import as_finite_array, as_labels


@dataclasses.dataclass(frozen=True)
class SamiaConfig:
  """SAMIA's architecture and training."""

  embed_dim: int = 64          # the 3 -> 64 token embedding
  num_layers: int = 3          # transformer encoder layers
  num_heads: int = 4           # attention heads per layer
  ff_dim: int = 128            # encoder feed-forward width
  head_units: int = 64         # MLP head hidden width
  epochs: int = 30
  batch_size: int = 128
  learning_rate: float = 1e-3
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
  """Tokens (C, 3) -> embedding -> encoder layers -> mean -> MLP -> logit."""
  seeds = iter(range(config.seed * 1000, config.seed * 1000 + 1000))

  def init():
    return tf.keras.initializers.GlorotUniform(seed=next(seeds))

  L = tf.keras.layers
  inp = tf.keras.Input((num_classes, 3), name="tokens")
  h = L.Dense(config.embed_dim, kernel_initializer=init(), name="embed")(inp)
  for i in range(config.num_layers):
    att = L.MultiHeadAttention(config.num_heads,
                               config.embed_dim // config.num_heads,
                               kernel_initializer=init(), name=f"attn{i}")(h, h)
    h = L.LayerNormalization(name=f"ln_attn{i}")(h + att)
    ff = L.Dense(config.ff_dim, activation="relu", kernel_initializer=init(),
                 name=f"ff{i}_a")(h)
    ff = L.Dense(config.embed_dim, kernel_initializer=init(),
                 name=f"ff{i}_b")(ff)
    h = L.LayerNormalization(name=f"ln_ff{i}")(h + ff)
  h = L.GlobalAveragePooling1D(name="pool")(h)
  h = L.Dense(config.head_units, activation="relu", kernel_initializer=init(),
              name="head")(h)
  out = L.Dense(1, kernel_initializer=init(), name="member_logit")(h)
  return tf.keras.Model(inp, out, name="samia")


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
  model = build_samia_model(x.shape[1], config)
  model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate),
                loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
  ds = (tf.data.Dataset.from_tensor_slices((x, y.astype(np.float32)[:, None]))
        .shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch_size))
  model.fit(ds, epochs=config.epochs, verbose=0)
  return model.predict(t, batch_size=4096, verbose=0)[:, 0].astype(np.float64)
