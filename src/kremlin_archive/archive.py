"""The only module that writes the database: migrations, dedup, versions, history.

INTERFACE STUB: the archive issue fills this in; the names below are the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .normalize import Transcript

OUTCOMES = ("new", "changed", "unchanged", "not-modified", "gone", "error")


@dataclass(frozen=True)
class Capture:
    """One fetch attempt of one event page, as the crawl hands it over."""

    site: str  # canonical host, e.g. en.kremlin.ru
    event_id: int
    url: str  # canonical URL
    captured_at: str  # ISO-8601 UTC
    source: str  # "live", "replica" or "import"
    status: int | None = None  # HTTP status; None when nothing came back
    body: bytes | None = None  # raw body as received (200 only)
    etag: str | None = None
    last_modified: str | None = None
    transcript: Transcript | None = None  # set for a 200 that normalized
    error: str | None = None  # set for an error capture


@dataclass(frozen=True)
class PageState:
    site: str
    event_id: int
    url: str
    status: str  # "live" or "gone"
    etag: str | None
    last_modified: str | None
    last_checked_at: str | None
    last_changed_at: str | None
    versions: int


class Archive:
    """One SQLite archive file. Open with ``Archive(path)``; use as a context manager."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)

    def close(self) -> None:
        pass

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save_capture(self, capture: Capture) -> str:
        """Store one capture atomically; returns its outcome (one of OUTCOMES)."""
        raise NotImplementedError

    def page_state(self, site: str, event_id: int) -> PageState | None:
        raise NotImplementedError

    def start_run(self, trigger: str, started_at: str) -> int:
        raise NotImplementedError

    def finish_run(self, run_id: int, finished_at: str, counts: dict[str, int], error: str | None) -> None:
        raise NotImplementedError
