"""One run: discover -> fetch -> normalize -> archive. Used by the CLI and the service alike.

A run walks the enabled sites' feeds (listing pages when a feed fails, or for a backfill),
decides which event pages to fetch (new ones, ones the feed says were updated, ones named
on the command line), fetches each politely, normalizes it and hands the capture to the
archive. One page failing never stops the run; a host that blocks or cannot be reached
ends that site's part of the run with a clear reason.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date

from .archive import RUN_COUNTS, Archive, Capture, PageState
from .config import Config, SiteConfig
from .discover import EventRef, FeedEntry, parse_event_url, parse_feed, parse_listing
from .errors import (
    ConfigError,
    FeedError,
    FetchError,
    FetchInterrupted,
    HostBlocked,
    HostUnreachable,
    KremlinArchiveError,
    PageError,
)
from .fetch import Fetcher, Response
from .locks import hold_run_lock
from .normalize import parse_event_page
from .timeutil import stamp_key, utc_now

logger = logging.getLogger(__name__)

#: Failures after which the run (or the site's part of it) cannot go on.
RUN_ENDERS = (HostBlocked, HostUnreachable, FetchInterrupted)
#: What every event page holds; 200 answers without it count for the fetcher's breaker.
EVENT_PAGE_MARK = "<article"


@dataclass(frozen=True)
class CrawlOptions:
    limit: int | None = None  # most event pages fetched in the run
    ids: tuple[int, ...] = ()  # fetch these event ids whatever the archive holds
    urls: tuple[str, ...] = ()  # fetch these event URLs whatever the archive holds
    backfill: int = 0  # walk this many feed / listing pages instead of stopping early
    since: date | None = None  # walk back until entries older than this day
    discover: bool = True  # False: fetch only ids / urls (and rechecks)
    recheck: tuple[tuple[str, int], ...] = ()  # (site, event id) pages to re-fetch
    trigger: str = "manual"


@dataclass
class CrawlResult:
    discovered: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    not_modified: int = 0
    gone: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    stopped: list[str] = field(default_factory=list)  # why a site's part ended early
    requests: int = 0

    def count(self, outcome: str) -> None:
        name = outcome.replace("-", "_")
        setattr(self, name, getattr(self, name) + 1)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.stopped

    def counts(self) -> dict[str, int]:
        return {n: getattr(self, n) for n in RUN_COUNTS}

    def summary(self) -> str:
        unchanged = self.unchanged + self.not_modified
        return (
            f"discovered {self.discovered}, new {self.new}, changed {self.changed}, "
            f"unchanged {unchanged}, gone {self.gone}, failed {self.failed}"
        )


@dataclass
class Crawler:
    """Everything one run needs; ``stop`` is set by a signal handler to end it early."""

    config: Config
    archive: Archive
    fetcher: Fetcher
    now: Callable[[], str] = utc_now
    stop: threading.Event = field(default_factory=threading.Event)
    feed_entries: dict[tuple[str, int], FeedEntry] = field(default_factory=dict)
    states: dict[tuple[str, int], PageState | None] = field(default_factory=dict)

    def run(self, options: CrawlOptions) -> CrawlResult:
        result = CrawlResult()
        self.states.clear()
        for site in self.config.enabled_sites:
            if self.stop.is_set():
                break
            try:
                self._run_site(site, options, result)
            except (HostBlocked, HostUnreachable) as exc:  # the other sites may still answer
                logger.warning("site stopped site=%s reason=%s", site.name, exc)
                result.stopped.append(f"{site.host}: {exc}")
            except FetchInterrupted:
                break
        if self.stop.is_set():
            logger.info("run stopped on request")
            result.stopped.append("stopped on request before the end; the next run resumes")
        result.requests = self.fetcher.requests_sent
        return result

    def _run_site(self, site: SiteConfig, options: CrawlOptions, result: CrawlResult) -> None:
        wanted = self._explicit_refs(site, options)
        if options.discover:
            wanted.extend(self._discover(site, options))
        todo = _unique(wanted)
        result.discovered += len(todo)
        if options.limit is not None:
            todo = todo[: max(0, options.limit - _fetched(result))]
        for ref in todo:
            if self.stop.is_set():
                return
            self._capture(site, ref, result)

    def _explicit_refs(self, site: SiteConfig, options: CrawlOptions) -> list[EventRef]:
        refs = [_ref_for_id(site, event_id) for event_id in options.ids]
        for url in options.urls:
            ref = parse_event_url(url, site.url)
            if ref is not None and _same_site(site, url):
                refs.append(ref)
        for name, event_id in options.recheck:
            if name == site.host:
                state = self._page_state(site, event_id)
                refs.append(EventRef(event_id, state.url if state else "", "news"))
        return [r if r.url else _ref_for_id(site, r.event_id) for r in refs]

    # discovery -------------------------------------------------------------------------

    def _discover(self, site: SiteConfig, options: CrawlOptions) -> list[EventRef]:
        found: list[EventRef] = []
        feed_ok = False
        for path in site.feeds:
            refs = self._walk_feed(site, site.url + path, options)
            feed_ok = feed_ok or refs is not None
            found.extend(refs or ())
        if not feed_ok or options.backfill or options.since:
            for path in site.listings:
                found.extend(self._walk_listing(site, site.url + path, options))
        return found

    def _walk_listing(self, site: SiteConfig, base: str, options: CrawlOptions) -> list[EventRef]:
        """Listing pages by number (BASE, BASE/page/2, …): a page that fails is skipped,
        two failing in a row end the walk, as do the last page and the page budget."""
        refs: list[EventRef] = []
        failures = 0
        for number in range(1, self._page_budget(options) + 1):
            if self.stop.is_set() or failures == 2:
                break
            url = base if number == 1 else f"{base}/page/{number}"
            page = self._try_walk_page(site, url, feed=False)
            if page is None:
                failures += 1
                continue
            failures = 0
            fresh = self._fresh(site, page, options)
            refs.extend(fresh)
            if page.next_url is None or self._walk_ends(page, len(fresh), options):
                break
        return refs

    def _walk_feed(
        self, site: SiteConfig, url: str, options: CrawlOptions
    ) -> list[EventRef] | None:
        """Follow a feed's rel=next from ``url``. None when its first page fails; a later
        page failing ends the walk with what it found."""
        refs: list[EventRef] = []
        for number in range(1, self._page_budget(options) + 1):
            if self.stop.is_set():
                break
            page = self._try_walk_page(site, url, feed=True)
            if page is None:
                return None if number == 1 else refs
            fresh = self._fresh(site, page, options)
            refs.extend(fresh)
            if page.next_url is None or self._walk_ends(page, len(fresh), options):
                break
            url = page.next_url
        return refs

    def _try_walk_page(self, site: SiteConfig, url: str, feed: bool) -> _WalkPage | None:
        """One feed or listing page, or None when it failed (logged); the failures that
        end the run go on up."""
        try:
            return self._fetch_walk_page(site, url, feed)
        except (FeedError, FetchError) as exc:
            if isinstance(exc, RUN_ENDERS):
                raise
            logger.warning("walk page failed site=%s url=%s error=%s", site.name, url, exc)
            return None

    def _fresh(self, site: SiteConfig, page: _WalkPage, options: CrawlOptions) -> list[EventRef]:
        """The page's references to fetch; their feed entries are kept for the capture."""
        fresh = [r for r in page.refs if self._wanted(site, r, page.entries, options)]
        for ref in fresh:
            if ref.event_id in page.entries:
                key = (site.host, ref.event_id)
                self.feed_entries.setdefault(key, page.entries[ref.event_id])
        return fresh

    def _fetch_walk_page(self, site: SiteConfig, url: str, feed: bool) -> _WalkPage:
        response = self.fetcher.fetch(_on_mirror(site, url))
        if response.status != 200:
            raise FeedError(f"{url}: HTTP {response.status}")
        if feed:
            parsed = parse_feed(response.body, response.url, site.url)
            updated = {e.ref.event_id: e for e in parsed.entries}
            return _WalkPage([e.ref for e in parsed.entries], updated, parsed.next_url)
        listing = parse_listing(response.text, response.url, site.url)  # decoded once
        return _WalkPage(listing.refs, {}, listing.next_url)

    def _page_budget(self, options: CrawlOptions) -> int:
        cap = self.config.discover.max_pages
        return min(options.backfill, cap) if options.backfill else cap

    def _walk_ends(self, page: _WalkPage, fresh: int, options: CrawlOptions) -> bool:
        """An incremental walk ends on the first page with nothing to fetch; a --since
        walk on the first page reaching back past the day; a backfill walks its budget."""
        if options.since is not None:
            days = [_entry_day(e) for e in page.entries.values()]
            return any(day is not None and day < options.since for day in days)
        if options.backfill:
            return False
        return fresh == 0

    def _wanted(
        self,
        site: SiteConfig,
        ref: EventRef,
        entries: dict[int, FeedEntry],
        options: CrawlOptions,
    ) -> bool:
        """New pages, and pages whose feed entry says they were updated since."""
        if not self._kind_wanted(ref):
            return False
        entry = entries.get(ref.event_id)
        day = _entry_day(entry) if entry else None
        if options.since is not None and day is not None and day < options.since:
            return False
        state = self._page_state(site, ref.event_id)
        if state is None or state.versions == 0:
            return True
        return entry is not None and _updated_since(entry, state)

    def _kind_wanted(self, ref: EventRef) -> bool:
        if ref.kind == "act":
            return self.config.discover.include_acts
        if ref.kind == "misc":
            return self.config.discover.include_misc
        return True

    def _page_state(self, site: SiteConfig, event_id: int) -> PageState | None:
        """The archive's state of a page as the run found it, read once: discovery asks
        first, then the capture (each page is captured at most once a run)."""
        key = (site.host, event_id)
        if key not in self.states:
            self.states[key] = self.archive.page_state(*key)
        return self.states[key]

    # capture ---------------------------------------------------------------------------

    def _capture(self, site: SiteConfig, ref: EventRef, result: CrawlResult) -> None:
        try:
            capture = self._fetch_capture(site, ref)
        except (HostBlocked, HostUnreachable) as exc:  # the page in hand is a failure too
            self._save(self._base_capture(site, ref, error=str(exc)), result)
            raise
        except KremlinArchiveError:  # FetchInterrupted: the page in hand is not recorded
            raise
        except Exception as exc:  # one bad page is a failed capture, never the run's end
            logger.exception("capture failed url=%s", ref.url)
            error = f"unexpected {type(exc).__name__}: {exc}"
            capture = self._base_capture(site, ref, error=error)
        self._save(capture, result)

    def _save(self, capture: Capture, result: CrawlResult) -> None:
        outcome = self.archive.save_capture(capture)
        if outcome == "error":
            result.failed += 1
            result.failures.append((capture.url, capture.error or "error"))
        else:
            result.count(outcome)
        logger.info("captured url=%s outcome=%s", capture.url, outcome)

    def _base_capture(self, site: SiteConfig, ref: EventRef, **more) -> Capture:
        source = "replica" if site.mirror_url else "live"
        entry = self.feed_entries.get((site.host, ref.event_id))
        return Capture(
            site=site.host, event_id=ref.event_id, url=ref.url, source=source,
            captured_at=self.now(),
            feed_updated=entry.updated if entry else None,
            feed_updated_utc=entry.updated_utc if entry else None,
            **more,
        )  # fmt: skip

    def _fetch_capture(self, site: SiteConfig, ref: EventRef) -> Capture:
        state = self._page_state(site, ref.event_id)
        try:
            response = self.fetcher.fetch(
                _on_mirror(site, ref.url),
                etag=state.etag if state else None,
                last_modified=state.last_modified if state else None,
                expect=EVENT_PAGE_MARK,
            )
        except FetchError as exc:
            if isinstance(exc, RUN_ENDERS):
                raise
            return self._base_capture(site, ref, error=str(exc))
        archived = bool(state and state.versions)
        return _capture_from(response, self._base_capture(site, ref), archived)


def _capture_from(response: Response, base: Capture, archived: bool) -> Capture:
    """The capture of one answer: a version to be, a 304, a gone page, or an error (the
    body of a refused 200 is kept with it, so a later normalizer can read it again)."""
    meta = {"status": response.status, "etag": response.etag}
    meta |= {"last_modified": response.last_modified, "captured_at": response.fetched_at}
    if response.status in (404, 410) and not archived:
        return replace(base, **meta, error=f"HTTP {response.status}: no such page on the site")
    if response.status != 200:
        return replace(base, **meta)
    try:
        transcript = parse_event_page(response.body, base.url)  # decoded as a replay would
    except PageError as exc:
        return replace(base, **meta, body=response.body, error=str(exc))
    if transcript.event_id not in (None, base.event_id):
        error = f"the page holds event {transcript.event_id}, not {base.event_id}"
        return replace(base, **meta, body=response.body, error=error)
    return replace(base, **meta, body=response.body, transcript=transcript)


def check_urls(config: Config, urls: tuple[str, ...]) -> None:
    """Every URL named on the command line must be an event page of an enabled site."""
    for url in urls:
        if not any(
            _same_site(site, url) and parse_event_url(url, site.url) is not None
            for site in config.enabled_sites
        ):
            sites = ", ".join(s.url for s in config.enabled_sites)
            raise ConfigError(f"--url {url}: not an event page of an enabled site ({sites})")


def run_crawl(
    config: Config, options: CrawlOptions, *, stop: threading.Event | None = None
) -> CrawlResult:
    """One whole run with the run lock held and the run recorded in the runs table."""
    check_urls(config, options.urls)
    stop = stop or threading.Event()
    with (
        hold_run_lock(config.database.path, config.schedule.lock_wait),
        Fetcher(config, stop=stop) as fetcher,
    ):
        for site in config.enabled_sites:
            fetcher.check_host(site.fetch_url)  # unreachable: stop before touching the archive
        with Archive(config.database.path, busy_timeout=config.database.busy_timeout) as arc:
            return _recorded_run(Crawler(config, arc, fetcher, stop=stop), options)


def _recorded_run(crawler: Crawler, options: CrawlOptions) -> CrawlResult:
    archive = crawler.archive
    run_id = archive.start_run(options.trigger, utc_now())
    try:
        result = crawler.run(options)
    except BaseException as exc:
        archive.finish_run(run_id, utc_now(), {}, f"{type(exc).__name__}: {exc}")
        raise
    archive.finish_run(run_id, utc_now(), result.counts(), "; ".join(result.stopped) or None)
    return result


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (the page in hand is finished and recorded) instead
    of killing a one-off crawl; the previous handlers come back afterwards."""
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: stop.set()) for s in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _WalkPage:
    """One feed or listing page: its event references, feed entries by id, next page."""

    refs: list[EventRef]
    entries: dict[int, FeedEntry]
    next_url: str | None


def _updated_since(entry: FeedEntry, state: PageState) -> bool:
    """The feed says the page changed after our last capture of it: its <updated> is later
    than the one that capture saw, or, where none was seen, than the capture itself (the
    feed's own clock is the better witness: its times are Moscow wall clock labelled
    +04:00, an hour off UTC since 2014)."""
    if not entry.updated_utc:
        return False
    seen = state.feed_updated_utc or state.last_checked_at or ""
    return stamp_key(entry.updated_utc) > stamp_key(seen)


def _unique(refs: list[EventRef]) -> list[EventRef]:
    seen: dict[int, EventRef] = {}
    for ref in refs:
        seen.setdefault(ref.event_id, ref)
    return list(seen.values())


def _fetched(result: CrawlResult) -> int:
    return sum(result.counts()[k] for k in ("new", "changed", "unchanged", "gone", "failed"))


def _ref_for_id(site: SiteConfig, event_id: int) -> EventRef:
    return EventRef(event_id, f"{site.url}/events/president/news/{event_id}", "news")


def _same_site(site: SiteConfig, url: str) -> bool:
    return url.startswith((site.url, site.fetch_url)) or "://" not in url


def _on_mirror(site: SiteConfig, canonical_url: str) -> str:
    """The address to ask for a canonical URL: the same path on the mirror, if one is set."""
    if canonical_url.startswith(site.url):
        return site.fetch_url + canonical_url[len(site.url) :]
    return canonical_url


def _entry_day(entry: FeedEntry) -> date | None:
    stamp = entry.updated or entry.updated_utc
    try:
        return date.fromisoformat(stamp[:10]) if stamp else None
    except ValueError:
        return None
