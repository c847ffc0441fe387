"""Every expected failure of the CLI is one line naming the file or the
argument, with exit status 2: never a traceback."""

import json
import shutil

import numpy as np
import pytest

from conftest import TRAIN, assert_one_line_error, run_cli
from tfmia.infra import io


def _truncate(path, keep=0.5):
  data = path.read_bytes()
  path.write_bytes(data[:int(len(data) * keep)])


@pytest.fixture
def reference_copy(tiny_reference, tmp_path):
  """A writable copy of the session's reference folder, and its config."""
  config, _ = tiny_reference
  refs = tmp_path / "refs"
  shutil.copytree(config.reference_dir, refs)
  cfg = config.replace(reference_dir=str(refs))
  path = tmp_path / "cfg.json"
  io.atomic_write_json(path, cfg)
  return refs, path


@pytest.fixture
def logits_file(tmp_path):
  def make(**over):
    arrays = dict(logits=np.random.default_rng(0).normal(size=(6, 3)),
                  labels=np.array([0, 1, 2, 0, 1, 2]),
                  is_member=np.array([1, 1, 1, 0, 0, 0], bool))
    arrays.update(over)
    path = tmp_path / "outputs.npz"
    io.atomic_save_npz(path, **arrays)
    return path
  return make


def test_out_is_a_file(tmp_path, capsys):
  f = tmp_path / "file"
  f.write_text("x")
  rc, _, err = run_cli(capsys, *TRAIN, "--out", f)
  assert_one_line_error(rc, err, "must be a folder", f)
  rc, _, err = run_cli(capsys, *TRAIN, "--out", f / "sub")
  assert_one_line_error(rc, err, "must be a folder", f)


def test_run_is_a_file(tmp_path, capsys):
  f = tmp_path / "file"
  f.write_text("x")
  rc, _, err = run_cli(capsys, "attack", "--run", f)
  assert_one_line_error(rc, err, "--run must be a folder", f)


def test_config_path_is_a_directory(tmp_path, capsys):
  rc, _, err = run_cli(capsys, "reference", "init", tmp_path, "--force")
  assert_one_line_error(rc, err, tmp_path)


@pytest.mark.slow
def test_truncated_membership_npz(reference_copy, tmp_path, capsys):
  refs, cfg = reference_copy
  _truncate(refs / "membership.npz")
  rc, _, err = run_cli(capsys, "audit", "--config", cfg, "--out",
                       tmp_path / "audit", "--attacks", "attack_p")
  assert_one_line_error(rc, err, "membership.npz", "not a readable npz")


@pytest.mark.slow
def test_truncated_results_npz(tmp_path, capsys, logits_file):
  out = tmp_path / "att"
  assert run_cli(capsys, "attack", "--logits", logits_file(), "--attacks",
                 "threshold", "--out", out)[0] == 0
  rc, _, err = run_cli(capsys, "audit", "--render", out)
  assert rc == 0, err   # an attack folder renders as an audit
  _truncate(out / "results.npz")
  rc, _, err = run_cli(capsys, "audit", "--render", out)
  assert_one_line_error(rc, err, "results.npz", "not a readable npz")


def test_garbage_results_json(tmp_path, capsys, logits_file):
  out = tmp_path / "att"
  assert run_cli(capsys, "attack", "--logits", logits_file(), "--attacks",
                 "threshold", "--out", out)[0] == 0
  (out / "results.json").write_text("{not json")
  rc, _, err = run_cli(capsys, "audit", "--render", out)
  assert_one_line_error(rc, err, "results.json", "not valid JSON")


def test_truncated_logits_npz(logits_file, capsys):
  path = logits_file()
  _truncate(path)
  rc, _, err = run_cli(capsys, "attack", "--logits", path)
  assert_one_line_error(rc, err, path, "not a readable npz")


def test_logits_file_that_is_not_an_npz(tmp_path, capsys):
  path = tmp_path / "x.npz"
  np.save(tmp_path / "x.npy", np.zeros(3))
  (tmp_path / "x.npy").rename(path)
  rc, _, err = run_cli(capsys, "attack", "--logits", path)
  assert_one_line_error(rc, err, path)


@pytest.mark.parametrize("is_member, needle", [
    (np.array([[1], [1], [1], [0], [0], [0]], bool), "1-D mask"),
    (np.array([2, 1, 1, 0, 0, 0]), "booleans or 0/1"),
    (np.array([0.7, 1, 1, 0, 0, 0]), "booleans or 0/1"),
])
def test_bad_is_member_in_logits_file(logits_file, capsys, is_member, needle):
  path = logits_file(is_member=is_member)
  rc, _, err = run_cli(capsys, "attack", "--logits", path)
  assert_one_line_error(rc, err, needle, path)


def test_zero_one_is_member_is_accepted(logits_file, capsys, tmp_path):
  path = logits_file(is_member=np.array([1, 1, 1, 0, 0, 0]))
  rc, _, err = run_cli(capsys, "attack", "--logits", path, "--attacks",
                       "threshold", "--out", tmp_path / "o")
  assert rc == 0, err


@pytest.mark.slow
def test_truncated_weights_of_a_run(trained_run, tmp_path, capsys):
  run = tmp_path / "run"
  shutil.copytree(trained_run, run)
  _truncate(run / "model.weights.h5", 0.1)
  rc, _, err = run_cli(capsys, "attack", "--run", run)
  assert_one_line_error(rc, err, "model.weights.h5")


@pytest.mark.slow
def test_garbage_config_json_names_the_file(trained_run, tmp_path, capsys):
  run = tmp_path / "run"
  shutil.copytree(trained_run, run)
  (run / "config.json").write_text('{"train": ')
  rc, _, err = run_cli(capsys, "attack", "--run", run)
  assert_one_line_error(rc, err, run / "config.json", "not valid JSON")
  cfg = tmp_path / "cfg.json"
  cfg.write_text("[1, 2")
  rc, _, err = run_cli(capsys, "reference", "train", "--config", cfg)
  assert_one_line_error(rc, err, cfg, "not valid JSON")


def test_unknown_nested_key_in_run_config(trained_run, tmp_path, capsys):
  run = tmp_path / "run"
  shutil.copytree(trained_run, run)
  record = json.loads((run / "config.json").read_text())
  record["data"]["bogus"] = 1
  (run / "config.json").write_text(json.dumps(record))
  rc, _, err = run_cli(capsys, "attack", "--run", run)
  assert_one_line_error(rc, err, "Unknown `data` keys ['bogus']",
                        run / "config.json")


def test_unknown_nested_key_in_reference_config(tmp_path, capsys):
  cfg = tmp_path / "cfg.json"
  cfg.write_text(json.dumps({"train": {"epochz": 3}}))
  rc, _, err = run_cli(capsys, "reference", "train", "--config", cfg)
  assert_one_line_error(rc, err, "Unknown `train` keys ['epochz']", cfg)


def test_option_the_model_does_not_take(tmp_path, capsys):
  rc, _, err = run_cli(capsys, *TRAIN, "--model", "conv",
                       "--width-multiplier", "0.5", "--out", tmp_path / "r")
  assert_one_line_error(rc, err, "'conv' does not take width_multiplier")


@pytest.mark.parametrize("argv, needle", [
    (("case-study", "snn-mia", "--timesteps", "abc"), "--timesteps"),
    (("case-study", "snn-mia", "--timesteps", ""), "--timesteps"),
    (("case-study", "snn-mia", "--timesteps", "1,,4"), "--timesteps"),
    (("case-study", "snn-mia", "--calibration-epochs", "0"),
     "--calibration-epochs"),
    (("case-study", "architectures", "--epochs", "0"), "--epochs"),
    (("case-study", "architectures", "--train-size", "ten"), "--train-size"),
    (("train", "--out", "x", "--epochs", "-1"), "--epochs"),
    (("train", "--out", "x", "--attacks", ""), "--attacks"),
])
def test_unparsable_numbers_and_lists(capsys, argv, needle):
  with pytest.raises(SystemExit) as e:
    run_cli(capsys, *argv)
  err = capsys.readouterr().err
  assert e.value.code == 2
  assert f"argument {needle}" in err and "Traceback" not in err


def test_epochs_below_the_default_cadence(tmp_path, capsys):
  """--epochs 1 takes the cadence down to 1; an explicit larger cadence is
  refused naming it, before any data is loaded."""
  rc, _, err = run_cli(capsys, "case-study", "architectures", "--dataset",
                       "digits", "--epochs", "1", "--every-n-epochs", "2",
                       "--out", tmp_path / "o")
  assert_one_line_error(rc, err, "every_n_epochs")
  assert not (tmp_path / "o").exists()


def test_train_size_larger_than_the_split_is_refused(tmp_path, capsys):
  rc, _, err = run_cli(capsys, "case-study", "architectures", "--dataset",
                       "digits", "--quick", "--train-size", "100000",
                       "--out", tmp_path / "o")
  assert_one_line_error(rc, err, "train_size", "100000")
  assert not (tmp_path / "o" / "models").exists()
  rc, _, err = run_cli(capsys, "train", "--dataset", "digits",
                       "--train-size", "100000", "--out", tmp_path / "t")
  assert_one_line_error(rc, err, "train_size", "100000")


def test_snn_pool_larger_than_the_split_is_refused(tmp_path, capsys):
  rc, _, err = run_cli(capsys, "case-study", "snn-mia", "--dataset",
                       "digits", "--quick", "--pool-size", "100000",
                       "--out", tmp_path / "o")
  assert_one_line_error(rc, err, "--pool-size", "100000")
  assert not (tmp_path / "o" / "models").exists()


def test_epochs_one_takes_the_cadence_down(tmp_path, capsys, monkeypatch):
  from tfmia.studies import architectures
  seen = []
  def fake_run(config, out, **k):
    seen.append(config)
    raise ValueError("stop here")
  monkeypatch.setattr(architectures, "run", fake_run)
  rc, _, err = run_cli(capsys, "case-study", "architectures", "--dataset",
                       "digits", "--quick", "--epochs", "1", "--out",
                       tmp_path / "o")
  assert_one_line_error(rc, err, "stop here")
  assert (seen[0].epochs, seen[0].every_n_epochs) == (1, 1)
  # The quick sizes are capped to digits' 898 / 899 examples.
  assert (seen[0].train_size, seen[0].test_size) == (898, 899)
