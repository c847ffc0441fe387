"""Faults of the machine: a full disk, a read-only output folder, the umask,
and a run killed with SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import TRAIN, assert_one_line_error, run_cli
from tfmia.infra import io


def _leftovers(folder):
  """Temporary files of atomic writes (".name.XXXX.suffix")."""
  return [p for p in folder.rglob(".*") if p.is_file()]


@pytest.mark.slow
def test_full_disk_during_reference_train(tmp_path, capsys, full_disk):
  from tfmia import references
  from tfmia_testing import tiny_reference_config
  cfg = tiny_reference_config(tmp_path / "refs", epochs=1)
  path = tmp_path / "cfg.json"
  io.atomic_write_json(path, cfg)
  rc, _, err = run_cli(capsys, "reference", "train", "--config", path,
                       "--no-progress")
  assert_one_line_error(rc, err, "No space left on the device while writing",
                        "target/model.weights.h5")
  assert _leftovers(tmp_path / "refs") == []
  assert not (tmp_path / "refs" / "target" / "done.json").exists()
  full_disk()   # space is freed: the rerun finishes everything
  rc, out, err = run_cli(capsys, "reference", "train", "--config", path,
                         "--no-progress")
  assert rc == 0, err
  assert "Trained 3, skipped 0" in out
  assert references.status(cfg)[1] == []


def test_full_disk_while_saving_a_weights_file(tmp_path, full_disk):
  from tfmia import models
  from tfmia.training import loop
  model = models.build_model("dense", (8, 8, 1), 10, depth=1)
  with pytest.raises(io.NoSpaceError, match="m.weights.h5"):
    loop.save_weights(model, tmp_path / "m.weights.h5")
  assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [
    ("attack", "--logits", "LOGITS", "--out", "RO"),
    ("audit", "--config", "CFG", "--out", "RO"),
    ("train", "--dataset", "digits", "--out", "RO"),
    ("case-study", "architectures", "--dataset", "digits", "--quick",
     "--out", "RO"),
])
def test_read_only_output_fails_before_any_work(tmp_path, capsys,
                                                read_only_dir, monkeypatch,
                                                argv):
  from tfmia.audits import audit
  from tfmia import data
  from tfmia.infra import io as tio
  logits = tmp_path / "o.npz"
  tio.atomic_save_npz(logits, logits=np.zeros((4, 2)), labels=np.zeros(4, int),
                      is_member=np.array([1, 0, 1, 0], bool))
  cfg = tmp_path / "cfg.json"
  cfg.write_text("{}")
  def no_work(*a, **k):
    raise AssertionError("work started before the output was checked")
  for mod, name in ((audit, "attack_logits_file"),
                    (audit, "audit_reference_folder"),
                    (data, "prepare_data"), (data, "load_dataset")):
    monkeypatch.setattr(mod, name, no_work)
  sub = {"LOGITS": logits, "CFG": cfg, "RO": read_only_dir / "out"}
  rc, _, err = run_cli(capsys, *[sub.get(a, a) for a in argv])
  assert_one_line_error(rc, err, "not writable", read_only_dir)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664),
                                          (0o077, 0o600)])
def test_written_files_respect_the_umask(tmp_path, umask, mode):
  from tfmia import models
  from tfmia.training import loop
  old = os.umask(umask)
  try:
    io.atomic_write_json(tmp_path / "a.json", {"x": 1})
    io.atomic_save_npz(tmp_path / "b.npz", x=np.zeros(2))
    loop.save_weights(models.build_model("dense", (8, 8, 1), 10, depth=1),
                      tmp_path / "c.weights.h5")
  finally:
    os.umask(old)
  for name in ("a.json", "b.npz", "c.weights.h5"):
    assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_is_complete_and_identical(tmp_path):
  """`tfmia train` killed with SIGKILL mid-training leaves no done marker
  and no temporary files; the rerun gives what an uninterrupted run does."""
  train = [a if a != "2" else "12" for a in TRAIN]    # --epochs 12
  argv = [sys.executable, "-m", "tfmia.cli", *train]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  killed = tmp_path / "killed"
  proc = subprocess.Popen(argv + ["--out", str(killed)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  # Killed as soon as the first epoch is on disk: mid-run, with a finished
  # epoch behind it and 11 to go (each takes about 0.1 s on 2 cores).
  first_epoch = killed / "privacy" / "epoch_0001.json"
  deadline = time.time() + 120
  while not first_epoch.exists() and time.time() < deadline:
    assert proc.poll() is None, "the run ended before its first epoch"
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert first_epoch.exists()
  assert not (killed / "done.json").exists()
  # The rerun and the uninterrupted run: here, as `tfmia train` does them.
  from tfmia import cli
  for out in (killed, tmp_path / "clean"):
    assert cli.main([*train, "--out", str(out)]) == 0
  assert _leftovers(killed) == []
  assert sorted(p.name for p in (killed / "privacy").iterdir()) == sorted(
      p.name for p in (tmp_path / "clean" / "privacy").iterdir())
  for name in ("privacy/epoch_0012.json", "history.json"):
    assert (json.loads((killed / name).read_text())
            == json.loads((tmp_path / "clean" / name).read_text())), name
