import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tfmia import cli, cliargs

TFMIA = Path(sys.executable).parent / "tfmia"


def test_help_lists_commands(capsys):
  with pytest.raises(SystemExit) as e:
    cli.main(["--help"])
  assert e.value.code == 0
  out = capsys.readouterr().out
  for cmd in ("case-study", "train", "attack", "models", "reference", "audit",
              "prune", "robustness"):
    assert cmd in out


@pytest.mark.parametrize("argv", [["case-study", "--help"],
                                  ["case-study", "architectures", "--help"],
                                  ["train", "--help"], ["attack", "--help"],
                                  ["models", "--help"],
                                  ["reference", "train", "--help"],
                                  ["reference", "init", "--help"],
                                  ["reference", "status", "--help"],
                                  ["audit", "--help"], ["prune", "--help"],
                                  ["robustness", "--help"],
                                  ["reference", "sbatch", "--help"]])
def test_every_command_has_help(argv, capsys):
  with pytest.raises(SystemExit) as e:
    cli.main(argv)
  assert e.value.code == 0
  assert "usage: tfmia" in capsys.readouterr().out


STUDIES = ("architectures", "snn-mia", "pruning", "snn-robustness",
           "dp-audit", "attack-budget")


@pytest.mark.parametrize("study", STUDIES)
def test_every_case_study_has_help(study, capsys):
  with pytest.raises(SystemExit) as e:
    cli.main(["case-study", study, "--help"])
  assert e.value.code == 0
  out = capsys.readouterr().out
  assert f"usage: tfmia case-study {study}" in out
  for flag in ("--out", "--overwrite", "--no-progress", "--quick",
               "--executor", "--address", "--dataset", "--seed"):
    assert flag in out, flag


@pytest.mark.parametrize("study", STUDIES)
def test_every_case_study_is_registered_once_with_its_own_main(study,
                                                                capsys):
  """A study folder's cli.py is what `tfmia case-study` registers, and its
  `main` (what case_studies/<name>.py runs) takes the same flags."""
  import importlib
  module = importlib.import_module(
      f"tfmia.studies.{study.replace('-', '_')}.cli")
  assert module in cli.STUDIES and module.NAME == study
  with pytest.raises(SystemExit) as e:
    module.main(["--help"])
  assert e.value.code == 0
  assert f"usage: tfmia case-study {study}" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["train", "--out", "x"], ["attack", "--run", "x"],
    ["prune", "--run", "x", "--pruner", "slim", "--sparsity", "0.5"],
    ["robustness", "--run", "x"], ["reference", "init", "x"],
    ["reference", "train", "--config", "x"],
    ["reference", "status", "--config", "x"],
    ["reference", "sbatch", "--config", "x"], ["audit", "--list"],
    *[["case-study", s] for s in STUDIES]])
def test_every_command_takes_no_progress(argv):
  args = cli.build_parser().parse_args([*argv, "--no-progress"])
  assert args.no_progress


# (canonical flag, old name) in each command that had the old name.
ALIASES = [
    (["case-study", "pruning"], "--num-references", "--num-shadows", "3"),
    (["case-study", "snn-robustness"], "--num-references", "--references",
     "4"),
    (["case-study", "snn-robustness"], "--examples", "--attack-examples",
     "20"),
    (["case-study", "dp-audit"], "--num-references", "--references", "0"),
    (["reference", "init", "cfg.json"], "--num-references", "--num-models",
     "6"),
    (["reference", "train", "--config", "c"], "--num-references",
     "--num-models", "6"),
    (["reference", "status", "--config", "c"], "--num-references",
     "--num-models", "6"),
    (["reference", "sbatch", "--config", "c"], "--num-references",
     "--num-models", "6"),
    (["audit", "--config", "c"], "--num-references", "--num-models", "2"),
]


@pytest.mark.parametrize("command, flag, alias, value", ALIASES)
def test_old_flag_names_parse_as_the_new_ones(command, flag, alias, value,
                                              capsys):
  parser = cli.build_parser()
  canonical = parser.parse_args([*command, flag, value])
  old = parser.parse_args([*command, alias, value])
  assert vars(old) == vars(canonical)
  assert f"{alias} is an alias of {flag}" in capsys.readouterr().err


@pytest.mark.parametrize("command, flag, alias, value", ALIASES)
def test_old_flag_names_are_hidden_but_noted(command, flag, alias, value,
                                             capsys):
  del value
  with pytest.raises(SystemExit):
    cli.main([*command[:2 if command[0] != "audit" else 1], "--help"])
  text = " ".join(capsys.readouterr().out.split())
  assert f"{alias}: alias of {flag}; will be removed" in text
  assert text.count(alias) == 1      # in the note only: no entry of its own


def test_sbatch_writes_the_new_flag_name(tmp_path):
  config = tmp_path / "cfg.json"
  assert cli.main(["reference", "init", str(config), "--dataset", "digits",
                   "--num-references", "2"]) == 0
  out = tmp_path / "job.sh"
  assert cli.main(["reference", "sbatch", "--config", str(config), "--out",
                   str(out), "--num-models", "4"]) == 0
  assert "--num-references 4" in out.read_text()


@pytest.mark.slow
@pytest.mark.skipif(not TFMIA.exists(), reason="console script not installed")
def test_console_script_is_quiet():
  proc = subprocess.run([str(TFMIA), "models"], capture_output=True, text=True,
                        check=True, env={k: v for k, v in os.environ.items()
                                         if k != "TF_CPP_MIN_LOG_LEVEL"})
  assert "vgg16" in proc.stdout and "resnet20" in proc.stdout
  for noise in ("cuda", "TensorRT", "oneDNN", "cuDNN"):
    assert noise not in proc.stderr


@pytest.mark.slow
def test_train_then_attack_run(tmp_path, capsys):
  run = tmp_path / "run"
  assert cli.main(["train", "--model", "dense", "--dataset", "digits",
                   "--train-size", "200", "--test-size", "200", "--epochs",
                   "2", "--every-n-epochs", "1", "--out", str(run)]) == 0
  for name in ("config.json", "history.json", "model.weights.h5",
               "training.png", "mia.png", "epsilon.png"):
    assert (run / name).exists(), name
  assert len(list((run / "privacy").glob("*.json"))) == 2
  trained_auc = json.loads(
      (run / "privacy" / "epoch_0002.json").read_text())["results"][0]["auc"]
  assert cli.main(["attack", "--run", str(run), "--attacks",
                   "threshold,logistic_regression", "--by-class"]) == 0
  out = run / "attack"
  for name in ("summary.csv", "results.json", "results.npz", "roc.png",
               "config.json"):
    assert (out / name).exists(), name
  res = json.loads((out / "results.json").read_text())
  whole = [r for r in res["results"]
           if r["attack"] == "threshold" and r["slice"] == "entire_dataset"][0]
  # Reloading the weights and data reproduces the callback's last AUC.
  assert whole["auc"] == pytest.approx(trained_auc, abs=1e-6)
  assert any(r["slice"] == "class=3" for r in res["results"])


@pytest.mark.slow
def test_train_then_prune_run(tmp_path, capsys):
  run = tmp_path / "run"
  assert cli.main(["train", "--model", "conv", "--dataset", "digits",
                   "--train-size", "200", "--test-size", "100", "--epochs",
                   "2", "--every-n-epochs", "2", "--out", str(run)]) == 0
  capsys.readouterr()
  # Bad settings fail before the run is loaded.
  for argv, msg in (
      (["--pruner", "l1_structured", "--sparsity", "1.0"], "`sparsity` must"),
      (["--pruner", "l9", "--sparsity", "0.5"], "`pruner` must be one of"),
      (["--pruner", "slim", "--sparsity", "0.5"], "no BatchNormalization"),
      (["--pruner", "l1_structured", "--sparsity", "0.5", "--defense", "dp",
        "--defense-arg", "-1"], "noise multiplier"),
  ):
    assert cli.main(["prune", "--run", str(run), *argv]) == 2
    assert msg in capsys.readouterr().err
  assert cli.main(["prune", "--run", str(run), "--pruner", "l1_structured",
                   "--sparsity", "0.5", "--defense", "ppb"]) == 0
  out = run / "pruned_l1_structured_0.5_ppb4"
  info = json.loads((out / "prune.json").read_text())
  assert info["stats"]["sparsity"] == 0.5
  assert info["stats"]["params_after"] < info["stats"]["params_before"]
  assert info["finetune"]["epochs"] == 1          # half the run's 2 epochs
  assert info["defense"] == {**info["defense"], "name": "ppb", "arg": 4.0}
  assert "FLOPs" in capsys.readouterr().out
  import tensorflow as tf
  model = tf.keras.models.load_model(out / "model.keras", compile=False)
  assert model.get_layer("conv1").filters == 16
  # The pruned folder is attacked as the run is: on the run's data.
  assert cli.main(["attack", "--run", str(out), "--attacks", "threshold"]
                  ) == 0
  saved = json.loads((out / "attack" / "config.json").read_text())
  assert saved["source"]["model"]["variant"]["pruner"] == "l1_structured"
  capsys.readouterr()

  # Robustness of the same run, converted to an SNN, black-box from itself.
  for argv, msg in ((["--eps", "2"], "`eps` must be a number in [0, 1]"),
                    (["--attacks", "fgsm,cw"], "`attacks` must be"),
                    (["--pgd-steps", "-1"], "`pgd_steps` must be a positive"),
                    (["--transfer-from", str(tmp_path / "nope")],
                     "--transfer-from must be a folder")):
    assert cli.main(["robustness", "--run", str(run), *argv]) == 2
    assert msg in capsys.readouterr().err
  assert cli.main(["robustness", "--run", str(run), "--attacks", "fgsm,pgd",
                   "--examples", "40", "--snn-timesteps", "2",
                   "--label-only", "10",
                   "--transfer-from", str(run), "--out",
                   str(tmp_path / "rob")]) == 0
  printed = capsys.readouterr().out
  assert "SNN (T = 2)" in printed and "white-box" in printed
  rob = json.loads((tmp_path / "rob" / "robustness.json").read_text())
  assert rob["result"]["num_examples"] == 40
  assert set(rob["result"]["white_box"]) == {"fgsm", "pgd"}
  assert set(rob["result"]["black_box"]) == {"fgsm", "pgd"}
  assert (tmp_path / "rob" / "robustness.png").exists()
  label = json.loads((tmp_path / "rob" / "label_only.json").read_text())
  assert [r["attack"] for r in label["results"]] == ["label_gap",
                                                    "label_boundary"]


def test_attack_logits_npz(tmp_path):
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(100, 3))
  labels = rng.integers(0, 3, 100)
  is_member = np.arange(100) < 50
  logits[is_member, labels[is_member]] += 3
  np.savez(tmp_path / "out.npz", logits=logits, labels=labels,
           is_member=is_member)
  assert cli.main(["attack", "--logits", str(tmp_path / "out.npz"),
                   "--attacks", "threshold"]) == 0
  res = json.loads((tmp_path / "out" / "results.json").read_text())
  assert res["results"][0]["auc"] > 0.8


def test_attack_errors(tmp_path, capsys):
  np.savez(tmp_path / "bad.npz", logits=np.zeros((3, 2)))
  assert cli.main(["attack", "--logits", str(tmp_path / "bad.npz")]) == 2
  assert "missing ['is_member', 'labels']" in capsys.readouterr().err
  assert cli.main(["attack", "--run", str(tmp_path)]) == 2
  assert "written by `tfmia train`" in capsys.readouterr().err


def test_train_unknown_model_fails_before_work(tmp_path, capsys):
  assert cli.main(["train", "--model", "lenet", "--out", str(tmp_path / "x")]) == 2
  assert "Valid models" in capsys.readouterr().err
  assert not (tmp_path / "x").exists()


def test_case_study_missing_dataset(tmp_path, capsys):
  args = ["case-study", "architectures", "--dataset", "cifar100", "--data-dir",
          str(tmp_path), "--out", str(tmp_path / "o")]
  assert cli.main(args) == 2
  assert "--fallback-dataset digits" in capsys.readouterr().err


@pytest.mark.slow
def test_case_study_falls_back_to_digits(tmp_path, capsys):
  out = tmp_path / "o"
  assert cli.main(["case-study", "architectures", "--dataset", "cifar100",
                   "--data-dir", str(tmp_path), "--fallback-dataset", "digits",
                   "--epochs", "1", "--every-n-epochs", "1", "--train-size",
                   "100", "--test-size", "100", "--attacks", "threshold",
                   "--no-progress", "--out", str(out)]) == 0
  stdout = capsys.readouterr().out
  assert "running on 'digits' instead" in stdout
  # --epochs 1 is not announced as the full mode.
  assert "(full mode settings, changed: epochs=1, " in stdout
  assert "(full mode)" not in stdout
  assert json.loads((out / "config.json").read_text())["dataset"] == "digits"
  assert (out / "summary.csv").exists()


@pytest.mark.slow
def test_reference_and_audit_commands(tmp_path, capsys):
  cfg = tmp_path / "cfg.json"
  refs = tmp_path / "refs"
  assert cli.main(["reference", "init", str(cfg), "--dataset", "digits",
                   "--model", "dense", "--epochs", "2", "--num-references", "2",
                   "--train-size", "300", "--test-size", "150",
                   "--reference-dir", str(refs)]) == 0
  assert cli.main(["reference", "init", str(cfg)]) == 2   # exists
  assert "--force" in capsys.readouterr().err
  assert cli.main(["reference", "train", "--config", str(cfg), "--shard",
                   "1/2", "--no-progress"]) == 0
  assert cli.main(["reference", "status", "--config", str(cfg)]) == 0
  assert "Missing or incomplete: ref_000" in capsys.readouterr().out
  # An audit before every model is trained names what is missing.
  out = tmp_path / "audit"
  assert cli.main(["audit", "--config", str(cfg), "--out", str(out),
                   "--no-progress"]) == 2
  assert "ref_000" in capsys.readouterr().err
  assert cli.main(["reference", "train", "--config", str(cfg),
                   "--no-progress"]) == 0
  assert "Trained 1, skipped 2" in capsys.readouterr().out
  assert cli.main(["audit", "--config", str(cfg), "--out", str(out),
                   "--attacks", "rmia,attack_r,threshold", "--no-progress",
                   "--rmia-gamma", "2"]) == 0
  printed = capsys.readouterr().out
  assert "rmia" in printed and "tpr_at_0.1%_fpr" in printed
  saved = json.loads((out / "config.json").read_text())
  assert saved["audit"]["attack"]["rmia_gamma"] == 2.0
  assert saved["audit"]["attacks"] == ["rmia", "attack_r", "threshold"]
  (out / "score_hist.png").unlink()
  assert cli.main(["audit", "--render", str(out)]) == 0
  assert (out / "score_hist.png").is_file()
  assert cli.main(["audit", "--config", str(cfg), "--out", str(out),
                   "--attacks", "rmia,magic"]) == 2
  assert "magic" in capsys.readouterr().err
  assert cli.main(["reference", "train", "--config", str(cfg),
                   "--shard", "3/2"]) == 2
  # Attacks are listed; a variant of the target is audited as another cell.
  assert cli.main(["audit", "--list"]) == 0
  listed = capsys.readouterr().out
  assert "rmia" in listed and "logistic_regression" in listed
  snn_out = tmp_path / "audit_snn"
  assert cli.main(["audit", "--config", str(cfg), "--out", str(snn_out),
                   "--attacks", "attack_r,threshold", "--variant", "snn:1",
                   "--reference-variant", "none", "--no-progress"]) == 0
  saved = json.loads((snn_out / "config.json").read_text())
  assert saved["variant"]["timesteps"] == 1
  assert saved["reference_variant"] is None
  assert list(refs.glob("target/variants/snn_T1-*/model.keras"))
  assert not list(refs.glob("ref_000/variants/*"))     # ANN references
  assert cli.main(["audit", "--config", str(cfg), "--out", str(snn_out),
                   "--variant", "snn:x"]) == 2
  assert "timesteps must be integers" in capsys.readouterr().err


def test_mode_label_names_what_was_changed():
  assert cliargs.mode_label(False, {"dataset": "digits", "seed": 3}) == \
      "full mode"
  assert cliargs.mode_label(True, {}) == "quick mode"
  assert cliargs.mode_label(False, {"epochs": 1, "attacks": ("a", "b")}) == \
      "full mode settings, changed: epochs=1, attacks=a,b"


def test_snn_mia_names_its_pool(capsys):
  with pytest.raises(SystemExit):
    cli.main(["case-study", "snn-mia", "--help"])
  text = capsys.readouterr().out
  assert "--pool-size" in text and "--population-size" in text
  assert "--train-size" not in text


@pytest.mark.parametrize("argv, design", [([], "axes"),
                                          (["--sweep-design", "grid"], "grid")])
def test_snn_robustness_sweep_design_flag(argv, design, tmp_path,
                                          monkeypatch):
  from tfmia.studies import snn_robustness as study
  seen = {}

  class Stop(Exception):
    pass

  def fake_run(config, out, **kwargs):
    seen["config"] = config
    raise Stop
  monkeypatch.setattr(study, "run", fake_run)
  with pytest.raises(Stop):
    cli.main(["case-study", "snn-robustness", "--quick", "--dataset",
              "digits", "--out", str(tmp_path / "sr"), *argv])
  assert seen["config"].quick and seen["config"].sweep_design == design


def test_snn_robustness_refuses_an_unknown_sweep_design(tmp_path, capsys):
  with pytest.raises(SystemExit) as e:
    cli.main(["case-study", "snn-robustness", "--sweep-design", "diagonal",
              "--out", str(tmp_path / "sr")])
  assert e.value.code == 2
  assert "--sweep-design" in capsys.readouterr().err


def test_version_and_the_callback_at_the_top(capsys):
  import tfmia
  with pytest.raises(SystemExit) as e:
    cli.main(["--version"])
  assert e.value.code == 0
  assert capsys.readouterr().out.strip() == f"tfmia {tfmia.__version__}"
  from tfmia import PrivacyMetrics
  from tfmia.audits.callback import PrivacyMetrics as owner
  assert PrivacyMetrics is owner
  with pytest.raises(AttributeError, match="no attribute 'Privacy'"):
    tfmia.Privacy   # pylint: disable=pointless-statement


def test_a_wrong_tensorflow_is_named_at_import(monkeypatch):
  import tfmia
  monkeypatch.setattr(tfmia, "_installed_tensorflow", lambda: "2.20.0")
  with pytest.raises(ImportError, match="needs TensorFlow 2.15 .*found "
                     "TensorFlow 2.20.0.*tensorflow==2.15.1"):
    tfmia._check_stack()
  monkeypatch.setattr(tfmia, "_installed_tensorflow", lambda: None)
  with pytest.raises(ImportError, match="not installed.*and-cuda"):
    tfmia._check_stack()


@pytest.mark.slow
def test_import_is_quiet():
  # TensorFlow's C++ start-up lines and ART's warnings stay out of a user's
  # terminal; `import tfmia` alone does not even load TensorFlow.
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  light = subprocess.run(
      [sys.executable, "-c", "import sys, tfmia; "
       "print('tensorflow' in sys.modules)"],
      capture_output=True, text=True, env=env, check=True)
  assert light.stdout.strip() == "False" and light.stderr == ""
  heavy = subprocess.run(
      [sys.executable, "-c", "import tfmia.audits.audit, tfmia.robustness, "
       "tfmia.snn.convert"], capture_output=True, text=True, env=env,
      check=True)
  assert heavy.stderr == ""


def test_a_missing_extra_is_named_with_its_install_line(monkeypatch):
  from tfmia.infra import extras
  real = extras.importlib.import_module

  def missing(name, *a):
    if name in extras.EXTRAS:
      raise ImportError(f"No module named {name!r}")
    return real(name, *a)
  monkeypatch.setattr(extras.importlib, "import_module", missing)
  for module, (package, extra) in extras.EXTRAS.items():
    with pytest.raises(ImportError, match=f"needs {package}.*"
                       f"pip install 'tfmia\\[{extra}\\]'"):
      extras.require(module, "This step")
  from tfmia.infra import executors
  with pytest.raises(ImportError, match="Ray executor needs ray"):
    executors.RayExecutor()


def test_install_metadata_gives_ranges_and_extras(monkeypatch):
  # pip install . must not pin (and so downgrade) what a user already has.
  import runpy
  import setuptools
  seen = {}
  monkeypatch.setattr(setuptools, "setup", lambda **kw: seen.update(kw))
  runpy.run_path(str(Path(__file__).parents[1] / "setup.py"))
  assert not [r for r in seen["install_requires"] if "==" in r]
  names = " ".join(seen["install_requires"])
  for light in ("snntoolbox", "ray", "adversarial", "model-optimization",
                "pytest", "execnet", "mkdocs"):
    assert light not in names
  assert set(seen["extras_require"]) >= {"snn", "prune", "robust", "ray",
                                         "all", "docs", "dev"}
  assert seen["python_requires"] == ">=3.11,<3.12"
  import tfmia
  assert seen["version"] == tfmia.__version__


def test_attack_saved_probabilities_losses_and_a_population(tmp_path, capsys):
  # The same model's outputs saved three ways give the same threshold
  # attack; a population file feeds attack_p.
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(120, 4))
  labels = rng.integers(0, 4, 120)
  is_member = np.arange(120) < 60
  logits[is_member, labels[is_member]] += 2
  z = logits - logits.max(1, keepdims=True)
  probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
  loss = -np.log(probs[np.arange(120), labels])
  for kind, arr in (("logits", logits), ("probabilities", probs),
                    ("loss", loss)):
    np.savez(tmp_path / f"{kind}.npz", **{kind: arr}, labels=labels,
             is_member=is_member)
  pop = rng.normal(size=(50, 4))
  np.savez(tmp_path / "pop.npz", logits=pop, labels=rng.integers(0, 4, 50))
  aucs = {}
  for kind in ("logits", "probabilities", "loss"):
    assert cli.main(["attack", "--logits", str(tmp_path / f"{kind}.npz"),
                     "--attacks", "threshold", "--out",
                     str(tmp_path / f"o_{kind}")]) == 0
    aucs[kind] = json.loads((tmp_path / f"o_{kind}" / "results.json")
                            .read_text())["results"][0]["auc"]
  assert aucs["probabilities"] == pytest.approx(aucs["logits"], abs=1e-12)
  assert aucs["loss"] == pytest.approx(aucs["logits"], abs=1e-12)
  assert cli.main(["attack", "--logits", str(tmp_path / "logits.npz"),
                   "--population", str(tmp_path / "pop.npz"), "--attacks",
                   "attack_p,threshold", "--out", str(tmp_path / "p")]) == 0
  capsys.readouterr()
  assert cli.main(["attack", "--logits", str(tmp_path / "loss.npz"),
                   "--attacks", "threshold_entropy"]) == 2
  assert "need the whole output vector" in capsys.readouterr().err
  assert cli.main(["attack", "--logits", str(tmp_path / "logits.npz"),
                   "--attacks", "attack_p"]) == 2
  assert "'attack_p' needs the target's signals on population" in (
      capsys.readouterr().err)


def test_every_command_reads_a_config_file_and_flags_win(tmp_path, capsys):
  rng = np.random.default_rng(2)
  logits = rng.normal(size=(60, 3))
  labels = rng.integers(0, 3, 60)
  np.savez(tmp_path / "o.npz", logits=logits, labels=labels,
           is_member=np.arange(60) < 30)
  # YAML, with a flag's own name or its dest, lists for comma lists, and
  # the required source given by the file.
  (tmp_path / "cf.yaml").write_text(
      f"logits: {tmp_path / 'o.npz'}\nattacks: [threshold, label_gap]\n"
      f"by_class: true\nout: {tmp_path / 'from_file'}\n")
  assert cli.main(["attack", "--cf", str(tmp_path / "cf.yaml")]) == 0
  saved = json.loads((tmp_path / "from_file" / "config.json").read_text())
  assert saved["attacks"] == ["threshold", "label_gap"]
  assert saved["slicing"]["by_class"] is True
  # A flag given on the command line wins over the file.
  assert cli.main(["attack", "--cf", str(tmp_path / "cf.yaml"), "--out",
                   str(tmp_path / "from_flag"), "--attacks", "threshold"]
                  ) == 0
  saved = json.loads((tmp_path / "from_flag" / "config.json").read_text())
  assert saved["attacks"] == ["threshold"]
  capsys.readouterr()
  # Unknown keys and bad values are named with the file, before any work.
  (tmp_path / "bad.json").write_text('{"atacks": "threshold"}')
  assert cli.main(["attack", "--cf", str(tmp_path / "bad.json")]) == 2
  err = capsys.readouterr().err
  assert "bad.json: unknown setting 'atacks'" in err and "attacks" in err
  (tmp_path / "bad2.yaml").write_text("by-class: 3\n")
  assert cli.main(["attack", "--logits", str(tmp_path / "o.npz"), "--cf",
                   str(tmp_path / "bad2.yaml")]) == 2
  assert "'by-class' must be true or false" in capsys.readouterr().err


def test_config_show_prints_what_cf_reads(tmp_path, capsys):
  import yaml
  assert cli.main(["config", "show", "case-study", "dp-audit"]) == 0
  shown = yaml.safe_load(capsys.readouterr().out)
  assert shown["seed"] == 0 and "num-references" in shown
  assert cli.main(["config", "show", "reference"]) == 2
  assert "has subcommands of its own" in capsys.readouterr().err
  assert cli.main(["config", "show", "nope"]) == 2
  assert "No command 'nope'" in capsys.readouterr().err
  # What it prints is a file --cf takes back.
  assert cli.main(["config", "show", "attack"]) == 0
  (tmp_path / "attack.yaml").write_text(capsys.readouterr().out)
  with pytest.raises(SystemExit):   # argparse: the file names no source
    cli.main(["attack", "--cf", str(tmp_path / "attack.yaml")])
  assert "one of the arguments --run --logits is required" in (
      capsys.readouterr().err)


def test_attack_says_what_it_runs_unless_no_progress(tmp_path, capsys):
  rng = np.random.default_rng(3)
  np.savez(tmp_path / "o.npz", logits=rng.normal(size=(40, 3)),
           labels=rng.integers(0, 3, 40), is_member=np.arange(40) < 20)
  assert cli.main(["attack", "--logits", str(tmp_path / "o.npz"),
                   "--attacks", "threshold", "--by-class"]) == 0
  assert "Running threshold, sliced by class on 40 examples" in (
      capsys.readouterr().out)
  assert cli.main(["attack", "--logits", str(tmp_path / "o.npz"),
                   "--attacks", "threshold", "--out", str(tmp_path / "q"),
                   "--no-progress"]) == 0
  assert "Running" not in capsys.readouterr().out


def test_audit_your_saved_model_on_your_data(tmp_path, capsys):
  # Flat inputs, one-hot labels, a softmax model saved by plain Keras.
  import tensorflow as tf
  from sklearn.datasets import load_digits
  x, y = load_digits(return_X_y=True)
  x = (x / 16.0).astype("float32")
  tf.keras.utils.set_random_seed(0)
  model = tf.keras.Sequential([tf.keras.Input((64,)),
                               tf.keras.layers.Dense(64, activation="relu"),
                               tf.keras.layers.Dense(10, activation="softmax")])
  model.compile("adam", "sparse_categorical_crossentropy")
  model.fit(x[:300], y[:300], epochs=10, verbose=0)
  model.save(tmp_path / "mine.keras")
  np.savez(tmp_path / "mine.npz", x=x[:600], y=np.eye(10)[y[:600]],
           is_member=np.arange(600) < 300, x_population=x[600:900],
           y_population=y[600:900])
  assert cli.main(["audit", "--model", str(tmp_path / "mine.keras"),
                   "--data", str(tmp_path / "mine.npz"), "--out",
                   str(tmp_path / "a"), "--no-progress"]) == 0
  out = capsys.readouterr().out
  assert "threshold" in out and "attack_p" in out
  report = (tmp_path / "a" / "report.csv").read_text()
  assert report.startswith("attack,auc") and "attack_p" in report
  assert cli.main(["audit", "--model", str(tmp_path / "mine.keras"),
                   "--out", str(tmp_path / "b")]) == 2
  assert "--model and --data go together" in capsys.readouterr().err


@pytest.mark.slow
def test_audit_your_saved_model_with_references_from_your_builder(
    tmp_path, capsys, monkeypatch):
  """RMIA and LiRA on your own saved model: tfmia trains the reference
  models with your builder (from your module) on halves of your examples,
  resumably, then audits."""
  import tensorflow as tf
  from sklearn.datasets import load_digits
  (tmp_path / "mymodels.py").write_text(
      "import tensorflow as tf\n"
      "def mlp(input_shape, num_classes, width=32):\n"
      "  return tf.keras.Sequential([tf.keras.Input(input_shape),\n"
      "      tf.keras.layers.Dense(width, activation='relu'),\n"
      "      tf.keras.layers.Dense(num_classes)])\n")
  monkeypatch.syspath_prepend(str(tmp_path))
  x, y = load_digits(return_X_y=True)
  x = (x / 16.0).astype("float32")
  tf.keras.utils.set_random_seed(0)
  model = tf.keras.Sequential([tf.keras.Input((64,)),
                               tf.keras.layers.Dense(32, activation="relu"),
                               tf.keras.layers.Dense(10)])
  model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(
      from_logits=True))
  model.fit(x[:200], y[:200], epochs=30, verbose=0)
  model.save(tmp_path / "mine.keras")
  np.savez(tmp_path / "mine.npz", x=x[:400], y=y[:400],
           is_member=np.arange(400) < 200, x_population=x[400:600],
           y_population=y[400:600])
  argv = ["audit", "--model", str(tmp_path / "mine.keras"), "--data",
          str(tmp_path / "mine.npz"), "--builder", "mymodels:mlp",
          "--builder-options", '{"width": 32}', "--num-references", "4",
          "--epochs", "30", "--out", str(tmp_path / "a"), "--no-progress"]
  assert cli.main(argv) == 0
  report = pd_read(tmp_path / "a" / "report.csv")
  assert set(report["attack"]) == {"rmia", "lira", "lira_offline",
                                   "attack_p", "attack_r", "threshold"}
  # An overfit MLP leaks: the reference attacks see it. (Online LiRA with
  # two IN and two OUT models per example is near chance here; the paper's
  # Fig. 9 shows the same weakness with few models.)
  auc = report.set_index("attack")["auc"]
  assert (auc[["rmia", "lira_offline"]] > 0.6).all()
  refs = tmp_path / "a" / "references"
  assert sorted(p.name for p in refs.iterdir() if p.is_dir()) == [
      "ref_000", "ref_001", "ref_002", "ref_003"]
  done = (refs / "ref_000" / "done.json").stat().st_mtime_ns
  # A rerun resumes: nothing is trained again, the same scores come out.
  assert cli.main(argv[:-3] + ["--out", str(tmp_path / "b"), "--dir",
                               str(refs), "--no-progress"]) == 0
  assert (refs / "ref_000" / "done.json").stat().st_mtime_ns == done
  a = np.load(tmp_path / "a" / "scores.npz")
  b = np.load(tmp_path / "b" / "scores.npz")
  np.testing.assert_array_equal(a["lira"], b["lira"])
  capsys.readouterr()
  # Another architecture in the same folder is refused, naming the change.
  assert cli.main(argv[:-3] + ["--out", str(tmp_path / "c"), "--dir",
                               str(refs), "--builder-options",
                               '{"width": 16}', "--no-progress"]) == 2
  assert "different configuration" in capsys.readouterr().err
  assert cli.main(["audit", "--config", str(tmp_path / "x.json"),
                   "--builder", "mymodels:mlp", "--out",
                   str(tmp_path / "d")]) == 2
  assert "--builder" in capsys.readouterr().err


def pd_read(path):
  import pandas as pd
  return pd.read_csv(path)


def test_check_offline_is_the_one_refusal_of_a_missing_dataset(tmp_path):
  from tfmia import cliargs
  cliargs.check_offline("purchase_synthetic", str(tmp_path))   # ships offline
  cliargs.check_offline("cifar10", str(tmp_path), download=True)
  with pytest.raises(ValueError, match=r"'cifar10' is not available offline"
                     r".*or --dataset digits\."):
    cliargs.check_offline("cifar10", str(tmp_path), instead="--dataset digits")
