"""The background service: APScheduler jobs, run lock, signals.

``serve`` runs one ``BlockingScheduler`` with two jobs on ONE worker thread, so they never
overlap and keep to the same politeness limits::

    poll      every schedule.poll_interval (+ up to poll_jitter): discover and archive new pages
    recheck   every schedule.recheck_interval: re-fetch the due pages by urgency (young
              pages often, recent ones daily, old ones monthly; see ``recheck``), each
              job taking its share of the daily request budget, schedule.recheck_per_day

Each job is one crawl (``crawl.run_crawl``) under the database's run lock, recorded in the
runs table. A job that fails is logged and recorded (also when it failed before the crawl
could record it: lock held, host unreachable) and the service goes on. SIGTERM / SIGINT
finish the page in hand, record the run and end the service with exit status 0.

After a job whose run found changes (edits, removals, returns), the service rewrites the
Atom feed at ``notify.atom_path`` and queues one message to ``notify.urls`` (``notify.py``
sends it from its own thread, so a dead receiver holds nothing up).

While it runs, the service keeps ``<db>.service.json`` (pid and next run times) for
``status``, and holds ``<db>.service.lock`` so that only one service serves a database
(both in ``locks``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_STARTED,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .archive import Archive
from .changes import Change, list_changes, render_atom
from .config import Config, ScheduleConfig
from .crawl import CrawlOptions, CrawlResult, run_crawl
from .errors import KremlinArchiveError
from .locks import hold_service_lock, state_path, write_state
from .notify import Notifier, check_urls, render_message, write_feed
from .recheck import RecheckCandidate, candidates_of, job_quota, recheck_due
from .timeutil import format_utc, utc_clock

logger = logging.getLogger(__name__)

JOBS = ("poll", "recheck")
DAY = timedelta(days=1)

Clock = Callable[[], datetime]
Crawl = Callable[..., CrawlResult]


DAY = timedelta(days=1)


# the schedule ----------------------------------------------------------------------------


def build_triggers(schedule: ScheduleConfig, now: datetime) -> dict[str, IntervalTrigger]:
    """One interval trigger per job, counted from ``now``; a recheck_interval of 0 turns
    the recheck job off."""
    triggers = {
        "poll": IntervalTrigger(
            seconds=schedule.poll_interval,
            start_date=now,
            timezone=UTC,
            jitter=schedule.poll_jitter or None,
        )
    }
    if schedule.recheck_interval > 0:
        triggers["recheck"] = IntervalTrigger(
            seconds=schedule.recheck_interval, start_date=now, timezone=UTC
        )
    return triggers


def job_options(schedule: ScheduleConfig) -> dict[str, Any]:
    """One instance at a time; runs missed while busy or asleep collapse into one, and a
    run later than the grace time is skipped (the next one comes)."""
    grace = max(1, round(schedule.misfire_grace))
    return {"max_instances": 1, "coalesce": True, "misfire_grace_time": grace}


# the service -----------------------------------------------------------------------------


class Service:
    """The scheduler, its two jobs and the stop flag the signal handlers set.

    ``crawl``, ``now`` and ``notifier`` are injected so tests can run the jobs without
    network, clock or waits; by default a notifier is made when ``notify.urls`` is set."""

    def __init__(
        self,
        config: Config,
        *,
        crawl: Crawl = run_crawl,
        now: Clock = utc_clock,
        notifier: Notifier | None = None,
    ):
        self.config = config
        self.crawl = crawl
        self.now = now
        self.notifier = notifier or make_notifier(config)
        self.stop = threading.Event()
        self.started_at = format_utc(now())
        self.executor = ThreadPoolExecutor(max_workers=1)  # the jobs never overlap
        self.scheduler = BlockingScheduler(executors={"default": self.executor}, timezone=UTC)
        self._state_lock = threading.Lock()

    @property
    def state_file(self) -> Path:
        return state_path(self.config.database.path)

    def add_jobs(self) -> None:
        now = self.now()
        options = job_options(self.config.schedule)
        for name, trigger in build_triggers(self.config.schedule, now).items():
            job = getattr(self, f"run_{name}")
            self.scheduler.add_job(job, trigger, id=name, name=name, next_run_time=now, **options)
        mask = EVENT_SCHEDULER_STARTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
        self.scheduler.add_listener(self._on_event, mask)

    # the jobs

    def run_poll(self) -> CrawlResult | None:
        scan = self.config.schedule.feed_scan_pages
        return self._run_job("poll", CrawlOptions(trigger="poll", scan_pages=scan))

    def run_recheck(self) -> CrawlResult | None:
        if self.stop.is_set():
            return None
        try:
            due = self.due_rechecks()
        except Exception as exc:  # the archive could not be read: a failed recheck run
            self._failed("recheck", format_utc(self.now()), exc, after=None)
            return None
        if not due:
            logger.info("recheck nothing due")
            return None
        oldest = min((p.last_checked_at for p in due if p.last_checked_at), default=None)
        logger.info("recheck due pages=%d oldest_check=%s", len(due), _stamp_or_none(oldest))
        refs = tuple((p.site, p.event_id) for p in due)
        return self._run_job(
            "recheck", CrawlOptions(discover=False, recheck=refs, trigger="recheck")
        )

    def due_rechecks(self) -> list[RecheckCandidate]:
        """The pages this job re-fetches: for each site, the most urgent due pages, as many
        as the job's share of the site's budget allows."""
        db = self.config.database
        if not db.path.exists():
            return []
        now = self.now()
        due: list[RecheckCandidate] = []
        with Archive(db.path, busy_timeout=db.busy_timeout) as archive:
            pages = candidates_of(archive.recheck_candidates())
            for site in sorted({page.site for page in pages}):
                spent = archive.count_recheck_requests(site, format_utc(now - DAY))
                quota = job_quota(self.config.schedule, spent)
                mine = (page for page in pages if page.site == site)
                chosen = recheck_due(mine, now, self.config.schedule, quota)
                logger.info(
                    "recheck budget site=%s quota=%d spent_last_day=%d chosen=%d",
                    site, quota, spent, len(chosen),
                )  # fmt: skip
                due.extend(chosen)
        return due

    def _run_job(self, trigger: str, options: CrawlOptions) -> CrawlResult | None:
        if self.stop.is_set():
            return None
        started_at = format_utc(self.now())
        logger.info("job started job=%s", trigger)
        before = last_run_id(self.config)
        try:
            result = self.crawl(self.config, options, stop=self.stop)
        except Exception as exc:
            self._failed(trigger, started_at, exc, after=before)
            return None
        logger.info("job finished job=%s %s", trigger, _facts(result))
        self.tell_changes(trigger, before)
        return result

    def tell_changes(self, trigger: str, before: int | None) -> list[Change]:
        """After a job: if its run found changes, rewrite the feed and queue one message.
        Never raises (the crawl is done and recorded; a failure here is only logged)."""
        notify, db = self.config.notify, self.config.database
        if before is None or (self.notifier is None and notify.atom_path is None):
            return []
        try:
            with Archive(db.path, busy_timeout=db.busy_timeout) as archive:
                run_ids = archive.runs_after(before, trigger, os.getpid())
                changes = list_changes(archive, run_ids=run_ids) if run_ids else []
                latest = list_changes(archive, limit=notify.feed_entries) if changes else []
        except Exception as exc:
            logger.error("changes unreadable job=%s error=%r", trigger, exc)
            return []
        if not changes:
            return []
        logger.info("changes found job=%s changes=%d", trigger, len(changes))
        self._write_feed(latest)
        if self.notifier is not None:
            message = render_message(
                changes, trigger, run_ids[-1], notify.web_url, notify.message_changes
            )
            self.notifier.submit(message)
        return changes

    def _write_feed(self, changes: list[Change]) -> None:
        path = self.config.notify.atom_path
        if path is None:
            return
        try:
            notify = self.config.notify
            feed = render_atom(
                changes, notify.web_url, format_utc(self.now()), limit=notify.feed_entries
            )
            write_feed(path, feed)
        except OSError as exc:
            logger.error("feed not written path=%s error=%s", path, exc)

    def _failed(self, trigger: str, started_at: str, exc: Exception, after: int | None) -> None:
        _log_failure(trigger, exc)
        record_failed_run(self.config, trigger, started_at, exc, after=after, now=self.now)

    # scheduler events, the state file and signals

    def _on_event(self, event: Any) -> None:
        if event.code == EVENT_SCHEDULER_STARTED and self.stop.is_set():
            self._shutdown_scheduler()  # a signal came before the scheduler was up
        if isinstance(event, JobExecutionEvent) and event.exception is not None:
            logger.error("job raised job=%s error=%r", event.job_id, event.exception)
        elif isinstance(event, JobExecutionEvent) and event.code == EVENT_JOB_MISSED:
            logger.warning(
                "job missed job=%s scheduled_at=%s", event.job_id, event.scheduled_run_time
            )
        self.write_state()

    def next_runs(self) -> dict[str, str | None]:
        runs = {job.id: job.next_run_time for job in self.scheduler.get_jobs()}
        return {name: format_utc(at) if at else None for name, at in runs.items()}

    def write_state(self) -> None:
        if self.stop.is_set():
            return
        state = {"pid": os.getpid(), "started_at": self.started_at, "next_run_at": self.next_runs()}
        with self._state_lock:
            write_state(self.state_file, state)

    def request_stop(self, signum: int, frame: object = None) -> None:
        """Signal handler: let the page in hand finish, then end the scheduler.

        The scheduler is shut down from another thread: the handler runs in the main thread,
        which may hold the (non-reentrant) lock of the scheduler's wake-up event."""
        name = signal.Signals(signum).name
        if self.stop.is_set():
            logger.warning("already stopping signal=%s (finishing the page in hand)", name)
            return
        logger.info("stop requested signal=%s", name)
        self.stop.set()
        threading.Thread(target=self._shutdown_scheduler, name="stop", daemon=True).start()

    def _shutdown_scheduler(self) -> None:
        # not started yet (the STARTED event will see the stop flag), or stopped already
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=False)

    def serve(self) -> None:
        """Run until a signal: the jobs, then the job in hand to its end, then tidy up."""
        self.add_jobs()
        previous = {s: signal.signal(s, self.request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            logger.info("service started pid=%d db=%s", os.getpid(), self.config.database.path)
            if not self.stop.is_set():
                self.scheduler.start()
            self.executor.shutdown(wait=True)  # the job in hand finishes its page and records
            if self.notifier is not None:
                self.notifier.close(timeout=60.0)  # queued messages get one more try each
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.state_file.unlink(missing_ok=True)
        logger.info("service stopped pid=%d", os.getpid())


def run_service(config: Config) -> None:
    """``kremlin-archive serve``: one service per database, until SIGTERM or SIGINT."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    check_urls(config.notify.urls)
    with hold_service_lock(config.database.path):
        check_archive(config)
        Service(config).serve()


def make_notifier(config: Config, **options: Any) -> Notifier | None:
    """The notifier of ``notify.urls`` (None when there is none), recording into the archive;
    ``options`` go to :class:`Notifier` (``sleep``, ``send``, ``now``)."""
    notify = config.notify
    if not notify.urls:
        return None

    def record(row: dict) -> None:
        db = config.database
        with Archive(db.path, busy_timeout=db.busy_timeout) as archive:
            archive.save_notification(row)

    return Notifier(
        notify.urls, record=record, retries=notify.retries, backoff=notify.backoff, **options
    )


def check_archive(config: Config) -> None:
    """Open (and bring up to date) an existing archive at start, so that a file the jobs
    could never use (another database, an archive of a newer kremlin-archive) is refused
    at once with NotAnArchive instead of failing every job."""
    db = config.database
    if db.path.exists():
        Archive(db.path, busy_timeout=db.busy_timeout).close()


def _log_failure(trigger: str, exc: Exception) -> None:
    if isinstance(exc, KremlinArchiveError):
        logger.error("job failed job=%s error=%s: %s", trigger, type(exc).__name__, exc)
    else:
        logger.exception("job failed job=%s error=%s", trigger, type(exc).__name__)


def _facts(result: CrawlResult) -> str:
    facts = " ".join(f"{k}={v}" for k, v in result.counts().items())
    problems = result.problems()  # a run stopped early, feed or listing pages that failed
    return facts + (f" stopped={'; '.join(problems)!r}" if problems else "")


# the runs table, as the service reads and completes it -----------------------------------


def last_run_id(config: Config) -> int | None:
    """The newest run's id (0 for none), or None when the archive cannot say."""
    db = config.database
    if not db.path.exists():
        return 0
    try:
        with Archive(db.path, busy_timeout=db.busy_timeout) as archive:
            return archive.last_run_id()
    except Exception as exc:
        logger.warning("runs unreadable db=%s error=%r", db.path, exc)
        return None


def record_failed_run(
    config: Config,
    trigger: str,
    started_at: str,
    exc: Exception,
    *,
    after: int | None,
    now: Clock = utc_clock,
) -> None:
    """Record a job that failed before its crawl could record itself (lock held, host
    unreachable, database unusable), so ``status`` shows it: unless this process recorded
    a ``trigger`` run after run ``after`` (the jobs run one at a time, so that run is the
    job's own). Never raises: a failure to record is logged."""
    db = config.database
    error = f"{type(exc).__name__}: {exc}"
    try:
        with Archive(db.path, busy_timeout=db.busy_timeout) as archive:
            if after is not None and archive.runs_after(after, trigger, os.getpid()):
                return
            run_id = archive.start_run(trigger, started_at)
            archive.finish_run(run_id, format_utc(now()), {}, error)
    except Exception as record_exc:
        logger.error("run not recorded job=%s error=%r", trigger, record_exc)


def _stamp_or_none(moment: datetime | None) -> str | None:
    return format_utc(moment) if moment else None
