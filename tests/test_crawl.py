"""One crawl, end to end: the real CLI against a fake en.kremlin.ru and a replica of the
real site, both served on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakeclock import FakeClock
from fakesite import SHARED_HTML, FakeSite
from kremlin_archive.archive import Archive
from kremlin_archive.config import load_config, with_base_url
from kremlin_archive.crawl import Crawler, CrawlOptions
from kremlin_archive.fetch import Fetcher
from kremlin_archive.lookup import iter_records
from kremlin_archive.normalize import NORMALIZER_VERSION, parse_event_page
from pages import FIXTURES
from runcli import kremlin


def crawl(db: Path, site, *args: str):
    return kremlin("crawl", "--db", db, "--base-url", site.url, "--delay", "0", *args)


def query(db: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def versions_by_id(db: Path) -> dict[int, int]:
    rows = query(
        db,
        "SELECT p.event_id, count(v.id) FROM pages p LEFT JOIN versions v ON v.page_id = p.id"
        " GROUP BY p.id",
    )
    return dict(rows)


def summary(result) -> dict[str, int]:
    return summary_line(result.stdout)


def summary_line(stdout: str) -> dict[str, int]:
    """The counts of the one-line summary a crawl prints last."""
    return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", stdout.splitlines()[-1])}


def test_crawl_archives_every_event_page_once(fake_site, tmp_path):
    db = tmp_path / "kremlin.db"
    result = crawl(db, fake_site)
    assert result.returncode == 0, result.stderr
    assert summary(result) == dict(discovered=30, new=30, changed=0, unchanged=0, gone=0, failed=0)
    assert versions_by_id(db) == {event_id: 1 for event_id in fake_site.ids}
    urls = [url for (url,) in query(db, "SELECT url FROM pages")]
    assert all(re.fullmatch(r"http://en\.kremlin\.ru/events/president/news/\d+", u) for u in urls)


def test_second_run_adds_nothing_and_an_edit_adds_a_version(fake_site, tmp_path):
    db = tmp_path / "kremlin.db"
    assert crawl(db, fake_site).returncode == 0
    again = crawl(db, fake_site)
    assert again.returncode == 0, again.stderr
    assert summary(again)["new"] == 0
    assert set(versions_by_id(db).values()) == {1}

    edited = fake_site.ids[3]
    fake_site.edit_page(edited)
    after_edit = crawl(db, fake_site)
    assert after_edit.returncode == 0, after_edit.stderr
    assert summary(after_edit)["changed"] == 1
    counts = versions_by_id(db)
    assert counts.pop(edited) == 2
    assert set(counts.values()) == {1}
    (text,) = query(db, "SELECT text FROM versions WHERE seq = 2")[0]
    assert text.endswith("Text version") and "Correction 2." in text


def test_limit_caps_a_run_and_the_next_run_takes_the_rest(fake_site, tmp_path):
    db = tmp_path / "kremlin.db"
    first = crawl(db, fake_site, "--limit", "5")
    assert first.returncode == 0, first.stderr
    assert summary(first)["new"] == 5
    second = crawl(db, fake_site)
    assert summary(second)["new"] == 25
    assert len(versions_by_id(db)) == 30


def test_named_pages_are_fetched_whether_archived_or_not(fake_site, tmp_path):
    db = tmp_path / "kremlin.db"
    wanted = fake_site.ids[:2]
    first = crawl(db, fake_site, "--id", str(wanted[0]), "--id", str(wanted[1]))
    assert summary(first)["new"] == 2
    fake_site.clear_requests()
    again = crawl(db, fake_site, "--url", f"http://en.kremlin.ru/events/president/news/{wanted[0]}")
    assert again.returncode == 0, again.stderr
    assert summary(again)["unchanged"] == 1
    assert [r.path for r in fake_site.requests if r.path != "/robots.txt"] == [
        f"/events/president/news/{wanted[0]}"
    ]
    assert sorted(versions_by_id(db)) == sorted(wanted)


def test_unreachable_host_is_named_and_the_database_is_left_alone(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = tmp_path / "kremlin.db"
    config = tmp_path / "k.toml"
    config.write_text("[fetch]\nretries = 0\n", encoding="utf-8")
    result = kremlin(
        "crawl", "--config", config, "--db", db, "--base-url", f"http://127.0.0.1:{port}",
        "--delay", "0",
    )  # fmt: skip
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db.exists()


def test_a_broken_page_is_a_failure_named_in_the_output(fake_site, tmp_path):
    db = tmp_path / "kremlin.db"
    broken = fake_site.ids[0]
    fake_site.set_fault("challenge", path=f"/events/president/news/{broken}")
    result = crawl(db, fake_site)
    assert result.returncode == 1
    assert summary(result)["failed"] == 1
    assert "challenge page" in result.stderr  # the run stops asking a host that challenges
    assert f"failed http://en.kremlin.ru/events/president/news/{broken}" in result.stderr
    assert broken not in versions_by_id(db) or versions_by_id(db)[broken] == 0

    fake_site.clear_faults()
    retry = crawl(db, fake_site)
    assert retry.returncode == 0, retry.stderr
    assert versions_by_id(db)[broken] == 1


def _shared_event_ids() -> set[int]:
    return {int(m) for m in re.findall(r"en-news-(\d+)-", " ".join(os_listdir(SHARED_HTML)))}


def os_listdir(path: Path) -> list[str]:
    return [p.name for p in path.iterdir()] if path.is_dir() else []


def _linked_ids(text: str) -> set[int]:
    """Event ids of the feed's entries and of the listing's items."""
    found = re.findall(
        r'<id>http://en\.kremlin\.ru/events/president/news/(\d+)<|data-id="(\d+)"', text
    )
    return {int(a or b) for a, b in found}


@pytest.mark.shared
def test_replica_of_the_real_site_archives_what_it_has(replica_site, tmp_path):
    feed = (SHARED_HTML / "en-events-president-news-feed-2020-08-27.atom.xml").read_text()
    listing = (SHARED_HTML / "en-news-list-page-2-2020-08.html").read_text()
    linked = _linked_ids(feed) | _linked_ids(listing)
    present = linked & _shared_event_ids()
    assert present, "the replica should hold some of the linked pages"

    db = tmp_path / "kremlin.db"
    result = crawl(db, replica_site, "--backfill", "2")
    assert result.returncode == 1  # the pages the replica lacks are failures
    archived = {i for i, n in versions_by_id(db).items() if n}
    assert archived == present
    failed = set(map(int, re.findall(r"^failed \S+/(\d+):", result.stderr, re.M)))
    assert failed == linked - present
    (url,) = query(db, "SELECT url FROM pages WHERE event_id = ?", min(present))[0]
    assert url == f"http://en.kremlin.ru/events/president/news/{min(present)}"


def test_faulty_site_yields_every_page_once_and_no_request_comes_early(tmp_path):
    delay = 2.0
    clock = FakeClock()
    with FakeSite(n_pages=200, seed=7) as site:
        site.clock = clock  # the request log is stamped with the crawler's clock
        site.set_fault_rate(0.2, seed=3, path="*")
        config = with_base_url(
            load_config(None, database__path=str(tmp_path / "k.db"), fetch__delay=delay),
            site.url,
        )
        fetcher = Fetcher(config, sleep=clock.sleep, clock=clock, rng=random.Random(5))
        with Archive(config.database.path) as archive, fetcher:
            result = Crawler(config, archive, fetcher).run(CrawlOptions())
            records = iter_records(archive, all_versions=True)
            versions = {(r.version.page_id, r.version.seq): r.version.text for r in records}
        expected = {p.event_id: parse_event_page(site.render(p)).text for p in site.news()}
        stamps = [r.time for r in site.requests]
        faults = sum(1 for r in site.requests if r.fault)

    assert faults >= 0.15 * len(stamps)  # the site really misbehaved
    assert (result.new, result.failed, result.discovered) == (200, 0, 200)
    stored = _texts_by_event(tmp_path / "k.db")
    assert stored == expected  # every page once, each version whole and exact
    assert len(versions) == 200
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert min(gaps) >= delay


def _texts_by_event(db: Path) -> dict[int, str]:
    rows = query(db, "SELECT p.event_id, v.text FROM pages p JOIN versions v ON v.page_id = p.id")
    return dict(rows)


def test_incremental_run_with_nothing_new_sends_two_requests(fake_site, tmp_path):
    db = tmp_path / "kremlin.db"
    assert crawl(db, fake_site).returncode == 0
    fake_site.clear_requests()
    again = crawl(db, fake_site)
    assert again.returncode == 0, again.stderr
    assert [r.path for r in fake_site.requests] == ["/robots.txt", "/events/president/news/feed"]


def test_a_new_page_costs_the_feed_and_the_page(fake_site, tmp_path):
    db = tmp_path / "kremlin.db"
    assert crawl(db, fake_site).returncode == 0
    page = fake_site.add_page()
    fake_site.clear_requests()
    again = crawl(db, fake_site)
    assert summary(again)["new"] == 1
    paths = [r.path for r in fake_site.requests]
    assert paths == [
        "/robots.txt",
        "/events/president/news/feed",
        "/events/president/news/feed/page/2",  # page 1 had something new: look one further
        page.path,
    ]


def test_a_url_that_is_no_event_page_is_a_usage_error(tmp_path):
    db = tmp_path / "kremlin.db"
    result = kremlin("crawl", "--db", db, "--url", "http://example.org/events/president/news/1")
    assert result.returncode == 2
    assert "not an event page of an enabled site (http://en.kremlin.ru)" in result.stderr
    assert not db.exists()


def test_the_next_run_of_one_crawler_reads_the_page_states_afresh(fake_site, tmp_path):
    clock = FakeClock()
    config = with_base_url(
        load_config(None, database__path=str(tmp_path / "k.db"), fetch__delay=0.0),
        fake_site.url,
    )
    with Archive(config.database.path) as archive, Fetcher(config, sleep=clock.sleep) as fetcher:
        crawler = Crawler(config, archive, fetcher)
        assert crawler.run(CrawlOptions()).new == len(fake_site.ids)
        again = crawler.run(CrawlOptions(ids=tuple(fake_site.ids), discover=False))
    assert again.not_modified == len(fake_site.ids)  # sent the validators the first run stored
    conditional = [r for r in fake_site.requests if r.headers.get("If-None-Match")]
    assert len(conditional) == len(fake_site.ids)


def test_sigterm_finishes_the_page_in_hand_records_the_run_and_the_next_run_resumes(
    fake_site, tmp_path
):
    db = tmp_path / "kremlin.db"
    fake_site.set_fault("slow", path="/events/president/news/6*", delay=0.1)
    child = crawl_in_background(db, fake_site)
    wait_for_requests(fake_site, EVENT_PAGES, 3, timeout=30)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=30)

    assert child.returncode == 1, err
    assert "stopped on request before the end" in err
    done = summary_line(out)["new"]
    assert 0 < done < 30
    assert len(versions_by_id(db)) == done  # every page fetched was recorded, whole
    (error,) = query(db, "SELECT error FROM runs")[0]
    assert "stopped on request" in error
    assert query(db, "PRAGMA integrity_check") == [("ok",)]

    fake_site.clear_faults()
    again = crawl(db, fake_site)
    assert summary(again)["new"] == 30 - done
    assert set(versions_by_id(db).values()) == {1}


EVENT_PAGES = "/events/president/news/6*"


def crawl_in_background(db: Path, site, *args: str) -> subprocess.Popen:
    """The real ``crawl`` against ``site`` in a child process, for a test to signal."""
    command = [sys.executable, "-m", "kremlin_archive", "crawl", "--db", str(db)]
    command += ["--base-url", site.url, "--delay", "0", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_requests(site, pattern: str, count: int, timeout: float) -> None:
    """Poll (bounded) until the site has answered ``count`` requests matching ``pattern``."""
    deadline = time.monotonic() + timeout
    while len(site.requests_to(pattern)) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_host_lost_mid_run_ends_the_run_with_its_counts(tmp_path):
    clock = FakeClock()
    with FakeSite(n_pages=30, seed=2) as site:
        config = with_base_url(
            load_config(None, database__path=str(tmp_path / "k.db"), fetch__retries=1),
            site.url,
        )
        fetcher = Fetcher(config, sleep=clock.sleep, clock=clock)
        lost = site.ids[5]
        site.set_fault("reset", path=f"/events/president/news/{lost}")
        with Archive(config.database.path) as archive, fetcher:
            result = Crawler(config, archive, fetcher).run(CrawlOptions())
    assert (result.new, result.failed) == (5, 1)  # five pages, then the lost one
    assert result.failures[0][0].endswith(f"/{lost}")
    assert "unreachable" in result.stopped[0] and not result.ok


def test_renormalize_rederives_an_older_normalizers_versions_without_network(fake_site, tmp_path):
    db = tmp_path / "kremlin.db"
    assert crawl(db, fake_site).returncode == 0
    old = fake_site.ids[0]
    with sqlite3.connect(db) as conn:  # as an older release of the normalizer left it
        conn.execute("UPDATE pages SET normalizer_version = 0")
        conn.execute(  # a leaked tooltip, and the hash of that text
            "UPDATE versions SET text = text || ' Hollande Francois', text_sha256 = ?,"
            " normalizer_version = 0 WHERE page_id = (SELECT id FROM pages WHERE event_id = ?)",
            (hashlib.sha256(b"older text").hexdigest(), old),
        )
    fake_site.stop()  # no network from here on

    result = kremlin("renormalize", "--db", db)
    assert result.returncode == 0, result.stderr
    assert "renormalized 1" in result.stdout
    history = kremlin("history", str(old), "--db", db).stdout
    assert "re-normalization" in history
    assert query(db, "SELECT origin FROM versions WHERE seq = 2") == [("renormalize",)]
    assert "renormalized 0" in kremlin("renormalize", "--db", db).stdout  # done once


@pytest.mark.parametrize("command", [["crawl", "--id", "1"], ["import", "."], ["serve"]])
def test_a_database_path_that_cannot_be_made_is_a_clear_error(tmp_path, command):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = kremlin(*command, "--db", blocker / "kremlin.db", cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot create" in result.stderr and "Traceback" not in result.stderr


# the discovery walk: its frontier kept in the archive, --since, resumed backfills ---------

FEED = "/events/president/news/feed"
LISTING = "/events/president/news"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "k.toml"
    path.write_text(text, encoding="utf-8")
    return path


def crawl_with(db: Path, site, config: Path, *args: str):
    return crawl(db, site, "--config", str(config), *args)


def walk_requests(site) -> list[str]:
    """The feed and listing pages asked for, in order."""
    paths = [r.path for r in site.requests]
    starts = (FEED, LISTING + "/page", LISTING + "/by-date")
    return [p for p in paths if p == LISTING or p.startswith(starts)]


def archived_ids(db: Path) -> set[int]:
    return {event_id for event_id, n in versions_by_id(db).items() if n}


def last_run_error(db: Path) -> str | None:
    return query(db, "SELECT error FROM runs ORDER BY id DESC LIMIT 1")[0][0]


def test_a_run_cut_by_limit_leaves_the_rest_to_the_next_run(tmp_path):
    db = tmp_path / "kremlin.db"
    with FakeSite(n_pages=60, seed=1) as site:
        first = crawl(db, site, "--limit", "20")
        assert first.returncode == 0, first.stderr
        assert summary(first)["new"] == 20
        assert walk_requests(site) == [FEED]  # the first page fills the limit: no more read
        second = crawl(db, site)
        assert second.returncode == 0, second.stderr
        assert summary(second)["new"] == 40
        assert archived_ids(db) == set(site.ids)
        assert query(db, "SELECT count(*) FROM frontier_entries") == [(0,)]
        assert query(db, "SELECT count(*) FROM frontier_walks") == [(0,)]


def test_a_kept_walk_survives_new_pages_pushing_it_down_the_feed(tmp_path):
    db = tmp_path / "kremlin.db"
    with FakeSite(n_pages=60, seed=1) as site:
        assert summary(crawl(db, site, "--limit", "20"))["new"] == 20
        for _ in range(20):  # what the walk had read is now on feed page 2
            site.add_page()
        again = crawl(db, site)
        assert again.returncode == 0, again.stderr
        assert archived_ids(db) == set(site.ids) and len(site.ids) == 80


def test_pages_found_before_a_kill_are_archived_by_the_next_run(tmp_path):
    db = tmp_path / "kremlin.db"
    with FakeSite(n_pages=60, seed=1) as site:
        site.set_fault("slow", path="/events/president/news/6*", delay=0.05)
        child = crawl_in_background(db, site)
        wait_for_requests(site, EVENT_PAGES, 25, timeout=60)
        child.kill()  # SIGKILL: nothing is recorded at the end
        child.communicate(timeout=30)
        done = len(archived_ids(db))
        assert 20 < done < 60  # the whole first feed page is archived, the rest is not
        ((pending,),) = query(db, "SELECT count(*) FROM frontier_entries")
        assert pending in (60 - done, 60 - done + 1)  # killed after a save, before settling
        status = kremlin("status", "--db", db).stdout
        assert (
            f"frontier  {pending} pages found, not yet fetched (en.kremlin.ru {pending})" in status
        )
        site.clear_faults()
        again = crawl(db, site)
        assert again.returncode == 0, again.stderr
        assert summary(again)["new"] == 60 - done
        assert archived_ids(db) == set(site.ids)


def test_a_feed_page_failing_once_is_walked_by_the_listing_and_not_recorded_ok(tmp_path):
    db = tmp_path / "kremlin.db"
    config = write_config(tmp_path, "[fetch]\nretries = 0\n")
    with FakeSite(n_pages=60, seed=1) as site:
        site.set_fault("status", path=f"{FEED}/page/2", times=1, status=503)
        result = crawl_with(db, site, config)
        assert result.returncode == 1
        assert summary(result)["new"] == 60  # the listing took over from feed page 2
        assert "1 feed/listing page failed, walked on by the listing" in result.stdout
        assert f"failed walk page http://en.kremlin.ru{FEED}/page/2: " in result.stderr
        assert "503" in last_run_error(db)
        status = kremlin("status", "--db", db)
        assert "manual: 1 error" in status.stdout and "walk page failed" in status.stdout
        assert archived_ids(db) == set(site.ids)


def test_a_walk_stopped_by_failing_pages_is_finished_by_the_next_run(tmp_path):
    db = tmp_path / "kremlin.db"
    config = write_config(tmp_path, "[fetch]\nretries = 0\n")
    with FakeSite(n_pages=60, seed=1) as site:
        assert crawl_with(db, site, config, "--limit", "1").returncode == 0  # not empty
        site.set_fault("status", path=f"{FEED}/page/2", times=1, status=503)
        site.set_fault("status", path=f"{LISTING}/by-date/*", times=1, status=503)
        site.set_fault("status", path=f"{LISTING}/page/2", times=1, status=503)
        first = crawl_with(db, site, config)
        assert first.returncode == 1
        assert summary(first)["new"] == 19
        assert "discovery of en.kremlin.ru ended early at feed page 2" in first.stderr
        assert "discovery ended early" in first.stdout.splitlines()[-1]
        assert "discovery of en.kremlin.ru ended early at feed page 2" in last_run_error(db)
        site.clear_requests()
        second = crawl_with(db, site, config)
        assert second.returncode == 0, second.stderr
        assert summary(second)["new"] == 40
        assert walk_requests(site) == [FEED, f"{FEED}/page/2", f"{FEED}/page/3"]
        assert archived_ids(db) == set(site.ids)
        assert last_run_error(db) is None


@pytest.mark.parametrize(
    "breakage",
    ["robots disallow all", "robots answers 500", "feed with a doctype, listings 404"],
)
def test_a_discovery_that_fails_completely_is_a_failed_run(tmp_path, breakage):
    db = tmp_path / "kremlin.db"
    config = write_config(tmp_path, "[fetch]\nretries = 0\n")
    with FakeSite(n_pages=30, seed=1) as site:
        if breakage == "robots disallow all":
            site.robots_txt = "User-agent: *\nDisallow: /\n"
        elif breakage == "robots answers 500":
            site.set_fault("status", path="/robots.txt", status=500)
        else:
            doctype = b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "b">]><feed/>'
            site.add_raw(FEED, doctype, "application/atom+xml")
            site.set_fault("status", path=f"{LISTING}*", status=404)
        result = crawl_with(db, site, config)
    assert result.returncode == 1, result.stdout
    assert summary(result)["discovered"] == 0
    assert "discovery of en.kremlin.ru failed" in result.stderr
    error = last_run_error(db)
    assert "discovery of en.kremlin.ru failed" in error
    assert f"walk page failed http://en.kremlin.ru{FEED}" in error
    if breakage == "robots disallow all":
        assert "robots.txt" in error
    status = kremlin("status", "--db", db)
    assert (
        "manual: 1 error" in status.stdout and "discovery of en.kremlin.ru failed" in status.stdout
    )


def _day_three_listing_pages_back(site) -> str:
    """A day whose events are on the third listing page, where older events start."""
    news = site.news()
    day = news[45].published.date()
    assert news[59].published.date() < day < news[40].published.date()
    return day.isoformat()


@pytest.mark.parametrize("source", ["feed", "listing"])
def test_since_stops_at_the_first_page_reaching_past_the_day(tmp_path, source):
    db = tmp_path / "kremlin.db"
    feeds = "" if source == "feed" else "[sites.en]\nfeeds = []\n"
    config = write_config(tmp_path, feeds)
    with FakeSite(n_pages=200, seed=4) as site:
        day = _day_three_listing_pages_back(site)
        result = crawl_with(db, site, config, "--since", day)
        assert result.returncode == 0, result.stderr
        base = FEED if source == "feed" else LISTING
        assert walk_requests(site) == [base, f"{base}/page/2", f"{base}/page/3"]
        wanted = {p.event_id for p in site.news() if p.published.date().isoformat() >= day}
        assert archived_ids(db) == wanted
        assert 40 < len(wanted) < 60


def test_a_since_walk_cut_by_the_page_budget_is_finished_without_older_pages(tmp_path):
    db = tmp_path / "kremlin.db"
    config = write_config(tmp_path, "[discover]\nmax_pages = 2\n")
    with FakeSite(n_pages=200, seed=4) as site:
        day = _day_three_listing_pages_back(site)
        first = crawl_with(db, site, config, "--since", day)
        assert first.returncode == 0, first.stderr
        assert "the since walk stopped at feed page 3" in first.stderr
        site.clear_requests()
        plain = crawl_with(db, site, config)  # a plain crawl, even with a budget this small
        assert plain.returncode == 0, plain.stderr
        assert walk_requests(site) == [FEED, f"{FEED}/page/2", f"{FEED}/page/3"]
        wanted = {p.event_id for p in site.news() if p.published.date().isoformat() >= day}
        assert archived_ids(db) == wanted
        assert query(db, "SELECT count(*) FROM frontier_walks") == [(0,)]


def test_an_interrupted_backfill_is_resumed_by_the_next_runs(tmp_path):
    db = tmp_path / "kremlin.db"
    with FakeSite(n_pages=300, seed=5) as site:
        assert crawl(db, site, "--backfill", "1").returncode == 0  # the newest 20 archived
        site.set_fault("slow", path=f"{FEED}/page/*", delay=0.2)
        child = crawl_in_background(db, site, "--backfill", "10")
        wait_for_requests(site, f"{FEED}/page/*", 3, timeout=60)
        child.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = child.communicate(timeout=30)
        assert child.returncode == 1, err
        assert "stopped on request before the end" in err and "stopped stopped" not in err
        (kept,) = query(db, "SELECT number FROM frontier_walks WHERE kind = 'backfill'")
        assert 3 <= kept[0] <= 5
        site.clear_faults()
        site.clear_requests()
        again = crawl(db, site)
        assert again.returncode == 0, again.stderr
        again_from = kept[0] - 1 if kept[0] > 2 else kept[0]  # the last page read, again
        assert walk_requests(site) == [FEED] + [f"{FEED}/page/{n}" for n in range(again_from, 11)]
        assert archived_ids(db) == set(site.ids[:200])
        assert query(db, "SELECT count(*) FROM frontier_walks") == [(0,)]


def test_backfill_again_goes_on_where_the_last_one_stopped(tmp_path):
    db = tmp_path / "kremlin.db"
    config = write_config(tmp_path, "[discover]\nmax_pages = 3\n")
    with FakeSite(n_pages=150, seed=6) as site:
        first = crawl_with(db, site, config, "--backfill", "6")
        assert first.returncode == 0, first.stderr
        assert "--backfill 6 is capped at 3 pages a run by discover.max_pages" in first.stderr
        assert summary(first)["new"] == 60
        status = kremlin("status", "--db", db).stdout
        assert "walk      en.kremlin.ru backfill at feed page 4 of 6 (discover.max_pages" in status
        site.clear_requests()
        second = crawl_with(db, site, config, "--backfill", "6")
        assert summary(second)["new"] == 20
        # the newest page, then the last page read again (the site may have removed
        # pages since), then a new one
        assert walk_requests(site) == [FEED, f"{FEED}/page/3", f"{FEED}/page/4"]
        for _ in range(2):  # plain crawls finish it too, a page further each
            plain = crawl_with(db, site, config)
            assert plain.returncode == 0, plain.stderr
            assert summary(plain)["new"] == 20
        assert archived_ids(db) == set(site.ids[:120])
        assert query(db, "SELECT count(*) FROM frontier_walks") == [(0,)]


def test_a_kept_walk_misses_nothing_when_the_site_removes_pages(tmp_path):
    db = tmp_path / "kremlin.db"
    config = write_config(tmp_path, "[discover]\nmax_pages = 3\n")
    with FakeSite(n_pages=150, seed=6) as site:
        assert summary(crawl_with(db, site, config, "--backfill", "6"))["new"] == 60
        removed = set(site.ids[:5])
        for event_id in removed:  # five entries of page 4 move up to page 3
            site.remove_page(event_id)
        for _ in range(5):
            if "walk stopped" not in crawl_with(db, site, config).stderr:
                break
        assert archived_ids(db) - removed == set(site.ids[:120])


def test_a_feed_page_answering_404_is_walked_by_the_listing_under_a_limit(tmp_path):
    db = tmp_path / "kremlin.db"
    with FakeSite(n_pages=100, seed=8) as site:
        site.set_fault("status", path=f"{FEED}/page/2", status=404)
        result = crawl(db, site, "--limit", "40")
        assert summary(result)["new"] == 40
        assert archived_ids(db) == set(site.ids[:40])
        assert result.returncode == 1  # a walk page failed: said in the summary
        assert "1 feed/listing page failed, walked on by the listing" in result.stdout


def _archive_of_fake_site(db: Path, request) -> None:
    site = request.getfixturevalue("fake_site")
    assert crawl(db, site).returncode == 0
    site.stop()  # no network from here on


def _archive_of_saved_real_pages(db: Path, request) -> None:
    if not SHARED_HTML.is_dir():
        pytest.skip(f"real pages not found at {SHARED_HTML}")
    assert kremlin("import", SHARED_HTML, "--db", db).returncode == 0


@pytest.mark.parametrize(
    "make", [_archive_of_fake_site, _archive_of_saved_real_pages], ids=["fake-site", "real-pages"]
)
def test_renormalizing_an_archive_this_normalizer_made_adds_no_version(tmp_path, make, request):
    db = tmp_path / "kremlin.db"
    make(db, request)
    before = query(db, "SELECT page_id, seq, text_sha256, fields_sha256 FROM versions ORDER BY 1")
    with sqlite3.connect(db) as conn:  # every page due, as after a normalizer upgrade
        conn.execute("UPDATE pages SET normalizer_version = 0")

    result = kremlin("renormalize", "--db", db)
    assert result.returncode == 0, result.stderr
    pages = len({page_id for page_id, *_ in before})
    assert result.stdout.strip() == f"pages {pages}, renormalized 0, unchanged {pages}, failed 0"
    after = query(db, "SELECT page_id, seq, text_sha256, fields_sha256 FROM versions ORDER BY 1")
    assert after == before and pages > 1


def test_every_version_and_page_records_the_normalizer_that_made_it(fake_site, tmp_path):
    db = tmp_path / "kremlin.db"
    assert crawl(db, fake_site, "--limit", "5").returncode == 0
    fake_site.stop()
    assert query(db, "SELECT DISTINCT normalizer_version FROM versions") == [(NORMALIZER_VERSION,)]
    assert query(db, "SELECT DISTINCT normalizer_version FROM pages") == [(NORMALIZER_VERSION,)]
    result = kremlin("renormalize", "--db", db)  # so an upgrade knows what to re-derive
    assert result.stdout.startswith("pages 0, renormalized 0, unchanged 0, failed 0: nothing")


# --- an archive made by the normalizer before whole turns (NORMALIZER_VERSION 3) ----------


def _as_an_older_normalizer_left_it(db: Path) -> set[int]:
    """Make the archive look as NORMALIZER_VERSION 3 made it: each speaker turn cut to its
    first line (that normalizer kept only the labelled paragraph) and no attachments field.
    Returns the event ids whose stored fields that changed."""
    changed = set()
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT v.id, p.event_id, v.fields FROM versions v JOIN pages p ON p.id = v.page_id"
        ).fetchall()
        for version_id, event_id, text in rows:
            fields = json.loads(text)
            older = dict(fields, turns=[[s, t.split("\n")[0]] for s, t in fields["turns"]])
            older.pop("attachments", None)
            if older != fields:
                changed.add(event_id)
            conn.execute(
                "UPDATE versions SET fields = ?, normalizer_version = 3 WHERE id = ?",
                (json.dumps(older, ensure_ascii=False), version_id),
            )
        conn.execute("UPDATE pages SET normalizer_version = 3")
    return changed


def test_renormalize_makes_the_turns_an_older_normalizer_stored_whole(tmp_path):
    db = tmp_path / "kremlin.db"
    pages = [FIXTURES / "en-transcripts-90003-whole-turns.html"]
    pages.append(FIXTURES / "en-transcripts-90002-edge-cases.html")
    assert kremlin("import", *pages, "--db", db).returncode == 0
    assert _as_an_older_normalizer_left_it(db) == {90002, 90003}

    result = kremlin("renormalize", "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pages 2, renormalized 2, unchanged 0, failed 0"
    added = query(
        db,
        "SELECT p.event_id, v.origin, v.changed_fields, v.body_changes FROM versions v"
        " JOIN pages p ON p.id = v.page_id WHERE v.seq = 2 ORDER BY 1",
    )
    assert [(event_id, origin) for event_id, origin, *_ in added] == [
        (90002, "renormalize"),
        (90003, "renormalize"),
    ]
    changes = json.loads(added[1][3])
    assert json.loads(added[1][2]) == ["attachments", "body"]  # the text did not change
    assert not any(changes["paragraphs"].values()) and changes["turns"]["edited"] == 3
    expected = parse_event_page(pages[0].read_bytes())
    stored = query(db, "SELECT turn, speaker, text FROM turns WHERE event_id = 90003 ORDER BY 1")
    assert stored == [(n, t.speaker, t.text) for n, t in enumerate(expected.turns, 1)]
    speakers = query(
        db, "SELECT speaker, count(*) FROM turns WHERE event_id = 90003 GROUP BY speaker"
    )
    assert dict(speakers)["Vladimir Putin"] == 1 and len(speakers) == 4
    files = query(db, "SELECT title, format, size, url FROM attachments ORDER BY position")
    assert files == [(a.title, a.format, a.size, a.url) for a in expected.attachments]
    assert "renormalized 0" in kremlin("renormalize", "--db", db).stdout  # done once


def test_a_crawl_rederives_the_turns_of_an_older_normalizer_on_capture(fake_site, tmp_path):
    db = tmp_path / "kremlin.db"
    assert crawl(db, fake_site).returncode == 0
    older = _as_an_older_normalizer_left_it(db)
    assert older, "the fake site has turns of several paragraphs"
    event_id = min(older)

    result = crawl(db, fake_site, "--id", str(event_id))
    assert result.returncode == 0, result.stderr
    assert "changed 0, unchanged 1" in result.stdout  # not an edit by the site
    origins = query(
        db,
        "SELECT v.origin, v.normalizer_version FROM versions v JOIN pages p"
        " ON p.id = v.page_id WHERE p.event_id = ? ORDER BY v.seq",
        event_id,
    )
    assert origins == [("site", 3), ("renormalize", NORMALIZER_VERSION)]
    current = query(
        db,
        "SELECT count(*) FROM turns WHERE event_id = ? AND text LIKE '%' || char(10) || '%'",
        event_id,
    )
    assert current[0][0] >= 1  # a turn of several paragraphs again
