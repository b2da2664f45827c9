"""The only module that talks to the network: session, politeness, retries, conditional GET.

One ``Fetcher`` per run holds one ``requests.Session`` and the politeness state per host:
the time of the last request (the next one waits ``delay`` + up to ``jitter`` seconds),
the parsed robots.txt (fetched once), and the circuit breaker (``breaker_threshold``
consecutive 403/429 answers, as many 200 answers in a row without what the page must hold
(``expect``: an event page's ``<article``), or one captcha/challenge page, open it for
good: every later request to that host raises ``HostBlocked`` without touching the network).

Only the configured hosts (each site's canonical and mirror address) are fetched.
Redirects are followed by hand, on the same host and over http(s) only, at most
``MAX_REDIRECTS`` times. Connection errors, timeouts, cut bodies, 5xx and 429 are retried
``retries`` times, waiting ``backoff`` seconds doubled each time (``Retry-After`` when
longer), never more than ``max_backoff``. Each request has an overall ``deadline``: a body
still coming after it is given up (``ResponseTooSlow``, not retried), and a stop request
cuts a body read short. robots.txt (RFC 9309): its first 500 KiB are parsed whatever its
size; a 4xx or an unreachable robots.txt allows everything; a 5xx after the retries, or
one followed by no answer at all, disallows everything (2.3.1.4).

Proxies are resolved once per ``Fetcher``, per host: ``fetch.proxy`` if set, else the
environment's (``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY``, honouring ``NO_PROXY``).
The session does not trust the environment (``trust_env = False``): ``requests`` would
otherwise read it again on every request (about 0.5 ms each). A CA bundle named by
``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` is still used.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import requests
from urllib3.exceptions import (
    DecodeError,
    NameResolutionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from .config import Config, FetchConfig
from .decoding import decode_html
from .errors import (
    FetchError,
    FetchInterrupted,
    ForeignRedirect,
    HostBlocked,
    HostUnreachable,
    HTTPStatusError,
    ResponseTooLarge,
    ResponseTooSlow,
    RobotsDisallowed,
    TruncatedResponse,
)
from .timeutil import utc_now
from .urls import url_host

logger = logging.getLogger(__name__)

PAGE_STATUSES = frozenset((200, 304, 404, 410))
RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))
REFUSAL_STATUSES = frozenset((403, 429))
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
MAX_REDIRECTS = 5
CHUNK_BYTES = 64 * 1024
SNIFF_BYTES = 8192
CHALLENGE_MARKERS = (
    "ddos-guard",
    "captcha",
    "checking your browser",
    "access denied",
    "are you a robot",
    "cf-chl-",
    "just a moment...",
)
ROBOTS_PARSED_BYTES = 500 * 1024  # RFC 9309 2.5: parse at least the first 500 KiB
CHALLENGE_MAX_BYTES = 20_000  # below this, a marker anywhere counts; above, only in <title>

_HTTP_VERSIONS = {9: "HTTP/0.9", 10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2", 30: "HTTP/3"}
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


@dataclass(frozen=True)
class Response:
    url: str  # the URL asked for
    status: int  # 200, 304, 404 or 410 (other statuses raise)
    body: bytes
    text: str  # body decoded by the declared charset ("" for 304)
    etag: str | None
    last_modified: str | None
    fetched_at: str  # ISO-8601 UTC, e.g. 2026-11-27T22:01:02Z
    headers: dict[str, str] = field(default_factory=dict)  # names lowered, for lookups
    status_line: str = ""  # as received, e.g. "HTTP/1.1 200 OK"
    header_list: tuple[tuple[str, str], ...] = ()  # (name, value) as received, in order
    fetched_url: str = ""  # the URL of the request that answered (after redirects)


class _Transient(Exception):
    """A failure worth retrying: nothing, or not all, came back."""

    def __init__(self, reason: str, truncated: bool = False) -> None:
        super().__init__(reason)
        self.truncated = truncated


@dataclass(frozen=True)
class _Raw:
    status: int
    headers: dict[str, str]
    body: bytes
    status_line: str = ""
    header_list: tuple[tuple[str, str], ...] = ()
    url: str = ""


class Fetcher:
    """Polite HTTP for one run. ``sleep`` and ``clock`` are injectable so tests never wait;
    ``rng`` draws the jitter."""

    def __init__(
        self,
        config: Config,
        *,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.settings: FetchConfig = config.fetch
        self.stop = stop or threading.Event()
        self.sleep = sleep or self.stop.wait  # a stop cuts a wait short
        self.clock = clock
        self.rng = rng or random.Random()
        self.requests_sent = 0
        self.session = _new_session(self.settings.user_agent)
        self.hosts = _configured_hosts(config)
        proxy = self.settings.proxy
        self._proxies = {host: _proxies_for(o, proxy) for host, o in self.hosts.items()}
        self._last_request: dict[str, float] = {}
        self._robots: dict[str, RobotFileParser] = {}
        self._refusals: dict[str, int] = {}
        self._misses: dict[str, int] = {}  # consecutive 200s without the expected text
        self._server_error: int | None = None
        self._blocked: dict[str, str] = {}

    # the public side ---------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        expect: str | None = None,
    ) -> Response:
        """GET ``url`` politely. Returns 200/304/404/410; raises FetchError otherwise.

        ``expect``: text every real page at this URL holds (``<article`` for an event
        page). A 200 HTML answer without it counts for the breaker like a refusal, and
        one of them with a challenge marker anywhere opens the breaker at once."""
        self._check_allowed(url)
        headers = _conditional_headers(etag, last_modified)
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            self._check_robots(current)
            raw = self._get(current, headers)
            if raw.status not in REDIRECT_STATUSES:
                return self._finish(url, raw, expect)
            current = self._redirect_target(current, raw)
        raise HTTPStatusError(f"more than {MAX_REDIRECTS} redirects from {url}", url, 310)

    def check_host(self, base_url: str) -> None:
        """Make sure the host of ``base_url`` answers at all, before a run touches the
        archive: fetches (and caches) its robots.txt even where robots are not honoured.
        Raises HostUnreachable, naming the host, when nothing comes back after retries."""
        self._check_allowed(base_url)
        self._robots_for(base_url, strict=True)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # hosts, robots, redirects ------------------------------------------------------------

    def _check_allowed(self, url: str) -> None:
        host = url_host(url)
        if host not in self.hosts:
            known = ", ".join(sorted(self.hosts))
            raise FetchError(f"{url}: host {host} is not a configured site ({known})", url)
        if host in self._blocked:
            raise HostBlocked(f"{host} blocked: {self._blocked[host]}", url)

    def _check_robots(self, url: str) -> None:
        if not self.settings.robots:
            return
        robots = self._robots_for(url, strict=False)
        if not robots.can_fetch(self.settings.user_agent, url):
            raise RobotsDisallowed(f"robots.txt of {url_host(url)} disallows {url}", url)

    def _robots_for(self, url: str, *, strict: bool) -> RobotFileParser:
        host = url_host(url)
        if host not in self._robots:
            self._robots[host] = self._fetch_robots(_origin(url) + "/robots.txt", strict)
        return self._robots[host]

    def _fetch_robots(self, robots_url: str, strict: bool) -> RobotFileParser:
        parser = RobotFileParser(robots_url)
        try:
            raw = self._get(robots_url, {}, keep=ROBOTS_PARSED_BYTES)
            for _ in range(MAX_REDIRECTS):
                if raw.status not in REDIRECT_STATUSES:
                    break
                robots_url = self._redirect_target(robots_url, raw)
                raw = self._get(robots_url, {}, keep=ROBOTS_PARSED_BYTES)
        except (HostUnreachable, TruncatedResponse) as exc:
            if self._server_error is not None:  # a 5xx, then nothing: the server is failing
                logger.warning(
                    "robots failed url=%s status=%s then error=%s: disallowing all",
                    robots_url, self._server_error, exc,
                )  # fmt: skip
                parser.disallow_all = True
                return parser
            if strict and isinstance(exc, HostUnreachable):
                raise
            logger.warning("robots unreachable url=%s error=%s: allowing all", robots_url, exc)
            parser.allow_all = True
            return parser
        except FetchInterrupted:
            raise
        except FetchError as exc:  # a foreign redirect, an undecodable or too slow body
            logger.warning("robots unreadable url=%s error=%s: allowing all", robots_url, exc)
            parser.allow_all = True
            return parser
        return _parse_robots(parser, raw)

    def _redirect_target(self, url: str, raw: _Raw) -> str:
        location = raw.headers.get("location")
        if not location:
            raise HTTPStatusError(f"{url}: redirect without Location", url, raw.status)
        target = urljoin(url, location)
        scheme = urlsplit(target).scheme.lower()
        if scheme not in ("http", "https"):
            raise ForeignRedirect(
                f"{url} redirects to a {scheme or 'scheme-less'}: URL, not followed: {target}",
                url,
            )
        if url_host(target) != url_host(url):
            raise ForeignRedirect(f"{url} redirects to another host: {target}", url)
        logger.info("redirected url=%s to=%s status=%s", url, target, raw.status)
        return target

    # one GET with retries ----------------------------------------------------------------

    def _get(self, url: str, headers: dict[str, str], keep: int | None = None) -> _Raw:
        """One GET, retried on transient failures; the breaker sees every answer. ``keep``:
        read only the first ``keep`` bytes of the body, whatever its size. The last 5xx
        retried is left in ``_server_error`` (None when there was none)."""
        host = url_host(url)
        attempt = 0
        self._server_error = None
        while True:
            try:
                raw = self._send(url, headers, keep)
            except _Transient as exc:
                if attempt >= self.settings.retries:
                    raise _gave_up(url, host, exc, attempt) from None
                self._wait_retry(url, attempt, str(exc), None)
                attempt += 1
                continue
            self._note_answer(url, host, raw.status)
            if raw.status in RETRY_STATUSES and attempt < self.settings.retries:
                self._server_error = raw.status if raw.status >= 500 else self._server_error
                retry_after = _retry_after(raw.headers.get("retry-after"))
                self._wait_retry(url, attempt, f"HTTP {raw.status}", retry_after)
                attempt += 1
                continue
            return raw

    def _wait_retry(self, url: str, attempt: int, reason: str, retry_after: float | None) -> None:
        wait = self.settings.backoff * (2**attempt)
        if retry_after is not None:
            wait = max(wait, retry_after)
        wait = min(wait, self.settings.max_backoff)
        logger.warning(
            "retrying url=%s attempt=%d wait=%.1f reason=%s", url, attempt + 1, wait, reason
        )
        self._pause(wait)

    def _pause(self, seconds: float) -> None:
        """Wait, unless a stop is asked for: then no further request is sent."""
        self.sleep(seconds)
        if self.stop.is_set():
            raise FetchInterrupted("stopped while waiting to send a request")

    def _note_answer(self, url: str, host: str, status: int) -> None:
        if status not in REFUSAL_STATUSES:
            self._refusals[host] = 0
            return
        self._refusals[host] = self._refusals.get(host, 0) + 1
        if self._refusals[host] >= max(1, self.settings.breaker_threshold):
            self._block(url, host, f"{self._refusals[host]} consecutive 403/429 answers")

    def _block(self, url: str, host: str, reason: str) -> None:
        self._blocked[host] = reason
        logger.warning("host blocked host=%s reason=%s", host, reason)
        raise HostBlocked(f"{host} blocked: {reason}", url)

    def _send(self, url: str, headers: dict[str, str], keep: int | None = None) -> _Raw:
        host = url_host(url)
        self._wait_turn(host)
        self.requests_sent += 1
        deadline = time.monotonic() + self.settings.deadline  # real time, whatever the clock
        try:
            response = self._open(url, host, headers)
        finally:
            self._last_request[host] = self.clock()
        try:
            body = self._read_body(url, response, deadline, keep)
        finally:
            response.close()
            self._last_request[host] = self.clock()
        headers = {k.lower(): v for k, v in response.headers.items()}
        return _Raw(response.status_code, headers, body, *_as_received(response), url)

    def _open(self, url: str, host: str, headers: dict[str, str]) -> requests.Response:
        """Send the request and read the status line and headers (not the body)."""
        wait = min(self.settings.timeout, self.settings.deadline)
        try:
            return self.session.get(
                url,
                headers=headers,
                timeout=wait,
                allow_redirects=False,
                stream=True,
                proxies=self._proxies[host],
            )
        except requests.Timeout as exc:
            raise _Transient(f"no answer within {wait:g}s ({exc})") from None
        except requests.ConnectionError as exc:
            if _name_unresolved(exc):  # no network or no DNS: retrying will not help
                raise HostUnreachable(
                    f"{host} unreachable: its name does not resolve (no network, or no DNS);"
                    " check the connection, or reach the site through fetch.proxy or"
                    " --base-url",
                    url,
                ) from None
            raise _Transient(f"connection failed ({_short(exc)})") from None

    def _wait_turn(self, host: str) -> None:
        last = self._last_request.get(host)
        if last is None:
            return
        gap = self.settings.delay + self.rng.uniform(0, self.settings.jitter)
        wait = last + gap - self.clock()
        if wait > 0:
            self._pause(wait)

    def _read_body(
        self, url: str, response: requests.Response, deadline: float, keep: int | None = None
    ) -> bytes:
        """The body, as it comes (``read1``: no read waits for a whole chunk), cut short
        by the size cap, the request's deadline and a stop request; with ``keep``, its
        first ``keep`` bytes (a larger body is not an error then)."""
        cap = self.settings.max_bytes
        declared = _content_length(response)
        if keep is None and declared is not None and declared > cap:
            raise ResponseTooLarge(f"{url}: Content-Length {declared} > {cap} bytes", url)
        chunks, size = [], 0
        try:
            while chunk := response.raw.read1(CHUNK_BYTES, decode_content=True):
                size += len(chunk)
                if keep is not None and size >= keep:
                    chunks.append(chunk[: len(chunk) - (size - keep)])
                    logger.info("body cut url=%s kept=%d bytes", url, keep)
                    return b"".join(chunks)
                if keep is None and size > cap:
                    raise ResponseTooLarge(f"{url}: body passed {cap} bytes", url)
                chunks.append(chunk)
                self._check_reading(url, size, deadline)
        except DecodeError as exc:
            encoding = response.headers.get("Content-Encoding", "?")
            raise FetchError(
                f"{url}: the body does not decode as Content-Encoding {encoding} ({_short(exc)})",
                url,
            ) from None
        except (ProtocolError, ReadTimeoutError, SSLError, OSError) as exc:
            raise _Transient(f"body cut ({_short(exc)})", True) from None
        body = b"".join(chunks)
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        if declared is not None and not encoded and len(body) < declared:
            raise _Transient(f"body cut: {len(body)} of {declared} bytes", True)
        return body

    def _check_reading(self, url: str, size: int, deadline: float) -> None:
        if self.stop.is_set():
            raise FetchInterrupted(f"stopped while reading {url} ({size} bytes in)", url)
        if time.monotonic() > deadline:
            raise ResponseTooSlow(
                f"{url}: still coming after fetch.deadline = {self.settings.deadline:g}s "
                f"({size} bytes in); a server that slow is not waited for",
                url,
            )

    # the answer --------------------------------------------------------------------------

    def _finish(self, url: str, raw: _Raw, expect: str | None = None) -> Response:
        logger.debug("fetched url=%s status=%s bytes=%d", url, raw.status, len(raw.body))
        if raw.status not in PAGE_STATUSES:
            raise HTTPStatusError(f"{url}: HTTP {raw.status}", url, raw.status)
        text = "" if raw.status == 304 else decode_html(raw.body, raw.headers.get("content-type"))
        response = Response(
            url=url,
            status=raw.status,
            body=raw.body,
            text=text,
            etag=raw.headers.get("etag"),
            last_modified=raw.headers.get("last-modified"),
            fetched_at=utc_now(),
            headers=raw.headers,
            status_line=raw.status_line,
            header_list=raw.header_list,
            fetched_url=raw.url or url,
        )
        missing = _lacks(response, expect)
        marker = looks_blocked(response, anywhere=missing)
        if marker:
            self._block(url, url_host(url), f"challenge page ({marker!r}) instead of {url}")
        if expect and response.status == 200:
            self._note_content(url, url_host(url), missing, expect)
        return response

    def _note_content(self, url: str, host: str, missing: bool, expect: str) -> None:
        """Count the 200 answers in a row that lack what the page must hold: a block or
        challenge page without a known marker looks like that."""
        self._misses[host] = self._misses.get(host, 0) + 1 if missing else 0
        if self._misses[host] >= max(1, self.settings.breaker_threshold):
            reason = f"{self._misses[host]} answers in a row without {expect} (a block page?)"
            self._block(url, host, reason)


# --- helpers ------------------------------------------------------------------------------


def looks_blocked(response: Response, anywhere: bool = False) -> str | None:
    """The challenge marker of a 200 captcha / DDoS-protection / access-denied page, or
    None. Only clear signals: a marker in the <title>, or anywhere in a small HTML page
    or (``anywhere``) in a page that lacks what it should hold."""
    if response.status != 200 or "html" not in response.headers.get("content-type", "html"):
        return None
    text = response.text
    title = _TITLE.search(text[:SNIFF_BYTES])
    where = title[1] if title else ""
    if anywhere or len(response.body) < CHALLENGE_MAX_BYTES:
        where = text
    lowered = where.lower()
    return next((m for m in CHALLENGE_MARKERS if m in lowered), None)


def _lacks(response: Response, expect: str | None) -> bool:
    """A 200 HTML answer without ``expect`` (case-blind) in its text."""
    if not expect or response.status != 200:
        return False
    if "html" not in response.headers.get("content-type", "html"):
        return False
    return expect.lower() not in response.text.lower()


def _as_received(response: requests.Response) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The status line and the headers of an answer as the server sent them, as far as
    urllib3 keeps them: names spelt as sent, in the order sent, except that a repeated
    header comes grouped at the place (and with the spelling) of its first occurrence."""
    raw = response.raw
    version = _HTTP_VERSIONS.get(getattr(raw, "version", 11), "HTTP/1.1")
    status_line = f"{version} {response.status_code} {response.reason or ''}".rstrip()
    items = raw.headers.iteritems() if hasattr(raw, "headers") else response.headers.items()
    return status_line, tuple(items)


def _parse_robots(parser: RobotFileParser, raw: _Raw) -> RobotFileParser:
    if raw.status == 200:
        lines = decode_html(raw.body, raw.headers.get("content-type")).splitlines()
        if len(raw.body) >= ROBOTS_PARSED_BYTES and lines:
            lines.pop()  # the body was cut: its last line may be half of one
        parser.parse(lines)
    elif raw.status >= 500:
        logger.warning("robots failed url=%s status=%s: disallowing all", parser.url, raw.status)
        parser.disallow_all = True
    else:
        parser.allow_all = True
    return parser


def _name_unresolved(exc: requests.ConnectionError) -> bool:
    """The connection failed because the host name does not resolve."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NameResolutionError)


def _gave_up(url: str, host: str, exc: _Transient, attempt: int) -> FetchError:
    tries = f"after {attempt + 1} attempt{'s' if attempt else ''}"
    if exc.truncated:
        return TruncatedResponse(f"{url}: {exc} {tries}", url)
    return HostUnreachable(f"{host} unreachable: {exc} {tries}", url)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _content_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _new_session(user_agent: str) -> requests.Session:
    """A session that reads nothing from the environment per request (see the docstring)."""
    session = requests.Session()
    session.headers.update({"User-Agent": user_agent})
    session.trust_env = False
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    return session


def _proxies_for(origin: str, proxy: str) -> dict[str, str]:
    """The proxies for requests to ``origin``: ``fetch.proxy`` for every host, else the
    environment's unless NO_PROXY names the host."""
    if proxy:
        return {"http": proxy, "https": proxy}
    return requests.utils.get_environ_proxies(origin)


def _short(exc: Exception) -> str:
    return type(exc).__name__ if not str(exc) else str(exc)[:200]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _configured_hosts(config: Config) -> dict[str, str]:
    """The host (as ``url_host`` gives it) and origin of each site's URL and mirror URL."""
    urls = [u for s in config.sites for u in (s.url, s.mirror_url) if u]
    return {url_host(u): _origin(u) for u in urls}
