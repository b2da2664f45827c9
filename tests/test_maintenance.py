"""Raw page upkeep on real archive files: zstd storage with a trained dictionary and
deltas, archives of the zlib era still read, `compact` converts them, `verify` reads every
raw page back (the real CLI)."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import zlib
from datetime import datetime, timedelta
from pathlib import Path

from fakesite import generate_page, render_event_page
from kremlin_archive import rawcodec
from kremlin_archive.archive import Archive, Capture, prepare_capture
from kremlin_archive.normalize import parse_event_page
from runcli import kremlin
from test_rawcodec import with_new_chrome

SITE = "en.kremlin.ru"


def save(archive: Archive, page, body: bytes, at: str) -> str:
    transcript = parse_event_page(body, page.url)
    capture = Capture(
        SITE, page.event_id, page.url, at, "replica", 200, body, transcript=transcript
    )
    return archive.save_capture(capture)


def fake_pages(n: int, seed: int = 5):
    rng = random.Random(seed)
    start = datetime(2021, 1, 1, 9)
    return [generate_page(rng, 61000 + i, start + timedelta(hours=i)) for i in range(n)]


def stored(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT sha256, compression, length(body), base_sha256, dict_id FROM raw_pages"
        ).fetchall()


def to_zlib_era(db: Path) -> None:
    """Store every raw page as the archive did before zstd (zlib level 6, alone)."""
    with Archive(db) as archive:
        bodies = {sha: archive.raw_body(sha) for sha, *_ in stored(db)}
    with sqlite3.connect(db) as conn:
        for sha, body in bodies.items():
            conn.execute(
                "UPDATE raw_pages SET compression = 'zlib', body = ?, base_sha256 = NULL,"
                " dict_id = NULL, depth = 0 WHERE sha256 = ?",
                (zlib.compress(body, 6), sha),
            )
        conn.execute("DELETE FROM raw_dicts")


def test_a_recapture_whose_chrome_changed_costs_little(tmp_path):
    page = fake_pages(1)[0]
    body = render_event_page(page, chrome=True).encode()
    with Archive(tmp_path / "a.db") as archive:
        save(archive, page, body, "2024-01-01T10:00:00Z")
        assert save(archive, page, with_new_chrome(body), "2024-01-02T10:00:00Z") == "unchanged"
        first, second = sorted(stored(tmp_path / "a.db"), key=lambda row: row[2], reverse=True)
        assert second[1] == "zstd-delta" and second[3] == first[0]
        assert second[2] < 2000 < first[2]
        assert archive.raw_body(second[0]) == with_new_chrome(body)


def test_the_archive_trains_its_dictionary_from_its_first_pages(tmp_path):
    pages = fake_pages(rawcodec.DICT_SAMPLES + 20)
    with Archive(tmp_path / "a.db") as archive:
        for page in pages:
            save(
                archive, page, render_event_page(page, chrome=True).encode(), "2024-01-01T10:00:00Z"
            )
        assert archive.dictionary() is not None
    rows = stored(tmp_path / "a.db")
    with_dict = [row for row in rows if row[4] is not None]
    assert 10 <= len(with_dict) <= 20  # the pages saved after it was trained
    alone = [row[2] for row in rows if row[4] is None]
    assert sum(row[2] for row in with_dict) / len(with_dict) < 0.6 * sum(alone) / len(alone)


def raw_rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT sha256, bytes, compression, body, base_sha256, dict_id, depth, sha1_base32"
            " FROM raw_pages ORDER BY rowid"
        ).fetchall()


def test_captures_prepared_ahead_are_stored_byte_for_byte_as_the_others(tmp_path):
    """Bulk work prepares each capture in a worker with the dictionary of the moment; the
    archive stores it as it would have stored it unprepared, dictionary trained meanwhile
    and deltas of re-captures included."""
    pages = fake_pages(rawcodec.DICT_SAMPLES + 10)
    bodies = [(p, render_event_page(p, chrome=True).encode()) for p in pages]
    bodies += [(p, with_new_chrome(body)) for p, body in bodies[-15:]]  # re-captures
    with Archive(tmp_path / "plain.db") as plain, Archive(tmp_path / "ahead.db") as ahead:
        for n, (page, body) in enumerate(bodies):
            at = f"2024-01-01T10:{n // 60 % 60:02d}:{n % 60:02d}Z"
            save(plain, page, body, at)
            transcript = parse_event_page(body, page.url)
            dictionary = ahead.dictionary() if n % 2 else None  # half of them stale
            capture = Capture(
                SITE, page.event_id, page.url, at, "replica", 200, body, transcript=transcript,
                prepared=prepare_capture(body, transcript, dictionary),
            )  # fmt: skip
            ahead.save_capture(capture)
    stored_ahead = raw_rows(tmp_path / "ahead.db")
    assert stored_ahead == raw_rows(tmp_path / "plain.db")
    assert {row[2] for row in stored_ahead} == {"zstd", "zstd-delta"}
    assert any(row[5] is not None for row in stored_ahead)  # a dictionary was trained


def test_zlib_era_archives_read_and_compact_converts_them(tmp_path):
    db = tmp_path / "a.db"
    pages = fake_pages(40)
    with Archive(db) as archive:
        for day, chrome in ((1, False), (2, True)):  # a re-capture of each with other chrome
            for page in pages:
                save(
                    archive,
                    page,
                    render_event_page(page, chrome).encode(),
                    f"2024-01-0{day}T10:00:00Z",
                )
        texts = [v.text for p in pages for v in archive.versions(SITE, p.event_id)]
    to_zlib_era(db)
    assert {row[1] for row in stored(db)} == {"zlib"}
    before = kremlin("verify", "--db", db)
    assert before.returncode == 0, before.stderr
    assert "verified 80 raw pages" in before.stdout and "zlib 80" in before.stdout

    done = kremlin("compact", "--db", db)
    assert done.returncode == 0, done.stderr
    assert "compacted 80 raw pages" in done.stdout
    assert {row[1] for row in stored(db)} <= {"zstd", "zstd-delta"}
    after = kremlin("verify", "--db", db)
    assert after.returncode == 0 and "all match their SHA-256" in after.stdout
    with Archive(db) as archive:
        assert [v.text for p in pages for v in archive.versions(SITE, p.event_id)] == texts
        for sha, *_ in stored(db):
            assert hashlib.sha256(archive.raw_body(sha)).hexdigest() == sha
    again = kremlin("compact", "--db", db)
    assert "compacted 0 raw pages" in again.stdout


def test_verify_names_a_raw_page_that_does_not_read_back(tmp_path):
    db = tmp_path / "a.db"
    page = fake_pages(1)[0]
    with Archive(db) as archive:
        save(archive, page, render_event_page(page).encode(), "2024-01-01T10:00:00Z")
    ((sha, *_),) = stored(db)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE raw_pages SET body = ? WHERE sha256 = ?", (b"\x28\xb5\x2f\xfd junk", sha)
        )
    result = kremlin("verify", "--db", db)
    assert result.returncode == 1
    assert f"bad raw page {sha}: raw page {sha}" in result.stderr
    assert "cannot be read back" in result.stderr and "1 do not" in result.stdout
    shown = kremlin("show", str(page.event_id), "--db", db)  # the text does not need it
    assert shown.returncode == 0


def test_a_delta_chain_that_loops_is_an_error_not_a_hang(tmp_path):
    db = tmp_path / "a.db"
    page = fake_pages(1)[0]
    body = render_event_page(page, chrome=True).encode()
    with Archive(db) as archive:
        save(archive, page, body, "2024-01-01T10:00:00Z")
        save(archive, page, with_new_chrome(body), "2024-01-02T10:00:00Z")
    (a, *_), (b, *_) = stored(db)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE raw_pages SET base_sha256 = ?, compression = 'zstd-delta' WHERE sha256 = ?",
            (b, a),
        )
        conn.execute(
            "UPDATE raw_pages SET base_sha256 = ?, compression = 'zstd-delta' WHERE sha256 = ?",
            (a, b),
        )
    result = kremlin("verify", "--db", db)
    assert result.returncode == 1 and "delta chain loops" in result.stderr


def test_daily_recaptures_stay_deltas_past_the_longest_chain(tmp_path):
    page = fake_pages(1)[0]
    body = render_event_page(page, chrome=True).encode()
    with Archive(tmp_path / "a.db") as archive:
        save(archive, page, body, "2024-01-01T10:00:00Z")
        for day in range(2, 2 + 2 * rawcodec.MAX_DELTA_DEPTH):
            again = with_new_chrome(body) + f"<!-- deploy {day} -->".encode()
            save(archive, page, again, f"2024-01-{day:02d}T10:00:00Z")
        rows = stored(tmp_path / "a.db")
        assert sum(row[1] == "zstd" for row in rows) == 1  # only the first is whole
        with sqlite3.connect(tmp_path / "a.db") as conn:
            depths = [d for (d,) in conn.execute("SELECT depth FROM raw_pages")]
        assert max(depths) <= rawcodec.MAX_DELTA_DEPTH
        for sha, *_ in rows:
            assert hashlib.sha256(archive.raw_body(sha)).hexdigest() == sha
