"""The background service: schedule with an injected clock, recheck policy, jobs, signals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kremlin_archive.archive import Archive, Capture
from kremlin_archive.config import load_config, with_base_url
from kremlin_archive.crawl import CrawlOptions, CrawlResult, run_crawl
from kremlin_archive.errors import DatabaseBusy, HostUnreachable, RunLockHeld
from kremlin_archive.locks import read_state, state_path
from kremlin_archive.service import Service, build_triggers, job_options

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
    assert job_options(config.schedule)["misfire_grace_time"] == 600


def test_poll_and_recheck_never_run_at_once(config):
    with Archive(config.database.path) as archive:  # one page, due for a recheck
        archive.save_capture(
            Capture("en.kremlin.ru", 7, "http://x/7", "2020-01-01T00:00:00Z", "live", 404)
        )
    service = Service(config)
    lock, running, seen = threading.Lock(), [], []
    second_started = threading.Event()

    def crawl(config, options, *, stop):
        with lock:
            running.append(options.trigger)
            seen.append(list(running))
        if len(seen) == 1:  # a second worker would start the other job during this wait
            second_started.wait(0.5)
        else:
            second_started.set()
            os.kill(os.getpid(), signal.SIGTERM)
        with lock:
            running.remove(options.trigger)
        return CrawlResult()

    service.crawl = crawl
    service.serve()
    assert sorted(trigger for (trigger, *_) in seen) == ["poll", "recheck"]
    assert all(len(at_once) == 1 for at_once in seen)  # each ran alone


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


def test_a_failing_job_is_logged_and_the_service_goes_on(config, caplog):
    crawl = FakeCrawl(RunLockHeld("another crawl is running (pid=42 since=then)"))
    service = Service(config, crawl=crawl)
    assert service.run_poll() is None
    assert service.run_poll() is None  # the service went on: the next job ran
    assert len(crawl.calls) == 2
    assert "job failed job=poll error=RunLockHeld: another crawl is running" in caplog.text
    recorded = [(r["trigger"], r["error"].split(":")[0]) for r in runs(config.database.path)]
    assert recorded == [("poll", "RunLockHeld")] * 2


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


def test_a_signal_before_the_scheduler_is_up_ends_serve_without_a_job(config):
    crawl = FakeCrawl()
    service = Service(config, crawl=crawl)
    service.request_stop(signal.SIGTERM)
    service.serve()
    assert crawl.calls == []
    assert not state_path(config.database.path).exists()


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


def test_a_recheck_that_cannot_read_the_archive_is_recorded(config, monkeypatch, caplog):
    def unreadable(archive):
        raise DatabaseBusy("the archive stayed locked")

    Archive(config.database.path).close()
    monkeypatch.setattr(Archive, "recheck_candidates", unreadable)
    crawl = FakeCrawl()
    assert Service(config, crawl=crawl).run_recheck() is None
    assert crawl.calls == []
    [run] = runs(config.database.path)
    assert (run["trigger"], run["error"]) == ("recheck", "DatabaseBusy: the archive stayed locked")
    assert "job failed job=recheck error=DatabaseBusy" in caplog.text


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


def test_recheck_jobs_spend_the_daily_budget_and_no_more(config, fake_site):
    schedule = replace(config.schedule, recheck_per_day=6, recheck_interval=3600.0)
    schedule = replace(schedule, feed_scan_pages=1, recheck_old_every=0.001)  # due at once
    config = replace(site_config(config, fake_site), schedule=schedule)
    run_crawl(config, CrawlOptions(trigger="poll"))
    for event_id in fake_site.ids:  # a recheck in the poll's second must not look like a replay
        fake_site.edit_page(event_id, title=f"Edited {event_id}")
    service = Service(config)
    service.now = lambda: datetime.now(UTC) + timedelta(minutes=1)
    fetched = []
    for _ in range(8):  # 30 pages due, a budget of 6 a day: one a job, six in all
        fake_site.clear_requests()
        service.run_recheck()
        fetched.append(len(fake_site.requests_to("/events/president/news/6*")))
    assert fetched == [1, 1, 1, 1, 1, 1, 0, 0]
    assert [r["trigger"] for r in runs(config.database.path)] == ["poll"] + ["recheck"] * 6


def test_a_poll_fetches_a_page_whose_feed_stamp_moved_on_a_later_feed_page(config, fake_site):
    config = site_config(config, fake_site)
    run_crawl(config, CrawlOptions(trigger="poll"))
    on_page_2 = fake_site.news()[25].event_id  # 20 entries a feed page
    fake_site.edit_page(on_page_2)
    fake_site.clear_requests()
    one_page = replace(config, schedule=replace(config.schedule, feed_scan_pages=1))
    assert Service(one_page).run_poll().changed == 0  # the walk stopped at page 1
    assert fake_site.requests_to(f"/events/president/news/{on_page_2}") == []
    result = Service(
        replace(config, schedule=replace(config.schedule, feed_scan_pages=2))
    ).run_poll()
    assert result.changed == 1
    assert len(fake_site.requests_to(f"/events/president/news/{on_page_2}")) == 1
    assert len(fake_site.requests_to("/events/president/news/feed*")) == 1 + 2


# end to end: `serve` as a subprocess against the fake site ---------------------------------


def kremlin_archive(*args: str) -> list[str]:
    return [sys.executable, "-c", "from kremlin_archive.cli import main; main()", *args]


def finished_runs(db_path) -> list[dict]:
    if not db_path.exists():
        return []
    try:
        return [r for r in runs(db_path) if r["finished_at"]]
    except sqlite3.OperationalError:  # the schema is being created
        return []


def wait_for(predicate, proc, log, timeout: float = 20.0):
    """Poll ``predicate`` (bounded) while the service runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        assert proc.poll() is None, f"serve exited {proc.returncode}:\n{log.read_text()}"
        time.sleep(0.1)
    raise AssertionError(f"timed out; serve's log:\n{log.read_text()}")


@pytest.fixture
def serve(tmp_path, fake_site):
    """Start `kremlin-archive serve` against the fake site; killed if a test leaves it."""
    started = []
    log = tmp_path / "serve.log"

    def start(db_path, *options):
        args = ("serve", "--db", str(db_path), "--base-url", fake_site.url, "--delay", "0")
        with log.open("w") as out:
            proc = subprocess.Popen(
                kremlin_archive(*args, *options), cwd=tmp_path, stdout=out, stderr=out
            )
        started.append(proc)
        return proc, log

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_polls_until_sigterm_then_exits_cleanly(tmp_path, serve):
    db = tmp_path / "a.db"
    proc, log = serve(db, "--poll-interval", "1")
    wait_for(lambda: len(finished_runs(db)) >= 2, proc, log)
    shown = subprocess.run(
        kremlin_archive("status", "--json", "--db", str(db)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    service = json.loads(shown.stdout)["service"]
    assert (service["running"], service["pid"]) == (True, proc.pid)
    assert set(service["next_run_at"]) == {"poll", "recheck"}

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, log.read_text()
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert conn.execute("select count(*) from pages").fetchone()[0] == 30
    done = runs(db)
    assert len(done) >= 2 and all(r["finished_at"] and r["error"] is None for r in done)
    assert {r["trigger"] for r in done} == {"poll"}  # nothing due for a recheck yet
    assert not state_path(db).exists()
    assert f"service stopped pid={proc.pid}" in log.read_text()


def test_crawl_while_serve_crawls_exits_naming_the_service(tmp_path, fake_site, serve):
    fake_site.set_fault("slow", path="/events/president/news/6*", delay=0.2)
    db = tmp_path / "a.db"
    proc, log = serve(db)
    lock = tmp_path / "a.db.lock"
    wait_for(lambda: lock.exists() and f"pid={proc.pid} " in lock.read_text(), proc, log)

    crawl = subprocess.run(
        kremlin_archive("crawl", "--db", str(db), "--base-url", fake_site.url, "--delay", "0"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert crawl.returncode == 1
    assert f"another crawl is running on this database (pid={proc.pid} since=" in crawl.stderr

    proc.send_signal(signal.SIGTERM)  # mid-run: the page in hand is finished and recorded
    assert proc.wait(timeout=20) == 0, log.read_text()
    [run] = runs(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        pages = conn.execute("select count(*) from pages").fetchone()[0]
    assert run["finished_at"] and run["trigger"] == "poll"
    assert run["new"] == pages < 30
