"""The recheck policy and its request budget: pure functions of the pages' state and a
simulated clock (no archive, no network, no sleeps)."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kremlin_archive.config import load_config
from kremlin_archive.recheck import (
    RecheckCandidate,
    budget_report,
    job_quota,
    recheck_due,
    render_budget,
    urgency,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


@pytest.fixture
def schedule():
    return load_config(path=None).schedule


def page(born, checked, event_id: int = 1, gone: bool = False, edited=None):
    return RecheckCandidate("en.kremlin.ru", event_id, born, checked, gone, edited)


# defaults: younger than 2 days every 2 h, younger than 30 days every 24 h, else every 720 h
POLICY = [
    ("never-checked", page(ago(days=400), None), True),
    ("young-checked-1h-ago", page(ago(hours=20), ago(hours=1)), False),
    ("young-checked-2h-ago", page(ago(hours=20), ago(hours=2)), True),
    ("recent-checked-3h-ago", page(ago(days=5), ago(hours=3)), False),
    ("recent-checked-25h-ago", page(ago(days=5), ago(hours=25)), True),
    ("old-checked-10d-ago", page(ago(days=90), ago(days=10)), False),
    ("old-checked-31d-ago", page(ago(days=90), ago(days=31)), True),
    ("unknown-age-is-old", page(None, ago(days=10)), False),
    ("gone-young-page-waits-like-old", page(ago(hours=5), ago(days=3), gone=True), False),
    ("gone-page-checked-31d-ago", page(ago(days=90), ago(days=31), gone=True), True),
    ("born-in-the-future-is-young", page(NOW + timedelta(days=1), ago(hours=3)), True),
    ("old-edited-1h-ago-is-young", page(ago(days=900), ago(hours=3), edited=ago(hours=1)), True),
    ("old-edited-60d-ago-is-old", page(ago(days=900), ago(days=3), edited=ago(days=60)), False),
    ("old-edited-5d-ago-is-old-again", page(ago(days=900), ago(days=2), edited=ago(days=5)), False),
    ("gone-after-an-edit", page(ago(days=900), ago(hours=3), 1, True, edited=ago(hours=4)), False),
]  # fmt: skip


@pytest.mark.parametrize(("case", "candidate", "due"), POLICY, ids=[p[0] for p in POLICY])
def test_recheck_policy_by_age_and_last_check(schedule, case, candidate, due):
    assert (recheck_due([candidate], NOW, schedule) == [candidate]) is due


def test_young_before_recent_before_old_and_the_most_overdue_first_within_each(schedule):
    old_overdue_twice = page(ago(days=400), ago(days=60), event_id=1)  # 2 intervals
    old_overdue_thrice = page(ago(days=400), ago(days=90), event_id=5)  # 3 intervals
    young_just_due = page(ago(hours=20), ago(hours=2), event_id=2)  # 1 interval
    recent_overdue = page(ago(days=5), ago(hours=48), event_id=3)  # 2 intervals
    never = page(ago(days=3), None, event_id=4)  # recent, never checked
    pages = [recent_overdue, old_overdue_twice, never, young_just_due, old_overdue_thrice]
    due = recheck_due(pages, NOW, schedule)
    assert [p.event_id for p in due] == [2, 4, 3, 5, 1]
    assert urgency(old_overdue_thrice, NOW, schedule) == pytest.approx(3.0)


def test_a_young_due_page_is_taken_although_ten_thousand_old_pages_are_overdue(schedule):
    rng = random.Random(3)
    old = [
        page(ago(days=rng.uniform(40, 5000)), ago(days=rng.uniform(31, 40)), event_id=n)
        for n in range(10_000)
    ]
    young = page(ago(hours=2), ago(hours=2, minutes=1), event_id=99_999)
    due = recheck_due([*old, young], NOW, schedule, quota=job_quota(schedule, spent_last_day=0))
    assert young in due
    assert len(due) == job_quota(schedule, spent_last_day=0) < 10_000


def test_a_job_takes_its_share_of_the_daily_budget(schedule):
    schedule = replace(schedule, recheck_per_day=2400, recheck_interval=3600.0, feed_scan_pages=1)
    assert job_quota(schedule, spent_last_day=0) == 100  # 2,400 over 24 jobs
    assert job_quota(schedule, spent_last_day=2350) == 50  # what the last 24 h left
    assert job_quota(schedule, spent_last_day=2400) == 0
    assert job_quota(replace(schedule, recheck_batch=30), spent_last_day=0) == 30


def test_the_feed_scan_is_paid_from_the_same_budget(schedule):
    schedule = replace(schedule, recheck_per_day=2400, poll_interval=900.0, feed_scan_pages=3)
    # 96 polls a day read 2 feed pages more than discovery needs: 192 requests a day
    assert job_quota(schedule, spent_last_day=0) == 92  # ceil((2400 - 192) / 24)


def test_the_budget_is_never_exceeded_over_a_simulated_week(schedule):
    schedule = replace(schedule, recheck_per_day=500, recheck_interval=1800.0)
    schedule = replace(schedule, recheck_old_every=12.0, feed_scan_pages=1)
    rng = random.Random(11)
    pages = {
        n: page(ago(days=rng.uniform(0, 3000)), ago(days=rng.uniform(0, 1)), event_id=n)
        for n in range(1_000)
    }  # 2,000 rechecks a day due against a budget of 500: the budget is what limits
    sent: deque[datetime] = deque()
    per_day: dict[str, int] = {}
    now = NOW
    while now < NOW + timedelta(days=7):
        while sent and sent[0] <= now - timedelta(days=1):
            sent.popleft()
        quota = job_quota(schedule, spent_last_day=len(sent))
        for chosen in recheck_due(pages.values(), now, schedule, quota):
            pages[chosen.event_id] = replace(chosen, last_checked_at=now)
            sent.append(now)
            per_day[now.date().isoformat()] = per_day.get(now.date().isoformat(), 0) + 1
        assert len(sent) <= 500  # any 24 hours
        now += timedelta(seconds=schedule.recheck_interval)
    assert max(per_day.values()) <= 500
    assert min(per_day[d] for d in list(per_day)[1:-1]) >= 450  # and it is spent, spread out


def test_status_says_when_the_budget_does_not_cover_the_policy(schedule):
    schedule = replace(schedule, recheck_per_day=1000, feed_scan_pages=1)
    old = [page(ago(days=400), ago(days=1), event_id=n) for n in range(60_000)]
    report = budget_report(old, NOW, schedule)
    assert report.needed_per_day == pytest.approx(2000)  # 60,000 pages every 30 days
    assert not report.covered
    assert report.old_every_days_in_budget == pytest.approx(60.0)
    line = render_budget("en.kremlin.ru", report)
    assert line == (
        "en.kremlin.ru: 60000 pages need 2000 rechecks a day; the budget is 1000:"
        " old pages are re-checked every 60.0 days instead of 30"
    )
    assert budget_report(old, NOW, replace(schedule, recheck_per_day=2500)).covered
