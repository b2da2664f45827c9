"""Whole runs against a hostile server on 127.0.0.1, through the real CLI: one bad item is
one failed capture with its reason (or a clear usage error), and the run goes on."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from hostilesite import HostileSite, deep_page, wait_until
from mounts import cli_line, run_with_mounts, skip_without_private_mounts, small_disk
from runcli import kremlin

FEED = "/events/president/news/feed"


@pytest.fixture
def site():
    with HostileSite(n_pages=5, seed=3) as site:
        yield site


def crawl(site: HostileSite, db, *args: str):
    return kremlin("crawl", "--db", db, "--base-url", site.url, "--delay", "0", *args)


def page_ids(db) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT event_id FROM pages ORDER BY event_id")]


def hostile_feed(site: HostileSite) -> bytes:
    """The site's feed with impossible dates on two entries and links with impossible ids."""
    feed = site.route(FEED, {}).body.decode()
    stamps = [p.updated for p in site.news()[:2]]
    for stamp, hostile in zip(stamps, ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00"),
                              strict=True):  # fmt: skip
        feed = feed.replace(f"<updated>{stamp:%Y-%m-%dT%H:%M:%S}+04:00</updated>",
                            f"<updated>{hostile}</updated>", 1)  # fmt: skip
    assert feed.count("<updated>9999-") == 1 and feed.count("<updated>0001-") == 1
    bad = "".join(
        f"<entry><title>x</title><id>http://en.kremlin.ru/events/president/news/{n}</id>"
        f"<updated>2020-08-27T20:00:00+04:00</updated>"
        f'<link href="http://en.kremlin.ru/events/president/news/{n}" rel="alternate" />'
        "</entry>"
        for n in ("99999999999999999999", "7" * 5000, "0")
    )
    return feed.replace("</feed>", bad + "</feed>").encode()


def test_bad_items_are_failed_captures_and_the_run_goes_on(site, tmp_path):
    """Dates past the UTC range, ids SQLite cannot hold and a gzip body that does not
    decode: each was a traceback that ended the run (and every later run)."""
    site.add_raw(FEED, hostile_feed(site), "application/atom+xml; charset=utf-8")
    broken = site.ids[2]
    site.add_raw(f"/events/president/news/{broken}", b"\x1f\x8b\x08\x00 this is not gzip at all",
                 headers={"Content-Encoding": "gzip"})  # fmt: skip
    db = tmp_path / "a.db"
    result = crawl(site, db)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1
    assert result.stdout.strip() == (
        "discovered 5, new 4, changed 0, unchanged 0, gone 0, failed 1"
    )
    assert f"failed http://en.kremlin.ru/events/president/news/{broken}: " in result.stderr
    assert "does not decode as Content-Encoding gzip" in result.stderr
    assert page_ids(db) == sorted(site.ids)  # the impossible ids were never pages
    status = json.loads(kremlin("status", "--json", "--db", db).stdout)
    assert status["last_runs"]["manual"]["failed"] == 1


@pytest.mark.parametrize("bad_id", ["99999999999999999999", "-5", "0", "7" * 5000])
def test_an_impossible_crawl_id_is_a_usage_error(site, tmp_path, bad_id):
    db = tmp_path / "a.db"
    result = crawl(site, db, "--id", bad_id)
    assert result.returncode == 2, result.stderr
    assert "Invalid value for '--id'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db.exists()  # no page row for id -5, no archive at all
    assert site.requests == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["99999999999999999999"], 1, "not an event id: 99999999999999999999"),
        (["7" * 5000], 1, "not an event id"),
        (["²"], 1, "not an event id"),
        (["{id}", "--at", "9999-12-31T23:59:59-23:59"], 2, "years 1 to 9999, in UTC"),
        (["{id}", "--at", "0001-01-01T00:00:00+14:00"], 2, "years 1 to 9999, in UTC"),
    ],
    ids=["20-digits", "5000-digits", "superscript-two", "at-past-9999", "at-before-1"],
)
def test_show_refuses_impossible_ids_and_moments_clearly(site, tmp_path, args, code, message):
    db = tmp_path / "a.db"
    assert crawl(site, db, "--id", str(site.ids[0])).returncode == 0
    result = kremlin("show", "--db", db, *[a.replace("{id}", str(site.ids[0])) for a in args])
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_block_pages_without_a_marker_stop_the_run_through_the_breaker(site, tmp_path):
    """Over 20 kB, no marker in the title, no article: the breaker stayed closed and every
    page of the run was asked for and stored as a failed capture."""
    blank = b"<html><head><title>en.kremlin.ru</title><script>var t=" + b"1" * 30_000
    blank += b";</script></head><body></body></html>"
    for page in site.news():
        site.add_raw(f"/events/president/news/{page.event_id}", blank)
    config = tmp_path / "k.toml"
    config.write_text("[fetch]\nbreaker_threshold = 3\n", encoding="utf-8")
    result = crawl(site, tmp_path / "a.db", "--config", str(config))
    assert result.returncode == 1
    assert "blocked: 3 answers in a row without <article" in result.stderr
    assert len(site.requests_to("/events/president/news/6*")) == 3  # of 5 pages
    assert "failed 3" in result.stdout


# --- capture times and ids that cannot be (items 2 and 12) --------------------------------


def test_a_capture_time_in_the_future_is_refused(site, tmp_path):
    """The page was then never due, show --at today failed, later real copies were skipped."""
    saved = tmp_path / "page.html"
    saved.write_bytes(site.render(site.news()[0]))
    db = tmp_path / "a.db"
    result = kremlin("import", saved, "--db", db, "--captured-at", "2099-01-01")
    assert result.returncode == 2
    assert "--captured-at 2099-01-01T00:00:00Z is ahead of the clock" in result.stderr
    assert not db.exists()


def test_a_saved_file_dated_in_the_future_is_skipped(site, tmp_path):
    later, now = tmp_path / "later.html", tmp_path / "now.html"
    later.write_bytes(site.render(site.news()[0]))
    now.write_bytes(site.render(site.news()[1]))
    os.utime(later, (4_070_908_800, 4_070_908_800))  # 2099-01-01
    result = kremlin("import", later, now, "--db", tmp_path / "a.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported 1 (new 1")
    assert f"skipped {later}: its time 2099-01-01T00:00:00Z is ahead of the clock" in (
        result.stderr
    )


@pytest.mark.parametrize("bad_id", ["99999999999999999999", "7" * 5000])
def test_a_saved_page_with_an_id_that_cannot_exist_is_skipped(site, tmp_path, bad_id):
    page = site.news()[0]
    body = site.render(page).decode().replace(f"event-{page.event_id}", f"event-{bad_id}")
    body = body.replace(f"/news/{page.event_id}", f"/news/{bad_id}")
    saved = tmp_path / "page.html"
    saved.write_text(body, encoding="utf-8")
    result = kremlin("import", saved, "--db", tmp_path / "a.db")
    assert "Traceback" not in result.stderr
    assert result.returncode == 0
    assert f"skipped {saved}: " in result.stderr
    assert result.stdout.startswith("imported 0")


# --- counts recorded as the run goes (item 13) --------------------------------------------


def test_a_killed_run_keeps_the_counts_of_what_it_archived(site, tmp_path):
    """SIGKILL in the middle of the fourth page: the run said 0 pages although 3 were in."""
    fourth = site.ids[3]
    site.drip(f"/events/president/news/{fourth}", site.render(site.news()[3]), 0.05)
    db = tmp_path / "a.db"
    args = ["crawl", "--db", db, "--base-url", site.url, "--delay", "0"]
    with subprocess.Popen(
        [sys.executable, "-m", "kremlin_archive", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as child:
        assert wait_until(lambda: site.drips[f"/events/president/news/{fourth}"].sent > 0, 60)
        child.kill()
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        run = dict(conn.execute("SELECT * FROM runs").fetchone())
    assert run["finished_at"] is None
    assert (run["discovered"], run["new"], run["failed"]) == (5, 3, 0)
    status = json.loads(kremlin("status", "--json", "--db", db).stdout)
    assert status["last_runs"]["manual"]["outcome"] == "interrupted"
    assert status["last_runs"]["manual"]["new"] == 3


def test_a_crawl_that_fills_the_disk_says_what_it_kept(tmp_path):
    """It said "nothing was written" when 23 pages were, and the run kept zero counts."""
    skip_without_private_mounts()
    disk = tmp_path / "disk"
    disk.mkdir()
    db = disk / "a.db"
    with HostileSite(n_pages=40, seed=6, chrome=True) as big:
        crawl_line = cli_line("crawl", "--db", db, "--base-url", big.url, "--delay", "0")
        status = cli_line("status", "--json", "--db", db)
        count = f"{sys.executable} -c \"import sqlite3; print('versions', sqlite3.connect('{db}')"
        count += ".execute('select count(*) from versions').fetchone()[0])\""
        then = f"{crawl_line} || echo exit=$?; {status} > {tmp_path}/status.json; {count}"
        result = run_with_mounts(small_disk(disk, 320), then)
    assert "exit=1" in result.stdout, result.stderr
    assert "is full" in result.stderr and "everything saved before it is kept" in result.stderr
    assert "nothing was written" not in result.stderr
    assert "Traceback" not in result.stderr
    versions = int(result.stdout.split("versions")[-1])
    assert 0 < versions < 40
    run = json.loads((tmp_path / "status.json").read_text())["last_runs"]["manual"]
    assert run["new"] == versions


def test_a_deeply_nested_page_is_one_failed_capture_and_the_run_goes_on(site, tmp_path):
    deep = site.ids[1]
    site.add_raw(f"/events/president/news/{deep}", deep_page(site, deep, 40_000))
    result = crawl(site, tmp_path / "a.db")
    assert result.returncode == 1
    assert result.stdout.strip().endswith("new 4, changed 0, unchanged 0, gone 0, failed 1")
    assert f"news/{deep}: markup refused before parsing" in result.stderr
