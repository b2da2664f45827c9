"""The archive-wide change list: ``changes``, ``changes --json`` and ``changes --atom``,
over an archive built by the real crawl of the fake site (a page edited twice, a page that
went and came back; see ``crawled.build_crawled_archive``)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace

import feedparser
from click.testing import CliRunner

from crawled import build_crawled_archive
from kremlin_archive.archive import Archive, Capture
from kremlin_archive.changes import parse_since
from kremlin_archive.cli import main
from kremlin_archive.normalize import parse_event_page
from kremlin_archive.renormalize import Normalizer, renormalize

ATOM = "{http://www.w3.org/2005/Atom}"


def run(db, *args: str) -> str:
    result = CliRunner().invoke(main, ["changes", "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def as_json(db, *args: str) -> list[dict]:
    return [json.loads(line) for line in run(db, "--json", *args).splitlines()]


def test_changes_lists_every_edit_removal_and_return_newest_first(crawled):
    found = as_json(crawled.db)
    assert [(c["event_id"], c["kind"], c["version"]) for c in found] == [
        (crawled.gone, "return", 1),
        (crawled.gone, "removal", 1),
        (crawled.edited, "edit", 3),
        (crawled.edited, "edit", 2),
    ]
    assert [c["at"] for c in found] == sorted((c["at"] for c in found), reverse=True)
    back, gone, retitled, corrected = found
    assert gone["what"] == "gone (HTTP 410)" and gone["http_status"] == 410
    assert back["what"].startswith("back (HTTP ")
    assert retitled["changed_fields"] == ["title"] and retitled["title"] == crawled.new_title
    assert corrected["changed_fields"] == ["body"]
    assert corrected["body_changes"]["paragraphs"]["added"] == 1
    assert corrected["what"] == "body (1 paragraph added)"
    assert corrected["diff_path"] == f"/-/event/en.kremlin.ru/{crawled.edited}/diff/1..2"


def test_first_captures_are_not_changes(crawled):
    versions_made = len(crawled.site.ids) + 2  # every page once, the edited one twice more
    with Archive(crawled.db) as archive:
        assert archive.conn.execute("select count(*) from versions").fetchone()[0] == (
            versions_made
        )
    assert all(c["version"] > 1 or c["kind"] in ("removal", "return") for c in as_json(crawled.db))


def test_changes_text_has_one_line_per_change(crawled):
    lines = run(crawled.db).splitlines()
    assert len(lines) == 4
    assert f"{crawled.edited}   v2→v3    site edit         title  | {crawled.new_title}" in lines[2]
    assert "removal" in lines[1] and "gone (HTTP 410)" in lines[1]


def test_since_and_site_narrow_the_list(crawled):
    everything = as_json(crawled.db)
    assert as_json(crawled.db, "--since", "2000-01-01") == everything
    assert as_json(crawled.db, "--since", "2999-01-01") == []
    newest = everything[0]["at"]
    assert all(c["at"] >= newest for c in as_json(crawled.db, "--since", newest))
    assert as_json(crawled.db, "--site", "en") == everything
    assert as_json(crawled.db, "--site", "ru") == []
    assert len(as_json(crawled.db, "--limit", "2")) == 2


def test_since_reads_the_versions_and_moves_captured_since_then_by_their_time_index(crawled):
    """A week's changes must cost the week, not the archive: no step reads every version
    or every capture (the plan before: SCAN v, SCAN c, the filter outside both)."""
    newest = as_json(crawled.db)[1]["at"]
    with Archive(crawled.db) as archive:
        statements: list[str] = []
        archive.conn.set_trace_callback(statements.append)
        found = archive.change_rows(since=newest)
        archive.conn.set_trace_callback(None)
        (listing,) = [sql for sql in statements if "WITH edits" in sql]
        steps = [row[-1] for row in archive.conn.execute("EXPLAIN QUERY PLAN " + listing)]
        assert found == [row for row in archive.change_rows() if row["at"] >= newest] != []
    assert not any(step in ("SCAN v", "SCAN c") for step in steps), steps
    # from an index that holds what the list shows: no version row (its overflow) read
    assert any("COVERING INDEX versions_changes (captured_at>?)" in step for step in steps), steps
    assert any("USING INDEX captures_moves (captured_at>?)" in step for step in steps), steps


def test_the_newest_changes_are_read_from_the_time_indexes_newest_first(crawled):
    """The first page of the change list (the web view's, ``changes --limit``) costs its
    rows, not the archive: each half reads its index by time from the newest and stops."""
    with Archive(crawled.db) as archive:
        statements: list[str] = []
        archive.conn.set_trace_callback(statements.append)
        newest = archive.change_rows(limit=2)
        archive.conn.set_trace_callback(None)
        (listing,) = [sql for sql in statements if "WITH edits" in sql]
        steps = [row[-1] for row in archive.conn.execute("EXPLAIN QUERY PLAN " + listing)]
        assert newest == archive.change_rows()[:2]
    assert "SCAN v USING COVERING INDEX versions_changes" in steps, steps
    assert "SCAN c USING INDEX captures_moves" in steps, steps


def test_a_bad_since_or_site_is_a_usage_error(crawled):
    bad = CliRunner().invoke(main, ["changes", "--db", str(crawled.db), "--since", "last week"])
    assert bad.exit_code == 2 and "not an ISO date or datetime" in bad.output
    bad = CliRunner().invoke(main, ["changes", "--db", str(crawled.db), "--site", "fr"])
    assert bad.exit_code == 2 and "--site must be one of en, ru" in bad.output


def test_since_reads_dates_and_zones_as_utc():
    assert parse_since("2024-05-01") == "2024-05-01T00:00:00Z"
    assert parse_since("2024-05-01T12:30+03:00") == "2024-05-01T09:30:00Z"
    assert parse_since("2024-05-01T12:30:00Z") == "2024-05-01T12:30:00Z"


def test_renormalizations_are_listed_only_when_asked(tmp_path):
    crawled = build_crawled_archive(tmp_path)
    crawled.site.stop()

    def reworded(body: bytes, url: str | None):
        transcript = parse_event_page(body, url)
        return replace(transcript, text=transcript.text + "\nNormalized again.")

    with Archive(crawled.db) as archive:
        counts = renormalize(archive, Normalizer(reworded, 999))
    assert counts["renormalized"] == len(crawled.site.ids)
    assert [c["kind"] for c in as_json(crawled.db)].count("renormalization") == 0
    every = as_json(crawled.db, "--include-renormalize")
    assert [c["kind"] for c in every].count("renormalization") == len(crawled.site.ids)


def test_a_page_first_seen_gone_is_no_change(tmp_path):
    db = tmp_path / "a.db"
    with Archive(db) as archive:
        url = "http://en.kremlin.ru/events/president/news/1"
        archive.save_capture(
            Capture("en.kremlin.ru", 1, url, "2024-05-01T12:00:00Z", "live", status=404)
        )
    assert run(db) == ""


# --------------------------------------------------------------------------- Atom


def test_atom_feed_parses_and_has_one_entry_per_change(crawled):
    text = run(crawled.db, "--atom", "--web-url", "http://archive.example.org/")
    feed = feedparser.parse(text)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    listed = as_json(crawled.db)
    assert [e.id for e in feed.entries] == [c["id"] for c in listed]
    assert [e.link for e in feed.entries] == [
        "http://archive.example.org" + c["diff_path"] for c in listed
    ]
    assert feed.entries[2].title == (f"site edit: {crawled.new_title} ({crawled.edited} v2→v3)")
    assert "title" in feed.entries[2].summary


def test_atom_feed_has_what_rfc_4287_requires(crawled):
    root = ET.fromstring(run(crawled.db, "--atom"))
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{name}") is not None, name
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 4
    for entry in entries:
        for name in ("id", "title", "updated", "summary"):
            assert (entry.findtext(f"{ATOM}{name}") or "").strip(), name
        assert entry.find(f"{ATOM}link[@rel='alternate']") is not None
        assert entry.findtext(f"{ATOM}id").startswith("urn:uuid:")
    assert len({e.findtext(f"{ATOM}id") for e in entries}) == 4


def test_atom_entry_ids_are_stable(tmp_path):
    crawled = build_crawled_archive(tmp_path)
    before = {c["id"]: c for c in as_json(crawled.db)}
    crawled.site.edit_page(crawled.edited)  # one more change comes first
    CliRunner().invoke(
        main,
        ["crawl", "--db", str(crawled.db), "--base-url", crawled.site.url, "--delay", "0"]
        + ["--id", str(crawled.edited)],
    )
    crawled.site.stop()
    after = as_json(crawled.db)
    assert len(after) == len(before) + 1
    assert {c["id"] for c in after[1:]} == set(before)
    assert after[0]["id"] not in before and after[0]["version"] == 4
