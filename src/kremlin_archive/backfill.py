"""One Wayback backfill: CDX discovery -> replay -> check -> normalize -> archive.

For each site and each section prefix (``wayback.prefixes``: news, transcripts, trips),
the CDX index is read page by page (``output=json``, 200 HTML captures only); the resume
key of the page in hand is stored after each page, so a run cut short continues there.
Each row goes through, cheapest first:

1. the URL rules: only an event page's own address (no ``/print``, ``/photos``, query,
   ``by-date`` or ``copy``), and with ``--id`` only those events; the rest is noise;
2. already archived (a capture of that page at that time with its body): nothing to do;
3. the CDX digest (base-32 SHA-1 of the payload) is a body the archive holds for the page:
   archived again from the stored body, without a request;
4. else the ``id_`` replay, then the checks: a Wayback error page, a redirect, a block or
   challenge page, a body that is no event page or another event's page is refused with
   the reason (a capture of outcome "error", its body kept, never a version).

A capture is saved at its capture time (source ``wayback``, ``source_url`` the memento
URL): the archive places it in the page's history in capture-time order, whatever came
before. The same event under ``news/ID`` and ``transcripts/ID`` is one page.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from http import HTTPStatus
from urllib.parse import urlsplit

from .archive import Archive, Capture
from .chronology import save_capture
from .config import Config, SiteConfig
from .decoding import decode_html
from .discover import EventRef, parse_event_url
from .errors import (
    ConfigError,
    FetchError,
    FetchInterrupted,
    HostBlocked,
    HostUnreachable,
    PageError,
)
from .fetch import Response, looks_blocked
from .locks import hold_run_lock
from .normalize import Transcript, parse_event_page
from .timeutil import format_utc, utc_now
from .urls import site_host
from .wayback_client import CdxRow, Replay, WaybackFetcher, memento_url

logger = logging.getLogger(__name__)

SOURCE = "wayback"
RUN_ENDERS = (HostBlocked, HostUnreachable, FetchInterrupted)
_WAYBACK_PAGE_MARKERS = ("<title>wayback machine</title>", "the wayback machine has not archived")


@dataclass(frozen=True)
class BackfillOptions:
    site: str | None = None  # "en" or "ru"; None: every enabled site
    ids: tuple[int, ...] = ()  # only these events
    since: date | None = None
    until: date | None = None
    limit: int | None = None  # most replays requested
    trigger: str = "wayback"


@dataclass
class BackfillResult:
    listed: int = 0  # CDX rows of event pages
    noise: int = 0  # CDX rows dropped by the URL rules
    known: int = 0  # archived before: nothing done
    reused: int = 0  # digest held: archived from the stored body, no request
    fetched: int = 0  # replays requested
    outcomes: dict[str, int] = field(default_factory=dict)  # new / changed / unchanged
    refused: list[tuple[str, str]] = field(default_factory=list)  # (memento URL, reason)
    stopped: list[str] = field(default_factory=list)
    requests: int = 0

    @property
    def ok(self) -> bool:
        return not self.stopped

    def summary(self) -> str:
        kept = ", ".join(f"{k} {self.outcomes.get(k, 0)}" for k in ("new", "changed", "unchanged"))
        return (
            f"listed {self.listed} (noise {self.noise} dropped), already archived "
            f"{self.known}, fetched {self.fetched}, from stored bodies {self.reused}; "
            f"{kept}, refused {len(self.refused)}; requests {self.requests}"
        )

    def counts(self) -> dict[str, int]:
        kept = {k: self.outcomes.get(k, 0) for k in ("new", "changed", "unchanged")}
        return {"discovered": self.listed, **kept, "failed": len(self.refused)}


@dataclass
class Backfill:
    """Everything one backfill needs; ``stop`` is set by a signal handler to end it."""

    config: Config
    archive: Archive
    fetcher: WaybackFetcher
    options: BackfillOptions
    stop: threading.Event = field(default_factory=threading.Event)
    result: BackfillResult = field(default_factory=BackfillResult)

    def run(self) -> BackfillResult:
        try:
            for site in backfill_sites(self.config, self.options.site):
                for prefix in self._prefixes():
                    if self._done():
                        break
                    self._walk(site, prefix)
        except RUN_ENDERS as exc:
            logger.warning("backfill stopped reason=%s", exc)
            self.result.stopped.append(str(exc))
        if self.stop.is_set() and not self.result.stopped:
            self.result.stopped.append("stopped on request; the next run resumes")
        self.result.requests = self.fetcher.requests_sent
        return self.result

    def _prefixes(self) -> list[str]:
        """The section prefixes, or with --id each event's address under each section."""
        prefixes = self.config.wayback.prefixes
        if not self.options.ids:
            return list(prefixes)
        return [f"{p.rstrip('/')}/{event_id}" for event_id in self.options.ids for p in prefixes]

    def _done(self) -> bool:
        limit = self.options.limit
        return self.stop.is_set() or (limit is not None and self.result.fetched >= limit)

    # CDX pages ---------------------------------------------------------------------------

    def _walk(self, site: SiteConfig, prefix: str) -> None:
        """Every page of one CDX query from where it stopped; the resume key moves on
        once a page is done, and is forgotten when the query is."""
        query = self._query_key(site, prefix)
        resume = self.archive.wayback_cursor(query)
        since, until = self.options.since, self.options.until
        while not self._done():
            page = self.fetcher.search(site.host + prefix, resume, since, until)
            for row in page.rows:
                if self._done():
                    return  # the cursor stays on this page: the next run reads it again
                self._take(site, row)
            self.archive.save_wayback_cursor(query, page.resume_key)
            if page.resume_key is None:
                return
            resume = page.resume_key

    def _query_key(self, site: SiteConfig, prefix: str) -> str:
        since, until = self.options.since, self.options.until
        return f"{site.host}{prefix} from={since or ''} to={until or ''}"

    # one capture ----------------------------------------------------------------------------

    def _take(self, site: SiteConfig, row: CdxRow) -> None:
        ref = capture_ref(row.original, site)
        if ref is None or (self.options.ids and ref.event_id not in self.options.ids):
            self.result.noise += 1
            return
        self.result.listed += 1
        captured_at = wayback_time(row.timestamp)
        if self.archive.has_body_capture(site.host, ref.event_id, captured_at, SOURCE):
            self.result.known += 1
            return
        where = memento_url(self.fetcher.base_url, row.timestamp, row.original)
        base = Capture(
            site=site.host, event_id=ref.event_id, url=ref.url, captured_at=captured_at,
            source=SOURCE, source_url=where,
        )  # fmt: skip
        held = self.archive.raw_with_digest(site.host, ref.event_id, row.digest)
        if held is not None:
            self.result.reused += 1
            body = self.archive.raw_body(held)
            self._save(build_capture(base, 200, body, None, ref))
            return
        self._fetch(base, row, ref)

    def _fetch(self, base: Capture, row: CdxRow, ref: EventRef) -> None:
        self.result.fetched += 1
        try:
            replay = self.fetcher.replay(row.timestamp, row.original)
        except FetchError as exc:  # ReplayRefused among them: tried again by the next run
            if isinstance(exc, RUN_ENDERS):
                raise
            self._save(replace(base, error=str(exc)))
            return
        self._save(build_capture(base, replay.status, replay.body, replay, ref))

    def _save(self, capture: Capture) -> None:
        outcome = save_capture(self.archive, capture)
        if outcome == "error":
            self.result.refused.append((capture.source_url or capture.url, capture.error or ""))
        else:
            self.result.outcomes[outcome] = self.result.outcomes.get(outcome, 0) + 1
        logger.info(
            "wayback capture url=%s at=%s outcome=%s", capture.url, capture.captured_at, outcome
        )


# --- pure helpers ---------------------------------------------------------------------------


def capture_ref(original: str, site: SiteConfig) -> EventRef | None:
    """The event a CDX row's URL is the page of, on ``site``; None for noise: another host,
    a query, a tab (/print, /photos, /videos), a listing (by-date, page/N) or a copy."""
    parts = urlsplit(original)
    if site_host(original) != site_host(site.url) or parts.query:
        return None
    ref = parse_event_url(parts.path, site.url)
    if ref is None or ref.kind != "event":
        return None
    own_path = urlsplit(ref.url).path
    return ref if parts.path.rstrip("/") == own_path else None


def wayback_time(timestamp: str) -> str:
    """``20200827160944`` -> ``2020-08-27T16:09:44Z`` (CDX times are UTC)."""
    return format_utc(datetime.strptime(timestamp[:14], "%Y%m%d%H%M%S"))


def build_capture(
    base: Capture, status: int, body: bytes, replay: Replay | None, ref: EventRef
) -> Capture:
    """The capture of one replayed (or stored) body: a page to version, or refused with
    the reason and its body kept."""
    more: dict = {"status": status, "body": body}
    if replay is not None:
        more |= {"fetched_url": replay.memento_url, "http_headers": _headers_json(replay)}
    reason = refusal(status, body, replay, ref)
    if reason is not None:
        return replace(base, **more, error=reason)
    try:
        transcript = parse_event_page(body, ref.url)
    except PageError as exc:
        return replace(base, **more, error=f"not an event page: {exc}")
    reason = other_page(transcript, ref)
    if reason is not None:
        return replace(base, **more, error=reason)
    url = transcript.url if _same_event_url(transcript, ref) else ref.url
    return replace(base, **more, url=url, transcript=transcript)


def refusal(status: int, body: bytes, replay: Replay | None, ref: EventRef) -> str | None:
    """Why a replayed answer is not a capture of the page: a redirect or another status,
    a Wayback Machine error page, a block or challenge page. None when it may be one."""
    if 300 <= status < 400:
        return f"a redirect (HTTP {status}) captured, not the page"
    if status != 200:
        return f"an HTTP {status} answer captured, not the page"
    content_type = dict((k.lower(), v) for k, v in (replay.headers if replay else []))
    content_type = content_type.get("content-type", "text/html")
    text = decode_html(body, content_type)
    head = text[:4000].lower()
    if any(marker in head for marker in _WAYBACK_PAGE_MARKERS):
        return "a Wayback Machine error page, not the capture"
    fake = Response(ref.url, 200, body, text, None, None, "", {"content-type": content_type})
    marker = looks_blocked(fake)
    if marker:
        return f"a block or challenge page ({marker!r}) captured, not the page"
    return None


def other_page(transcript: Transcript, ref: EventRef) -> str | None:
    if transcript.event_id not in (None, ref.event_id):
        return f"another URL's page: the capture holds event {transcript.event_id}"
    return None


def _same_event_url(transcript: Transcript, ref: EventRef) -> bool:
    if not transcript.url:
        return False
    return urlsplit(transcript.url).netloc == urlsplit(ref.url).netloc


def _headers_json(replay: Replay) -> str:
    try:
        phrase = HTTPStatus(replay.status).phrase
    except ValueError:
        phrase = ""
    line = f"HTTP/1.1 {replay.status} {phrase}".strip()
    return json.dumps({"status_line": line, "headers": [list(h) for h in replay.headers]})


def backfill_sites(config: Config, name: str | None) -> Iterator[SiteConfig]:
    """The site named (enabled or not: asking for it is enough), else the enabled ones."""
    if name is None:
        yield from config.enabled_sites
        return
    for site in config.sites:
        if site.name == name:
            yield site
            return
    known = ", ".join(s.name for s in config.sites)
    raise ConfigError(f"--site {name}: no such site (known: {known})")


def run_backfill(
    config: Config,
    options: BackfillOptions,
    *,
    base_url: str | None = None,
    delay: float | None = None,
    stop: threading.Event | None = None,
) -> BackfillResult:
    """One whole backfill with the run lock held and the run recorded in the runs table."""
    list(backfill_sites(config, options.site))  # a wrong --site fails before anything
    if base_url is not None and urlsplit(base_url).scheme not in ("http", "https"):
        raise ConfigError(f"--base-url must be an http(s) URL, got {base_url!r}")
    stop = stop or threading.Event()
    with (
        hold_run_lock(config.database.path, config.schedule.lock_wait),
        WaybackFetcher(config, base_url=base_url, delay=delay, stop=stop) as fetcher,
        Archive(config.database.path, busy_timeout=config.database.busy_timeout) as archive,
    ):
        run_id = archive.start_run(options.trigger, utc_now())
        backfill = Backfill(config, archive, fetcher, options, stop=stop)
        try:
            result = backfill.run()
        except BaseException as exc:
            archive.finish_run(run_id, utc_now(), backfill.result.counts(), f"{exc}")
            raise
        archive.finish_run(run_id, utc_now(), result.counts(), "; ".join(result.stopped) or None)
    return result
