"""One run: discover -> fetch -> normalize -> archive. Used by the CLI and the service alike.

A run walks the enabled sites' feeds (listing pages where a feed fails), decides which
event pages to fetch (new ones, ones the feed says were updated, ones named on the command
line), fetches each politely, normalizes it and hands the capture to the archive. What a
walk finds, and where a walk that stopped early stands, is kept in the archive's frontier
first, so the next run finishes what this one could not. One page failing never stops the
run; a host that blocks or cannot be reached ends that site's part of the run with a clear
reason.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date

from .archive import (
    GONE_STATUSES,
    RUN_COUNTS,
    Archive,
    Capture,
    FrontierEntry,
    PageState,
    WalkState,
    render_http_headers,
)
from .chronology import save_capture
from .config import Config, SiteConfig
from .discover import (
    EventRef,
    FeedEntry,
    by_date_url,
    entry_day,
    numbered_page_url,
    page_number,
    parse_event_url,
    parse_feed,
    parse_listing,
    sibling_page_url,
)
from .errors import (
    ArchiveError,
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
from .progress import NO_PROGRESS, Progress
from .timeutil import stamp_key, utc_now

logger = logging.getLogger(__name__)

#: Failures after which the run (or the site's part of it) cannot go on.
RUN_ENDERS = (HostBlocked, HostUnreachable, FetchInterrupted)
#: What every event page holds; 200 answers without it count for the fetcher's breaker.
EVENT_PAGE_MARK = "<article"
#: Failed captures after which the frontier lets a found page go (a walk that sees it in
#: the feed again finds it again).
MAX_ATTEMPTS = 3


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
    scan_pages: int = 1  # feed pages an incremental walk reads at least, for <updated>


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
    walk_failures: list[tuple[str, str]] = field(default_factory=list)  # feed/listing pages
    notes: list[str] = field(default_factory=list)  # a walk kept for the next run, a cap
    walk_pages: int = 0  # feed and listing pages read
    cut_walks: list[str] = field(default_factory=list)  # where walks stopped at a failure
    requests: int = 0

    def count(self, outcome: str) -> None:
        name = outcome.replace("-", "_")
        setattr(self, name, getattr(self, name) + 1)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.stopped and not self.walk_failures

    def problems(self) -> list[str]:
        """What went wrong beyond failed event pages, as the runs table records it."""
        pages = [f"walk page failed {url}: {reason}" for url, reason in self.walk_failures]
        return self.stopped + pages

    def counts(self) -> dict[str, int]:
        return {n: getattr(self, n) for n in RUN_COUNTS}

    def summary(self) -> str:
        unchanged = self.unchanged + self.not_modified
        return (
            f"discovered {self.discovered}, new {self.new}, changed {self.changed}, "
            f"unchanged {unchanged}, gone {self.gone}, failed {self.failed}"
        ) + self._walk_summary()

    def _walk_summary(self) -> str:
        if not self.walk_failures:
            return ""
        pages = len(self.walk_failures)
        what = f"{pages} feed/listing page{'s' if pages > 1 else ''} failed"
        how = "discovery ended early" if self.cut_walks else "walked on by the listing"
        return f"; {what}, {how}"


@dataclass
class Crawler:
    """Everything one run needs; ``stop`` is set by a signal handler to end it early."""

    config: Config
    archive: Archive
    fetcher: Fetcher
    now: Callable[[], str] = utc_now
    stop: threading.Event = field(default_factory=threading.Event)
    progress: Progress = NO_PROGRESS  # told of the pages to fetch and of each one done
    states: dict[tuple[str, int], PageState | None] = field(default_factory=dict)
    frontier: dict[tuple[str, int], FrontierEntry] = field(default_factory=dict)

    def run(self, options: CrawlOptions) -> CrawlResult:
        result = CrawlResult()
        self.states.clear()
        self.frontier.clear()
        for site in self.config.enabled_sites:
            if self.stop.is_set():
                break
            try:
                self._run_site(site, options, result)
            except (HostBlocked, HostUnreachable) as exc:  # the other sites may still answer
                logger.warning("site stopped site=%s reason=%s", site.name, exc)
                result.stopped.append(f"{site.host} stopped: {exc}")
            except FetchInterrupted:
                break
        if self.stop.is_set():
            logger.info("run stopped on request")
            result.stopped.append(
                "stopped on request before the end; the next run goes on from where this one "
                "stopped"
            )
        result.requests = self.fetcher.requests_sent
        return result

    def _run_site(self, site: SiteConfig, options: CrawlOptions, result: CrawlResult) -> None:
        self._load_frontier(site)  # any capture of a page settles its entry
        wanted = self._explicit_refs(site, options)
        if options.discover:
            self._discover(site, options, result)
            wanted.extend(self._frontier_refs(site, options))
        todo = _unique(wanted)
        result.discovered += len(todo)
        self.archive.count_discovered(len(todo))
        if options.limit is not None:
            todo = todo[: max(0, options.limit - _fetched(result))]
        self.progress.add_total(len(todo))
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
    # A walk reads feed pages (listing pages where the feed fails) from a position to an
    # end: known ground (a page with nothing new), the last page, its page count (a
    # backfill, a first walk), or the day of --since. Everything it finds to fetch goes
    # into the archive's frontier first; a walk that stops before its end (the page
    # budget, --limit, a stop request, a page that failed) keeps its position there, and
    # the next runs go on from it after a look at the newest pages.

    def _discover(self, site: SiteConfig, options: CrawlOptions, result: CrawlResult) -> None:
        saved = self.archive.frontier_walks(site.host)
        first = not saved and not self.archive.has_pages(site.host)
        budget = _Budget(self.config.discover.max_pages)
        walks = self._head_walks(site, options, saved, first) + _resumed(saved, options)
        self._cap_note(options, result)
        read_before, cut_before = result.walk_pages, len(result.cut_walks)
        for walk in walks:
            self._walk(site, walk, options, budget, result)
        cut = result.cut_walks[cut_before:]
        if cut and result.walk_pages == read_before:
            result.stopped.append(
                f"discovery of {site.host} failed: no feed or listing page could be read"
            )
        elif cut:
            where = ", ".join(cut)
            result.stopped.append(
                f"discovery of {site.host} ended early at {where}; the next run goes on there"
            )

    def _head_walks(
        self, site: SiteConfig, options: CrawlOptions, saved: list[WalkState], first: bool
    ) -> list[WalkState]:
        """The walks from the newest page: one per feed (per listing where none is set);
        a --backfill or --since walk unless one of that kind is saved (it goes on)."""
        kind, end, since = "incremental", None, None
        if options.since is not None:
            kind, since = "since", options.since.isoformat()
        elif options.backfill:
            kind, end = "backfill", options.backfill
        if kind != "incremental" and any(w.kind == kind for w in saved):
            kind, end, since = "incremental", None, None
        if kind == "incremental" and first:
            end = self.config.discover.max_pages  # an empty archive: the newest pages
        starts = [(site.url + p, "feed") for p in site.feeds]
        starts = starts or [(site.url + p, "listing") for p in site.listings]
        now = self.now()
        return [
            WalkState(site.host, kind, source, url, 1, end, since, started_at=now)
            for url, source in starts
        ]

    def _cap_note(self, options: CrawlOptions, result: CrawlResult) -> None:
        cap = self.config.discover.max_pages
        if options.backfill > cap:
            result.notes.append(
                f"--backfill {options.backfill} is capped at {cap} pages a run by "
                f"discover.max_pages: this run walks {cap}, and the next runs (crawl, or the "
                "service) go on from where it stops; raise discover.max_pages to walk more "
                "in one run"
            )

    def _walk(
        self,
        site: SiteConfig,
        walk: WalkState,
        options: CrawlOptions,
        budget: _Budget,
        result: CrawlResult,
    ) -> None:
        # a walk picking up at an uncertain position (saved, or moved onto the listing)
        # ends on known ground only once it reaches back past the day it had reached
        saved = walk if walk.id is not None else None
        resume_day = saved.oldest_day if saved else None
        walk = _overlapping(saved) if saved else walk
        checks_limit = saved is not None  # the head walk always reads its first page
        while True:
            # a kept walk gets past the page it stopped at, whatever the budget
            behind = saved is not None and walk.number <= saved.number
            keep = saved if behind else walk
            reason = self._pause_reason(walk, options, budget, checks_limit, not behind)
            if reason is not None:
                return self._keep_walk(keep, reason, result, failed=False)
            checks_limit = True
            budget.left -= 1
            try:
                read = self._read_walk_page(site, walk, result)
            except RUN_ENDERS as exc:
                self._keep_walk(keep, str(exc) or type(exc).__name__, result, failed=False)
                raise
            if read is None:
                return self._keep_walk(keep, "the page failed", result, failed=True)
            moved, page = read
            if moved.source != walk.source:
                resume_day = walk.oldest_day
            result.walk_pages += 1
            new = self._take_fresh(site, page, _since(walk, options))
            walk = _advanced(moved, page)
            if _walk_done(walk, page, new, resume_day, options.scan_pages):
                return self._end_walk(walk)

    def _pause_reason(
        self,
        walk: WalkState,
        options: CrawlOptions,
        budget: _Budget,
        checks_limit: bool,
        checks_budget: bool,
    ) -> str | None:
        if self.stop.is_set():
            return "stopped on request"
        if checks_budget and budget.left <= 0:
            return f"discover.max_pages ({self.config.discover.max_pages}) pages read"
        pending = sum(1 for key in self.frontier if key[0] == walk.site)
        if checks_limit and options.limit is not None and pending >= options.limit:
            return f"the pages found fill --limit {options.limit}"
        return None

    def _keep_walk(self, walk: WalkState, reason: str, result: CrawlResult, failed: bool) -> None:
        """Keep the position of a walk that stops before its end, and say so."""
        where = f"{walk.source} page {walk.number} ({walk.next_url})"
        if failed:
            result.cut_walks.append(where)
        if walk.kind == "incremental" and walk.number == 1 and walk.id is None:
            return  # the next run's walk from the newest page is this one
        self.archive.save_frontier_walk(replace(walk, reason=reason), self.now())
        logger.info("walk kept site=%s kind=%s at=%s why=%s", walk.site, walk.kind, where, reason)
        if not failed:
            note = f"the {walk.kind} walk stopped at {where}: {reason}; the next run goes on there"
            result.notes.append(note)

    def _end_walk(self, walk: WalkState) -> None:
        if walk.id is not None:
            self.archive.drop_frontier_walk(walk.id)
        logger.info("walk done site=%s kind=%s last=%s", walk.site, walk.kind, walk.number - 1)

    def _read_walk_page(
        self, site: SiteConfig, walk: WalkState, result: CrawlResult
    ) -> tuple[WalkState, _WalkPage] | None:
        """The walk's next page, or where the feed fails, the listing page that takes
        over (``_listing_fallbacks``). None when none could be read (each failure is kept
        in the result)."""
        page = self._try_walk_page(site, walk.next_url, walk.source == "feed", result)
        if page is not None:
            return walk, page
        for fallback in _listing_fallbacks(site, walk):
            logger.info("walk goes on by the listing site=%s url=%s", site.name, fallback.next_url)
            page = self._try_walk_page(site, fallback.next_url, False, result)
            if page is not None:
                return fallback, page
        return None

    def _try_walk_page(
        self, site: SiteConfig, url: str, feed: bool, result: CrawlResult
    ) -> _WalkPage | None:
        """One feed or listing page, or None when it failed (logged and kept in the
        result); the failures that end the run go on up."""
        try:
            return self._fetch_walk_page(site, url, feed)
        except (FeedError, FetchError) as exc:
            if isinstance(exc, RUN_ENDERS):
                raise
            logger.warning("walk page failed site=%s url=%s error=%s", site.name, url, exc)
            result.walk_failures.append((url, str(exc).removeprefix(f"{url}: ")))
            return None

    def _fetch_walk_page(self, site: SiteConfig, url: str, feed: bool) -> _WalkPage:
        self.progress.advance(0, f"discovering {url}")
        response = self.fetcher.fetch(_on_mirror(site, url))
        if response.status != 200:
            raise FeedError(f"{url}: HTTP {response.status}")
        if feed:
            parsed = parse_feed(response.body, response.url, site.url)
            updated = {e.ref.event_id: e for e in parsed.entries}
            days = {e.ref.event_id: entry_day(e) for e in parsed.entries}
            refs = [e.ref for e in parsed.entries]
            return _WalkPage(refs, updated, parsed.next_url, _known(days), page_number(url))
        listing = parse_listing(response.text, response.url, site.url)  # decoded once
        number = listing.number or page_number(url)
        return _WalkPage(listing.refs, {}, listing.next_url, listing.days, number)

    def _take_fresh(self, site: SiteConfig, page: _WalkPage, since: date | None) -> int:
        """Put the page's references to fetch into the frontier (the archive's first);
        returns how many of them the frontier did not hold yet."""
        fresh = [r for r in page.refs if self._wanted(site, r, page, since)]
        new = sum(1 for r in fresh if (site.host, r.event_id) not in self.frontier)
        entries = [self._frontier_entry(site, ref, page) for ref in fresh]
        self.archive.save_frontier_entries(entries)
        for entry in entries:
            key = (site.host, entry.event_id)
            old = self.frontier.get(key)
            self.frontier[key] = replace(entry, attempts=old.attempts) if old else entry
        return new

    def _frontier_entry(self, site: SiteConfig, ref: EventRef, page: _WalkPage) -> FrontierEntry:
        feed = page.entries.get(ref.event_id)
        day = page.days.get(ref.event_id)
        return FrontierEntry(
            site=site.host, event_id=ref.event_id, url=ref.url, section=ref.section,
            kind=ref.kind, day=day.isoformat() if day else None,
            feed_updated=feed.updated if feed else None,
            feed_updated_utc=feed.updated_utc if feed else None, found_at=self.now(),
        )  # fmt: skip

    def _wanted(self, site: SiteConfig, ref: EventRef, page: _WalkPage, since: date | None) -> bool:
        """New pages, and pages whose feed entry says they were updated since; none from
        before ``since``."""
        if not self._kind_wanted(ref):
            return False
        day = page.days.get(ref.event_id)
        if since is not None and day is not None and day < since:
            return False
        state = self._page_state(site, ref.event_id)
        if state is None or state.versions == 0:
            return True
        entry = page.entries.get(ref.event_id)
        return entry is not None and _updated_since(entry, state)

    def _kind_wanted(self, ref: EventRef) -> bool:
        if ref.kind == "act":
            return self.config.discover.include_acts
        if ref.kind == "misc":
            return self.config.discover.include_misc
        return True

    def _frontier_refs(self, site: SiteConfig, options: CrawlOptions) -> list[EventRef]:
        """The frontier's pages to fetch, newest id first (with --since, none before it)."""
        since = options.since.isoformat() if options.since else None
        entries = sorted(
            (e for (host, _), e in self.frontier.items() if host == site.host),
            key=lambda e: e.event_id,
            reverse=True,
        )
        refs = [EventRef(e.event_id, e.url, e.section, e.kind) for e in entries]
        return [
            ref
            for ref, e in zip(refs, entries, strict=True)
            if self._kind_wanted(ref) and not (since and e.day and e.day < since)
        ]

    def _load_frontier(self, site: SiteConfig) -> None:
        for entry in self.archive.frontier_entries(site.host):
            self.frontier[(site.host, entry.event_id)] = entry

    def _settle(self, capture: Capture, outcome: str) -> None:
        """A capture settles its page's frontier entry: done, or one more failed attempt
        (dropped after MAX_ATTEMPTS, or when the site says there is no such page)."""
        key = (capture.site, capture.event_id)
        entry = self.frontier.pop(key, None)
        if entry is None:
            return
        final = capture.status in GONE_STATUSES or entry.attempts + 1 >= MAX_ATTEMPTS
        if outcome != "error" or final:
            self.archive.drop_frontier_entry(*key)
        else:
            self.archive.count_frontier_attempt(*key)

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
        outcome = save_capture(self.archive, capture)
        self._settle(capture, outcome)
        if outcome == "error":
            result.failed += 1
            result.failures.append((capture.url, capture.error or "error"))
        else:
            result.count(outcome)
        logger.debug("captured url=%s outcome=%s", capture.url, outcome)
        self.progress.advance(1, f"{capture.event_id} {outcome}")

    def _base_capture(self, site: SiteConfig, ref: EventRef, **more) -> Capture:
        source = "replica" if site.mirror_url else "live"
        entry = self.frontier.get((site.host, ref.event_id))
        return Capture(
            site=site.host, event_id=ref.event_id, url=ref.url, source=source,
            captured_at=self.now(),
            feed_updated=entry.feed_updated if entry else None,
            feed_updated_utc=entry.feed_updated_utc if entry else None,
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
    meta |= {"fetched_url": response.fetched_url or response.url}
    if response.status_line:
        meta["http_headers"] = render_http_headers(response.status_line, response.header_list)
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
    config: Config,
    options: CrawlOptions,
    *,
    stop: threading.Event | None = None,
    progress: Progress = NO_PROGRESS,
) -> CrawlResult:
    """One whole run with the run lock held and the run recorded in the runs table;
    ``progress`` hears of the pages to fetch and of each one fetched."""
    check_urls(config, options.urls)
    stop = stop or threading.Event()
    with (
        hold_run_lock(config.database.path, config.schedule.lock_wait),
        Fetcher(config, stop=stop) as fetcher,
    ):
        for site in config.enabled_sites:
            fetcher.check_host(site.fetch_url)  # unreachable: stop before touching the archive
        with Archive(config.database.path, busy_timeout=config.database.busy_timeout) as arc:
            crawler = Crawler(config, arc, fetcher, stop=stop, progress=progress)
            return _recorded_run(crawler, options)


def _recorded_run(crawler: Crawler, options: CrawlOptions) -> CrawlResult:
    archive = crawler.archive
    run_id = archive.start_run(options.trigger, utc_now())
    try:
        result = crawler.run(options)
    except BaseException as exc:  # the counts so far were recorded as the run went
        _record_failed_end(archive, run_id, exc)
        raise
    archive.finish_run(run_id, utc_now(), result.counts(), "; ".join(result.problems()) or None)
    facts = " ".join(f"{name}={count}" for name, count in result.counts().items())
    logger.info("run finished run_id=%s trigger=%s %s", run_id, options.trigger, facts)
    return result


def _record_failed_end(archive: Archive, run_id: int, exc: BaseException) -> None:
    try:
        archive.finish_run(run_id, utc_now(), {}, f"{type(exc).__name__}: {exc}")
    except ArchiveError as record_exc:  # a full disk refuses this too; the counts stay
        logger.error("run end not recorded run_id=%s error=%s", run_id, record_exc)


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
    """One feed or listing page: its event references, feed entries by id, next page,
    the day of each entry (where known) and its number."""

    refs: list[EventRef]
    entries: dict[int, FeedEntry]
    next_url: str | None
    days: dict[int, date] = field(default_factory=dict)
    number: int = 1


@dataclass
class _Budget:
    """Feed and listing pages the run may still read (discover.max_pages a run)."""

    left: int


def _resumed(saved: list[WalkState], options: CrawlOptions) -> list[WalkState]:
    """The saved walks this run goes on with: all of them, the asked-for --backfill depth
    or --since day merged into one of that kind; a --since run only goes on with --since
    walks (it archives nothing older than its day)."""
    walks = []
    for walk in saved:
        if options.since is not None and walk.kind != "since":
            continue
        if walk.kind == "since" and options.since is not None:
            walk = replace(walk, since=min(walk.since or "9999", options.since.isoformat()))
        if walk.kind == "backfill" and options.backfill:
            walk = replace(walk, end_number=max(walk.end_number or 0, options.backfill))
        walks.append(walk)
    return walks


def _since(walk: WalkState, options: CrawlOptions) -> date | None:
    """The day before which a walk wants nothing: its own (a --since walk going on in a
    later run), else the run's --since."""
    return date.fromisoformat(walk.since) if walk.since else options.since


def _overlapping(walk: WalkState) -> WalkState:
    """A kept walk goes on from the last page it read (beyond the first two), so that
    pages the site removed since cannot shift an unread entry onto a page it will not
    read again."""
    if walk.number <= 2 or page_number(walk.next_url) != walk.number:
        return walk
    previous = walk.number - 1
    return replace(walk, next_url=sibling_page_url(walk.next_url, previous), number=previous)


def _advanced(walk: WalkState, page: _WalkPage) -> WalkState:
    """The walk past ``page``: its next page, and the oldest day it has reached."""
    days = [d.isoformat() for d in page.days.values()]
    oldest = min([*days, walk.oldest_day] if walk.oldest_day else days, default=None)
    next_url = page.next_url or walk.next_url
    return replace(walk, next_url=next_url, number=page.number + 1, oldest_day=oldest)


def _walk_done(
    walk: WalkState, page: _WalkPage, new: int, resume_day: str | None, scan_pages: int = 1
) -> bool:
    """Whether ``page`` ends the walk: the last page, the walk's last page number, a page
    reaching back past --since, or (incremental) a page with nothing new once the walk
    has reached back past ``resume_day`` and read the first ``scan_pages`` feed pages (the
    service's feed scan: their <updated> stamps tell of edits at no extra request a page)."""
    days = [d.isoformat() for d in page.days.values()]
    if page.next_url is None:
        return True
    if walk.end_number is not None and page.number >= walk.end_number:
        return True
    if walk.kind == "since":
        return any(day < (walk.since or "") for day in days)
    if walk.kind != "incremental" or new:
        return False
    if walk.source == "feed" and page.number < scan_pages:
        return False
    return resume_day is None or any(day < resume_day for day in days)


def _listing_fallbacks(site: SiteConfig, walk: WalkState) -> list[WalkState]:
    """Where a walk that cannot go on by the feed goes on by the listing: its first page
    for the first feed page, else the listing page holding the oldest day reached (then
    the listing page of the same number, where the site has no such page)."""
    if walk.source != "feed" or not site.listings:
        return []
    listing = site.url + site.listings[0]
    urls = [numbered_page_url(listing, walk.number)]
    if walk.number > 1 and walk.oldest_day:
        urls.insert(0, by_date_url(listing, date.fromisoformat(walk.oldest_day)))
    return [replace(walk, source="listing", next_url=url) for url in urls]


def _known(days: dict[int, date | None]) -> dict[int, date]:
    return {event_id: day for event_id, day in days.items() if day is not None}


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
