import json

import pytest

from tfmia.infra import io


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
  target = tmp_path / "out.json"
  with pytest.raises(RuntimeError):
    with io.atomic_path(target) as tmp:
      tmp.write_text("partial")
      raise RuntimeError("interrupted")
  assert not target.exists()
  assert list(tmp_path.iterdir()) == []


def test_atomic_write_json_replaces(tmp_path):
  target = tmp_path / "a" / "b.json"
  io.atomic_write_json(target, {"x": (1, 2)})
  io.atomic_write_json(target, {"x": 3})
  assert json.loads(target.read_text()) == {"x": 3}
  assert [p.name for p in target.parent.iterdir()] == ["b.json"]
