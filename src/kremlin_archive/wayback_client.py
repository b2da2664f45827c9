"""The network side of a Wayback backfill: CDX searches and ``id_`` replays.

Built on EDGI's ``wayback`` package: its ``WaybackSession`` holds the rate limits per
endpoint (CDX searches and replays apart, as the Wayback Machine counts them), retries
connection errors and 5xx answers with backoff, and sends this project's honest
User-Agent; ``WaybackClient.get_memento`` replays a capture and tells a playable memento
from a Wayback error, a redirect to another capture or an excluded site. On top of it,
as ``fetch.py`` does for the site: ``Retry-After`` on a 429 (waited through an injectable
``sleep``, so a stop cuts it short), and the breaker: ``fetch.breaker_threshold``
consecutive 403/429 answers to one endpoint (CDX searches, replays; their limits are
apart) stop the run with ``HostBlocked``.

Two things the package does not do, done here through its session:

- the CDX search itself: ``WaybackClient.search`` reads the space-separated format and
  keeps the resume key to itself, while a backfill must read ``output=json`` and store
  the resume key of each page of results to continue in a later run;
- another server than web.archive.org: the package builds and reads memento URLs on that
  host, so a transport adapter mounted for it sends each request to ``base_url`` (a
  Wayback-compatible server, a fake one in the tests) and gives the answer the URL and
  ``Location`` it would have had on web.archive.org.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import requests
import wayback
from requests.adapters import HTTPAdapter
from wayback.exceptions import (
    BlockedByRobotsError,
    BlockedSiteError,
    MementoPlaybackError,
    NoMementoError,
    RateLimitError,
    WaybackException,
    WaybackRetryError,
)

from .config import Config
from .errors import FetchError, FetchInterrupted, HostBlocked, HostUnreachable

logger = logging.getLogger(__name__)

WAYBACK_ORIGIN = "https://web.archive.org"
CDX_PATH = "/cdx/search/cdx"
CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
REFUSALS = (403, 429)


@dataclass(frozen=True)
class CdxRow:
    """One capture the CDX index lists."""

    urlkey: str
    timestamp: str  # 14 digits, UTC
    original: str  # the URL captured
    mimetype: str
    statuscode: str
    digest: str  # base-32 SHA-1 of the payload
    length: str


@dataclass(frozen=True)
class CdxPage:
    rows: list[CdxRow]
    resume_key: str | None  # None on the last page


@dataclass(frozen=True)
class Replay:
    """A capture's original answer as the ``id_`` replay gives it back."""

    memento_url: str  # on the server asked (base_url)
    status: int  # the status the site answered at capture time
    headers: list[tuple[str, str]]  # the site's headers at capture time
    body: bytes


class ReplayRefused(FetchError):
    """The Wayback server could not give this capture's original answer."""


def parse_cdx_json(text: str) -> CdxPage:
    """Rows of an ``output=json`` answer: a header row, rows, and with
    ``showResumeKey`` an empty row and the resume key last. ValueError when unreadable."""
    data = json.loads(text) if text.strip() else []
    if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
        raise ValueError("not a JSON list of rows")
    resume_key = None
    if len(data) >= 2 and data[-2] == [] and len(data[-1]) == 1:
        resume_key, data = str(data[-1][0]), data[:-2]
    if not data:
        return CdxPage([], resume_key)
    header, rows = data[0], data[1:]
    missing = [name for name in CDX_FIELDS if name not in header]
    if missing:
        raise ValueError(f"the header row lacks {', '.join(missing)}")
    index = [header.index(name) for name in CDX_FIELDS]
    return CdxPage([CdxRow(*(str(row[i]) for i in index)) for row in rows], resume_key)


def memento_url(base_url: str, timestamp: str, original: str) -> str:
    """The ``id_`` replay address of a capture on ``base_url``."""
    return f"{base_url}/web/{timestamp}id_/{original}"


class _BaseUrlAdapter(HTTPAdapter):
    """Sends requests for web.archive.org to ``base`` and answers as if from there."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        asked = request.url
        request.url = self.base + asked[len(WAYBACK_ORIGIN) :]
        try:
            response = super().send(request, **kwargs)
        finally:
            request.url = asked
        response.url = asked
        location = response.headers.get("Location", "")
        if location.startswith(self.base):
            response.headers["Location"] = WAYBACK_ORIGIN + location[len(self.base) :]
        return response


class WaybackFetcher:
    """Polite requests to one Wayback server for one run. ``sleep`` is injectable."""

    def __init__(
        self,
        config: Config,
        *,
        base_url: str | None = None,
        delay: float | None = None,
        sleep: Callable[[float], object] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.base_url = (base_url or config.wayback.base_url).rstrip("/")
        self.stop = stop or threading.Event()
        self.sleep = sleep or self.stop.wait
        self.requests_sent = 0
        self._refusals: dict[str, int] = {}  # consecutive 403/429 by endpoint (cdx, replay)
        self._last_answer: tuple[int, str | None] = (0, None)
        self.session = _new_session(config, self.base_url, delay)
        self.session.hooks["response"].append(self._note_answer)
        self.client = wayback.WaybackClient(self.session)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> WaybackFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # CDX ---------------------------------------------------------------------------------

    def search(
        self,
        prefix: str,
        resume_key: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> CdxPage:
        """One page of the 200 HTML captures of URLs under ``prefix`` (host and path)."""
        params: list[tuple[str, str]] = [
            ("url", prefix),
            ("matchType", "prefix"),
            ("output", "json"),
            ("filter", "statuscode:200"),
            ("filter", "mimetype:text/html"),
            ("limit", str(self.config.wayback.page_size)),
            ("showResumeKey", "true"),
        ]
        if since is not None:
            params.append(("from", since.strftime("%Y%m%d")))
        if until is not None:
            params.append(("to", until.strftime("%Y%m%d")))
        if resume_key:
            params.append(("resumeKey", resume_key))
        response = self._send(lambda: self.session.get(WAYBACK_ORIGIN + CDX_PATH, params=params))
        where = f"{self.base_url}{CDX_PATH} for {prefix}"
        if response.status_code != 200:
            raise FetchError(f"{where}: HTTP {response.status_code}", where)
        try:
            return parse_cdx_json(response.text)
        except ValueError as exc:
            raise FetchError(f"{where}: unreadable CDX answer ({exc})", where) from None

    # replay ------------------------------------------------------------------------------

    def replay(self, timestamp: str, original: str) -> Replay:
        """The original answer of one capture (``id_`` mode, redirects not followed).
        ReplayRefused names why a capture cannot be played back."""
        asked = memento_url(self.base_url, timestamp, original)
        try:
            memento = self._send(
                lambda: self.client.get_memento(
                    original, timestamp, mode=wayback.Mode.original, follow_redirects=False
                )
            )
        except (MementoPlaybackError, NoMementoError, BlockedSiteError, BlockedByRobotsError) as e:
            raise ReplayRefused(self._refusal_reason(e), asked) from None
        except WaybackException as exc:
            raise FetchError(f"{asked}: {exc}", asked) from None
        with memento:
            body = memento.content
            headers = [(name, value) for name, value in memento.headers.items()]
            return Replay(asked, memento.status_code, headers, body)

    def _refusal_reason(self, exc: Exception) -> str:
        status, location = self._last_answer
        if 300 <= status < 400:
            target = (location or "").replace(WAYBACK_ORIGIN, "")
            return f"the Wayback server redirects to another capture (HTTP {status} to {target})"
        return f"the Wayback server cannot replay it: {_wayback_reason(exc)}"

    # politeness --------------------------------------------------------------------------

    def _send(self, call: Callable):
        """One call through the session: a 429 waits its Retry-After (or the backoff) and
        is tried again, ``fetch.retries`` times."""
        attempt = 0
        while True:
            if self.stop.is_set():
                raise FetchInterrupted("stopped before sending a request")
            try:
                return call()
            except RateLimitError as exc:
                if attempt >= self.config.fetch.retries:
                    raise HostBlocked(f"{self.base_url} rate-limits us (HTTP 429)") from None
                self._wait(exc.retry_after, attempt)
                attempt += 1
            except (WaybackRetryError, requests.ConnectionError) as exc:
                raise HostUnreachable(f"{self.base_url} unreachable: {exc}") from None

    def _note_answer(self, response: requests.Response, *args, **kwargs) -> requests.Response:
        """Every answer, retries included (a session hook): counted, and seen by the
        breaker, which ``fetch.breaker_threshold`` consecutive 403/429 open."""
        self.requests_sent += 1
        self._last_answer = (response.status_code, response.headers.get("Location"))
        endpoint = "cdx" if urlsplit(response.url).path.startswith("/cdx") else "replay"
        if response.status_code not in REFUSALS:
            self._refusals[endpoint] = 0
            return response
        refusals = self._refusals[endpoint] = self._refusals.get(endpoint, 0) + 1
        logger.warning(
            "wayback refused endpoint=%s status=%s in_a_row=%d",
            endpoint, response.status_code, refusals,
        )  # fmt: skip
        if refusals >= max(1, self.config.fetch.breaker_threshold):
            response.close()
            raise HostBlocked(
                f"{self.base_url} blocked: {refusals} consecutive 403/429 answers to {endpoint} "
                "requests; wait before the next backfill (it resumes where this one stopped)"
            )
        return response

    def _wait(self, retry_after: float | None, attempt: int) -> None:
        wait = max(retry_after or 0.0, self.config.fetch.backoff * (2**attempt))
        wait = min(wait, self.config.fetch.max_backoff)
        logger.warning("wayback rate limit: waiting %.1f s before retrying", wait)
        self.sleep(wait)
        if self.stop.is_set():
            raise FetchInterrupted("stopped while waiting to send a request")


def _new_session(config: Config, base_url: str, delay: float | None) -> wayback.WaybackSession:
    """The package's session with our User-Agent, retries and rate limits. ``delay``
    (``--delay``) is the shortest gap between two requests; 0 lifts the limits."""
    cdx, replay = config.wayback.cdx_per_second, config.wayback.memento_per_second
    if delay is not None:
        per_second = 1 / delay if delay > 0 else 0
        cdx = min(cdx, per_second) if per_second else 0
        replay = per_second
    session = wayback.WaybackSession(
        retries=config.fetch.retries,
        backoff=config.fetch.backoff,
        timeout=config.fetch.timeout,
        user_agent=config.fetch.user_agent,
        search_calls_per_second=wayback.RateLimit(cdx),
        memento_calls_per_second=wayback.RateLimit(replay),
    )
    session.trust_env = False  # like fetch.py: proxies from fetch.proxy only
    if config.fetch.proxy:
        session.proxies = {"http": config.fetch.proxy, "https": config.fetch.proxy}
    if base_url != WAYBACK_ORIGIN:
        session.mount(WAYBACK_ORIGIN + "/", _BaseUrlAdapter(base_url))
    return session


def _wayback_reason(exc: Exception) -> str:
    text = str(exc)
    return text.replace(WAYBACK_ORIGIN, "").strip() or type(exc).__name__
