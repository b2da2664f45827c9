"""How long work reports its progress: a callback object, no printing here.

A crawl, an import, a re-normalization or an export takes a :class:`Progress` and tells it
when more items become known (``add_total``) and when items are done (``advance``, with a
short note on the item). The command line draws a bar from it on a terminal; everywhere
else (piped, in the service, in tests) :data:`NO_PROGRESS` ignores it.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def add_total(self, items: int) -> None:
        """``items`` more items are known to be on the way."""

    def advance(self, items: int = 1, note: str = "") -> None:
        """``items`` items are done (0: only ``note`` changed); ``note`` names the last."""


class NoProgress:
    """A progress that goes nowhere."""

    def add_total(self, items: int) -> None:
        pass

    def advance(self, items: int = 1, note: str = "") -> None:
        pass


NO_PROGRESS: Progress = NoProgress()
