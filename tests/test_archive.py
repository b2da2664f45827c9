"""The archive on real SQLite files: dedup, change history, gone and back, re-normalization,
locking, and a writer killed with SIGKILL at random points."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from archive_writer import plan
from fakesite import generate_page, render_event_page
from kremlin_archive.archive import Archive, Capture, migrations
from kremlin_archive.chronology import save_capture as save_in_time
from kremlin_archive.errors import ArchiveError, DatabaseBusy, NotAnEventPage, NotArchived
from kremlin_archive.lookup import iter_records, list_pages, search_versions
from kremlin_archive.normalize import NORMALIZER_VERSION, Transcript, Turn, parse_event_page
from kremlin_archive.renormalize import Normalizer, derive_chain, renormalize, save_capture

SITE = "en.kremlin.ru"
WRITER = Path(__file__).with_name("archive_writer.py")


@pytest.fixture
def archive(tmp_path: Path):
    with Archive(tmp_path / "kremlin.db", busy_timeout=5) as opened:
        yield opened


@pytest.fixture
def page():
    return generate_page(random.Random(7), 61000, datetime(2021, 5, 4, 12, 30))


def capture_of(page, at: str, status: int = 200, body: bytes | None = None, **extra) -> Capture:
    """A capture of a FakePage as the crawl would make it (200: rendered and parsed)."""
    base = {"site": SITE, "event_id": page.event_id, "url": page.url, "source": "replica"}
    if status != 200:
        return Capture(**base, captured_at=at, status=status, **extra)
    body = body if body is not None else render_event_page(page).encode()
    transcript = parse_event_page(body, page.url)
    return Capture(**base, captured_at=at, status=200, body=body, transcript=transcript, **extra)


def count(archive: Archive, table: str) -> int:
    return archive.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# --- dedup -------------------------------------------------------------------------------


def test_same_page_twice_adds_no_version_and_no_raw_page(archive, page):
    first = archive.save_capture(capture_of(page, "2024-01-01T10:00:00Z", etag='"a"'))
    second = archive.save_capture(capture_of(page, "2024-01-02T10:00:00Z", etag='"b"'))
    assert (first, second) == ("new", "unchanged")
    assert (count(archive, "versions"), count(archive, "raw_pages")) == (1, 1)
    assert count(archive, "captures") == 2
    state = archive.page_state(SITE, page.event_id)
    assert state.last_checked_at == "2024-01-02T10:00:00Z"
    assert state.last_changed_at == "2024-01-01T10:00:00Z"
    assert state.etag == '"b"' and state.versions == 1


def test_a_capture_keeps_where_its_bytes_came_from(archive, page):
    headers = '{"status_line": "HTTP/1.1 200 OK", "headers": [["Content-Type", "text/html"]]}'
    memento = f"https://web.archive.org/web/20200101000000id_/{page.url}"
    provenance = {
        "source_url": memento,
        "fetched_url": memento,
        "http_headers": headers,
        "site_updated_at": "2019-12-31T21:00:00Z",
    }
    archive.save_capture(capture_of(page, "2020-01-01T00:00:00Z", **provenance))
    plain = capture_of(page, "2020-01-02T00:00:00Z")
    archive.save_capture(plain)
    newest, oldest = archive.captures(SITE, page.event_id)
    assert {name: oldest[name] for name in provenance} == provenance
    assert all(newest[name] is None for name in ("source_url", "fetched_url", "http_headers"))
    assert newest["site_updated_at"] == plain.transcript.site_updated_at is not None  # read


def test_whitespace_only_change_is_unchanged_but_keeps_the_new_body(archive, page):
    archive.save_capture(capture_of(page, "2024-01-01T10:00:00Z"))
    spaced = replace(page, paragraphs=[f"  {p}\n\t " for p in page.paragraphs])
    outcome = archive.save_capture(capture_of(spaced, "2024-01-02T10:00:00Z"))
    assert outcome == "unchanged"
    assert count(archive, "versions") == 1
    assert count(archive, "raw_pages") == 2  # a different body is kept, once


def test_white_space_inside_text_lines_is_folded(archive, page):
    body = render_event_page(page).encode()
    transcript = parse_event_page(body, page.url)
    noisy = replace(transcript, text=transcript.text.replace(" ", "  \u00a0", 3))
    archive.save_capture(capture_of(page, "2024-01-01T10:00:00Z"))
    again = replace(capture_of(page, "2024-01-02T10:00:00Z"), transcript=noisy)
    assert archive.save_capture(again) == "unchanged"


def test_real_edit_adds_a_version_with_its_changed_fields(archive, page):
    archive.save_capture(capture_of(page, "2024-01-01T10:00:00Z"))
    edited = replace(page, title="A new title", paragraphs=[*page.paragraphs, "Added later."])
    assert archive.save_capture(capture_of(edited, "2024-01-03T08:00:00Z")) == "changed"
    old, new = archive.versions(SITE, page.event_id)
    assert (old.seq, new.seq, new.origin) == (1, 2, "site")
    assert new.changed_fields == ["title", "body"]
    assert new.body_changes["paragraphs"] == {"added": 1, "removed": 0, "edited": 0}
    assert archive.page_state(SITE, page.event_id).last_changed_at == "2024-01-03T08:00:00Z"


def test_replaying_a_capture_writes_nothing(archive, page):
    capture = capture_of(page, "2024-01-01T10:00:00Z")
    assert [archive.save_capture(capture) for _ in range(3)] == ["new"] * 3
    assert [count(archive, t) for t in ("captures", "versions", "raw_pages")] == [1, 1, 1]


def test_en_and_ru_pages_with_one_event_id_are_different_pages(archive, page):
    archive.save_capture(capture_of(page, "2024-01-01T10:00:00Z"))
    ru = replace(capture_of(page, "2024-01-01T10:00:00Z"), site="kremlin.ru")
    assert archive.save_capture(ru) == "new"
    assert archive.page_state("kremlin.ru", page.event_id).versions == 1
    with pytest.raises(NotArchived, match="several sites"):
        archive.get_page(page.event_id)


# --- change history ----------------------------------------------------------------------


def transcript(text: str, turns: list[Turn], **fields) -> Transcript:
    values = {"event_id": 5, "url": "http://en.kremlin.ru/events/president/news/5"}
    values |= {"language": "en", "title": "Talks", "date": "2024-02-01", "time": "12:00"}
    return Transcript(text=text, turns=turns, **(values | fields))


def save_transcript(archive: Archive, t: Transcript, at: str) -> str:
    body = f"<html>{t.text}|{t.fields()}</html>".encode()
    capture = Capture(SITE, 5, t.url, at, "import", 200, body, transcript=t)
    return archive.save_capture(capture)


def test_change_history_counts_turns_added_removed_and_edited(archive):
    turns = [Turn("A", "one"), Turn("B", "two"), Turn("A", "three"), Turn("B", "four")]
    lines = lambda ts: "\n".join(["Talks", "12:00", *(f"{t.speaker}: {t.text}" for t in ts)])  # noqa: E731
    save_transcript(archive, transcript(lines(turns), turns), "2024-02-01T10:00:00Z")
    edited = [turns[0], Turn("B", "two, corrected"), turns[2], Turn("C", "five"), Turn("A", "6")]
    later = transcript(lines(edited), edited, place="Sochi", tags={"Topics": ["Economy"]})
    assert save_transcript(archive, later, "2024-02-02T10:00:00Z") == "changed"
    new = archive.versions(SITE, 5)[-1]
    assert new.changed_fields == ["place", "tags", "body"]
    assert new.body_changes["turns"] == {"added": 1, "removed": 0, "edited": 2}
    assert new.body_changes["paragraphs"] == {"added": 1, "removed": 0, "edited": 2}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"lead": "New lead"}, ["lead"]),
        ({"date": "2024-02-02", "time": "13:00"}, ["date", "time"]),
        ({"sections": ["News", "Transcripts"]}, ["sections"]),
        ({"photo_count": 4}, ["photo_count"]),
    ],
    ids=["lead", "date-and-time", "sections", "photo-count"],
)
def test_change_history_names_each_changed_field(archive, fields, expected):
    save_transcript(archive, transcript("Talks\nbody", []), "2024-02-01T10:00:00Z")
    save_transcript(archive, transcript("Talks\nbody", [], **fields), "2024-02-02T10:00:00Z")
    assert archive.versions(SITE, 5)[-1].changed_fields == expected


# --- gone and back, 304, errors ----------------------------------------------------------


def test_gone_page_keeps_its_versions_and_coming_back_shows_in_history(archive, page):
    archive.save_capture(capture_of(page, "2024-01-01T10:00:00Z"))
    assert archive.save_capture(capture_of(page, "2024-01-02T10:00:00Z", status=410)) == "gone"
    assert archive.save_capture(capture_of(page, "2024-01-03T10:00:00Z", status=404)) == "gone"
    state = archive.page_state(SITE, page.event_id)
    assert (state.status, state.gone_at, state.versions) == ("gone", "2024-01-02T10:00:00Z", 1)
    assert archive.save_capture(capture_of(page, "2024-01-04T10:00:00Z")) == "unchanged"
    state = archive.page_state(SITE, page.event_id)
    assert (state.status, state.gone_at) == ("live", None)
    history = [(c["outcome"], c["status_change"]) for c in archive.captures(SITE, page.event_id)]
    assert history == [("unchanged", "back"), ("gone", None), ("gone", "gone"), ("new", None)]


def test_not_modified_updates_last_checked_only(archive, page):
    archive.save_capture(capture_of(page, "2024-01-01T10:00:00Z", etag='"v1"'))
    outcome = archive.save_capture(capture_of(page, "2024-01-02T10:00:00Z", status=304))
    assert outcome == "not-modified"
    state = archive.page_state(SITE, page.event_id)
    assert (state.last_checked_at, state.versions) == ("2024-01-02T10:00:00Z", 1)
    assert archive.captures(SITE, page.event_id, limit=1)[0]["version_id"] == 1


def test_error_capture_is_logged_and_changes_no_page_state(archive, page):
    archive.save_capture(capture_of(page, "2024-01-01T10:00:00Z"))
    failed = Capture(SITE, page.event_id, page.url, "2024-01-02T10:00:00Z", "live", error="cut")
    assert archive.save_capture(failed) == "error"
    assert archive.save_capture(capture_of(page, "2024-01-03T10:00:00Z", status=503)) == "error"
    state = archive.page_state(SITE, page.event_id)
    assert state.last_checked_at == "2024-01-01T10:00:00Z"
    errors = [c["error"] for c in archive.captures(SITE, page.event_id)][:2]
    assert errors == ["HTTP 503", "cut"]


# --- re-normalization --------------------------------------------------------------------


NEXT_VERSION = NORMALIZER_VERSION + 1


def parse_v2(body, url=None) -> Transcript:
    """A changed normalizer (version NEXT_VERSION): titles in upper case."""
    parsed = parse_event_page(body, url)
    return replace(
        parsed,
        title=parsed.title.upper(),
        text=parsed.text.replace(parsed.title, parsed.title.upper()),
    )


NORMALIZER_V2 = Normalizer(parse_v2, NEXT_VERSION)


def test_renormalize_adds_a_renormalize_version_without_network(archive, page):
    save_capture(archive, capture_of(page, "2024-01-01T10:00:00Z"))
    counts = renormalize(archive, NORMALIZER_V2)
    assert counts == {"pages": 1, "renormalized": 1, "unchanged": 0, "failed": 0}
    new = archive.versions(SITE, page.event_id)[-1]
    assert (new.seq, new.origin, new.normalizer_version) == (2, "renormalize", NEXT_VERSION)
    assert new.changed_fields == ["title"] and new.title == page.title.upper()
    assert renormalize(archive, NORMALIZER_V2)["pages"] == 0  # nothing to redo
    assert renormalize(archive, NORMALIZER_V2, force=True)["unchanged"] == 1


def test_a_raw_page_that_no_longer_normalizes_fails_alone_and_keeps_its_version(archive, page):
    save_capture(archive, capture_of(page, "2024-01-01T10:00:00Z"))
    other = replace(page, event_id=61001)
    save_capture(archive, capture_of(other, "2024-01-01T10:00:00Z"))

    def refusing(body, url=None):
        if parse_event_page(body, url).event_id == page.event_id:
            raise NotAnEventPage("refused by the new normalizer", url)
        return parse_v2(body, url)

    counts = renormalize(archive, Normalizer(refusing, NEXT_VERSION))
    assert counts == {"pages": 2, "renormalized": 1, "unchanged": 0, "failed": 1}
    assert [v.origin for v in archive.versions(SITE, page.event_id)] == ["site"]
    assert archive.page_state(SITE, page.event_id).normalizer_version == NORMALIZER_VERSION


def test_the_raw_page_renormalize_parses_is_that_of_the_newest_good_capture(archive, page):
    edited = replace(page, title=f"{page.title} (edited)")
    save_capture(archive, capture_of(page, "2024-01-01T10:00:00Z"))
    save_capture(archive, capture_of(edited, "2024-01-02T10:00:00Z"))
    save_capture(archive, capture_of(page, "2024-01-03T10:00:00Z", status=503))
    page_id = archive.page_state(SITE, page.event_id).page_id
    newest = archive.good_captures(page_id)[-1]
    source = archive.rederive_source(page_id)
    current = archive.current_version(page_id)
    assert (source.raw_sha256, source.url) == (newest.raw_sha256, page.url)
    assert (source.version_id, source.text_sha256) == (current.id, current.text_sha256)
    assert (source.fields, source.fields_sha256) == (current.fields, current.fields_sha256)
    assert archive.raw_body(newest.raw_sha256) == render_event_page(edited).encode()
    assert archive.rederive_source(page_id + 1) is None


def test_a_page_captured_again_while_renormalize_reads_is_rederived_from_that_capture(
    archive, page
):
    """The page is read (and found unchanged) before it is written: a capture that comes
    in between, stored with an older reading, is re-derived all the same."""
    other = replace(page, event_id=61001)
    for each in (page, other):
        save_capture(archive, capture_of(each, "2024-01-01T10:00:00Z"))
    edited = replace(page, title=f"{page.title} (edited)")
    again = capture_of(edited, "2024-01-02T10:00:00Z")
    older = replace(again, transcript=replace(again.transcript, title="An older reading"))

    def parse_capturing_meanwhile(body, url=None):
        parsed = parse_event_page(body, url)
        if parsed.event_id == other.event_id and len(archive.versions(SITE, page.event_id)) == 1:
            archive.save_capture(older)  # a crawl's capture, after the page was read
        return parsed

    counts = renormalize(archive, Normalizer(parse_capturing_meanwhile, NEXT_VERSION))
    assert counts == {"pages": 2, "renormalized": 1, "unchanged": 1, "failed": 0}
    titles = [(v.origin, v.title) for v in archive.versions(SITE, page.event_id)]
    assert titles == [
        ("site", page.title),
        ("site", "An older reading"),
        ("renormalize", edited.title),
    ]


class KilledAtItem:
    """A progress that stops the run (as a kill would) when its ``n``-th item is done:
    inside the transaction that holds it."""

    def __init__(self, n: int) -> None:
        self.left = n

    def add_total(self, items: int) -> None:
        pass

    def advance(self, items: int = 1, note: str = "") -> None:
        self.left -= items
        if self.left <= 0:
            raise KeyboardInterrupt


def renormalized_versions(archive: Archive) -> list[tuple]:
    return archive.conn.execute(
        "SELECT page_id, seq, title, text_sha256, raw_sha256, normalizer_version FROM versions"
        " WHERE origin = 'renormalize' ORDER BY page_id, seq"
    ).fetchall()


def test_a_killed_renormalize_keeps_whole_transactions_and_the_next_run_does_the_rest(tmp_path):
    rng = random.Random(9)
    pages = [generate_page(rng, 61000 + n, datetime(2021, 5, 4, 12)) for n in range(100)]
    with Archive(tmp_path / "k.db") as killed, Archive(tmp_path / "w.db") as whole:
        for archive in (killed, whole):
            for page in pages:
                save_capture(archive, capture_of(page, "2024-01-01T10:00:00Z"))
        assert renormalize(whole, NORMALIZER_V2)["renormalized"] == 100
        with pytest.raises(KeyboardInterrupt):
            renormalize(killed, NORMALIZER_V2, progress=KilledAtItem(100))
        committed = len(renormalized_versions(killed))
        assert committed == 64  # the first transaction's pages; the second one's 35 rolled back
        assert len(killed.pages_to_renormalize(NEXT_VERSION)) == 100 - committed
        counts = renormalize(killed, NORMALIZER_V2)
        assert counts == {"pages": 36, "renormalized": 36, "unchanged": 0, "failed": 0}
        assert renormalized_versions(killed) == renormalized_versions(whole)


def test_capture_from_a_newer_normalizer_is_not_a_site_edit(archive, page):
    save_capture(archive, capture_of(page, "2024-01-01T10:00:00Z"))
    body = render_event_page(page).encode()
    capture = capture_of(page, "2024-01-02T10:00:00Z")
    capture = replace(capture, transcript=parse_v2(body, page.url))
    assert save_capture(archive, capture, NORMALIZER_V2) == "unchanged"
    versions = archive.versions(SITE, page.event_id)
    assert [(v.origin, v.normalizer_version) for v in versions] == [
        ("site", NORMALIZER_VERSION),
        ("renormalize", NEXT_VERSION),
    ]


def edits_of(page, count: int) -> list:
    """``count`` versions of a page, each one a real edit of the one before."""
    return [replace(page, title=f"{page.title} (edit {n})") for n in range(count)]


@pytest.mark.parametrize(
    "order",
    [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]],
    ids=["oldest-first", "newest-first", "mixed"],
)
def test_a_chain_derived_from_the_captures_follows_capture_time_whatever_the_order(
    tmp_path, page, order
):
    stamps = ["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", "2022-01-01T00:00:00Z"]
    stamps.append("2022-06-01T00:00:00Z")
    pages = edits_of(page, 3) + [edits_of(page, 2)[1]]  # the last one reverts an edit
    with Archive(tmp_path / "a.db") as archive:
        for n in order:
            save_capture(archive, capture_of(pages[n], stamps[n]))
        page_id = archive.page_state(SITE, page.event_id).page_id
        with archive.transaction():
            chain = derive_chain(archive, page_id)
    assert [(link.key.captured_at, link.change.fields) for link in chain] == [
        (stamps[0], []),
        (stamps[1], ["title"]),
        (stamps[2], ["title"]),
        (stamps[3], ["title"]),
    ]
    assert [link.content.title for link in chain] == [p.title for p in pages]


# --- reading -----------------------------------------------------------------------------


def test_read_api_finds_pages_versions_and_raw_bodies(archive, page):
    capture = capture_of(page, "2024-01-01T10:00:00Z")
    archive.save_capture(capture)
    assert archive.get_page(page.event_id).site == SITE
    assert archive.get_page(page.event_id, site=SITE).url == page.url
    sha = archive.versions(SITE, page.event_id)[0].raw_sha256
    assert archive.raw_body(sha) == capture.body
    with pytest.raises(NotArchived):
        archive.get_page(99)
    with pytest.raises(NotArchived):
        archive.raw_body("0" * 64)


def test_full_text_search_over_titles_and_texts(archive, page):
    archive.save_capture(capture_of(page, "2024-01-01T10:00:00Z"))
    word = page.title.split()[-3]
    hits = archive.conn.execute(
        "SELECT rowid FROM versions_fts WHERE versions_fts MATCH ?", (word,)
    ).fetchall()
    assert len(hits) == 1


def saved_on_days(archive: Archive, days: list[int | None], edits: int = 2) -> None:
    """Pages published on these days of May 2021 (None: a transcript without a date),
    saved in that order with falling event ids (63100, 63099, …), each with ``edits``
    later versions: a store order that is not the order of the events."""
    rng = random.Random(11)
    for n, day in enumerate(days):
        page = generate_page(rng, 63100 - n, datetime(2021, 5, day or 1, 12, 0))
        for edit in range(edits + 1):
            edited = replace(page, title=f"{page.title} edit {edit}")
            capture = capture_of(edited, f"2021-06-{edit + 1:02}T10:00:{n % 60:02}Z")
            if day is None:
                capture = replace(capture, transcript=replace(capture.transcript, date=None))
            archive.save_capture(capture)


def shown(hits) -> list[tuple[int, int]]:
    return [(hit["page_event_id"], hit["seq"]) for hit in hits]


@pytest.mark.parametrize("all_versions", [False, True], ids=["current", "all-versions"])
def test_search_with_a_limit_shows_the_first_matches_of_the_whole_order(archive, all_versions):
    """The limit cuts the order of every match: newest event day first, then event id,
    then version, undated events last; the same at every limit, also inside one day."""
    days = [3, 20, None, 20, 9, 20, 3, None, 28, 9]
    saved_on_days(archive, days)
    everything = shown(archive.search("President", all_versions))
    dated = sorted(
        ((days[n] or 0, 63100 - n, seq) for n in range(len(days)) for seq in (1, 2, 3)),
        reverse=True,
    )
    expected = [(event, seq) for _, event, seq in dated if all_versions or seq == 3]
    assert everything == expected
    for limit in range(1, len(everything) + 2):
        assert shown(archive.search("President", all_versions, limit)) == everything[:limit]


def test_search_with_a_limit_reads_the_matches_in_the_index_order_without_sorting_them(
    archive,
):
    """The cost of a search with a limit must not grow with the matches: FTS5 hands
    them out newest day first, so no step sorts them all (only the last day's)."""
    saved_on_days(archive, [3, 20, 9], edits=0)
    statements: list[str] = []
    archive.conn.set_trace_callback(statements.append)
    assert len(list(archive.search("President", limit=51))) == 3  # as the CLI asks
    archive.conn.set_trace_callback(None)
    (floor,) = [sql for sql in statements if "min(key)" in sql]
    steps = [row[-1] for row in archive.conn.execute("EXPLAIN QUERY PLAN " + floor)]
    assert not any("TEMP B-TREE" in step for step in steps), steps
    assert any(step.startswith("SCAN versions_fts VIRTUAL TABLE") for step in steps), steps
    (shown,) = [sql for sql in statements if "WITH hits" in sql]
    plan = list(archive.conn.execute("EXPLAIN QUERY PLAN " + shown))
    outer = [row[-1] for row in plan if row[1] == 0]
    outer = [step for step in outer if not step.startswith(("CO-ROUTINE", "MATERIALIZE"))]
    assert outer[0] == "SCAN hits", outer  # then each by its key, not every match again


def test_an_archive_from_before_the_search_key_is_migrated_and_searches_the_same(tmp_path):
    db = tmp_path / "kremlin.db"
    with Archive(db) as archive:
        saved_on_days(archive, [3, 20, None, 9], edits=1)
        before = shown(archive.search("President", True))
    with sqlite3.connect(db) as conn:  # the schema before migration 015, same rows
        for trigger in ("versions_ai", "versions_ad", "versions_au"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE versions_fts")
        conn.execute("DROP INDEX versions_search_key")
        conn.execute("ALTER TABLE versions DROP COLUMN search_key")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = '015_search_newest_first'")
    from sqlite_utils import Database

    Database(db)["versions"].enable_fts(["title", "text"], fts_version="FTS5", create_triggers=True)
    with Archive(db) as archive:
        keys = "SELECT search_key >> 34, date((search_key >> 34) + 0.5, 'julianday')"
        keys += " FROM versions ORDER BY id"
        days = [day if number else None for number, day in archive.conn.execute(keys)]
        assert days == [f"2021-05-{d:02}" if d else None for d in (3, 3, 20, 20, None, None, 9, 9)]
        assert shown(archive.search("President", True)) == before
        assert shown(archive.search("President", True, 3)) == before[:3]


def test_runs_are_recorded_and_stamp_their_captures(archive, page):
    run_id = archive.start_run("manual", "2024-01-01T09:59:00Z")
    archive.save_capture(capture_of(page, "2024-01-01T10:00:00Z"))
    archive.finish_run(run_id, "2024-01-01T10:01:00Z", {"new": 1, "failed": 0}, None)
    run = archive.runs()[0]
    assert (run["trigger"], run["new"], run["failed"], run["finished_at"]) == (
        "manual",
        1,
        0,
        "2024-01-01T10:01:00Z",
    )
    assert archive.captures(SITE, page.event_id)[0]["run_id"] == run_id


# --- the database file -------------------------------------------------------------------


def test_schema_is_applied_once_by_registered_migrations_in_wal_mode(tmp_path):
    path = tmp_path / "kremlin.db"
    for _ in range(2):
        with Archive(path) as archive:
            names = [r[0] for r in archive.conn.execute("SELECT name FROM _sqlite_migrations")]
            mode = archive.conn.execute("PRAGMA journal_mode").fetchone()[0]
            keys = archive.conn.execute("PRAGMA foreign_keys").fetchone()[0]
            synchronous = archive.conn.execute("PRAGMA synchronous").fetchone()[0]
            pending = migrations.pending(archive.db)
    assert names[:5] == [
        "001_initial_schema",
        "002_drop_captures_raw_index",
        "003_pages_feed_updated",
        "004_browsing_views",
        "005_capture_provenance",
    ]
    assert len(names) == len(set(names)) and not pending  # every migration applied, once
    assert (mode, keys, synchronous) == ("wal", 1, 1)  # synchronous 1 is NORMAL


def test_list_since_reads_the_days_asked_for_through_the_date_index(archive):
    rng = random.Random(5)
    for n, day in enumerate((1, 9, 20, 28)):
        page = generate_page(rng, 62000 + n, datetime(2021, 5, day, 12, 0))
        archive.save_capture(capture_of(page, f"2021-06-0{n + 1}T10:00:00Z"))
    statements: list[str] = []
    archive.conn.set_trace_callback(statements.append)
    listed = list(list_pages(archive, datetime(2021, 5, 20).date()))
    archive.conn.set_trace_callback(None)
    assert [(item.event_id, item.date) for item in listed] == [
        (62003, "2021-05-28"),
        (62002, "2021-05-20"),
    ]
    (listing,) = [sql for sql in statements if "current_transcripts" in sql]  # values bound
    plan_rows = archive.conn.execute("EXPLAIN QUERY PLAN " + listing).fetchall()
    steps = [row[-1] for row in plan_rows]
    assert any("USING INDEX versions_date" in step for step in steps), steps
    assert not any(step == "SCAN v" for step in steps), steps


def test_locked_database_raises_database_busy(tmp_path, page):
    path = tmp_path / "kremlin.db"
    Archive(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Archive(path, busy_timeout=0.05) as archive:
            assert archive.page_state(SITE, page.event_id) is None  # readers are not blocked
            with pytest.raises(DatabaseBusy, match="stayed locked"):
                archive.save_capture(capture_of(page, "2024-01-01T10:00:00Z"))
    finally:
        holder.execute("ROLLBACK")


def test_full_disk_raises_archive_error_and_writes_nothing(archive, page):
    archive.save_capture(capture_of(page, "2024-01-01T10:00:00Z"))
    pages_used = archive.conn.execute("PRAGMA page_count").fetchone()[0]
    archive.conn.execute(f"PRAGMA max_page_count = {pages_used}")
    other = replace(page, event_id=61001, paragraphs=page.paragraphs * 40)
    with pytest.raises(ArchiveError, match="full"):
        archive.save_capture(capture_of(other, "2024-01-02T10:00:00Z"))
    assert [count(archive, t) for t in ("pages", "captures", "raw_pages")] == [1, 1, 1]


def run_writer(db: Path, *args: str, **popen) -> subprocess.Popen:
    command = [sys.executable, str(WRITER), str(db), "--pages", "20", "--rounds", "3", *args]
    env = os.environ | {"PYTHONHASHSEED": "0"}  # fakesite's tag links use hash()
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, **popen)


def test_two_writers_and_a_reader_never_fail_with_database_locked(tmp_path):
    db = tmp_path / "kremlin.db"
    writers = [run_writer(db, "--first-id", str(first)) for first in (70000, 80000)]
    with Archive(db, busy_timeout=30) as reader:
        while any(w.poll() is None for w in writers):
            reader.page_state(SITE, 70000)
    outputs = [w.communicate()[0] for w in writers]
    assert [w.returncode for w in writers] == [0, 0]
    assert all(out.count("saved") == 60 for out in outputs)


# --- SIGKILL at random points ------------------------------------------------------------


def archive_contents(db: Path) -> tuple[list, list]:
    conn = sqlite3.connect(db)
    versions = conn.execute(
        "SELECT p.event_id, v.seq, v.origin, v.text_sha256, v.fields_sha256, v.raw_sha256"
        " FROM versions v JOIN pages p ON p.id = v.page_id ORDER BY 1, 2"
    ).fetchall()
    captures = conn.execute(
        "SELECT p.event_id, c.captured_at, c.outcome, c.status_change, c.raw_sha256"
        " FROM captures c JOIN pages p ON p.id = c.page_id ORDER BY 1, 2"
    ).fetchall()
    conn.close()
    return versions, captures


def check_consistent(db: Path) -> None:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    orphans = conn.execute(
        "SELECT count(*) FROM versions v LEFT JOIN raw_pages r ON r.sha256 = v.raw_sha256"
        " WHERE r.sha256 IS NULL"
    ).fetchone()[0]
    gaps = conn.execute(
        "SELECT count(*) FROM (SELECT page_id, max(seq) AS top, count(*) AS n"
        " FROM versions GROUP BY page_id) WHERE top != n"
    ).fetchone()[0]
    unlogged = conn.execute(
        "SELECT count(*) FROM versions v WHERE origin = 'site'"
        " AND NOT EXISTS (SELECT 1 FROM captures c WHERE c.version_id = v.id)"
    ).fetchone()[0]
    conn.close()
    assert (orphans, gaps, unlogged) == (0, 0, 0)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[list, list]:
    db = tmp_path_factory.mktemp("reference") / "kremlin.db"
    assert run_writer(db).wait() == 0
    return archive_contents(db)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_writer_killed_at_a_random_point_leaves_a_sound_archive_that_resumes(
    tmp_path, seed, reference
):
    db = tmp_path / "kremlin.db"
    total = len(list(plan(1, 20, 3)))
    writer = run_writer(db)
    assert writer.stdout.readline().strip() == "started"
    for _ in range(random.Random(seed).randrange(total)):
        writer.stdout.readline()
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert writer.returncode == -signal.SIGKILL
    check_consistent(db)
    rerun = run_writer(db)
    assert rerun.wait() == 0
    check_consistent(db)
    assert archive_contents(db) == reference


# --- SIGKILL through the real crawl command ----------------------------------------------


def start_crawl(db: Path, site) -> subprocess.Popen:
    """``kremlin-archive crawl`` against the fake site, logging each capture on stderr."""
    env = {k: v for k, v in os.environ.items() if k.lower() != "http_proxy"}
    command = [sys.executable, "-m", "kremlin_archive", "crawl", "--db", str(db)]
    command += ["--base-url", site.url, "--delay", "0", "--log-level", "DEBUG"]
    return subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )


def archived_ids(db: Path) -> set[int]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT event_id FROM pages WHERE EXISTS (SELECT 1 FROM versions WHERE page_id = pages.id)"
    ).fetchall()
    conn.close()
    return {event_id for (event_id,) in rows}


def requested_ids(site) -> set[int]:
    found = (re.fullmatch(r"/events/president/news/(\d+)", r.path) for r in site.requests)
    return {int(match.group(1)) for match in found if match}


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_crawl_killed_at_a_random_point_resumes_with_the_missing_pages(fake_site, tmp_path, seed):
    db = tmp_path / "kremlin.db"
    crawl = start_crawl(db, fake_site)
    wanted, seen = random.Random(seed).randrange(1, len(fake_site.ids)), 0
    while seen < wanted and (line := crawl.stderr.readline()):
        seen += "captured url=" in line  # a DEBUG line, one per page
    crawl.send_signal(signal.SIGKILL)
    crawl.wait()
    check_consistent(db)
    before = archived_ids(db)
    assert len(before) < len(fake_site.ids)  # killed mid-crawl
    fake_site.clear_requests()
    rerun = start_crawl(db, fake_site)
    _, errors = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, errors
    check_consistent(db)
    assert archived_ids(db) == set(fake_site.ids)
    assert requested_ids(fake_site) == set(fake_site.ids) - before


READS = {
    "search": lambda archive: list(search_versions(archive, "word")),
    "list": lambda archive: list(list_pages(archive)),
    "export-records": lambda archive: list(iter_records(archive, all_versions=True)),
    "export-state": lambda archive: archive.content_state(),
    "status": lambda archive: archive.last_run_failures(),
}


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_a_locked_database_is_busy_for_every_reader_not_a_bad_query(tmp_path, read):
    path = tmp_path / "kremlin.db"
    Archive(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")  # even readers wait for this one
    holder.execute("BEGIN EXCLUSIVE")
    reader = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    reader.row_factory = sqlite3.Row
    try:
        with pytest.raises(DatabaseBusy, match="stayed locked by another process"):
            read(Archive.over(reader, path))
    finally:
        reader.close()
        holder.execute("ROLLBACK")
        holder.close()


# --- history in capture-time order ---------------------------------------------------------


def history(archive: Archive) -> list[tuple]:
    """Every page's versions as a reader sees them: number, time, changed fields, text."""
    return archive.conn.execute(
        "SELECT p.event_id, v.seq, v.captured_at, v.changed_fields, v.body_changes,"
        " v.text_sha256, v.fields_sha256 FROM versions v JOIN pages p ON p.id = v.page_id"
        " ORDER BY p.event_id, v.seq"
    ).fetchall()


@pytest.mark.parametrize("order", ["in time", "reversed", "shuffled"])
def test_the_same_captures_in_any_order_give_the_same_history(tmp_path, order):
    captures = list(plan(seed=5, pages=6, rounds=6))
    with Archive(tmp_path / "timely.db") as timely:
        for capture in captures:
            save_in_time(timely, capture)
        expected = history(timely)
    arrival = captures[::-1] if order == "reversed" else list(captures)
    if order == "shuffled":
        random.Random(3).shuffle(arrival)
    with Archive(tmp_path / "late.db") as late:
        for capture in arrival:
            save_in_time(late, capture)
        assert history(late) == expected
        assert len({row[0] for row in expected}) == 6 and len(expected) > 6  # real edits
        if order != "in time":
            retired = late.conn.execute("SELECT count(*) FROM retired_versions").fetchone()[0]
            logged = late.conn.execute("SELECT sum(old_versions) FROM rederivations")
            assert retired == logged.fetchone()[0] > 0  # every replaced row is kept


def test_an_early_capture_between_two_versions_is_compared_with_its_predecessor(archive, page):
    edited = replace(page, paragraphs=[*page.paragraphs, "Correction."])
    retitled = replace(edited, title="A new title")
    save_in_time(archive, capture_of(page, "2024-01-01T00:00:00Z"))
    save_in_time(archive, capture_of(retitled, "2024-01-03T00:00:00Z"))
    outcome = save_in_time(archive, capture_of(edited, "2024-01-02T00:00:00Z"))
    versions = archive.versions(SITE, page.event_id)
    assert outcome == "changed"
    assert [(v.seq, v.captured_at, v.changed_fields) for v in versions] == [
        (1, "2024-01-01T00:00:00Z", []),
        (2, "2024-01-02T00:00:00Z", ["body"]),
        (3, "2024-01-03T00:00:00Z", ["title"]),
    ]
    assert versions[1].body_changes["paragraphs"]["added"] == 1
    assert archive.page_state(SITE, page.event_id).last_checked_at == "2024-01-03T00:00:00Z"
    links = archive.conn.execute(
        "SELECT c.captured_at, v.seq FROM captures c JOIN versions v ON v.id = c.version_id"
        " ORDER BY c.captured_at"
    ).fetchall()
    assert [tuple(row) for row in links] == [
        ("2024-01-01T00:00:00Z", 1),
        ("2024-01-02T00:00:00Z", 2),
        ("2024-01-03T00:00:00Z", 3),
    ]
