"""Shared pieces of the reliability tests: the CLI driven in-process, a
small trained run, a read-only folder and a disk that fills up."""

import builtins
import errno
import os
import tempfile

import pytest

from tfmia import cli


def run_cli(capsys, *argv):
  """(exit status, stdout, stderr) of `tfmia *argv`, run in-process."""
  capsys.readouterr()
  rc = cli.main([str(a) for a in argv])
  out = capsys.readouterr()
  return rc, out.out, out.err


def assert_one_line_error(rc, err, *needles):
  """A clean failure: exit status 2 and one line naming each needle."""
  lines = [l for l in err.strip().splitlines() if l.strip()]
  assert rc == 2, err
  assert len(lines) == 1 and "error:" in lines[0], err
  assert "Traceback" not in err
  for n in needles:
    assert str(n) in lines[0], (n, lines[0])


TRAIN = ("train", "--dataset", "digits", "--model", "dense", "--epochs", "2",
         "--train-size", "300", "--test-size", "150", "--every-n-epochs",
         "1", "--batch-size", "64")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
  """A finished `tfmia train` run folder (seconds on digits)."""
  out = tmp_path_factory.mktemp("run") / "run"
  assert cli.main([*TRAIN, "--out", str(out)]) == 0
  return out


@pytest.fixture
def read_only_dir(tmp_path, monkeypatch):
  """A folder nothing can be written in. As root, permissions are not
  enforced, so creating files in it is made to fail the same way."""
  d = tmp_path / "read_only"
  d.mkdir()
  if os.geteuid() == 0:
    real = tempfile.mkstemp

    def mkstemp(*a, dir=None, **k):
      if dir is not None and os.path.realpath(dir).startswith(
          os.path.realpath(d)):
        raise PermissionError(errno.EACCES, "Permission denied")
      return real(*a, dir=dir, **k)
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
  else:
    d.chmod(0o555)
  yield d
  d.chmod(0o755)


class _FullDisk:
  """A file that takes `room` bytes, then fails as a full disk does."""

  def __init__(self, f, room):
    self._f, self._room = f, room

  def write(self, data):
    if len(data) > self._room:
      self._f.write(data[:self._room])
      self._room = 0
      raise OSError(errno.ENOSPC, "No space left on device")
    self._room -= len(data)
    return self._f.write(data)

  def __getattr__(self, name):
    return getattr(self._f, name)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self._f.close()


@pytest.fixture
def full_disk(monkeypatch):
  """Makes every binary file tfmia.infra.io writes (weights) hit a full disk after
  1 kB. Returns a function that frees the space again."""
  from tfmia.infra import io

  def fake_open(path, mode="r", *a, **k):
    f = builtins.open(path, mode, *a, **k)
    return _FullDisk(f, 1024) if "w" in mode else f
  monkeypatch.setattr(io, "open", fake_open, raising=False)
  return lambda: monkeypatch.delattr(io, "open", raising=False)
