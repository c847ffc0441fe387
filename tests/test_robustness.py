"""Robustness through ART: FGSM's closed form on a linear model, PGD's
ε-ball, the gradient-masking checks, gradients through an SNN, gradient
sparsity by hand, and errors before any work."""

import numpy as np
import pytest
import tensorflow as tf

from tfmia import results, robustness
from tfmia.robustness import RobustnessConfig

L = tf.keras.layers


def _linear(seed=0, d=6, k=3):
  rng = np.random.default_rng(seed)
  inp = L.Input((d,))
  dense = L.Dense(k)
  model = tf.keras.Model(inp, dense(inp))
  w = rng.normal(size=(d, k)).astype("float32")
  b = rng.normal(size=k).astype("float32")
  dense.set_weights([w, b])
  return model, w, b


def test_fgsm_on_a_linear_model_is_the_closed_form():
  model, w, b = _linear()
  rng = np.random.default_rng(1)
  x = rng.uniform(0.1, 0.9, (20, 6)).astype("float32")
  y = rng.integers(0, 3, 20)
  clf = robustness.art_classifier(model)
  eps = 0.05
  adv = robustness.make_attack("fgsm", clf, RobustnessConfig(eps=eps)) \
      .generate(x, y=np.eye(3)[y])
  # d CE / d x = W (softmax(xW + b) − onehot(y)); x' = clip(x + ε·sign).
  z = x @ w + b
  p = np.exp(z - z.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  grad = (p - np.eye(3)[y]) @ w.T
  np.testing.assert_allclose(adv, np.clip(x + eps * np.sign(grad), 0, 1),
                             atol=1e-6)


def test_the_wrapper_is_compiled_once_and_keeps_the_gradient():
  """ART calls the model one batch at a time (one example at a time in the
  gradient check): the wrapper's compiled forward is traced once for every
  batch size, sees later weight updates, and gives the gradient an eager
  tape gives."""
  model, w, b = _linear()
  clf = robustness.art_classifier(model)
  rng = np.random.default_rng(2)
  x = rng.uniform(0, 1, (7, 6)).astype("float32")
  onehot = np.eye(3)[rng.integers(0, 3, 7)].astype("float32")
  for n in (1, 3, 7):
    got = clf.loss_gradient(x[:n], onehot[:n])
    xt = tf.constant(x[:n])
    with tf.GradientTape() as tape:
      tape.watch(xt)
      loss = tf.keras.losses.CategoricalCrossentropy(from_logits=True)(
          onehot[:n], model(xt))
    np.testing.assert_allclose(got, tape.gradient(loss, xt).numpy(),
                               rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(clf.predict(x), x @ w + b, rtol=1e-5, atol=1e-5)
  forward = clf.model._forward[False]
  assert forward.experimental_get_tracing_count() == 1
  model.layers[-1].set_weights([2 * w, b])      # read, not captured
  np.testing.assert_allclose(clf.predict(x), x @ (2 * w) + b, rtol=1e-5,
                             atol=1e-5)
  assert forward.experimental_get_tracing_count() == 1


def _toy_classifier(d=4):
  """A small ReLU net trained on two separable blobs in [0, 1]^d."""
  rng = np.random.default_rng(0)
  x = np.concatenate([rng.normal(0.4, 0.08, (100, d)),
                      rng.normal(0.6, 0.08, (100, d))]).clip(0, 1)
  y = np.repeat([0, 1], 100)
  tf.keras.utils.set_random_seed(0)
  inp = L.Input((d,))
  model = tf.keras.Model(inp, L.Dense(2)(L.Dense(16, activation="relu")(inp)))
  model.compile(tf.keras.optimizers.Adam(0.05),
                tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
  model.fit(x.astype("float32"), y, epochs=40, verbose=0)
  return model, x.astype("float32"), y


@pytest.mark.slow
def test_pgd_stays_in_the_ball_and_beats_fgsm():
  model, x, y = _toy_classifier()
  cfg = RobustnessConfig(eps=0.1, pgd_steps=10, pgd_step=0.02)
  clf = robustness.art_classifier(model)
  adv = robustness.make_attack("pgd", clf, cfg).generate(x, y=np.eye(2)[y])
  assert np.abs(adv - x).max() <= 0.1 + 1e-6
  assert adv.min() >= 0 and adv.max() <= 1
  res = robustness.evaluate(model, x, y, ("fgsm", "pgd", "pgd_l2"), cfg)
  assert res.clean[0] > 0.9
  assert res.white_box["pgd"][0] <= res.white_box["fgsm"][0] < res.clean[0]
  assert res.gradient_check == {"zero": 0.0, "nan": 0.0, "inf": 0.0}
  assert res.warnings == () and res.square_beats_pgd is None
  assert res.clean[1] < res.clean[0] <= res.clean[2]


@pytest.mark.slow
def test_importing_art_leaves_logging_alone():
  # ART's import runs logging.config.dictConfig, which closes every
  # existing handler; absl's handler then closes its stream (under pytest:
  # the capture file, which crashed the suite). Plain `import art` closes
  # it (checked first, in a fresh interpreter); import_art does not.
  import subprocess
  import sys
  code = ("import io, absl.logging\n"
          "stream = io.StringIO()\n"
          "handler = absl.logging.PythonHandler(stream)\n"
          "{}\n"
          "print(stream.closed)\n")
  plain = code.format("import art")
  ours = code.format("from tfmia import robustness; robustness.import_art()")
  run = lambda c: subprocess.run([sys.executable, "-c", c], check=True,
                                 capture_output=True, text=True).stdout
  assert run(plain).strip().endswith("True")
  assert run(ours).strip().endswith("False")


def test_wilson_interval_by_hand():
  # n = 10, p = 0.5, z = 1.96: (0.5 ± 1.96·sqrt(0.025 + 0.0096)) / 1.384.
  acc, lo, hi = results.accuracy_interval(np.arange(10) < 5)
  assert (acc, lo, hi) == pytest.approx((0.5, 0.2366, 0.7634), abs=1e-4)
  assert results.accuracy_interval(np.ones(10, bool))[1:] == \
      pytest.approx((0.7225, 1.0), abs=1e-4)


def test_masked_gradients_are_reported():
  # A stop_gradient before the classifier: every input gradient is zero, so
  # PGD (without a random start) changes nothing; Square still succeeds.
  # Square needs images: 64 features as an 8x8 image.
  model, x, y = _toy_classifier(64)
  inp = L.Input((8, 8, 1))
  masked = tf.keras.Model(inp, model(L.Flatten()(
      L.Lambda(tf.stop_gradient)(inp))))
  cfg = RobustnessConfig(eps=0.15, random_start=False, square_queries=200,
                         check_examples=10)
  res = robustness.evaluate(masked, x[::5].reshape(-1, 8, 8, 1), y[::5],
                            ("pgd", "square"), cfg)
  assert res.gradient_check["zero"] == 1.0
  assert res.white_box["pgd"][0] == res.clean[0]
  assert res.white_box["square"][0] < res.clean[0]
  assert res.square_beats_pgd > 0
  assert any("masked or obfuscated gradients" in w for w in res.warnings)
  assert any("gradient check" in w for w in res.warnings)


@pytest.mark.slow
def test_black_box_transfer_uses_the_source_model():
  model, x, y = _toy_classifier()
  cfg = RobustnessConfig(eps=0.1)
  same = robustness.evaluate(model, x, y, ("fgsm",), cfg, source=model)
  assert same.black_box["fgsm"] == same.white_box["fgsm"]
  other, _, _ = _linear(seed=3, d=4, k=2)
  res = robustness.evaluate(model, x, y, ("fgsm",), cfg, source=other)
  assert set(res.black_box) == {"fgsm"}
  assert res.black_box["fgsm"][0] > res.white_box["fgsm"][0]


@pytest.mark.slow
def test_gradients_flow_through_a_converted_snn_and_follow_the_surrogate():
  from tfmia import snn
  tf.keras.utils.set_random_seed(0)
  inp = L.Input((6, 6, 1))
  h = L.Conv2D(4, 3, activation="relu")(inp)
  ann = tf.keras.Model(inp, L.Dense(3)(L.Flatten()(h)))
  rng = np.random.default_rng(0)
  x = rng.uniform(0, 1, (8, 6, 6, 1)).astype("float32")
  grads = {}
  for surrogate in ("boxcar", "sigmoid"):
    net = snn.convert(ann, x, timesteps=4, surrogate=surrogate)
    clf = robustness.art_classifier(net)
    g = clf.loss_gradient(x, np.eye(3)[np.arange(8) % 3])
    assert np.isfinite(g).all() and np.abs(g).max() > 0
    grads[surrogate] = g
  assert np.abs(grads["boxcar"] - grads["sigmoid"]).max() > 1e-6


def test_gradient_sparsity_by_hand():
  # x → Dense(identity) → ReLU → Dense(out). Example 1: x = (1, −1, 2), one
  # ReLU unit dead; example 2: x = (−1, −1, −1), all dead.
  inp = L.Input((3,))
  d1 = L.Dense(3, use_bias=False, name="d1")
  relu = L.ReLU(name="relu")
  out = L.Dense(2, name="out")
  model = tf.keras.Model(inp, out(relu(d1(inp))))
  d1.set_weights([np.eye(3, dtype="float32")])
  out.set_weights([np.array([[1., -1], [2, 1], [-1, 3]], "float32"),
                   np.zeros(2, "float32")])
  x = np.array([[1., -1, 2], [-1, -1, -1]], "float32")
  s = robustness.gradient_sparsity(model, x, np.array([0, 1]))
  # Entering relu: the gradient at d1's output, zero where the unit is
  # dead: 1 + 3 of 6. Entering d1 (the input): through the identity, the
  # same. Entering out: Woutᵀ-weighted dL/dz, no zero entries (Wout has
  # none and each example's dL/dz is non-zero).
  assert s == pytest.approx({"input": 4 / 6, "d1": 4 / 6, "relu": 4 / 6,
                             "out": 0.0})


def test_sparsity_callback_records_each_epoch():
  model, x, y = _toy_classifier()
  cb = robustness.GradientSparsityCallback(
      x[:20], y[:20], pgd=RobustnessConfig(eps=0.05, pgd_steps=2))
  model.fit(x, y, epochs=2, verbose=0, callbacks=[cb])
  assert [r["epoch"] for r in cb.history] == [1, 2]
  assert {"zero_grad_input", "clean_accuracy", "pgd_accuracy"} <= set(
      cb.history[0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=1.5), r"`eps` must be a number in \[0, 1\]"),
    (dict(eps=-0.1), r"`eps` must be a number in \[0, 1\]"),
    (dict(pgd_steps=-1), "`pgd_steps` must be a positive int"),
    (dict(eot_samples=0), "`eot_samples` must be a positive int"),
])
def test_bad_settings_are_refused(kwargs, match):
  with pytest.raises(ValueError, match=match):
    RobustnessConfig(**kwargs)


def test_bad_attacks_and_eps_text_are_refused():
  with pytest.raises(ValueError, match="`attacks` must be"):
    robustness.check_attacks(["fgsm", "cw"])
  assert robustness.parse_eps("8/255") == pytest.approx(8 / 255)
  with pytest.raises(ValueError, match="fraction such as 8/255"):
    robustness.parse_eps("8/0")
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    robustness.parse_eps("300/255")
  model, x, y = _toy_classifier()
  with pytest.raises(ValueError, match="pixels in"):
    robustness.evaluate(model, x * 255, y)


@pytest.mark.slow
def test_label_only_attacks_on_digits():
  # An overfit digits model: the gap attack's scores equal ART's
  # LabelOnlyGapAttack, and the decision-boundary attack runs end to end.
  robustness.import_art()
  from art.attacks.inference.membership_inference import LabelOnlyGapAttack
  from tfmia.data import DataConfig, prepare_data
  data = prepare_data(DataConfig(dataset="digits", train_size=60,
                                 test_size=60))
  tf.keras.utils.set_random_seed(0)
  inp = L.Input(data.input_shape)
  model = tf.keras.Model(inp, L.Dense(10)(L.Dense(
      32, activation="relu")(L.Flatten()(inp))))
  model.compile(tf.keras.optimizers.Adam(0.01),
                tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  model.fit(data.x_train, data.y_train, epochs=60, verbose=0)
  x = np.concatenate([data.x_train, data.x_test])
  y = np.concatenate([data.y_train, data.y_test])
  clf = robustness.art_classifier(model)
  art_gap = LabelOnlyGapAttack(clf).infer(x, np.eye(10)[y])
  from tfmia.attacks import registry
  from tfmia.signals import Signals
  logits = model.predict(x, verbose=0)
  ours = registry.ATTACKS["label_gap"].fn(
      type("S", (), {"target": Signals.from_logits(logits[:, None], y)})(),
      None)
  np.testing.assert_array_equal(ours, art_gap)
  xs = np.concatenate([data.x_train[:15], data.x_test[:15]])
  ys = np.concatenate([data.y_train[:15], data.y_test[:15]])
  dist = robustness.boundary_distances(
      model, xs, ys,
      robustness.BoundaryConfig(max_iter=3, max_eval=200, init_eval=20))
  assert dist.shape == (30,)
  wrong = np.argmax(model.predict(data.x_test[:15], verbose=0), 1) != \
      data.y_test[:15]
  assert np.all(dist[15:][wrong] == 0)
  assert np.all(dist[:15] >= 0) and dist.max() > 0
  with pytest.raises(ValueError, match="`max_iter` must be a positive int"):
    robustness.BoundaryConfig(max_iter=0)
  # The same attack from the registry, through an audit: the target's
  # boundary distances become a signal (queried through tfmia's adapter,
  # as ART's BlackBoxClassifier), and the scores are the same.
  from tfmia.audits import audit
  from tfmia.signals import SignalConfig
  cfg = audit.AuditConfig(attacks=("label_boundary", "label_gap"),
                          signals=SignalConfig(boundary_max_iter=3,
                                               boundary_max_eval=200,
                                               boundary_init_eval=20))
  assert cfg.signals.boundary
  out = audit.audit(audit.Target(model, xs, ys, np.arange(30) < 15),
                    config=cfg, progress=False)
  np.testing.assert_allclose(out.get("label_boundary").scores, dist,
                             rtol=1e-6)
  with pytest.raises(ValueError, match="'label_boundary' needs the "
                     "optional signal 'boundary_distance'"):
    registry.check_needs(["label_boundary"], registry.Provided(num_examples=30))


def test_a_sequential_softmax_model_is_attacked_on_its_probabilities():
  # A user's Sequential model ending in a softmax: ART's loss is then
  # cross-entropy on probabilities, and every part runs.
  rng = np.random.default_rng(0)
  x = rng.uniform(0, 1, (40, 8, 8, 1)).astype("float32")
  y = rng.integers(0, 3, 40)
  tf.keras.utils.set_random_seed(0)
  m = tf.keras.Sequential([tf.keras.Input((8, 8, 1)),
                           L.Conv2D(4, 3, activation="relu"), L.Flatten(),
                           L.Dense(3, activation="softmax")])
  clf = robustness.art_classifier(m)
  assert not clf._loss_object.get_config()["from_logits"]
  res = robustness.evaluate(m, x, y, ("fgsm", "pgd", "square"),
                            RobustnessConfig(square_queries=20,
                                             check_examples=5))
  assert res.white_box["pgd"][0] <= res.clean[0]
  assert res.gradient_check == {"zero": 0.0, "nan": 0.0, "inf": 0.0}
  assert 0 <= robustness.gradient_sparsity(m, x, y)["input"] < 1
