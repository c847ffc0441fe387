"""Hostile inputs, round two: each command's bad inputs are refused with
exit status 2, one line naming the argument (or file), before any work, and
no folder is left behind."""

import json
import shutil

import numpy as np
import pytest

from conftest import TRAIN, assert_one_line_error, run_cli
from tfmia.infra import io


# ---------------------------------------------------------------------------
# Folders that are not local paths


@pytest.mark.parametrize("argv", [
    [*TRAIN],
    ["audit", "--model", "m.keras", "--data", "d.npz"],
    ["attack", "--logits", "x.npz"],
])
def test_in_memory_folders_are_refused(argv, capsys):
  with pytest.raises(SystemExit) as e:
    run_cli(capsys, *argv, "--out", "ram://probe/run")
  err = capsys.readouterr().err
  assert e.value.code == 2
  assert "argument --out" in err and "in-memory" in err
  assert "ram://probe/run" in err and "Traceback" not in err


def test_an_unknown_url_scheme_is_one_line_before_any_work(capsys,
                                                          monkeypatch):
  def boom(*a, **k):
    raise AssertionError("work started")
  from tfmia import data
  monkeypatch.setattr(data, "prepare_data", boom)
  rc, _, err = run_cli(capsys, *TRAIN, "--out", "foo://bar/run")
  assert_one_line_error(rc, err, "foo://bar/run", "no file system")


def test_url_errors_become_oserrors_naming_the_path():
  from tfmia.infra import fs
  with pytest.raises(OSError, match="no file system") as e:
    fs.path("foo://bar/x").exists()
  assert e.value.filename == "foo://bar/x"


# ---------------------------------------------------------------------------
# Models with two heads


def _two_heads():
  import tensorflow as tf
  inp = tf.keras.Input((8,))
  h = tf.keras.layers.Dense(8, activation="relu")(inp)
  return tf.keras.Model(inp, [tf.keras.layers.Dense(10, name="digit")(h),
                              tf.keras.layers.Dense(3, name="parity")(h)])


def test_a_two_head_model_is_refused_by_the_audit_and_the_callback():
  from tfmia import PrivacyMetrics
  from tfmia.audits import audit
  m = _two_heads()
  x = np.random.default_rng(0).normal(size=(20, 8)).astype("float32")
  y = np.arange(20) % 10
  with pytest.raises(ValueError, match=r"2 outputs \(digit .*parity"):
    audit.audit(audit.Target(m, x, y, np.arange(20) < 10),
                attacks=("threshold",))
  cb = PrivacyMetrics(member_data=(x[:10], y[:10]),
                      nonmember_data=(x[10:], y[10:]), attacks=("threshold",))
  with pytest.raises(ValueError, match="2 outputs"):
    cb.set_model(m)
    cb.on_epoch_end(0)


def test_a_two_head_model_is_not_converted_to_one_head():
  from tfmia import snn
  x = np.random.default_rng(0).normal(size=(20, 8)).astype("float32")
  with pytest.raises(ValueError, match="2 outputs"):
    snn.convert(_two_heads(), x, timesteps=2)


# ---------------------------------------------------------------------------
# Studies check every cell before they train


def test_pruning_study_refuses_a_structured_pruner_on_a_dense_model_first(
    tmp_path, capsys, monkeypatch):
  from tfmia import references
  def boom(*a, **k):
    raise AssertionError("a model was trained")
  monkeypatch.setattr(references, "train_references", boom)
  rc, _, err = run_cli(capsys, "case-study", "pruning", "--quick",
                       "--dataset", "digits", "--model", "dense",
                       "--pruners", "l1_structured", "--out",
                       tmp_path / "p", "--no-progress")
  assert_one_line_error(rc, err, "l1_structured", "no Conv2D")


# ---------------------------------------------------------------------------
# Sizes, Slurm settings, Ray addresses


@pytest.mark.slow
def test_robustness_refuses_more_examples_than_the_split(trained_run,
                                                         tmp_path, capsys):
  rc, _, err = run_cli(capsys, "robustness", "--run", trained_run,
                       "--examples", "100000", "--out", tmp_path / "r")
  assert_one_line_error(rc, err, "--examples", "100000")
  assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("flag, value, needle", [
    ("--time", "banana", "--time must be a Slurm time"),
    ("--time", "25:00:00:00", "--time"),
    ("--mem", "16X", "--mem must be a Slurm memory size"),
    ("--partition", "gpu a100", "--partition"),
])
def test_sbatch_refuses_what_slurm_would(tmp_path, capsys, flag, value,
                                         needle):
  from tfmia.references import ReferenceConfig
  cfg = tmp_path / "cfg.json"
  ReferenceConfig().save(cfg)
  out = tmp_path / "job.sh"
  rc, _, err = run_cli(capsys, "reference", "sbatch", "--config", cfg,
                       flag, value, "--out", out)
  assert_one_line_error(rc, err, needle)
  assert not out.exists()


def test_sbatch_writes_memory_and_partition(tmp_path, capsys):
  from tfmia.references import ReferenceConfig
  cfg = tmp_path / "cfg.json"
  ReferenceConfig().save(cfg)
  out = tmp_path / "job.sh"
  assert run_cli(capsys, "reference", "sbatch", "--config", cfg, "--time",
                 "1-12:00:00", "--mem", "16G", "--partition", "gpu,long",
                 "--out", out)[0] == 0
  text = out.read_text()
  assert "#SBATCH --time=1-12:00:00" in text
  assert "#SBATCH --mem=16G" in text and "#SBATCH --partition=gpu,long" in text


def test_an_unreachable_ray_address_is_named_before_anything_is_written(
    tmp_path, capsys):
  pytest.importorskip("ray")
  from tfmia.references import ReferenceConfig
  cfg = tmp_path / "cfg.json"
  refs = tmp_path / "refs"
  ReferenceConfig(reference_dir=str(refs)).save(cfg)
  rc, _, err = run_cli(capsys, "reference", "train", "--config", cfg,
                       "--executor", "ray", "--address", "127.0.0.1:1",
                       "--no-progress")
  assert_one_line_error(rc, err, "--address 127.0.0.1:1")
  assert not refs.exists()


# ---------------------------------------------------------------------------
# Files that say one thing wrong


@pytest.mark.slow
def test_an_unknown_top_level_key_in_a_run_config_is_named(trained_run,
                                                          tmp_path, capsys):
  run = tmp_path / "run"
  shutil.copytree(trained_run, run)
  record = json.loads((run / "config.json").read_text())
  record["colour"] = "blue"
  (run / "config.json").write_text(json.dumps(record))
  rc, _, err = run_cli(capsys, "attack", "--run", run, "--attacks",
                       "threshold", "--out", tmp_path / "a")
  assert_one_line_error(rc, err, "colour", "config.json")


@pytest.fixture
def outputs_npz(tmp_path):
  def make(**over):
    arrays = dict(logits=np.random.default_rng(0).normal(size=(40, 3)),
                  labels=np.arange(40) % 3, is_member=np.arange(40) < 20)
    arrays.update(over)
    path = tmp_path / "outputs.npz"
    io.atomic_save_npz(path, **arrays)
    return path
  return make


def test_labels_shorter_than_the_logits_are_blamed(outputs_npz, capsys,
                                                  tmp_path):
  rc, _, err = run_cli(capsys, "attack", "--logits",
                       outputs_npz(labels=np.arange(39) % 3), "--out",
                       tmp_path / "a")
  assert_one_line_error(rc, err, "`labels` has 39 entries", "40 rows")
  assert not (tmp_path / "a").exists()


def test_a_trained_attack_on_one_member_is_refused_by_name(outputs_npz,
                                                          capsys, tmp_path):
  rc, _, err = run_cli(capsys, "attack", "--logits",
                       outputs_npz(is_member=np.arange(40) < 1),
                       "--attacks", "threshold,logistic_regression",
                       "--out", tmp_path / "a")
  assert_one_line_error(rc, err, "logistic_regression", "at least 10",
                        "1 members")
  assert not (tmp_path / "a").exists()


def test_a_seed_that_is_not_a_number_names_the_field_and_file(tmp_path,
                                                             capsys):
  from tfmia.references import ReferenceConfig
  cfg = tmp_path / "cfg.json"
  d = ReferenceConfig(reference_dir=str(tmp_path / "refs")).to_dict()
  d["seed"] = "x"
  cfg.write_text(json.dumps(d))
  rc, _, err = run_cli(capsys, "reference", "train", "--config", cfg,
                       "--no-progress")
  assert_one_line_error(rc, err, "`seed`", "integer", str(cfg))
  assert not (tmp_path / "refs").exists()


def test_a_refused_train_size_leaves_no_run_folder(tmp_path, capsys):
  out = tmp_path / "new" / "run"
  rc, _, err = run_cli(capsys, "train", "--dataset", "digits", "--model",
                       "dense", "--epochs", "2", "--train-size", "100000",
                       "--out", out)
  assert rc == 2 and "train_size" in err
  assert not (tmp_path / "new").exists()


def test_overwrite_removes_every_figure_of_the_old_run():
  from tfmia.training import loop
  assert {"training.png", "mia.png", "epsilon.png"} <= set(loop.RUN_OUTPUTS)


@pytest.mark.slow
def test_a_complete_read_only_reference_folder_needs_no_writing(
    tiny_reference, tmp_path, monkeypatch):
  from tfmia import references
  from tfmia.infra import io as io_lib
  config, data = tiny_reference
  def refuse(*a, **k):
    raise PermissionError(13, "the reference folder is not writable", "x")
  monkeypatch.setattr(io_lib, "check_output_dir", refuse)
  out = references.train_references(config, data=data, progress=False)
  assert out["trained"] == [] and len(out["skipped"]) == 5


# ---------------------------------------------------------------------------
# Every command: a bad input is one line naming it, and leaves no folder


def _every_command(tmp_path):
  out = tmp_path / "out"
  return [
      (["train", "--dataset", "digits", "--epochs", "1", "--train-size",
        "99999", "--out", out], "train_size"),
      (["attack", "--logits", tmp_path / "missing.npz", "--out", out],
       "missing.npz"),
      (["audit", "--model", tmp_path / "m.keras", "--data",
        tmp_path / "missing.npz", "--out", out], "missing.npz"),
      (["prune", "--run", tmp_path / "no_run", "--pruner", "l1_structured",
        "--sparsity", "0.5", "--out", out], "no_run"),
      (["robustness", "--run", tmp_path / "no_run", "--out", out], "no_run"),
      (["reference", "train", "--config", tmp_path / "missing.json"],
       "missing.json"),
      (["reference", "status", "--config", tmp_path / "missing.json"],
       "missing.json"),
      (["reference", "sbatch", "--config", tmp_path / "missing.json",
        "--out", out / "job.sh"], "missing.json"),
      (["case-study", "architectures", "--dataset", "digits",
        "--train-size", "99999", "--out", out], "train_size"),
      (["case-study", "snn-mia", "--dataset", "digits", "--pool-size",
        "99999", "--out", out], "pool_size"),
      (["case-study", "pruning", "--dataset", "digits", "--quick",
        "--model", "dense", "--pruners", "l1_structured", "--out", out],
       "l1_structured"),
      (["case-study", "snn-robustness", "--dataset", "digits", "--quick",
        "--num-references", "3", "--out", out], "references"),
      (["case-study", "dp-audit", "--dataset", "digits", "--quick",
        "--canaries", "999999", "--out", out], "canar"),
      (["case-study", "attack-budget", "--dataset", "purchase_synthetic",
        "--quick", "--ks", "0,4,2", "--out", out], "ks"),
      (["case-study", "attack-budget", "--dataset", "mnist", "--quick",
        "--out", out], "mnist"),
  ]


@pytest.mark.parametrize("case", range(15))
def test_every_command_refuses_a_bad_input_in_one_line_leaving_nothing(
    case, tmp_path, capsys):
  argv, needle = _every_command(tmp_path)[case]
  rc, _, err = run_cli(capsys, *argv)
  assert_one_line_error(rc, err, needle)
  assert not (tmp_path / "out").exists(), argv
