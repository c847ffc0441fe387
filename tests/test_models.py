import numpy as np
import pytest
import tensorflow as tf

from tfmia import models

from tfmia.snn import direct as spiking


@pytest.mark.parametrize("name, kwargs, params", [
    ("conv", {}, 28_298),
    ("dense", {"depth": 4}, 209_802),
    ("dense", {"depth": 7}, 222_282),
])
def test_case_study_parameter_counts(name, kwargs, params):
  # The published case study: conv ~28.3k, dense depth 4 ~210k, depth 7 ~222k.
  m = models.build_model(name, (32, 32, 3), 10, **kwargs)
  assert m.count_params() == params


def test_conv_matches_published_layout():
  m = models.conv((32, 32, 3), 10)
  kinds = [type(l).__name__ for l in m.layers[1:]]
  assert kinds == ["Conv2D", "MaxPooling2D"] * 3 + ["Flatten", "Dense", "Dense"]
  assert m.get_layer("conv1").filters == 32
  assert m.get_layer("dense1").units == 64


@pytest.mark.parametrize("name", models.available_models())
@pytest.mark.parametrize("shape, k", [((32, 32, 3), 10), ((8, 8, 1), 4)])
def test_every_builder_any_shape_gives_logits(name, shape, k):
  kw = ({} if name in ("conv", "dense")
        else {"depth": 10, "width": 1} if name == "wrn"
        else {"width_multiplier": 0.125})
  m = models.build_model(name, shape, k, **kw)
  assert m.output_shape == (None, k)
  last = m.layers[-1]
  if isinstance(last, spiking.TimeSum):   # spiking: logits summed over T
    last = m.layers[-2]
  assert last.get_config().get("activation") == "linear"
  names = [l.name for l in m.layers]
  assert len(set(names)) == len(names)
  assert all(not n.startswith(("conv2d", "dense_", "batch_normalization"))
             for n in names), "every layer is named by the builder"
  out = m(tf.zeros((2,) + shape))
  assert out.shape == (2, k)


SNN_OK = {"Conv2D", "Dense", "BatchNormalization", "ReLU", "MaxPooling2D",
          "AveragePooling2D", "GlobalAveragePooling2D", "Flatten", "Add",
          "InputLayer", "Dropout"}


@pytest.mark.parametrize("name", ["vgg11", "vgg16", "resnet18", "resnet20",
                                  "cifarnet"])
def test_snn_convertible_layers(name):
  m = models.build_model(name, (32, 32, 3), 10, width_multiplier=0.125)
  assert {type(l).__name__ for l in m.layers} <= SNN_OK
  for l in m.layers:
    act = l.get_config().get("activation")
    assert act in (None, "relu", "linear"), (l.name, act)


def test_resnet_uses_add():
  m = models.resnet20((32, 32, 3), 10)
  assert sum(isinstance(l, tf.keras.layers.Add) for l in m.layers) == 9


@pytest.mark.parametrize("name", ["vgg11", "vgg16", "cifarnet"])
def test_average_pooling_option(name):
  m = models.build_model(name, (32, 32, 3), 10, width_multiplier=0.125,
                         pooling="avg")
  types = {type(l).__name__ for l in m.layers}
  assert "AveragePooling2D" in types and "MaxPooling2D" not in types


def test_unknown_model_lists_names():
  with pytest.raises(ValueError, match=r"Valid models: .*conv.*Received: name='lenet'"):
    models.build_model("lenet", (8, 8, 1), 10)


@pytest.mark.parametrize("kwargs, match", [
    ({"input_shape": (32, 32), "num_classes": 10}, "input_shape"),
    ({"input_shape": (8, 8, 1), "num_classes": 1}, "num_classes=1"),
])
def test_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    models.conv(**kwargs)


def test_bad_depth_and_pooling():
  with pytest.raises(ValueError, match="depth=0"):
    models.dense((8, 8, 1), 10, depth=0)
  with pytest.raises(ValueError, match="pooling='min'"):
    models.vgg11((8, 8, 1), 10, pooling="min")


@pytest.mark.parametrize("name, kwargs, match", [
    ("vgg16", {"width_multiplier": 0}, "width_multiplier=0"),
    ("resnet20", {"width_multiplier": -1.0}, "width_multiplier=-1.0"),
    ("cifarnet", {"dropout": 1.0}, "dropout=1.0"),
])
def test_bad_width_and_dropout(name, kwargs, match):
  with pytest.raises(ValueError, match=match):
    models.build_model(name, (8, 8, 1), 10, **kwargs)


def test_wrn_28_2_has_ml_privacy_meters_parameter_count():
  # By hand from ML Privacy Meter's wide_resnet.py (PyTorch counts BN's γ and
  # β, not its running statistics): stem 432; group 1 (16->32, 4 blocks)
  # 14,432 + 3 x 18,560; group 2 (->64, stride 2) 57,536 + 3 x 73,984;
  # group 3 (->128) 229,760 + 3 x 295,424; final BN 256; logits 1,290.
  model = models.build_model("wrn", (32, 32, 3), 10)
  trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
  assert trainable == 1_467_610
  assert model.output_shape == (None, 10)
  assert sum("_proj" in l.name for l in model.layers) == 3
  with pytest.raises(ValueError, match="6n"):
    models.build_model("wrn", (32, 32, 3), 10, depth=20)


def test_builder_options_may_be_positional_or_keyword(monkeypatch):
  # Options as Keras layers take them: `width=64` after the two shape
  # arguments, keyword-only or not, or `**kwargs`.
  from tfmia.models import zoo
  monkeypatch.setattr(zoo, "_REGISTRY", dict(zoo._REGISTRY))

  @models.register("plain_opts")
  def plain(input_shape, num_classes, width=8, depth=1):
    return tf.keras.Sequential([
        tf.keras.layers.Flatten(input_shape=input_shape),
        *[tf.keras.layers.Dense(width, "relu") for _ in range(depth)],
        tf.keras.layers.Dense(num_classes)])

  @models.register("any_opts")
  def anything(input_shape, num_classes, **kwargs):
    return plain(input_shape, num_classes, **kwargs)

  assert models.options("plain_opts") == ("width", "depth")
  m = models.build_model("plain_opts", (8, 8, 1), 10, width=4, depth=2)
  assert m.layers[1].units == 4 and len(m.layers) == 4
  models.build_model("any_opts", (8, 8, 1), 10, width=4)
  with pytest.raises(ValueError, match="does not take heigth .*width, depth"):
    models.build_model("plain_opts", (8, 8, 1), 10, heigth=2)
  with pytest.raises(TypeError, match="must take \\(input_shape, num_classes"):
    models.register("bad_opts")(lambda width=8: None)
