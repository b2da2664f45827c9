"""Opening the archive, through the real CLI: readers open read-only and never migrate
(a read-only mount works), a file that is no archive is refused as such, and an archive
made by a newer kremlin-archive is refused by every command (issue 19, items 9 and 10)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fakesite import FakeSite
from mounts import cli_line, read_only, run_with_mounts, skip_without_private_mounts
from runcli import kremlin

READERS = [
    ["show", "{id}"],
    ["history", "{id}"],
    ["diff", "{id}"],
    ["search", "cooperation"],
    ["list"],
    ["status"],
    ["export", "--format", "jsonl", "--out", "{out}"],
]
READER_IDS = [args[0] for args in READERS]


@pytest.fixture(scope="module")
def site():
    with FakeSite(n_pages=3, seed=4) as site:
        yield site


@pytest.fixture(scope="module")
def archive(site, tmp_path_factory) -> Path:
    """An archive of the three pages (one of them edited once), made by the real CLI."""
    db = tmp_path_factory.mktemp("made") / "a.db"
    assert crawl(site, db).returncode == 0
    site.edit_page(site.ids[0])
    assert crawl(site, db, "--id", str(site.ids[0])).returncode == 0
    return db


def crawl(site: FakeSite, db: Path, *args: str):
    return kremlin("crawl", "--db", db, "--base-url", site.url, "--delay", "0", *args)


def reader_args(args: list[str], site: FakeSite, out: Path) -> list[str]:
    return [a.replace("{id}", str(site.ids[0])).replace("{out}", str(out)) for a in args]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_of(archive: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with connected(archive) as source, connected(folder / "a.db") as target:
        source.backup(target)  # a clean copy, its WAL folded in
    return folder / "a.db"


@contextmanager
def connected(db: Path) -> Iterator[sqlite3.Connection]:
    """A connection, committed and closed at the end (closing folds the WAL in, so the
    file's bytes say what it holds)."""
    conn = sqlite3.connect(db)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


# --- read-only media -----------------------------------------------------------------------


@pytest.mark.parametrize("args", READERS, ids=READER_IDS)
def test_every_reader_works_on_a_read_only_mount(site, archive, tmp_path, args):
    skip_without_private_mounts()
    db = copy_of(archive, tmp_path / "media")
    before = sorted(p.name for p in db.parent.iterdir())
    command = cli_line(*reader_args(args, site, tmp_path / "out"), "--db", db)
    result = run_with_mounts(read_only(db.parent), command)
    assert result.returncode == 0, result.stderr
    assert "unable to open database file" not in result.stderr
    assert sorted(p.name for p in db.parent.iterdir()) == before


@pytest.mark.parametrize("args", READERS, ids=READER_IDS)
def test_readers_never_change_the_file(site, archive, tmp_path, args):
    db = copy_of(archive, tmp_path / "copy")
    before = digest(db)
    result = kremlin(*reader_args(args, site, tmp_path / "out"), "--db", db)
    assert result.returncode == 0, result.stderr
    assert digest(db) == before


def test_a_reader_does_not_migrate_an_older_archive(site, archive, tmp_path):
    """It said nothing and changed the file; now it says what to do and leaves it be."""
    db = copy_of(archive, tmp_path / "old")
    with connected(db) as conn:
        conn.execute("DROP VIEW changes")
        conn.execute("DROP VIEW current_transcripts")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = '004_browsing_views'")
    before = digest(db)
    result = kremlin("list", "--db", db)
    assert result.returncode == 1
    assert "made by an older kremlin-archive (migration 004_browsing_views" in result.stderr
    assert "a writing command (crawl, import, renormalize) brings it up to date" in result.stderr
    assert digest(db) == before
    assert kremlin("renormalize", "--db", db).returncode == 0  # a writer migrates
    assert kremlin("list", "--db", db).returncode == 0


# --- files that are no archive --------------------------------------------------------------


@pytest.mark.parametrize("args", READERS, ids=READER_IDS)
def test_an_empty_file_is_refused_and_left_empty(site, tmp_path, args):
    db = tmp_path / "empty.db"
    db.touch()
    result = kremlin(*reader_args(args, site, tmp_path / "out"), "--db", db)
    assert result.returncode == 1, result.stderr
    assert f"{db} is not a kremlin-archive archive (an empty file)" in result.stderr
    assert db.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_a_text_file_is_refused_as_no_sqlite_file(site, tmp_path):
    db = tmp_path / "notes.db"
    db.write_text("my notes\n" * 100, encoding="utf-8")
    result = kremlin("show", str(site.ids[0]), "--db", db)
    assert result.returncode == 1
    assert "is not a kremlin-archive archive (not an SQLite file)" in result.stderr


def test_another_sqlite_database_is_refused_by_readers_and_writers(site, tmp_path):
    db = tmp_path / "other.db"
    with connected(db) as conn:
        conn.execute("CREATE TABLE birds (name TEXT)")
    before = digest(db)
    for result in (kremlin("list", "--db", db), crawl(site, db)):
        assert result.returncode == 1
        assert "is not a kremlin-archive archive (an SQLite file without its tables)" in (
            result.stderr
        )
    assert digest(db) == before


# --- an archive from a newer version ------------------------------------------------------


def newer_archive(archive: Path, folder: Path) -> Path:
    db = copy_of(archive, folder)
    with connected(db) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('kremlin_archive', '099_from_the_future', '2030-01-01 00:00:00')"
        )
    return db


NEWER = "was made by a newer kremlin-archive (migration 099_from_the_future): upgrade"


@pytest.mark.parametrize("args", READERS, ids=READER_IDS)
def test_an_archive_of_a_newer_version_is_refused_by_every_reader(site, archive, tmp_path, args):
    db = newer_archive(archive, tmp_path / "newer")
    result = kremlin(*reader_args(args, site, tmp_path / "out"), "--db", db)
    assert result.returncode == 1, result.stderr
    assert NEWER in result.stderr
    assert "Traceback" not in result.stderr


def test_an_archive_of_a_newer_version_is_refused_by_every_writer(site, archive, tmp_path):
    db = newer_archive(archive, tmp_path / "newer")
    before = digest(db)
    saved = tmp_path / "saved.html"
    saved.write_bytes(site.render(site.news()[1]))
    results = {
        "crawl": crawl(site, db),
        "import": kremlin("import", saved, "--db", db),
        "renormalize": kremlin("renormalize", "--db", db),
        "serve": kremlin("serve", "--db", db, "--base-url", site.url, "--delay", "0"),
    }
    for name, result in results.items():
        assert result.returncode == 1, (name, result.stderr)
        assert NEWER in result.stderr, name
    assert digest(db) == before
