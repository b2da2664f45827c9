"""renormalize through the real CLI, without network: --force, a summary that says why
nothing was done, and refused pages whose body was kept read again by a later normalizer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fakesite import SHARED_HTML, FakeSite
from kremlin_archive.normalize import NORMALIZER_VERSION
from runcli import kremlin


def query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def crawled(db: Path, pages: int = 4, seed: int = 31) -> FakeSite:
    """The fake site crawled into ``db``, then stopped: what follows has no network."""
    site = FakeSite(n_pages=pages, seed=seed, extras=0).start()
    result = kremlin("crawl", "--db", db, "--base-url", site.url, "--delay", "0")
    assert result.returncode == 0, result.stderr
    site.stop()
    return site


def test_renormalize_with_nothing_due_says_why_and_force_rederives_every_page(tmp_path):
    db = tmp_path / "k.db"
    crawled(db)
    before = query(db, "SELECT page_id, seq, text_sha256 FROM versions ORDER BY 1")
    idle = kremlin("renormalize", "--db", db)
    assert idle.returncode == 0, idle.stderr
    assert idle.stdout.strip() == (
        "pages 0, renormalized 0, unchanged 0, failed 0: nothing to do, all 4 pages were read"
        f" with normalizer version {NORMALIZER_VERSION} already; --force re-derives every"
        " page from its stored raw page"
    )
    forced = kremlin("renormalize", "--force", "--db", db)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.strip() == "pages 4, renormalized 0, unchanged 4, failed 0"
    assert query(db, "SELECT page_id, seq, text_sha256 FROM versions ORDER BY 1") == before


def test_force_adds_a_renormalize_version_where_the_stored_text_differs(tmp_path):
    db = tmp_path / "k.db"
    site = crawled(db)
    edited = site.ids[0]
    with sqlite3.connect(db) as conn:  # a text an older normalizer made, stamped current
        conn.execute(
            "UPDATE versions SET text = text || ' Tooltip', text_sha256 = 'older'"
            " WHERE page_id = (SELECT id FROM pages WHERE event_id = ?)",
            (edited,),
        )
    assert "pages 0," in kremlin("renormalize", "--db", db).stdout  # not due: stamped current
    forced = kremlin("renormalize", "--force", "--db", db)
    assert forced.stdout.strip() == "pages 4, renormalized 1, unchanged 3, failed 0"
    assert query(db, "SELECT origin FROM versions WHERE seq = 2") == [("renormalize",)]


def refuse_as_an_older_normalizer_did(db: Path, event_id: int) -> None:
    """The page's good 200 made into what an older normalizer that could not read it left:
    a capture of outcome "error" with its body kept, and no version."""
    with sqlite3.connect(db) as conn:
        page_id = conn.execute("SELECT id FROM pages WHERE event_id = ?", (event_id,)).fetchone()
        conn.execute("UPDATE captures SET version_id = NULL WHERE page_id = ?", page_id)
        conn.execute("DELETE FROM versions WHERE page_id = ?", page_id)
        conn.execute(
            "UPDATE captures SET outcome = 'error', error = 'not an event page: no <article>'"
            " WHERE page_id = ?",
            page_id,
        )
        conn.execute("UPDATE pages SET normalizer_version = NULL WHERE id = ?", page_id)


def test_a_refused_page_whose_body_was_kept_is_read_again(tmp_path):
    db = tmp_path / "k.db"
    site = crawled(db)
    refused = site.ids[1]
    refuse_as_an_older_normalizer_did(db, refused)
    captured_at = query(db, "SELECT captured_at FROM captures WHERE outcome = 'error'")[0][0]
    assert kremlin("show", str(refused), "--db", db).returncode == 1  # no version yet

    result = kremlin("renormalize", "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "pages 0, renormalized 0, unchanged 0, failed 0; refused pages re-read 1, recovered 1"
    )
    shown = kremlin("show", str(refused), "--db", db)
    assert shown.returncode == 0 and site.pages[refused].title in shown.stdout
    history = kremlin("history", str(refused), "--db", db).stdout.splitlines()
    assert history[1].startswith(f"v1    {captured_at}") and "first capture" in history[1]
    recovered = "SELECT c.outcome, c.error FROM captures c JOIN pages p ON p.id = c.page_id"
    assert query(db, f"{recovered} WHERE p.event_id = ?", (refused,)) == [("new", None)]
    again = kremlin("renormalize", "--db", db)
    assert "refused" not in again.stdout  # read once: it is a good capture now


def test_a_refused_page_that_still_does_not_normalize_stays_refused(tmp_path):
    db = tmp_path / "k.db"
    with FakeSite(n_pages=3, seed=32, extras=0) as site:
        blocked = site.ids[0]
        moved = (
            b"<html><head><title>Moved</title></head><body><p>See the archive.</p></body></html>"
        )
        site.add_raw(f"/events/president/news/{blocked}", moved)
        args = ["crawl", "--db", db, "--base-url", site.url, "--delay", "0"]
        assert kremlin(*args, "--id", str(blocked)).returncode == 1
    kept = query(db, "SELECT outcome, http_status, raw_sha256 IS NOT NULL FROM captures")
    assert kept == [("error", 200, 1)]  # refused, its body kept
    result = kremlin("renormalize", "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("; refused pages re-read 1, recovered 0")
    assert query(db, "SELECT count(*) FROM versions") == [(0,)]
    assert query(db, "SELECT outcome FROM captures") == [("error",)]


@pytest.mark.shared
def test_refused_real_pages_are_read_again(tmp_path):
    if not SHARED_HTML.is_dir():
        pytest.skip(f"real pages not found at {SHARED_HTML}")
    db = tmp_path / "k.db"
    assert kremlin("import", SHARED_HTML, "--db", db).returncode == 0
    event_id = 53016
    refuse_as_an_older_normalizer_did(db, event_id)
    result = kremlin("renormalize", "--db", db)
    assert result.returncode == 0, result.stderr
    refused = query(
        db,
        "SELECT count(*) FROM captures c JOIN pages p ON p.id = c.page_id WHERE p.event_id = ?",
        (event_id,),
    )[0][0]
    assert f"refused pages re-read {refused}, recovered {refused}" in result.stdout
    shown = kremlin("show", str(event_id), "--db", db)
    assert shown.returncode == 0 and "Nazarbayev" in shown.stdout
