"""Importing saved pages (a browser's "save page", a wget mirror) through the real CLI."""

from __future__ import annotations

import itertools
import json
import os
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fakesite import SHARED_HTML, FakeSite, generate_page, render_event_page
from kremlin_archive import importer
from kremlin_archive.config import load_config
from runcli import kremlin


def save(folder: Path, name: str, body: bytes, when: datetime) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(body)
    stamp = when.replace(tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def site() -> Iterator[FakeSite]:
    site = FakeSite(n_pages=3, seed=4, extras=0)  # pages are rendered, never served
    yield site
    site.stop()


def test_saved_pages_become_versions_in_the_order_they_were_saved(site, tmp_path):
    page = site.news()[0]
    first = site.render(page)
    edited = site.render(site.edit_page(page.event_id))
    save(tmp_path / "saved", "b.html", edited, datetime(2021, 3, 2, 9, 0))
    save(tmp_path / "saved", "a.html", first, datetime(2021, 3, 1, 9, 0))
    save(tmp_path / "saved", "notes.txt", b"not a page", datetime(2021, 3, 1))
    db = tmp_path / "k.db"

    result = kremlin("import", tmp_path / "saved", "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "imported 2 (new 1, changed 1, unchanged 0), already archived 0, skipped 0"
    )
    assert rows(db, "SELECT seq, captured_at FROM versions ORDER BY seq") == [
        (1, "2021-03-01T09:00:00Z"),
        (2, "2021-03-02T09:00:00Z"),
    ]
    assert rows(db, "SELECT DISTINCT source FROM captures") == [("import",)]
    shown = kremlin("show", str(page.event_id), "--version", "1", "--db", db)
    assert shown.stdout.endswith("Text version\n")


def test_a_file_older_than_the_archive_takes_its_place_in_the_history(site, tmp_path):
    page = site.news()[1]
    first = site.render(page)
    edited = site.render(site.edit_page(page.event_id))
    db = tmp_path / "k.db"
    newer = save(tmp_path, "new.html", edited, datetime(2022, 1, 2))
    assert kremlin("import", newer, "--db", db).returncode == 0
    older = save(tmp_path, "old.html", first, datetime(2022, 1, 1))
    again = kremlin("import", older, "--db", db)
    assert again.returncode == 0, again.stderr
    assert "skipped 0" in again.stdout
    versions = "SELECT seq, captured_at, changed_fields FROM versions ORDER BY seq"
    assert rows(db, versions) == [
        (1, "2022-01-01T00:00:00Z", "[]"),
        (2, "2022-01-02T00:00:00Z", '["body"]'),
    ]
    assert rows(db, "SELECT old_versions, new_versions FROM rederivations") == [(1, 2)]
    assert rows(db, "SELECT seq, captured_at FROM retired_versions") == [
        (1, "2022-01-02T00:00:00Z")
    ]
    shown = kremlin("show", str(page.event_id), "--version", "1", "--db", db)
    assert "Correction 2." not in shown.stdout


def test_history_shows_when_an_older_file_re_derived_the_versions(site, tmp_path):
    page = site.news()[1]
    first = site.render(page)
    edited = site.render(site.edit_page(page.event_id))
    db = tmp_path / "k.db"
    for name, body, day in (("new.html", edited, 2), ("old.html", first, 1)):
        path = save(tmp_path, name, body, datetime(2022, 1, day))
        assert kremlin("import", path, "--db", db).returncode == 0
    shown = kremlin("history", str(page.event_id), "--db", db)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()[1:]
    assert [line[:28] for line in lines[:2]] == [
        "v1    2022-01-01T00:00:00Z  ",
        "v2    2022-01-02T00:00:00Z  ",
    ]
    assert "first capture" in lines[0] and "site edit" in lines[1]
    (when,) = rows(db, "SELECT rederived_at FROM rederivations")[0]
    assert lines[2] == (
        f"      {when}  history re-derived (1 version → 2):"
        " a capture of 2022-01-01T00:00:00Z (import) came after later ones"
    )
    data = json.loads(kremlin("history", str(page.event_id), "--json", "--db", db).stdout)
    assert [e["event"] for e in data["history"]] == ["version", "version", "rederived"]
    assert data["history"][2] == {
        "at": when,
        "event": "rederived",
        "old_versions": 1,
        "new_versions": 2,
        "reason": "a capture of 2022-01-01T00:00:00Z (import) came after later ones",
    }


def test_captured_at_overrides_the_file_time(site, tmp_path):
    path = save(tmp_path, "p.html", site.render(site.news()[2]), datetime(2023, 5, 5))
    db = tmp_path / "k.db"
    result = kremlin("import", path, "--captured-at", "2019-12-31T23:00", "--db", db)
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT captured_at FROM captures") == [("2019-12-31T23:00:00Z",)]


@pytest.mark.shared
def test_the_real_saved_pages_import_and_the_rest_is_named(tmp_path):
    if not SHARED_HTML.is_dir():
        pytest.skip(f"real pages not found at {SHARED_HTML}")
    db = tmp_path / "k.db"
    result = kremlin("import", SHARED_HTML, "--db", db)
    assert result.returncode == 0, result.stderr
    events = {p.name.split("-")[2] for p in SHARED_HTML.glob("en-news-*-*.html")}
    events -= {"list", "by"}
    stored = {str(i) for (i,) in rows(db, "SELECT event_id FROM pages")}
    assert stored == events
    assert "53016-photos.html: not an event page" in result.stderr  # refused, named
    print_variants = rows(db, "SELECT count(*) FROM captures WHERE outcome = 'unchanged'")
    assert print_variants == [(2,)]  # the /print copies hold the same text as their pages


def test_a_repeated_import_counts_the_files_as_already_archived(site, tmp_path):
    folder = tmp_path / "saved"
    for n, page in enumerate(site.news()):
        save(folder, f"{page.event_id}.html", site.render(page), datetime(2021, 4, 1 + n))
    save(folder, "list.html", b"<html><body>a listing</body></html>", datetime(2021, 4, 9))
    db = tmp_path / "k.db"
    first = kremlin("import", folder, "--db", db)
    again = kremlin("import", folder, "--db", db)
    assert first.stdout.strip() == (
        "imported 3 (new 3, changed 0, unchanged 0), already archived 0, skipped 1"
    )
    assert again.stdout.strip() == (
        "imported 0 (new 0, changed 0, unchanged 0), already archived 3, skipped 1"
    )
    assert rows(db, "SELECT discovered, new, unchanged, already_archived, skipped FROM runs") == [
        (4, 3, 0, 0, 1),
        (4, 0, 0, 3, 1),
    ]
    assert rows(db, "SELECT count(*) FROM captures") == [(3,)]
    status = kremlin("status", "--db", db).stdout
    assert "last import" in status and "new 0" in status and "already archived 3" in status


@pytest.mark.shared
def test_importing_the_real_pages_twice_adds_nothing_and_says_so(tmp_path):
    if not SHARED_HTML.is_dir():
        pytest.skip(f"real pages not found at {SHARED_HTML}")
    db = tmp_path / "k.db"
    first = kremlin("import", SHARED_HTML, "--db", db)
    before = rows(db, "SELECT count(*) FROM captures")
    again = kremlin("import", SHARED_HTML, "--db", db)
    assert again.returncode == 0, again.stderr
    imported = int(first.stdout.split()[1])
    assert imported > 0
    assert again.stdout.startswith(
        f"imported 0 (new 0, changed 0, unchanged 0), already archived {imported}, skipped "
    )
    assert rows(db, "SELECT count(*) FROM captures") == before
    assert rows(db, "SELECT new, already_archived FROM runs ORDER BY id") == [
        (rows(db, "SELECT count(*) FROM pages")[0][0], 0),
        (0, imported),
    ]


def test_an_import_stopped_midway_counts_what_it_archived_and_the_next_does_the_rest(
    tmp_path, monkeypatch
):
    """Files are archived many to a transaction: Ctrl-C in the second one keeps the first,
    and the run's counts say what the archive holds."""
    rng = random.Random(3)
    start = datetime(2021, 6, 1, 9)
    many = importer.FILES_PER_TRANSACTION + 20
    for n in range(many):
        page = generate_page(rng, 63000 + n, start + timedelta(hours=n))
        save(tmp_path / "saved", f"{page.event_id}.html", render_event_page(page).encode(),
             start + timedelta(hours=n))  # fmt: skip
    db = tmp_path / "k.db"
    saving, calls = importer.save_capture, itertools.count(1)

    def ctrl_c_at_the_70th(archive, capture):
        if next(calls) == importer.FILES_PER_TRANSACTION + 6:
            raise KeyboardInterrupt
        return saving(archive, capture)

    monkeypatch.setattr(importer, "save_capture", ctrl_c_at_the_70th)
    config = load_config(database__path=str(db))
    with pytest.raises(KeyboardInterrupt):
        importer.run_import(config, (tmp_path / "saved",), None)
    kept = importer.FILES_PER_TRANSACTION
    assert rows(db, "SELECT count(*) FROM captures") == [(kept,)]
    assert rows(db, "SELECT new FROM runs") == [(kept,)]
    again = kremlin("import", tmp_path / "saved", "--db", db)
    assert again.stdout.strip() == (
        f"imported {many - kept} (new {many - kept}, changed 0, unchanged 0),"
        f" already archived {kept}, skipped 0"
    )
