"""MkDocs hooks for the tfmia site (listed under `hooks:` in mkdocs.yml).

Docstrings show command lines such as `tfmia audit [--variant V] [--out DIR]`.
Markdown reads two bracketed words in a row as a reference link, and
mkdocs-autorefs then warns that `--variant V` is no cross-reference target,
which --strict turns into a failed build. Those brackets are prose, not links,
so their warnings are dropped here. A real cross-reference names a dotted
Python path (`[AttackResult][tfmia.results.AttackResult]`): when one of those
cannot be resolved, the warning stays and the strict build still fails.
"""

import logging
import re

_TARGET = re.compile(r"Could not find cross-reference target '(?P<ref>.*)'")
_PYTHON_PATH = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")


class _ProseBrackets(logging.Filter):
  """Drops unresolved-reference warnings whose target is not a Python path."""

  def filter(self, record: logging.LogRecord) -> bool:
    match = _TARGET.search(record.getMessage())
    return not (match and not _PYTHON_PATH.fullmatch(match.group("ref")))


def on_startup(*, command, dirty) -> None:
  logger = logging.getLogger("mkdocs.plugins.mkdocs_autorefs._internal.plugin")
  if not any(isinstance(f, _ProseBrackets) for f in logger.filters):
    logger.addFilter(_ProseBrackets())
