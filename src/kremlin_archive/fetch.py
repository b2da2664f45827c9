"""The only module that talks to the network: session, politeness, retries, conditional GET.

INTERFACE STUB: the fetching issue fills this in; the names below are the contract.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import Config


@dataclass(frozen=True)
class Response:
    url: str  # the URL asked for
    status: int  # 200, 304, 404 or 410 (other statuses raise)
    body: bytes
    text: str  # body decoded by the declared charset ("" for 304)
    etag: str | None
    last_modified: str | None
    fetched_at: str  # ISO-8601 UTC, e.g. 2026-11-27T22:01:02Z
    headers: dict[str, str] = field(default_factory=dict)


class Fetcher:
    """Polite HTTP for one run. ``sleep`` and ``clock`` are injectable so tests never wait."""

    def __init__(
        self,
        config: Config,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.sleep = sleep
        self.clock = clock
        self.requests_sent = 0

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Response:
        """GET ``url`` politely. Returns 200/304/404/410; raises FetchError otherwise."""
        raise NotImplementedError

    def check_host(self, base_url: str) -> None:
        """Make sure the host of ``base_url`` answers at all, before a run touches the
        archive: fetches (and caches) its robots.txt even where robots are not honoured.
        Raises HostUnreachable, naming the host, when nothing comes back after retries."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
