"""``status``: the archive's pages and versions, its runs and their outcomes, the service."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from kremlin_archive.archive import Archive
from kremlin_archive.config import load_config
from kremlin_archive.crawl import CrawlOptions, run_crawl
from kremlin_archive.errors import NotArchived, RunLockHeld
from kremlin_archive.service import Service
from kremlin_archive.status import gather_status, render_status
from test_service import FakeCrawl, site_config, stamp


@pytest.fixture
def config(tmp_path):
    return load_config(path=None, database__path=str(tmp_path / "a.db"))


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
