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
from kremlin_archive import rawcodec
from kremlin_archive.parallel import WINDOW_PER_JOB, Failed, map_ordered
from runcli import kremlin
from test_rawcodec import with_new_chrome

VERSION_COLUMNS = (
    "p.event_id, v.seq, v.origin, v.captured_at, v.title, v.text, v.text_sha256, v.fields,"
    " v.fields_sha256, v.raw_sha256, v.changed_fields, v.body_changes"
)


STORED = (
    "SELECT sha256, bytes, compression, body, base_sha256, dict_id, depth, sha1_base32"
    " FROM raw_pages ORDER BY rowid",
    "SELECT id, page_id, run_id, captured_at, source, http_status, outcome, raw_sha256, bytes,"
    " version_id, site_updated_at FROM captures ORDER BY id",
    "SELECT samples, bytes, dict FROM raw_dicts ORDER BY id",
)


def versions(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            f"SELECT {VERSION_COLUMNS} FROM versions v JOIN pages p ON p.id = v.page_id"
            " ORDER BY p.event_id, v.seq"
        ).fetchall()


def stored(db: Path) -> list[list[tuple]]:
    """The raw pages byte for byte, the captures and the dictionaries."""
    with sqlite3.connect(db) as conn:
        return [conn.execute(sql).fetchall() for sql in STORED]


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
    assert stored(tmp_path / "one.db") == stored(tmp_path / "two.db")


@pytest.fixture
def pages_across_the_dictionary(tmp_path: Path) -> Path:
    """Enough saved pages for the archive to train its dictionary midway, re-captures with
    other chrome (deltas) and edits (pages of two and three versions)."""
    folder = tmp_path / "across"
    folder.mkdir()
    rng = random.Random(8)
    start = datetime(2022, 5, 1, 9)
    pages = [generate_page(rng, 64000 + n, start + timedelta(hours=n)) for n in range(300)]
    assert len(pages) > rawcodec.DICT_SAMPLES + 40
    for n, page in enumerate(pages):
        body = render_event_page(page, chrome=True).encode()
        save(folder / f"{page.event_id}.html", body, 1_600_000_000 + n)
        if n % 25 == 0:
            save(folder / f"{page.event_id}-later.html", with_new_chrome(body), 1_600_900_000 + n)
        if n % 20 == 0:
            page.paragraphs.append("A correction.")
            edited = render_event_page(page, chrome=True).encode()
            save(folder / f"{page.event_id}-edited.html", edited, 1_601_000_000 + n)
        if n % 60 == 0:
            page.paragraphs.append("A second correction.")
            edited = with_new_chrome(render_event_page(page, chrome=True).encode())
            save(folder / f"{page.event_id}-edited-again.html", edited, 1_601_100_000 + n)
    return folder


def save(path: Path, body: bytes, stamp: int) -> None:
    path.write_bytes(body)
    os.utime(path, (stamp, stamp))


def test_import_with_two_jobs_stores_what_one_stores_across_the_dictionary(
    pages_across_the_dictionary, tmp_path
):
    """The raw pages are the same bytes whatever the jobs."""
    folder = pages_across_the_dictionary
    one = kremlin("import", folder, "--db", tmp_path / "one.db", "--jobs", "1")
    two = kremlin("import", folder, "--db", tmp_path / "two.db", "--jobs", "2")
    assert one.returncode == two.returncode == 0, two.stderr
    assert one.stdout == two.stdout
    raw_one = stored(tmp_path / "one.db")
    assert {row[2] for row in raw_one[0]} == {"zstd", "zstd-delta"} and raw_one[2]
    assert raw_one == stored(tmp_path / "two.db")
    assert versions(tmp_path / "one.db") == versions(tmp_path / "two.db")


def test_renormalize_with_two_jobs_gives_what_one_gives(saved_pages, tmp_path):
    built = kremlin("import", saved_pages, "--db", tmp_path / "one.db", "--jobs", "2")
    assert built.returncode == 0, built.stderr
    one = renormalized_by_one_and_two_jobs(tmp_path)
    assert "renormalized 0" not in one.stdout
    assert versions(tmp_path / "one.db") == versions(tmp_path / "two.db")


def renormalized_by_one_and_two_jobs(tmp_path: Path):
    """``one.db`` as left by an older normalizer, copied to ``two.db``, re-normalized with
    one job and with two; both must succeed and say the same. The one-job run's result."""
    as_left_by_an_older_normalizer(tmp_path / "one.db")
    shutil.copyfile(tmp_path / "one.db", tmp_path / "two.db")
    one = kremlin("renormalize", "--db", tmp_path / "one.db", "--jobs", "1")
    two = kremlin("renormalize", "--db", tmp_path / "two.db", "--jobs", "2")
    assert one.returncode == two.returncode == 0, two.stderr
    assert one.stdout == two.stdout
    return one


def as_left_by_an_older_normalizer(db: Path) -> None:
    """Every page marked as read by an older normalizer, a third of them with a text that
    normalizer made (so they get a re-normalization version), the archive in one file."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE versions SET text_sha256 = 'older' WHERE page_id % 3 = 0")
        conn.execute("UPDATE pages SET normalizer_version = 1")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def marks(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, normalizer_version FROM pages ORDER BY id").fetchall()


def test_renormalize_with_two_jobs_gives_what_one_gives_on_deltas_and_a_dictionary(
    pages_across_the_dictionary, tmp_path
):
    """The workers read the raw pages themselves (deltas on their bases, pages compressed
    with the trained dictionary), pages of several versions among them."""
    args = ["--db", tmp_path / "one.db", "--jobs", "2"]
    assert kremlin("import", pages_across_the_dictionary, *args).returncode == 0
    raw = stored(tmp_path / "one.db")
    assert {row[2] for row in raw[0]} == {"zstd", "zstd-delta"} and raw[2]  # a dictionary
    with sqlite3.connect(tmp_path / "one.db") as conn:
        assert conn.execute("SELECT max(seq) FROM versions").fetchone() == (3,)
    one = renormalized_by_one_and_two_jobs(tmp_path)
    assert one.stdout.startswith("pages 300, renormalized 100, unchanged 200, failed 0")
    assert versions(tmp_path / "one.db") == versions(tmp_path / "two.db")
    assert marks(tmp_path / "one.db") == marks(tmp_path / "two.db")


def test_a_raw_page_that_cannot_be_read_stops_renormalize_alike_with_two_jobs(
    saved_pages, tmp_path
):
    """A worker that cannot read a raw page leaves it to the writer, which meets the
    archive's error as one process does: the run stops, what it committed is kept."""
    assert kremlin("import", saved_pages, "--db", tmp_path / "one.db").returncode == 0
    with sqlite3.connect(tmp_path / "one.db") as conn:
        conn.execute(
            "UPDATE raw_pages SET body = zeroblob(40) WHERE sha256 = (SELECT raw_sha256"
            " FROM captures WHERE page_id = 50 ORDER BY captured_at DESC LIMIT 1)"
        )
    as_left_by_an_older_normalizer(tmp_path / "one.db")
    shutil.copyfile(tmp_path / "one.db", tmp_path / "two.db")
    one = kremlin("renormalize", "--db", tmp_path / "one.db", "--jobs", "1")
    two = kremlin("renormalize", "--db", tmp_path / "two.db", "--jobs", "2")
    assert one.returncode == two.returncode == 1
    assert "cannot be read back" in one.stderr
    assert one.stderr.replace("one.db", "two.db") == two.stderr
    assert versions(tmp_path / "one.db") == versions(tmp_path / "two.db")
    assert marks(tmp_path / "one.db") == marks(tmp_path / "two.db")


def _square_or_fail(n: int) -> int:
    if n == 3:
        raise ValueError("three is refused")
    return n * n


@pytest.mark.parametrize("jobs", [1, 2])
def test_map_ordered_keeps_the_order_and_hands_back_failures(jobs):
    results = list(map_ordered(_square_or_fail, range(50), jobs, chunk=7))
    assert results[:3] == [0, 1, 4]
    assert results[3] == Failed("ValueError", "three is refused")
    assert results[4:] == [n * n for n in range(4, 50)]


def test_map_ordered_draws_the_items_a_bounded_window_ahead():
    drawn = []

    def items():
        for n in range(200):
            drawn.append(n)
            yield n

    results = map_ordered(_square_or_fail, items(), 2, chunk=4)
    assert next(results) == 0
    assert len(drawn) <= 2 * WINDOW_PER_JOB * 4 + 4  # not all 200 at once
    assert list(results)[-1] == 199 * 199
