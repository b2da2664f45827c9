"""Pure: which archived pages a recheck job re-fetches, within the operator's request budget.

Edits come mostly in a page's first days, so each page has its own recheck interval by
age: young pages (``recheck_young_days``) every ``recheck_young_every`` hours, recent ones
daily, older and gone ones every ``recheck_old_every`` hours. A page's age counts from the
event's date; a page the site edited is young again for ``recheck_young_days`` after the
edit, since edits come in bursts, and then goes back to the rate of its age.

A job takes the due pages with the shortest interval first (young, then recent, then old
and gone pages: the edits are in the young ones), and within each class by **urgency**,
the time since the last check divided by the page's own interval (NewsDiffs' rule), so a
two-hour-old page that is due never waits behind ten thousand overdue old ones, and a
backlog of old pages is worked off oldest check first once the faster classes are served
(``status`` says when the budget cannot serve them all in time). It takes at most
its **share of the budget**: ``recheck_per_day`` requests a day for each site, less what the
polls spend reading extra feed pages, spread evenly over the day's jobs and never more than
what is left of the last 24 hours.

Everything here is a function of the archive's state and the clock; nothing reads a file,
the network or the time.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .config import ScheduleConfig
from .timeutil import parse_utc

DAY = timedelta(days=1)


@dataclass(frozen=True)
class RecheckCandidate:
    """What the policy needs to know of one archived page (times are aware UTC)."""

    site: str  # canonical host
    event_id: int
    born_at: datetime | None  # the event's date, else when the archive first saw the page
    last_checked_at: datetime | None  # the last fetch attempt, whatever its outcome
    gone: bool = False
    last_edit_at: datetime | None = None  # the capture time of the last site edit


@dataclass(frozen=True)
class _Rates:
    """The schedule's age classes as timedeltas, worked out once per job."""

    young_days: timedelta
    recent_days: timedelta
    young_every: timedelta
    recent_every: timedelta
    old_every: timedelta

    @classmethod
    def of(cls, schedule: ScheduleConfig) -> _Rates:
        return cls(
            timedelta(days=schedule.recheck_young_days),
            timedelta(days=schedule.recheck_recent_days),
            timedelta(hours=schedule.recheck_young_every),
            timedelta(hours=schedule.recheck_recent_every),
            timedelta(hours=schedule.recheck_old_every),
        )

    def every(self, age: timedelta | None, gone: bool) -> timedelta:
        if age is None or gone:
            return self.old_every
        if age < self.young_days:
            return self.young_every
        return self.recent_every if age < self.recent_days else self.old_every

    def interval_of(self, page: RecheckCandidate, now: datetime) -> timedelta:
        edited = page.last_edit_at
        if edited is not None and not page.gone and now - edited < self.young_days:
            return self.young_every  # just edited: more edits may follow
        return self.every(page_age(page, now), page.gone)


def candidates_of(rows: Iterable[Mapping]) -> list[RecheckCandidate]:
    """The candidates of the archive's recheck rows (``Archive.recheck_candidates``):
    every page with its age (the event's date, else when it was first seen), its last
    fetch attempt (a page that keeps failing waits its turn like the others) and its last
    site edit."""
    return [
        RecheckCandidate(
            row["site"],
            int(row["event_id"]),
            parse_utc(row["born_at"]),
            parse_utc(row["last_checked_at"]),
            bool(row["gone"]),
            parse_utc(row["last_edit_at"]),
        )
        for row in rows
    ]


def recheck_every(age: timedelta | None, schedule: ScheduleConfig, gone: bool = False) -> timedelta:
    """How often a page of this age is re-fetched. A page of unknown age, and a gone page
    (it may come back), go at the slowest rate."""
    return _Rates.of(schedule).every(age, gone)


def page_age(page: RecheckCandidate, now: datetime) -> timedelta | None:
    """Time since the event (None when its date is unknown)."""
    return max(now - page.born_at, timedelta(0)) if page.born_at is not None else None


def interval_of(page: RecheckCandidate, now: datetime, schedule: ScheduleConfig) -> timedelta:
    return _Rates.of(schedule).interval_of(page, now)


def urgency(page: RecheckCandidate, now: datetime, schedule: ScheduleConfig) -> float:
    """Time since the last check in units of the page's own interval: 1 means due now, 2
    means overdue by a whole interval; a page never checked is the most urgent of all."""
    return _urgency(page, now, interval_of(page, now, schedule))


def _urgency(page: RecheckCandidate, now: datetime, interval: timedelta) -> float:
    if page.last_checked_at is None:
        return math.inf
    if interval <= timedelta(0):
        return math.inf
    return (now - page.last_checked_at) / interval


def is_due(page: RecheckCandidate, now: datetime, schedule: ScheduleConfig) -> bool:
    return urgency(page, now, schedule) >= 1.0


def recheck_due(
    pages: Iterable[RecheckCandidate],
    now: datetime,
    schedule: ScheduleConfig,
    quota: int | None = None,
) -> list[RecheckCandidate]:
    """The pages due at ``now``, the shortest interval first and the most urgent within it,
    at most ``quota`` of them (all due pages when ``quota`` is None)."""
    rates = _Rates.of(schedule)
    ranked = []
    for page in pages:
        interval = rates.interval_of(page, now)
        if page.last_checked_at is not None and now - page.last_checked_at < interval:
            continue  # not due: most pages, so this is the quick way out
        score = _urgency(page, now, interval)
        ranked.append((interval, -score, page.site, page.event_id, page))
    if quota is None:
        return [item[-1] for item in sorted(ranked, key=_rank)]
    return [item[-1] for item in heapq.nsmallest(max(0, quota), ranked, key=_rank)]


def _rank(item: tuple) -> tuple:
    return item[:4]


# the budget ------------------------------------------------------------------------------


def polls_per_day(schedule: ScheduleConfig) -> float:
    return DAY.total_seconds() / schedule.poll_interval


def feed_scan_per_day(schedule: ScheduleConfig) -> float:
    """Requests a day the polls spend on feed pages read only for their <updated> stamps
    (the first feed page is read by every poll anyway, for new pages)."""
    return max(0, schedule.feed_scan_pages - 1) * polls_per_day(schedule)


def recheck_budget(schedule: ScheduleConfig) -> float:
    """Requests a day left for rechecks, per site, after the feed scan."""
    return max(0.0, schedule.recheck_per_day - feed_scan_per_day(schedule))


def job_quota(schedule: ScheduleConfig, spent_last_day: int) -> int:
    """Pages one recheck job may re-fetch for one site: its share of the daily budget
    (the budget spread over the day's jobs), never more than what the last 24 hours left,
    and never more than ``recheck_batch`` when that is set."""
    if schedule.recheck_interval <= 0:  # the recheck job is off
        return 0
    budget = recheck_budget(schedule)
    jobs_per_day = DAY.total_seconds() / schedule.recheck_interval
    share = math.ceil(budget / jobs_per_day)
    quota = max(0, min(share, math.floor(budget) - spent_last_day))
    return min(quota, schedule.recheck_batch) if schedule.recheck_batch > 0 else quota


@dataclass(frozen=True)
class BudgetReport:
    """Does the budget cover the policy for the pages archived? (one site)"""

    pages: int
    needed_per_day: float  # rechecks a day the policy asks for
    feed_scan_per_day: float
    budget_per_day: int  # recheck_per_day as configured
    old_every_days: float  # the old pages' interval the policy asks for
    old_every_days_in_budget: float | None  # what the budget gives them (None: nothing left)

    @property
    def covered(self) -> bool:
        return self.needed_per_day + self.feed_scan_per_day <= self.budget_per_day


def budget_report(
    pages: Iterable[RecheckCandidate], now: datetime, schedule: ScheduleConfig
) -> BudgetReport:
    """Rechecks a day the policy needs for these pages, against the budget: where the budget
    falls short, the old pages (the slowest class) are the ones that wait longer."""
    rates = _Rates.of(schedule)
    old = rates.old_every
    pages_n, needed, old_n = 0, 0.0, 0
    for page in pages:
        pages_n += 1
        interval = rates.interval_of(page, now)
        needed += DAY / interval
        old_n += interval >= old
    faster = needed - old_n * (DAY / old)
    left_for_old = recheck_budget(schedule) - faster
    in_budget = old_n / left_for_old if left_for_old > 0 else None
    old_days = old / DAY
    return BudgetReport(
        pages=pages_n,
        needed_per_day=needed,
        feed_scan_per_day=feed_scan_per_day(schedule),
        budget_per_day=schedule.recheck_per_day,
        old_every_days=old_days,
        old_every_days_in_budget=max(old_days, in_budget) if in_budget is not None else None,
    )


def render_budget(site: str, report: BudgetReport) -> str:
    """One line for ``status``, e.g. "en.kremlin.ru: 60000 pages need 2100 rechecks a day;
    the budget is 2000: old pages are re-checked every 31.5 days instead of 30"."""
    need = f"{report.pages} pages need {report.needed_per_day:.0f} rechecks a day"
    if report.feed_scan_per_day:
        need += f" and the feed scan {report.feed_scan_per_day:.0f} requests"
    head = f"{site}: {need}; the budget is {report.budget_per_day}"
    if report.covered:
        return f"{head}: covered"
    if report.old_every_days_in_budget is None:
        return f"{head}: not even the young and recent pages fit; raise schedule.recheck_per_day"
    return (
        f"{head}: old pages are re-checked every {report.old_every_days_in_budget:.1f} days"
        f" instead of {report.old_every_days:g}"
    )
