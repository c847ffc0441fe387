"""Progress lines of long work (which model is being made, which unit ran).

Library code never prints: it says progress here, on the `tfmia.progress`
logger. The command line shows these lines on stdout (`show()`); in your own
code, call `show()` too, or configure logging as you like.
"""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger("tfmia.progress")


def say(message: str) -> None:
  """One progress line."""
  logger.info(message)


def show(stream=None) -> None:
  """Prints progress lines, as they come, on `stream` (the current
  sys.stdout by default). Calling it again moves them to the new stream; it
  never prints a line twice."""
  for h in logger.handlers:
    if getattr(h, "_tfmia_progress", False):
      h.setStream(stream or sys.stdout)   # e.g. a replaced sys.stdout
      return
  handler = logging.StreamHandler(stream or sys.stdout)
  handler.setFormatter(logging.Formatter("%(message)s"))
  handler._tfmia_progress = True
  logger.addHandler(handler)
  logger.setLevel(logging.INFO)
  logger.propagate = False


def hide() -> None:
  """Stops printing progress lines (what `show` started)."""
  for h in list(logger.handlers):
    if getattr(h, "_tfmia_progress", False):
      logger.removeHandler(h)
  logger.setLevel(logging.WARNING)
