"""How fast the service catches the site's edits, on a fixed request budget: a simulation.

An injected clock and a fake fetch (no network, no sleeps) drive the real scheduler
triggers (``service.build_triggers``) and the real recheck policy and budget
(``recheck.recheck_due``, ``recheck.job_quota``) over an archive of N pages for D simulated
days, with new pages arriving at the site's rate and edits, removals and returns drawn from
the model written down in ``benchmarks/README.md`` ("Freshness"). The same world is run
twice in one go: with this policy, and with the policy before it (the ``recheck_batch``
pages checked longest ago, by age from the event's date, no feed scan), so the two can be
compared::

    PYTHONPATH=src python benchmarks/freshness.py                 # 60,000 pages, 60 days
    PYTHONPATH=src python benchmarks/freshness.py --pages 5000 --days 14   # a quick look
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import random
import statistics
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from kremlin_archive.config import ScheduleConfig, load_config
from kremlin_archive.recheck import RecheckCandidate, job_quota, recheck_due
from kremlin_archive.service import build_triggers

START = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
FEED_PAGE = 20  # entries a feed page lists

# the edit model (benchmarks/README.md, "Freshness") --------------------------------------
NEW_PER_DAY = 10
EARLY_EDIT = 0.30  # share of pages edited in their first 48 hours …
EARLY_SECOND = 0.10  # … and edited a second time then
EARLY_MEAN = timedelta(hours=6)  # mean delay of an early edit after publication
RECENT_EDIT = 0.10  # share of pages edited between day 2 and day 30
OLD_EDITS_PER_YEAR = 0.06  # edits of a page older than 30 days, per page and year
REMOVALS_PER_YEAR = 0.003  # removals (404/410) per page and year …
RETURNS = 0.5  # … half of which come back after 1 to 14 days
FEED_BUMP = 0.6  # share of edits that move the entry's <updated> in the feed


@dataclass
class Page:
    event_id: int
    born: datetime
    events: list[tuple[datetime, str]] = field(default_factory=list)  # (time, edit/gone/back)
    seen_state: int = 0  # how many of ``events`` the archive has seen
    seen_updated: datetime | None = None  # the feed <updated> the last capture saw

    def state_at(self, now: datetime) -> int:
        return bisect.bisect_right(self.events, (now, "~"))

    def feed_updated(self, now: datetime) -> datetime:
        bumps = [at for at, kind in self.events[: self.state_at(now)] if kind == "bump"]
        return max(bumps, default=self.born)


def make_world(pages: int, days: int, rng: random.Random) -> list[Page]:
    world = []
    for n in range(pages):  # the archive: events of the past 16 years, oldest first
        born = START - timedelta(days=16 * 365 * (1 - n / pages)) + timedelta(minutes=n % 97)
        world.append(Page(n, born))
    for day in range(days):
        for _ in range(NEW_PER_DAY):
            born = START + timedelta(days=day, seconds=rng.uniform(0, 86400))
            world.append(Page(len(world), born))
    world.sort(key=lambda p: p.born)
    end = START + timedelta(days=days)
    for page in world:
        page.events = sorted(_page_events(page, rng, end))
    return world


def _page_events(page: Page, rng: random.Random, end: datetime) -> list[tuple[datetime, str]]:
    events: list[tuple[datetime, str]] = []

    def edit(at: datetime) -> None:
        if START <= at < end:
            events.append((at, "bump" if rng.random() < FEED_BUMP else "edit"))

    if rng.random() < EARLY_EDIT:
        edit(page.born + min(timedelta(hours=47), _exp(rng, EARLY_MEAN)))
        if rng.random() < EARLY_SECOND / EARLY_EDIT:
            edit(page.born + timedelta(hours=rng.uniform(1, 48)))
    if rng.random() < RECENT_EDIT:
        edit(page.born + timedelta(days=rng.uniform(2, 30)))
    old_from = max(START, page.born + timedelta(days=30))
    years = max(0.0, (end - old_from) / timedelta(days=365))
    for _ in range(_poisson(rng, OLD_EDITS_PER_YEAR * years)):
        edit(old_from + (end - old_from) * rng.random())
    for _ in range(_poisson(rng, REMOVALS_PER_YEAR * years)):
        gone = old_from + (end - old_from) * rng.random()
        events.append((gone, "gone"))
        if rng.random() < RETURNS:
            events.append((gone + timedelta(days=rng.uniform(1, 14)), "back"))
    return events


def _exp(rng: random.Random, mean: timedelta) -> timedelta:
    return timedelta(seconds=rng.expovariate(1 / mean.total_seconds()))


def _poisson(rng: random.Random, mean: float) -> int:
    count, threshold, product = 0, pow(2.718281828459045, -mean), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


# the two policies ------------------------------------------------------------------------


def previous_policy(pages, now: datetime, schedule: ScheduleConfig, batch: int = 30):
    """The recheck policy before this change: due by age from the event's date, the pages
    checked longest ago first, at most ``recheck_batch`` (30) a job, no budget."""
    young, recent = timedelta(days=schedule.recheck_young_days), timedelta(days=30)
    young_every = timedelta(hours=schedule.recheck_young_every)
    recent_every = timedelta(hours=schedule.recheck_recent_every)
    old_every = timedelta(hours=schedule.recheck_old_every)
    due = []
    for page in pages:
        if page.last_checked_at is None:
            due.append(page)
            continue
        age = now - page.born_at
        every = old_every
        if not page.gone:
            every = young_every if age < young else recent_every if age < recent else old_every
        if now - page.last_checked_at >= every:
            due.append(page)
    return heapq.nsmallest(batch, due, key=lambda p: (p.last_checked_at or START, p.event_id))


# the simulation --------------------------------------------------------------------------


@dataclass
class Tally:
    delays: dict[str, list[float]] = field(
        default_factory=lambda: {"<2d": [], "<30d": [], "old": []}
    )
    overwritten: int = 0  # edits replaced by a later one before any capture saw them
    requests_by_day: dict[int, int] = field(default_factory=dict)  # all requests
    budget_by_day: dict[int, int] = field(default_factory=dict)  # rechecks + extra feed pages
    checks_by_class: dict[str, int] = field(default_factory=lambda: {"<2d": 0, "<30d": 0, "old": 0})
    page_days: dict[str, float] = field(default_factory=lambda: {"<2d": 0, "<30d": 0, "old": 0})
    policy_seconds: float = 0.0
    jobs: int = 0


def age_class(age: timedelta) -> str:
    return "<2d" if age < 2 * DAY else "<30d" if age < 30 * DAY else "old"


class Simulation:
    def __init__(self, world: list[Page], schedule: ScheduleConfig, days: int, new: bool):
        self.world = world
        self.schedule = schedule
        self.end = START + timedelta(days=days)
        self.new = new
        self.tally = Tally()
        self.published = 0  # world[:published] is on the site
        self.candidates: dict[int, RecheckCandidate] = {}
        self.sent: deque[datetime] = deque()  # recheck-budget requests of the last 24 h

    def run(self) -> Tally:
        while self.world[self.published].born < START:
            page = self.world[self.published]
            self._archive(page, page.born + HOUR, initial=True)
            self.published += 1
        triggers = build_triggers(self.schedule, START)
        fires = {
            name: trigger.get_next_fire_time(None, START) for name, trigger in triggers.items()
        }
        while True:
            name, now = min(fires.items(), key=lambda item: item[1])
            if now >= self.end:
                break
            getattr(self, f"_{name}")(now)
            fires[name] = triggers[name].get_next_fire_time(now, now)
        self._count_page_days()
        return self.tally

    # the site's side

    def _archive(self, page: Page, now: datetime, initial: bool = False) -> None:
        """The first capture of a page (at start: checked some time within its interval)."""
        checked = now
        if initial:  # the archive before the simulation: checked within its interval
            age = START - page.born
            interval = timedelta(hours=self.schedule.recheck_old_every)
            if age < timedelta(days=self.schedule.recheck_recent_days):
                interval = timedelta(hours=self.schedule.recheck_recent_every)
            checked = max(page.born, START - min(interval, age) * random.random())
        page.seen_state = page.state_at(checked)
        page.seen_updated = page.feed_updated(checked)
        self.candidates[page.event_id] = RecheckCandidate(
            "en.kremlin.ru", page.event_id, page.born, checked, False, None
        )

    def _fetch(self, page: Page, now: datetime, budget: bool = False) -> None:
        """One request for one page: what changed since the last capture is caught now."""
        self._request(now, budget)
        state = page.state_at(now)
        candidate = self.candidates[page.event_id]
        edited = None
        if state > page.seen_state:
            new_events = page.events[page.seen_state : state]
            edits = [at for at, kind in new_events if kind in ("edit", "bump")]
            self.tally.overwritten += max(0, len(edits) - 1)
            for at, kind in new_events[-1:]:
                self.tally.delays[age_class(at - page.born)].append((now - at) / HOUR)
                edited = at if kind in ("edit", "bump") else None
            page.seen_state = state
        gone = bool(page.events[:state]) and page.events[state - 1][1] == "gone"
        page.seen_updated = page.feed_updated(now)
        self.candidates[page.event_id] = replace(
            candidate,
            last_checked_at=now,
            gone=gone,
            last_edit_at=now if edited is not None else candidate.last_edit_at,
        )
        self.tally.checks_by_class[age_class(now - page.born)] += 1

    def _request(self, now: datetime, budget: bool = False) -> None:
        day = (now - START).days
        self.tally.requests_by_day[day] = self.tally.requests_by_day.get(day, 0) + 1
        if budget:
            self.tally.budget_by_day[day] = self.tally.budget_by_day.get(day, 0) + 1
            self.sent.append(now)

    # the jobs

    def _poll(self, now: datetime) -> None:
        self._request(now)  # the first feed page: new pages
        while self.published < len(self.world) and self.world[self.published].born <= now:
            page = self.world[self.published]
            self._request(now)
            self._archive(page, now)
            self.published += 1
        scan = self.schedule.feed_scan_pages if self.new else 1  # before: the first page only
        for _ in range(scan - 1):
            self._request(now, budget=True)
        listed = self.world[max(0, self.published - FEED_PAGE * scan) : self.published]
        for page in listed:
            if page.feed_updated(now) > (page.seen_updated or page.born):
                self._fetch(page, now)

    def _recheck(self, now: datetime) -> None:
        while self.sent and self.sent[0] <= now - DAY:
            self.sent.popleft()
        started = time.perf_counter()
        pages = self.candidates.values()
        if self.new:
            quota = job_quota(self.schedule, len(self.sent))
            chosen = recheck_due(pages, now, self.schedule, quota)
        else:
            chosen = previous_policy(pages, now, self.schedule)
        self.tally.policy_seconds += time.perf_counter() - started
        self.tally.jobs += 1
        for candidate in chosen:
            self._fetch(self.world_by_id[candidate.event_id], now, budget=True)

    def _count_page_days(self) -> None:
        for page in self.world:
            start, end = max(page.born, START), self.end
            if start >= end:
                continue
            for name, low, high in (("<2d", 0, 2), ("<30d", 2, 30), ("old", 30, 10**6)):
                a, b = max(start, page.born + low * DAY), min(end, page.born + high * DAY)
                if b > a:
                    self.tally.page_days[name] += (b - a) / DAY

    @property
    def world_by_id(self) -> dict[int, Page]:
        if not hasattr(self, "_by_id"):
            self._by_id = {page.event_id: page for page in self.world}
        return self._by_id


def missed_after(world: list[Page], end: datetime, tally: Tally, limit: timedelta) -> int:
    """Edits and removals still not seen at the end although older than ``limit``."""
    late = 0
    for page in world:
        for at, _ in page.events[page.seen_state :]:
            if at < end - limit:
                late += 1
    return late


def report(name: str, world, tally: Tally, schedule: ScheduleConfig, days: int) -> list[str]:
    end = START + timedelta(days=days)
    events = sum(1 for page in world for at, _ in page.events if START <= at < end)
    caught = sum(len(v) for v in tally.delays.values())
    late = missed_after(world, end, tally, timedelta(days=31))
    pending = events - caught - tally.overwritten - late
    busiest = max(tally.budget_by_day.values(), default=0)
    total = max(tally.requests_by_day.values(), default=0)
    job_ms = tally.policy_seconds / max(1, tally.jobs) * 1000
    lines = [f"### {name}", ""]
    lines.append(f"- edits, removals and returns: {events}; caught: {caught}")
    lines.append(f"- missed, overwritten by a later edit before any capture: {tally.overwritten}")
    lines.append(f"- missed, not seen at the end though older than 31 days: {late}")
    lines.append(f"- not seen at the end, younger than 31 days: {pending}")
    lines.append(
        f"- budget requests on the busiest day: {busiest} (budget {schedule.recheck_per_day})"
    )
    lines.append(f"- all requests on the busiest day, polls included: {total}")
    lines.append(f"- policy CPU: {job_ms:.1f} ms a job over {tally.jobs} jobs")
    lines += ["", "| age at the edit | caught | median | p95 | max | requests/page/month |"]
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for cls in ("<2d", "<30d", "old"):
        d = sorted(tally.delays[cls])
        per_month = tally.checks_by_class[cls] / max(1e-9, tally.page_days[cls]) * 30
        cells = ["-", "-", "-"]
        if d:
            p95 = d[min(len(d) - 1, int(0.95 * len(d)))]
            cells = [f"{statistics.median(d):.2f} h", f"{p95:.2f} h", f"{d[-1]:.1f} h"]
        lines.append(f"| {cls} | {len(d)} | {' | '.join(cells)} | {per_month:.2f} |")
    lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=60_000, help="pages archived at start")
    parser.add_argument("--days", type=int, default=60, help="simulated days")
    parser.add_argument(
        "--budget", type=int, default=None, help="recheck_per_day (default: the config's)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    schedule = load_config(path=None).schedule
    schedule = replace(schedule, poll_jitter=0.0)
    if args.budget is not None:
        schedule = replace(schedule, recheck_per_day=args.budget)
    budget = schedule.recheck_per_day
    print(f"# {args.pages} pages, {args.days} days, budget {budget}/day, seed {args.seed}")
    print()
    for name, new in (
        ("this policy (urgency within the budget, feed scan)", True),
        ("the policy before (30 a job, longest unchecked first)", False),
    ):
        random.seed(args.seed)
        world = make_world(args.pages, args.days, random.Random(args.seed))
        started = time.perf_counter()
        tally = Simulation(world, schedule, args.days, new).run()
        print("\n".join(report(name, world, tally, schedule, args.days)))
        print(f"(simulated in {time.perf_counter() - started:.0f} s)\n")


if __name__ == "__main__":
    main()
