"""Bulk work on every core: import and renormalize with --jobs give what one process gives,
through the real CLI on real archive files."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fakesite import SHARED_HTML, generate_page, render_event_page
from kremlin_archive.parallel import Failed, map_ordered
from runcli import kremlin

VERSION_COLUMNS = (
    "p.event_id, v.seq, v.origin, v.captured_at, v.title, v.text, v.text_sha256, v.fields,"
    " v.fields_sha256, v.raw_sha256, v.changed_fields, v.body_changes"
)


def versions(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            f"SELECT {VERSION_COLUMNS} FROM versions v JOIN pages p ON p.id = v.page_id"
            " ORDER BY p.event_id, v.seq"
        ).fetchall()


@pytest.fixture
def saved_pages(tmp_path: Path) -> Path:
    """A folder of 60 saved event pages (some saved twice, edited), a listing and junk."""
    folder = tmp_path / "saved"
    folder.mkdir()
    rng = random.Random(4)
    start = datetime(2021, 3, 1, 9)
    for n in range(60):
        page = generate_page(rng, 62000 + n, start + timedelta(hours=n))
        path = folder / f"{page.event_id}.html"
        path.write_text(render_event_page(page, chrome=n % 2 == 0))
        os.utime(path, (1_600_000_000 + n, 1_600_000_000 + n))
        if n % 7 == 0:
            page.paragraphs.append("A correction.")
            edited = folder / f"{page.event_id}-edited.html"
            edited.write_text(render_event_page(page))
            os.utime(edited, (1_600_100_000 + n, 1_600_100_000 + n))
    (folder / "junk.html").write_text("<html><body>not an event</body></html>")
    if SHARED_HTML.is_dir():
        for name in (
            "en-news-53016-meeting-nazarbayev-2016-10-04.html",
            "en-news-53016-photos.html",
        ):
            (folder / name).write_bytes((SHARED_HTML / name).read_bytes())  # at test time
    return folder


def test_import_with_two_jobs_gives_what_one_gives(saved_pages, tmp_path):
    one = kremlin("import", saved_pages, "--db", tmp_path / "one.db", "--jobs", "1")
    two = kremlin("import", saved_pages, "--db", tmp_path / "two.db", "--jobs", "2")
    assert one.returncode == two.returncode == 0, two.stderr
    assert one.stdout == two.stdout
    skipped = 2 if SHARED_HTML.is_dir() else 1  # the junk file, the real photos tab
    assert "changed 9," in one.stdout and f"skipped {skipped}" in one.stdout
    assert sorted(line for line in one.stderr.splitlines() if line.startswith("skipped")) == sorted(
        line for line in two.stderr.splitlines() if line.startswith("skipped")
    )
    assert versions(tmp_path / "one.db") == versions(tmp_path / "two.db")


def test_renormalize_with_two_jobs_gives_what_one_gives(saved_pages, tmp_path):
    built = kremlin("import", saved_pages, "--db", tmp_path / "one.db", "--jobs", "2")
    assert built.returncode == 0, built.stderr
    with sqlite3.connect(tmp_path / "one.db") as conn:  # as an older normalizer left it
        conn.execute("UPDATE versions SET text_sha256 = 'older' WHERE page_id % 3 = 0")
        conn.execute("UPDATE pages SET normalizer_version = 1")
    with sqlite3.connect(tmp_path / "one.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the whole archive in the file
    shutil.copyfile(tmp_path / "one.db", tmp_path / "two.db")
    one = kremlin("renormalize", "--db", tmp_path / "one.db", "--jobs", "1")
    two = kremlin("renormalize", "--db", tmp_path / "two.db", "--jobs", "2")
    assert one.returncode == two.returncode == 0, two.stderr
    assert one.stdout == two.stdout
    assert "renormalized 0" not in one.stdout
    assert versions(tmp_path / "one.db") == versions(tmp_path / "two.db")


def _square_or_fail(n: int) -> int:
    if n == 3:
        raise ValueError("three is refused")
    return n * n


@pytest.mark.parametrize("jobs", [1, 2])
def test_map_ordered_keeps_the_order_and_hands_back_failures(jobs):
    results = list(map_ordered(_square_or_fail, range(50), jobs))
    assert results[:3] == [0, 1, 4]
    assert results[3] == Failed("ValueError", "three is refused")
    assert results[4:] == [n * n for n in range(4, 50)]
