"""The background service: schedule with an injected clock, recheck policy, jobs, signals."""

from __future__ import annotations

import os
import signal
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kremlin_archive.archive import Archive
from kremlin_archive.config import load_config, with_base_url
from kremlin_archive.crawl import CrawlOptions, CrawlResult, run_crawl
from kremlin_archive.errors import HostUnreachable, NotArchived, RunLockHeld
from kremlin_archive.service import (
    RecheckCandidate,
    Service,
    build_triggers,
    gather_status,
    hold_service_lock,
    job_options,
    parse_stamp,
    read_state,
    recheck_due,
    render_status,
    state_path,
    write_state,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(**delta: float) -> str:
    return stamp(NOW - timedelta(**delta))


@pytest.fixture
def config(tmp_path):
    return load_config(path=None, database__path=str(tmp_path / "a.db"))


@pytest.fixture
def schedule(config):
    return config.schedule


# the schedule ----------------------------------------------------------------------------


def test_poll_fires_every_interval_plus_at_most_the_jitter(schedule):
    schedule = replace(schedule, poll_interval=900.0, poll_jitter=120.0)
    trigger = build_triggers(schedule, NOW)["poll"]
    for previous in (NOW, NOW + timedelta(hours=5)):
        fire = trigger.get_next_fire_time(previous, previous)
        assert previous + timedelta(seconds=900) <= fire <= previous + timedelta(seconds=1020)


def test_poll_without_jitter_is_exact(schedule):
    trigger = build_triggers(replace(schedule, poll_interval=60.0, poll_jitter=0.0), NOW)["poll"]
    assert trigger.get_next_fire_time(None, NOW) == NOW
    assert trigger.get_next_fire_time(NOW, NOW) == NOW + timedelta(seconds=60)
    late = NOW + timedelta(seconds=150)  # asleep through two fire times: the next one is ahead
    assert trigger.get_next_fire_time(None, late) == NOW + timedelta(seconds=180)


def test_recheck_fires_every_recheck_interval(schedule):
    trigger = build_triggers(replace(schedule, recheck_interval=3600.0), NOW)["recheck"]
    assert trigger.get_next_fire_time(NOW, NOW) == NOW + timedelta(hours=1)


def test_recheck_interval_zero_turns_the_recheck_job_off(schedule):
    assert set(build_triggers(replace(schedule, recheck_interval=0.0), NOW)) == {"poll"}


def test_jobs_run_once_at_a_time_coalesced_with_a_grace_time(config):
    service = Service(replace(config, schedule=replace(config.schedule, misfire_grace=90.0)))
    service.now = lambda: NOW
    service.add_jobs()
    jobs = {job.id: job for job in service.scheduler.get_jobs()}
    assert set(jobs) == {"poll", "recheck"}
    for job in jobs.values():
        assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 90)
        assert job.next_run_time == NOW  # both run at start, one after the other
    assert service.executor._pool._max_workers == 1  # one thread: poll and recheck never overlap
    assert job_options(config.schedule)["misfire_grace_time"] == 600


# the recheck policy ----------------------------------------------------------------------


def page(born: str | None, checked: str | None, event_id: int = 1, gone: bool = False):
    return RecheckCandidate("en.kremlin.ru", event_id, born, checked, gone)


# defaults: younger than 2 days every 2 h, younger than 30 days every 24 h, else every 720 h
POLICY = [
    ("never-checked", page(ago(days=400), None), True),
    ("young-checked-1h-ago", page(ago(hours=20), ago(hours=1)), False),
    ("young-checked-2h-ago", page(ago(hours=20), ago(hours=2)), True),
    ("recent-checked-3h-ago", page(ago(days=5), ago(hours=3)), False),
    ("recent-checked-25h-ago", page(ago(days=5), ago(hours=25)), True),
    ("old-checked-10d-ago", page(ago(days=90), ago(days=10)), False),
    ("old-checked-31d-ago", page(ago(days=90), ago(days=31)), True),
    ("event-day-only", page("2024-04-30", ago(hours=3)), True),
    ("unknown-age-is-old", page(None, ago(days=10)), False),
    ("gone-young-page-waits-like-old", page(ago(hours=5), ago(days=3), gone=True), False),
    ("gone-page-checked-31d-ago", page(ago(days=90), ago(days=31), gone=True), True),
    ("born-in-the-future-is-young", page(stamp(NOW + timedelta(days=1)), ago(hours=3)), True),
]


@pytest.mark.parametrize(("case", "candidate", "due"), POLICY, ids=[p[0] for p in POLICY])
def test_recheck_policy_by_age_and_last_check(schedule, case, candidate, due):
    assert (recheck_due([candidate], NOW, schedule) == [candidate]) is due


def test_recheck_takes_the_longest_unchecked_first_up_to_the_batch(schedule):
    pages = [page(ago(days=3), ago(days=n), event_id=n) for n in range(2, 9)]
    pages.append(page(ago(days=3), None, event_id=99))
    due = recheck_due(pages, NOW, replace(schedule, recheck_batch=3))
    assert [p.event_id for p in due] == [99, 8, 7]


def test_recheck_policy_follows_the_configured_ages(schedule):
    schedule = replace(schedule, recheck_young_days=1.0, recheck_young_every=6.0)
    assert recheck_due([page(ago(hours=30), ago(hours=7))], NOW, schedule) == []
    assert recheck_due([page(ago(hours=20), ago(hours=7))], NOW, schedule) != []


def test_stamps_parse_as_utc():
    assert parse_stamp("2024-05-01T15:00:00+03:00") == NOW
    assert parse_stamp("2024-05-01T12:00:00Z") == NOW
    assert parse_stamp("2024-05-01") == NOW.replace(hour=0)
    assert parse_stamp("soon") is None
    assert parse_stamp(None) is None


# the jobs --------------------------------------------------------------------------------


class FakeCrawl:
    """Stands in for run_crawl: records its calls, raises what it is told to."""

    def __init__(self, raises: Exception | None = None) -> None:
        self.calls: list = []
        self.raises = raises

    def __call__(self, config, options, *, stop):
        self.calls.append(options)
        if self.raises:
            raise self.raises
        return CrawlResult(discovered=2, new=2)


def test_poll_job_discovers_with_the_poll_trigger(config):
    crawl = FakeCrawl()
    assert Service(config, crawl=crawl).run_poll().new == 2
    assert [(o.trigger, o.discover) for o in crawl.calls] == [("poll", True)]


def test_a_failing_job_is_logged_and_the_service_goes_on(config, caplog, monkeypatch):
    recorded = []
    monkeypatch.setattr(
        "kremlin_archive.service.record_failed_run", lambda *args, **kw: recorded.append(args)
    )
    crawl = FakeCrawl(RunLockHeld("another crawl is running (pid=42 since=then)"))
    service = Service(config, crawl=crawl)
    assert service.run_poll() is None
    assert service.run_poll() is None
    assert len(crawl.calls) == 2
    assert "job failed job=poll error=RunLockHeld: another crawl is running" in caplog.text
    assert [(r[1], type(r[3]).__name__) for r in recorded] == [("poll", "RunLockHeld")] * 2


def test_recheck_with_an_empty_archive_crawls_nothing(config):
    crawl = FakeCrawl()
    assert Service(config, crawl=crawl).run_recheck() is None
    assert crawl.calls == []


def test_sigterm_lets_the_job_in_hand_finish_then_serve_returns(config):
    """The crawl stand-in sends SIGTERM to this process mid-run and waits for the stop flag,
    as the crawler does between pages: serve returns after the job, the state file goes."""
    service = Service(replace(config, schedule=replace(config.schedule, recheck_interval=0.0)))
    seen = {}

    def crawl(config, options, *, stop):
        seen["state"] = read_state(state_path(config.database.path))
        os.kill(os.getpid(), signal.SIGTERM)
        seen["stopped"] = stop.wait(10)
        return CrawlResult()

    service.crawl = crawl
    before = signal.getsignal(signal.SIGTERM)
    service.serve()
    assert seen["stopped"] is True
    assert seen["state"]["pid"] == os.getpid()
    assert set(seen["state"]["next_run_at"]) == {"poll"}
    assert not state_path(config.database.path).exists()
    assert signal.getsignal(signal.SIGTERM) == before


# the state file and the service lock -----------------------------------------------------


def test_state_of_a_dead_service_is_ignored(tmp_path):
    path = tmp_path / "a.db.service.json"
    write_state(path, {"pid": os.getpid(), "next_run_at": {"poll": "2024-05-01T12:00:00Z"}})
    assert read_state(path)["next_run_at"]["poll"] == "2024-05-01T12:00:00Z"
    write_state(path, {"pid": 2**22 + 12345, "next_run_at": {}})  # above Linux's pid_max
    assert read_state(path) is None
    path.write_text("{half", encoding="utf-8")
    assert read_state(path) is None


def test_second_service_on_a_database_is_refused_naming_the_first(tmp_path):
    db = tmp_path / "a.db"
    held = rf"pid={os.getpid()} since="
    with hold_service_lock(db), pytest.raises(RunLockHeld, match=held), hold_service_lock(db):
        pass
    with hold_service_lock(db):  # released: taken again
        pass


# with the real archive and the fake site --------------------------------------------------


def site_config(config, site):
    fetch = replace(config.fetch, delay=0.0, jitter=0.0, backoff=0.0, retries=0)
    return with_base_url(replace(config, fetch=fetch), site.url)


def runs(db_path):
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("select * from runs order by id")]


def test_a_job_failing_before_its_crawl_records_a_failed_run(config):
    crawl = FakeCrawl(HostUnreachable("cannot reach en.kremlin.ru: connection refused"))
    Service(config, crawl=crawl).run_poll()
    [run] = runs(config.database.path)
    assert (run["trigger"], run["pid"]) == ("poll", os.getpid())
    assert run["finished_at"] is not None
    assert run["error"] == "HostUnreachable: cannot reach en.kremlin.ru: connection refused"


def test_a_run_the_crawl_recorded_itself_is_not_recorded_twice(config):
    def crawl(config, options, *, stop):
        with Archive(config.database.path) as archive:
            run_id = archive.start_run(options.trigger, stamp(datetime.now(UTC)))
            archive.finish_run(run_id, stamp(datetime.now(UTC)), {}, "RuntimeError: boom")
        raise RuntimeError("boom")

    Service(config, crawl=crawl).run_poll()
    assert [r["error"] for r in runs(config.database.path)] == ["RuntimeError: boom"]


def test_recheck_refetches_the_due_pages_of_the_archive_in_batches(config, fake_site):
    config = site_config(config, fake_site)
    schedule = replace(config.schedule, recheck_batch=5)
    config = replace(config, schedule=schedule)
    run_crawl(config, CrawlOptions(trigger="poll"))
    service = Service(config)
    assert service.due_rechecks() == []  # the fake events are years old: checked just now
    service.now = lambda: datetime.now(UTC) + timedelta(days=31)
    due = service.due_rechecks()
    assert len(due) == 5
    fake_site.clear_requests()
    result = service.run_recheck()
    assert result.unchanged + result.not_modified == 5
    fetched = [r.path for r in fake_site.requests_to("/events/president/news/6*")]
    assert sorted(fetched) == sorted(f"/events/president/news/{p.event_id}" for p in due)
    assert [r["trigger"] for r in runs(config.database.path)] == ["poll", "recheck"]


def test_status_counts_pages_runs_and_outcomes(config, fake_site):
    config = site_config(config, fake_site)
    run_crawl(config, CrawlOptions(trigger="poll"))
    Service(config, crawl=FakeCrawl(RunLockHeld("held (pid=1)"))).run_poll()
    with Archive(config.database.path) as archive:
        archive.start_run("manual", stamp(datetime.now(UTC)))  # left unfinished...
    with sqlite3.connect(config.database.path) as conn:
        conn.execute("update runs set pid = ? where trigger = 'manual'", [2**22 + 12345])
    status = gather_status(config)
    assert (status["pages"], status["versions"], status["gone"]) == (30, 30, 0)
    assert status["runs"] == {"poll": {"ok": 1, "error": 1}, "manual": {"interrupted": 1}}
    assert status["last_runs"]["poll"]["outcome"] == "error"
    assert status["last_runs"]["poll"]["error"] == "RunLockHeld: held (pid=1)"
    assert status["service"] == {"running": False}
    text = render_status(status)
    assert "pages     30 (gone 0), versions 30" in text
    assert "runs      manual: 1 interrupted; poll: 1 error, 1 ok" in text
    assert "service   not running" in text


def test_status_names_the_failed_pages_of_the_last_run(config, fake_site):
    config = site_config(config, fake_site)
    broken = fake_site.ids[3]
    fake_site.set_fault("status", path=f"/events/president/news/{broken}", status=500)
    run_crawl(config, CrawlOptions(trigger="poll"))
    failures = gather_status(config)["last_run_failures"]
    assert (failures["trigger"], failures["failed"]) == ("poll", 1)
    assert [p["url"] for p in failures["pages"]] == [
        f"http://en.kremlin.ru/events/president/news/{broken}"
    ]
    assert "failures of the last run (poll #1): 1" in render_status(gather_status(config))


def test_status_of_a_missing_archive_is_an_error(config):
    with pytest.raises(NotArchived, match="no archive at"):
        gather_status(config)
    assert not config.database.path.exists()
