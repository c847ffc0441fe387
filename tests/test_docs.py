import pytest
"""The documentation: the site builds strictly, and the README stays a short
front door whose links all resolve."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 300

# [text](target) and ![alt](target); the target ends at whitespace or ')'.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
  env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
  proc = subprocess.run(
      [sys.executable, "-m", "mkdocs", "build", "--strict",
       "--site-dir", str(tmp_path / "site")],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, (
      f"mkdocs build --strict failed (rc {proc.returncode}):\n{proc.stderr}")
  assert (tmp_path / "site" / "index.html").is_file()
  assert (tmp_path / "site" / "api" / "index.html").is_file()


def _readme_links():
  text = README.read_text(encoding="utf-8")
  text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
  text = re.sub(r"`[^`\n]*`", "", text)
  return [m.group(1) for m in _LINK.finditer(text)]


def test_readme_is_short():
  lines = README.read_text(encoding="utf-8").splitlines()
  assert len(lines) <= MAX_README_LINES, (
      f"README.md has {len(lines)} lines; at most {MAX_README_LINES}: move "
      "details to docs/.")


def test_readme_relative_links_exist():
  links = _readme_links()
  assert links, "README.md should link to the docs"
  missing = []
  for target in links:
    if _EXTERNAL.match(target):
      continue
    path = target.split("#", 1)[0].split("?", 1)[0]
    if path and not (README.parent / path).exists():
      missing.append(target)
  assert not missing, f"README.md links to missing files: {missing}"


def test_readme_link_parser_on_known_cases():
  sample = ("[a](docs/x.md) ![b](docs/img/y.png) [c](https://e.org/z) "
            "[d](#top) [e](docs/x.md#part)")
  assert [m.group(1) for m in _LINK.finditer(sample)] == [
      "docs/x.md", "docs/img/y.png", "https://e.org/z", "#top",
      "docs/x.md#part"]
