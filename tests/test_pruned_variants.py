"""Pruned models as variants: a pruned ResNet (residual Add blocks) converted
to an SNN and audited end to end, adaptive and non-adaptive attacks read from
the stored variant keys, and the variant's command-line form."""

import json

import pytest

from tfmia.audits import audit

from tfmia import references, variants
from tfmia.training.defenses import Defense
from tfmia.training.calibration import CalibrationConfig
from tfmia.training import TrainConfig


def _tiny_resnet(input_shape, num_classes):
  """A stem and one residual basic block (the Add joins the stem's output):
  what ResNet-20 is made of, at a size that trains in seconds."""
  import tensorflow as tf
  L = tf.keras.layers
  inp = tf.keras.Input(input_shape)
  x = L.ReLU(name="stem_relu")(L.BatchNormalization(name="stem_bn")(
      L.Conv2D(8, 3, padding="same", use_bias=False, name="stem_conv")(inp)))
  y = L.ReLU(name="a_relu")(L.BatchNormalization(name="a_bn")(
      L.Conv2D(8, 3, padding="same", use_bias=False, name="a_conv")(x)))
  y = L.BatchNormalization(name="b_bn")(
      L.Conv2D(8, 3, padding="same", use_bias=False, name="b_conv")(y))
  x = L.ReLU(name="out")(L.Add(name="add")([y, x]))
  out = L.Dense(num_classes, name="logits")(
      L.GlobalAveragePooling2D(name="gap")(x))
  return tf.keras.Model(inp, out, name="tiny_resnet")


@pytest.fixture(scope="module")
def resnet_folder(tmp_path_factory):
  from tfmia import models
  from tfmia.data import DataConfig, prepare_data
  from tfmia.references import ReferenceConfig
  if "test_tiny_resnet" not in models.available_models():
    models.register("test_tiny_resnet")(_tiny_resnet)
  config = ReferenceConfig(
      data=DataConfig(dataset="digits", train_size=200, test_size=100),
      model="test_tiny_resnet",
      train=TrainConfig(epochs=2, batch_size=32), num_models=2,
      reference_dir=str(tmp_path_factory.mktemp("refs")))
  data = prepare_data(config.data)
  references.train_references(config, data=data, progress=False)
  return references.ReferenceSet.load(config.reference_dir), data


PRUNED = variants.PrunedVariant(
    pruner="l1_structured", sparsity=0.5,
    finetune=TrainConfig(epochs=1, batch_size=32),
    defense=Defense("ppb", 4.0))


@pytest.mark.slow
def test_pruned_resnet_as_snn_is_audited_end_to_end(resnet_folder):
  refs, data = resnet_folder
  snn = variants.SnnVariant(timesteps=2, source=PRUNED,
                            calibration=CalibrationConfig(epochs=0),
                            calibration_samples=64)
  cell = audit.Cell(target=snn, references=snn, name="pruned snn")
  res = audit.audit_cell(refs, data, cell, ("attack_p", "rmia", "sm_entropy"),
                         progress=False)
  assert {r.attack for r in res.results} == {"attack_p", "rmia", "sm_entropy"}
  for r in res.results:
    assert 0 <= r.auc <= 1
  # The chain stored the pruned model first, with what pruning did.
  info = variants.prune_info(refs, "target", PRUNED)
  assert info["stats"]["pruner"] == "l1_structured"
  assert info["stats"]["params_after"] < info["stats"]["params_before"]
  pruned = variants.load_model(refs, "target", data, PRUNED)
  assert any(l.__class__.__name__ == "Add" for l in pruned.layers)


def _variant_settings(refs, name):
  folder = refs.directory / name / "variants"
  out = {}
  for d in folder.iterdir() if folder.is_dir() else ():
    done = json.loads((d / "done.json").read_text())
    out[d.name] = done["settings"]
  return out


@pytest.mark.slow
def test_adaptive_attack_prunes_the_shadows_as_the_target(resnet_folder,
                                                          tmp_path):
  refs, data = resnet_folder
  v = variants.PrunedVariant(pruner="l2_structured", sparsity=0.5,
                             finetune=TrainConfig(epochs=1, batch_size=32))
  audit.audit_cell(refs, data, audit.Cell(target=v, references=v),
                   ("sm_confidence",), progress=False)
  target = _variant_settings(refs, "target")[v.key()]
  for name in refs.reference_names():
    shadow = _variant_settings(refs, name)[v.key()]
    assert shadow == target
    assert (shadow["pruner"], shadow["defense"]["name"]) == (
        "l2_structured", "none")
  # Non-adaptive: the shadows stay as trained; only the target is pruned.
  w = variants.PrunedVariant(pruner="l1_unstructured", sparsity=0.5,
                             finetune=TrainConfig(epochs=1, batch_size=32))
  audit.audit_cell(refs, data, audit.Cell(target=w, references=None),
                   ("sm_confidence",), progress=False)
  assert w.key() in _variant_settings(refs, "target")
  for name in refs.reference_names():
    assert w.key() not in _variant_settings(refs, name)


def test_variant_specs():
  train = TrainConfig(epochs=10, batch_size=64)
  v = variants.from_spec("pruned:l1_structured:0.7:ppb:2", train=train)
  assert (v.pruner, v.sparsity, v.defense.name, v.defense.arg) == (
      "l1_structured", 0.7, "ppb", 2.0)
  assert v.finetune == train.replace(epochs=5)   # half, as mia_prune
  chain = variants.from_spec("pruned:slim:0.5+snn:1,2", train=train)
  assert isinstance(chain, variants.SnnVariant) and chain.timesteps == 2
  assert isinstance(chain.source.source, variants.PrunedVariant)
  assert chain.label() == "snn_T2" and chain.source.source.label() == \
      "slim_0.5"
  for bad, match in (("pruned:l1_structured", "pruned:PRUNER:SPARSITY"),
                     ("pruned:l1_structured:x", "must be numbers"),
                     ("pruned:l1_structured:1.2", "`sparsity` must be"),
                     ("pruned:l0:0.5", "`pruner` must be one of"),
                     ("pruned:slim:0.5:dp:0", "noise multiplier"),
                     ("prune:slim:0.5", "`variant` must be")):
    with pytest.raises(ValueError, match=match):
      variants.from_spec(bad, train=train)
