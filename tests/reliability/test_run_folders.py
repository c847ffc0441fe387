"""A run folder holds one run: resumed with the same settings, refused with
others, replaced only with --overwrite; never marked done before it is all
written; corrupted units redone, saying which file and why."""

import json
import shutil

import pytest

from conftest import TRAIN, assert_one_line_error, run_cli
from tfmia.infra import store


def _copy(run, tmp_path):
  dst = tmp_path / "run"
  shutil.copytree(run, dst)
  return dst


def test_done_marker_covers_every_output(trained_run):
  done = json.loads((trained_run / "done.json").read_text())
  assert set(done["sha256"]) == {
      "model.weights.h5", "history.json", "privacy/epoch_0001.json",
      "privacy/epoch_0001.npz", "privacy/epoch_0002.json",
      "privacy/epoch_0002.npz"}
  assert done["bytes"]["model.weights.h5"] == (
      trained_run / "model.weights.h5").stat().st_size


def test_same_settings_resume_without_training(trained_run, tmp_path, capsys):
  run = _copy(trained_run, tmp_path)
  before = (run / "model.weights.h5").read_bytes()
  rc, out, _ = run_cli(capsys, *TRAIN, "--out", run)
  assert rc == 0 and "already holds this run, complete" in out
  assert (run / "model.weights.h5").read_bytes() == before


def test_other_settings_refused_naming_the_difference(trained_run, tmp_path,
                                                      capsys):
  run = _copy(trained_run, tmp_path)
  files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
  argv = [a if a != "2" else "3" for a in TRAIN]   # --epochs 3
  rc, _, err = run_cli(capsys, *argv, "--out", run)
  assert_one_line_error(rc, err, "train.epochs: 2 -> 3", "--overwrite")
  assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files


@pytest.mark.slow
def test_overwrite_clears_the_old_run(trained_run, tmp_path, capsys):
  run = _copy(trained_run, tmp_path)
  (run / "privacy" / "epoch_0009.json").write_text("{}")  # a stale leftover
  argv = [a if a != "2" else "1" for a in TRAIN]   # --epochs 1
  rc, _, _ = run_cli(capsys, *argv, "--out", run, "--overwrite")
  assert rc == 0
  assert sorted(p.name for p in (run / "privacy").iterdir()) == [
      "epoch_0001.json", "epoch_0001.npz"]
  assert json.loads((run / "config.json").read_text())["train"]["epochs"] == 1


@pytest.mark.slow
def test_killed_run_leaves_no_stale_epochs(trained_run, tmp_path, capsys):
  """A run killed before its done marker is trained again from scratch;
  per-epoch files of the killed attempt are not mixed in."""
  run = _copy(trained_run, tmp_path)
  (run / "done.json").unlink()
  (run / "privacy" / "epoch_0007.json").write_text("{}")
  rc, out, err = run_cli(capsys, *TRAIN, "--out", run)
  assert rc == 0, err
  assert "already holds" not in out
  assert not (run / "privacy" / "epoch_0007.json").exists()
  assert store.unit_problem(run / "done.json", json.loads(
      (run / "done.json").read_text())["fingerprint"]) is None


@pytest.mark.parametrize("damage, reason", [
    (lambda r: (r / "model.weights.h5").write_bytes(
        (r / "model.weights.h5").read_bytes()[:500]), "truncated: 500 of"),
    (lambda r: (r / "history.json").write_text('{"loss": [1.0'),
     "history.json differs"),
    (lambda r: (r / "privacy" / "epoch_0002.npz").write_bytes(b"PK\x03"),
     "epoch_0002.npz differs"),
    (lambda r: (r / "done.json").write_text("garbage{"), "unreadable"),
])
@pytest.mark.slow
def test_corrupted_unit_is_redone_saying_why(trained_run, tmp_path, capsys,
                                             caplog, damage, reason):
  run = _copy(trained_run, tmp_path)
  damage(run)
  rc, out, err = run_cli(capsys, *TRAIN, "--out", run)
  assert rc == 0, err
  assert "already holds" not in out
  assert reason in caplog.text
  # Intact again, and the same numbers as the first time (seeded).
  assert (json.loads((run / "privacy" / "epoch_0002.json").read_text())
          == json.loads((trained_run / "privacy" / "epoch_0002.json")
                        .read_text()))


def test_attack_refuses_an_incomplete_run(trained_run, tmp_path, capsys):
  run = _copy(trained_run, tmp_path)
  data = (run / "model.weights.h5").read_bytes()
  (run / "model.weights.h5").write_bytes(data[:len(data) // 2])
  rc, _, err = run_cli(capsys, "attack", "--run", run)
  assert_one_line_error(rc, err, "model.weights.h5", "truncated")


@pytest.mark.slow
def test_bad_model_option_writes_nothing(tmp_path, capsys):
  out = tmp_path / "run"
  rc, _, err = run_cli(capsys, *TRAIN, "--out", out,
                       "--width-multiplier", "0.5")
  assert_one_line_error(rc, err, "width_multiplier")
  assert not out.exists()
  # Fixed, it trains in the same folder: nothing stale was left to refuse.
  rc, _, err = run_cli(capsys, *TRAIN, "--out", out)
  assert rc == 0, err


def test_bad_kwargs_leave_no_reference_folder(tmp_path):
  from tfmia import references
  from tfmia_testing import tiny_reference_config
  cfg = tiny_reference_config(tmp_path / "refs").replace(
      model_kwargs={"depth": 1, "width_multiplier": 2.0})
  with pytest.raises(ValueError, match="does not take width_multiplier"):
    references.train_references(cfg, progress=False)
  assert not (tmp_path / "refs").exists()
  cfg = cfg.replace(model_kwargs={"depth": "two"})
  with pytest.raises(ValueError, match="`depth` must be a positive int"):
    references.train_references(cfg, progress=False)
  assert not (tmp_path / "refs").exists()


def test_reference_status_agrees_with_train(tmp_path, capsys):
  from tfmia.infra import io
  from tfmia_testing import tiny_reference_config
  cfg = tiny_reference_config(tmp_path / "refs")
  path = tmp_path / "cfg.json"
  io.atomic_write_json(path, cfg)
  rc, _, err = run_cli(capsys, "reference", "status", "--config", path)
  assert_one_line_error(rc, err, "No reference folder here", "refs")
  (tmp_path / "refs").mkdir()
  io.atomic_write_json(tmp_path / "refs" / "config.json",
                       cfg.replace(seed=5))
  rc, _, err = run_cli(capsys, "reference", "status", "--config", path)
  assert_one_line_error(rc, err, "different configuration", "seed: 5 -> 0")
  rc, _, err = run_cli(capsys, "reference", "train", "--config", path)
  assert_one_line_error(rc, err, "different configuration", "seed: 5 -> 0")
