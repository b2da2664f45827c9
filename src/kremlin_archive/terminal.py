"""Terminal output of the command line (only ``cli`` imports this module).

- :func:`progress_bar`: one bar on stderr for a long command, with the log lines printed
  above it (the bar is cleared, the line written, the bar drawn again), never into it. On a
  terminal only; piped, or with ``KREMLIN_ARCHIVE_PROGRESS=never``, there is no bar and the
  log lines stay as they are. ``KREMLIN_ARCHIVE_PROGRESS=always`` draws it anyway.
- :func:`colour_diff`: a unified or word diff with ANSI colours (click.style).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import click

from .errors import ConfigError
from .progress import NO_PROGRESS, Progress

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PROGRESS_ENV = "KREMLIN_ARCHIVE_PROGRESS"
PROGRESS_MODES = ("auto", "always", "never")
BAR_WIDTH = 24
CLEAR_LINE = "\r\x1b[K"


def wants_bar(stream: TextIO) -> bool:
    """A bar on ``stream``: on a terminal (not TERM=dumb), unless the variable says."""
    mode = os.environ.get(PROGRESS_ENV, "auto").strip().lower() or "auto"
    if mode not in PROGRESS_MODES:
        raise ConfigError(
            f"{PROGRESS_ENV} must be one of {', '.join(PROGRESS_MODES)}, got {mode!r}"
        )
    if mode != "auto":
        return mode == "always"
    return _isatty(stream) and os.environ.get("TERM", "") != "dumb"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def format_seconds(seconds: float) -> str:
    """``0:07``, ``12:05``, ``1:02:03``."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Bar:
    """A one-line progress bar: label, bar, done/total, percent, elapsed time, ETA, note.
    Implements :class:`~kremlin_archive.progress.Progress`. Redrawn at most every
    ``interval`` seconds (always when a log line is written above it, and at the end)."""

    def __init__(
        self,
        label: str,
        stream: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
        interval: float = 0.1,
    ) -> None:
        self.label = label
        self.stream = stream
        self.clock = clock
        self.width = width or shutil.get_terminal_size((80, 24)).columns
        self.interval = interval
        self.total = 0
        self.done = 0
        self.note = ""
        self.started = clock()
        self._drawn_at: float | None = None
        self._lock = threading.Lock()

    def add_total(self, items: int) -> None:
        with self._lock:
            self.total += items
            self._draw(force=True)

    def advance(self, items: int = 1, note: str = "") -> None:
        with self._lock:
            self.done += items
            self.note = note or self.note
            self._draw()

    def write_above(self, text: str) -> None:
        """Print ``text`` (a log line) where the bar is, then the bar below it again."""
        with self._lock:
            self.stream.write(CLEAR_LINE + text + "\n")
            self._draw(force=True)

    def close(self) -> None:
        with self._lock:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()

    def render(self) -> str:
        """The bar's line, cut to the terminal's width."""
        elapsed = self.clock() - self.started
        if self.total:
            share = min(1.0, self.done / self.total)
            filled = int(share * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            eta = (
                format_seconds(elapsed / self.done * (self.total - self.done)) if self.done else "?"
            )
            line = f"{self.label} [{bar}] {self.done}/{self.total} {share:4.0%} "
            line += f"{format_seconds(elapsed)} ETA {eta}"
        else:
            line = f"{self.label} {self.done} {format_seconds(elapsed)}"
        if self.note:
            line += f"  {self.note}"
        return line[: max(10, self.width - 1)]

    def _draw(self, force: bool = False) -> None:
        now = self.clock()
        if not force and self._drawn_at is not None and now - self._drawn_at < self.interval:
            return
        self._drawn_at = now
        self.stream.write(CLEAR_LINE + self.render())
        self.stream.flush()


class AboveBarHandler(logging.Handler):
    """A logging handler that writes each record above the bar."""

    def __init__(self, bar: Bar) -> None:
        super().__init__()
        self.bar = bar

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bar.write_above(self.format(record))
        except Exception:  # noqa: BLE001 (logging's own contract: never raise from emit)
            self.handleError(record)


@contextmanager
def progress_bar(label: str, stream: TextIO | None = None) -> Iterator[Progress]:
    """A bar for one long command on a terminal (the log moved above it while it lasts),
    else :data:`NO_PROGRESS` and the log as it was."""
    stream = stream or sys.stderr
    if not wants_bar(stream):
        yield NO_PROGRESS
        return
    bar = Bar(label, stream)
    handler = AboveBarHandler(bar)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [handler]
    try:
        yield bar
    finally:
        root.handlers = saved
        bar.close()


# --------------------------------------------------------------------------- colours

COLOR_MODES = ("auto", "always", "never")


def color_for(mode: str, stream: TextIO) -> bool:
    """Colour on: ``always``; ``auto`` on a terminal unless NO_COLOR is set; never else."""
    if mode == "auto":
        return _isatty(stream) and not os.environ.get("NO_COLOR")
    return mode == "always"


def colour_diff(text: str, word: bool = False) -> str:
    """A diff with colours: file heads bold, hunk heads cyan, removed lines (or, in a
    word diff, ``[-words-]``) red, added lines (``{+words+}``) green."""
    lines = text.split("\n")
    heads = [click.style(line, bold=True) for line in lines[:2]]  # --- A, +++ B
    return "\n".join(heads + [_colour_line(line, word) for line in lines[2:]])


def _colour_line(line: str, word: bool) -> str:
    if line.startswith("@@"):
        return click.style(line, fg="cyan")
    if word:
        return _colour_words(line)
    if line.startswith("-"):
        return click.style(line, fg="red")
    if line.startswith("+"):
        return click.style(line, fg="green")
    return line


def _colour_words(line: str) -> str:
    out: list[str] = []
    rest = line
    while rest:
        start = min((i for i in (rest.find("[-"), rest.find("{+")) if i >= 0), default=-1)
        if start < 0:
            out.append(rest)
            break
        closing, colour = ("-]", "red") if rest.startswith("[-", start) else ("+}", "green")
        end = rest.find(closing, start + 2)
        if end < 0:
            out.append(rest)
            break
        out += [rest[:start], click.style(rest[start : end + 2], fg=colour)]
        rest = rest[end + 2 :]
    return "".join(out)
