"""Writes one API page per public tfmia module, from its docstrings.

Run by mkdocs-gen-files at build time. It walks tfmia/ as it is on disk, so
moving or adding a module needs no change here. Private modules (`_x.py`) and
package `__init__.py` files are skipped; griffe reads the sources statically,
so the build never imports tfmia or TensorFlow.
"""

from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tfmia"

nav = mkdocs_gen_files.Nav()
nav["Overview"] = "index.md"
modules = []
for path in sorted(PACKAGE.rglob("*.py")):
  rel = path.relative_to(ROOT).with_suffix("")
  parts = rel.parts
  if any(p.startswith("_") for p in parts):   # _tf.py, __init__.py, _private/
    continue
  name = ".".join(parts)
  doc = Path("api", *parts[1:]).with_suffix(".md")
  page = doc.relative_to("api").as_posix()
  nav[parts[1:]] = page
  modules.append((name, page))
  with mkdocs_gen_files.open(doc, "w") as f:
    f.write(f"# `{name}`\n\n::: {name}\n")

with mkdocs_gen_files.open("api/index.md", "w") as f:
  f.write("# API reference\n\n"
          "Generated from the docstrings of every public module under "
          "`tfmia/` (Google style).\n\n")
  f.writelines(f"- [`{name}`]({page})\n" for name, page in modules)

with mkdocs_gen_files.open("api/SUMMARY.md", "w") as f:
  f.writelines(nav.build_literate_nav())
