"""The tutorials in docs/tutorials run as written: every ```python block of
a page, in order, in one namespace."""

import re
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).parents[1] / "docs" / "tutorials")
                   .glob("*.md"))


def python_blocks(path: Path) -> str:
  return "\n".join(re.findall(r"```python\n(.*?)```", path.read_text(),
                              flags=re.S))


def test_there_are_three_tutorials_each_with_code():
  assert [p.stem for p in TUTORIALS] == ["callback", "own_model", "own_snn"]
  for p in TUTORIALS:
    assert python_blocks(p).strip(), p


@pytest.mark.slow
@pytest.mark.parametrize("page", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs(page, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  code = compile(python_blocks(page), str(page), "exec")
  exec(code, {"__name__": f"tutorial_{page.stem}"})  # pylint: disable=exec-used
