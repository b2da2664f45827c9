"""Reading the archive back: show, history, diff, search, list, and the Datasette views.

Most tests read one archive built by the real crawl of the fake site, with one page edited
twice between crawls (three versions) and one page that went and came back.
"""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawled import Crawled, crawl
from fakesite import SHARED_HTML, FakeSite, generate_page, render_event_page
from kremlin_archive.archive import Archive, Capture
from kremlin_archive.cli import main
from kremlin_archive.errors import DatabaseBusy
from kremlin_archive.lookup import quote_fts_query, render_word_diff, search_versions
from kremlin_archive.normalize import Transcript, parse_event_page
from kremlin_archive.renormalize import Normalizer, renormalize

EN = "http://en.kremlin.ru/events/president/news"


def run(crawled: Crawled, *args: str) -> tuple[int, str]:
    """Exit code and standard output (standard error too when the command failed)."""
    result = CliRunner().invoke(main, [*args, "--db", str(crawled.db)])
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def current_text(site: FakeSite, event_id: int) -> str:
    """What the normalizer makes of the page the site serves now."""
    page = site.pages[event_id]
    return parse_event_page(render_event_page(page).encode(), page.url).text


# --------------------------------------------------------------------------- show


def test_show_prints_the_stored_transcript_and_one_newline(crawled):
    for event_id in crawled.site.ids:
        code, out = run(crawled, "show", str(event_id))
        assert code == 0, out
        assert out == current_text(crawled.site, event_id) + "\n"


def test_show_version_1_is_the_text_before_the_edits(crawled):
    _, first = run(crawled, "show", str(crawled.edited), "--version", "1")
    _, latest = run(crawled, "show", str(crawled.edited))
    assert "Correction 2." not in first and crawled.old_title in first
    assert "Correction 2." in latest and crawled.new_title in latest


@pytest.mark.parametrize(
    "form",
    [
        "{en}/{id}",
        "{en}/{id}/print",
        "https://www.en.kremlin.ru/events/president/news/{id}/",
        "en.kremlin.ru/events/president/news/{id}",
        "{replica}/events/president/news/{id}",
        "{replica}/events/president/news/{id}.html",
    ],
    ids=["canonical", "print", "https-www", "no-scheme", "replica", "wget-html"],
)
def test_show_finds_a_page_by_any_url_form(crawled, form):
    url = form.format(en=EN, id=crawled.edited, replica=crawled.site.url)
    code, out = run(crawled, "show", url)
    assert code == 0, out
    assert out == run(crawled, "show", str(crawled.edited))[1]


def test_show_json_has_fields_version_and_text(crawled):
    code, out = run(crawled, "show", str(crawled.edited), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["event_id"] == crawled.edited
    assert data["version"] == 3
    assert data["title"] == crawled.new_title
    assert data["changed_fields"] == ["title"]
    assert data["text"] == current_text(crawled.site, crawled.edited)
    assert len(data["text_sha256"]) == 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "999"], "en.kremlin.ru event 999 is not in the archive"),
        (["show", "{edited}", "--version", "9"], "no version 9"),
        (["show", "{edited}", "--site", "ru"], "Error: kremlin.ru event {edited} is not in"),
        (["show", "http://en.kremlin.ru/about"], "not an event id or event page URL"),
        (["history", "12"], "en.kremlin.ru event 12 is not in the archive"),
        (["diff", "{single}"], "nothing to compare"),
    ],
    ids=["unknown-id", "unknown-version", "other-site", "not-an-event", "history", "diff-one"],
)
def test_missing_pages_and_versions_are_clear_errors(crawled, args, message):
    single = crawled.site.ids[0]
    args = [a.format(edited=crawled.edited, single=single) for a in args]
    code, out = run(crawled, *args)
    assert code == 1
    assert message.format(edited=crawled.edited) in out
    assert "Traceback" not in out


def test_show_refuses_version_and_at_together(crawled):
    code, out = run(crawled, "show", str(crawled.edited), "--version", "1", "--at", "2020-01-01")
    assert code == 2
    assert "not both" in out


# --------------------------------------------------------------------------- show --at


def transcript(event_id: int, text: str) -> Transcript:
    return Transcript(
        text=f"Events\n{text}",
        event_id=event_id,
        url=f"{EN}/{event_id}",
        language="en",
        title=text,
        date="2024-05-01",
    )


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One page captured three times on known days: v1 on May 1, v2 on May 3."""
    db = tmp_path_factory.mktemp("dated") / "dated.db"
    with Archive(db) as archive:
        for when, text in [("2024-05-01T10:00:00Z", "First"), ("2024-05-03T10:00:00Z", "Second")]:
            capture = Capture(
                site="en.kremlin.ru",
                event_id=7,
                url=f"{EN}/7",
                captured_at=when,
                source="import",
                status=200,
                body=text.encode(),
                transcript=transcript(7, text),
            )
            archive.save_capture(capture)
    return db


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2024-05-01T10:00:00", "First"),
        ("2024-05-02", "First"),
        ("2024-05-03T09:59:59Z", "First"),
        ("2024-05-03T12:00:00+03:00", "First"),  # 09:00 UTC
        ("2024-05-03", "Second"),  # the end of that day
        ("2024-05-03T10:00", "Second"),
        ("2030-01-01", "Second"),
    ],
)
def test_show_at_gives_the_version_current_then(dated, at, expected):
    result = CliRunner().invoke(main, ["show", "7", "--at", at, "--db", str(dated)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Events\n{expected}\n"


def test_show_at_before_the_first_capture_is_an_error(dated):
    result = CliRunner().invoke(main, ["show", "7", "--at", "2024-04-30", "--db", str(dated)])
    assert result.exit_code == 1
    assert "first archived at 2024-05-01T10:00:00Z" in result.output


def test_show_at_rejects_what_is_not_a_date(dated):
    result = CliRunner().invoke(main, ["show", "7", "--at", "yesterday", "--db", str(dated)])
    assert result.exit_code == 2
    assert "not an ISO date or datetime" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["show", "1"],
        ["history", "1"],
        ["search", "x"],
        ["renormalize"],
        ["status"],
        ["changes"],
        ["changes", "--atom"],
        ["export", "--format", "jsonl", "--out", "out"],
    ],
    ids=lambda c: c[0],
)
def test_reading_a_missing_database_does_not_create_one(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)  # where export's relative --out would go
    db = tmp_path / "none.db"
    result = CliRunner().invoke(main, [*command, "--db", str(db)])
    assert result.exit_code == 1
    assert "no archive at" in result.output
    assert list(tmp_path.iterdir()) == []  # no database, no lock, no export folder


# --------------------------------------------------------------------------- history


def test_history_lists_versions_with_what_changed(crawled):
    code, out = run(crawled, "history", str(crawled.edited))
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == f"en.kremlin.ru {crawled.edited} {EN}/{crawled.edited} (live)"
    assert [line.split()[0] for line in lines[1:]] == ["v1", "v2", "v3"]
    assert "first version" in lines[1] and "first capture" in lines[1]
    assert "changed body" in lines[2]
    assert "changed title" in lines[3]
    assert "site edit" not in lines[1]  # a first version is no edit
    assert all("site edit" in line for line in lines[2:])


def test_history_shows_the_page_going_and_coming_back(crawled):
    code, out = run(crawled, "history", str(crawled.gone))
    events = [
        line.split()[1] if line.startswith(" ") else line.split()[0]
        for line in out.splitlines()[1:]
    ]
    assert code == 0
    assert events == ["v1", "gone", "back"]
    assert "gone (HTTP 410)" in out


def test_history_json(crawled):
    code, out = run(crawled, "history", str(crawled.gone), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["status"] == "live"
    assert [e["event"] for e in data["history"]] == ["version", "gone", "back"]
    assert data["history"][1]["http_status"] == 410
    assert len(data["history"][0]["text_sha256"]) == 64


def test_history_shows_the_sites_own_update_time_of_each_version(crawled):
    code, out = run(crawled, "history", str(crawled.edited), "--json")
    stamps = [e["site_updated_at"] for e in json.loads(out)["history"]]
    updated = crawled.site.pages[crawled.edited].updated  # Moscow wall clock, UTC+3
    assert code == 0
    assert len(set(stamps)) == 3  # each edit moved the page's "Last updated at"
    assert stamps[-1] == (updated - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:00Z")
    code, out = run(crawled, "history", str(crawled.edited))
    assert f"site updated {stamps[-1]}" in out.splitlines()[-1]


# --------------------------------------------------------------------------- diff


def test_diff_defaults_to_the_last_two_versions(crawled):
    code, out = run(crawled, "diff", str(crawled.edited))
    assert code == 0
    assert out.startswith("--- v2 ")
    assert f"-{crawled.old_title}\n" in out
    assert f"+{crawled.new_title}\n" in out
    assert "Correction 2." not in out


def test_diff_between_named_versions(crawled):
    code, out = run(crawled, "diff", str(crawled.edited), "1", "2")
    assert code == 0
    assert "+Correction 2.\n" in out
    assert crawled.new_title not in out
    _, against_latest = run(crawled, "diff", str(crawled.edited), "1")
    added = [line for line in against_latest.splitlines()[2:] if line.startswith("+")]
    assert added == [f"+{crawled.new_title}", "+Correction 2."]


def test_word_diff_marks_the_words(crawled):
    code, out = run(crawled, "diff", str(crawled.edited), "--word")
    assert code == 0
    old_words = crawled.old_title.split()
    assert f"[-{old_words[0]}-]{{+Meeting+}} with " in out
    assert f"[-{' '.join(old_words[2:])}-]{{+the Government, revised+}}" in out


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("a b c\nsame", "a x c\nsame", "@@ -1,1 +1,1 @@\na [-b-]{+x+} c"),
        ("a b c", "a c", "@@ -1,1 +1,1 @@\na [-b-] c"),
        ("one\ntwo", "one\ntwo\nthree", "@@ -3,0 +3,1 @@\n{+three+}"),
        ("one\ntwo", "one", "@@ -2,1 +2,0 @@\n[-two-]"),
    ],
    ids=["replace", "delete", "add-line", "drop-line"],
)
def test_word_diff_hunks(old, new, expected):
    assert render_word_diff(old, new, "A", "B") == f"--- A\n+++ B\n{expected}"


def test_diff_of_equal_versions_prints_nothing(crawled):
    code, out = run(crawled, "diff", str(crawled.edited), "2", "2")
    assert (code, out) == (0, "")


# --------------------------------------------------------------------------- search


def test_search_finds_a_phrase_with_a_snippet(crawled):
    code, out = run(crawled, "search", '"Correction 2"')
    assert code == 0
    assert out.startswith(f"{crawled.edited} v3 ")
    assert " / [Correction 2]. / " in out.splitlines()[1]  # lines shown as " / "


def test_search_of_an_old_title_needs_all_versions(crawled):
    word = crawled.old_title.split()[-1]  # "No. <id>" only in the old title
    assert run(crawled, "search", f'"{word}"')[1] == ""
    code, out = run(crawled, "search", f'"{word}"', "--all-versions", "--json")
    hits = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(h["event_id"], h["version"]) for h in hits] == [
        (crawled.edited, 2),
        (crawled.edited, 1),
    ]


def test_search_is_newest_event_first(crawled):
    code, out = run(crawled, "search", "Events", "--json")
    dates = [(h["date"], h["event_id"]) for h in map(json.loads, out.splitlines())]
    assert code == 0
    assert len(dates) == len(crawled.site.ids)
    assert dates == sorted(dates, reverse=True)


def test_search_limit(crawled):
    assert len(run(crawled, "search", "Events", "--json", "--limit", "3")[1].splitlines()) == 3


def archive_of_pages(db: Path, count: int) -> list[int]:
    """An archive of ``count`` generated pages, one a day from 2021-01-01 with event ids
    falling as the days rise; their event ids, newest event first."""
    rng = random.Random(3)
    with Archive(db) as archive:
        for n in range(count):
            page = generate_page(rng, 64000 - n, datetime(2021, 1, 1) + timedelta(days=n))
            body = render_event_page(page).encode()
            archive.save_capture(
                Capture(
                    site="en.kremlin.ru", event_id=page.event_id, url=page.url,
                    captured_at="2021-06-01T10:00:00Z", source="import", status=200,
                    body=body, transcript=parse_event_page(body, page.url),
                )
            )  # fmt: skip
    return [64000 - n for n in reversed(range(count))]


def test_search_shows_the_newest_20_matches_and_says_on_stderr_that_more_match(tmp_path):
    newest_first = archive_of_pages(tmp_path / "kremlin.db", 22)
    runner = CliRunner()

    def search(*args: str):
        result = runner.invoke(
            main, ["search", "President", "--json", *args, "--db", str(tmp_path / "kremlin.db")]
        )
        assert result.exit_code == 0, result.output
        return [json.loads(line)["event_id"] for line in result.stdout.splitlines()], result.stderr

    shown, note = search()
    assert shown == newest_first[:20]
    assert "the newest 20 matches shown; more match: --limit 0 shows every match" in note
    assert search("--limit", "0") == (newest_first, "")
    assert search("--limit", "22") == (newest_first, "")


@pytest.mark.parametrize("query", ['"unclosed', "AND OR", "title:", "(Putin", "S-400"])
def test_a_raw_query_fts5_cannot_read_is_a_clear_error_suggesting_the_plain_form(crawled, query):
    code, out = run(crawled, "search", "--fts", query)
    assert code == 1
    assert out.startswith(f"Error: bad search query {query!r}")
    assert f"drop --fts: {quote_fts_query(query)}" in out
    assert "Traceback" not in out


@pytest.mark.parametrize(
    ("typed", "quoted"),
    [
        ("COVID-19", '"COVID-19"'),
        ("S-400 U.S.", '"S-400" "U.S."'),
        ("Russia's talks", '"Russia\'s" "talks"'),
        ('"gala concert" Astana', '"gala concert" "Astana"'),
        ("Putin putin PUTIN", '"Putin"'),
        ("AND OR (x", '"AND" "OR" "(x"'),
        ('say "unclosed  phrase', '"say" "unclosed phrase"'),
        ("  ", ""),
    ],
    ids=["hyphen", "dots", "apostrophe", "phrase", "repeats", "operators", "unclosed", "blank"],
)
def test_quote_fts_query_makes_each_word_a_term(typed, quoted):
    assert quote_fts_query(typed) == quoted


@pytest.fixture(scope="module")
def worded(tmp_path_factory: pytest.TempPathFactory):
    """A crawled archive whose pages hold the words people type: hyphens, dots, apostrophes."""
    db = tmp_path_factory.mktemp("worded") / "w.db"
    with FakeSite(n_pages=3, seed=5, extras=0) as site:
        first, second, _ = site.ids
        site.edit_page(first, paragraphs=["Talks in Kazan on COVID-19, the S-400 deal, the U.S."])
        site.edit_page(second, paragraphs=["Russia's position in Kazan: no S-300 systems."])
        crawl(db, site)
        yield db, first, second


def search_ids(db: Path, *args: str) -> tuple[int, list[int]]:
    result = CliRunner().invoke(main, ["search", *args, "--json", "--db", str(db)])
    return result.exit_code, [json.loads(line)["event_id"] for line in result.stdout.splitlines()]


@pytest.mark.parametrize("query", ["COVID-19", "S-400", "U.S.", "covid-19 s-400 u.s."])
def test_search_finds_everyday_words_with_hyphens_and_dots(worded, query):
    db, first, _ = worded
    assert search_ids(db, query) == (0, [first])


def test_search_finds_an_apostrophe_and_needs_every_word(worded):
    db, first, second = worded
    assert search_ids(db, "Russia's") == (0, [second])
    assert search_ids(db, "Kazan") == (0, sorted([first, second], reverse=True))
    assert search_ids(db, "Kazan S-300") == (0, [second])  # every word must match


def test_search_fts_takes_phrases_near_prefixes_and_column_filters(worded):
    db, first, second = worded
    assert search_ids(db, "--fts", '"S-400 deal"') == (0, [first])
    assert search_ids(db, "--fts", "NEAR(position systems, 10)") == (0, [second])
    assert search_ids(db, "--fts", "NEAR(position systems, 4)") == (0, [])  # 5 words apart
    assert search_ids(db, "--fts", "COVI*") == (0, [first])
    assert search_ids(db, "--fts", "S NOT 400") == (0, [second])
    assert search_ids(db, "--fts", "title:COVID") == (0, [])  # the word is in the text only


def test_search_of_a_term_repeated_100_times_is_the_search_of_the_term(worded):
    db, first, _ = worded
    code, out = run_db(db, "search", " ".join(["COVID-19"] * 100))
    assert code == 0
    assert out == run_db(db, "search", "COVID-19")[1]
    assert out.splitlines()[1].count("[COVID-19]") == 1


def run_db(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--db", str(db)])
    return result.exit_code, result.output


def test_an_empty_query_is_a_clear_error(worded):
    code, out = run_db(worded[0], "search", '""')
    assert code == 1
    assert "empty search query" in out


def test_a_locked_archive_during_a_search_is_reported_as_locked(tmp_path):
    """A real lock: another connection holds an exclusive lock on a rollback-journal file
    (a WAL reader is never blocked), so the search's own query meets "database is locked"."""
    db = tmp_path / "locked.db"
    with Archive(db, busy_timeout=0.05) as archive:
        archive.conn.execute("PRAGMA journal_mode = DELETE")
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(DatabaseBusy, match="stayed locked by another process"):
                list(search_versions(archive, "Putin"))
        finally:
            other.close()


@pytest.mark.shared
def test_search_finds_everyday_words_in_the_real_pages(tmp_path):
    if not SHARED_HTML.is_dir():
        pytest.skip(f"real pages not found at {SHARED_HTML}")
    db = tmp_path / "real.db"
    assert CliRunner().invoke(main, ["import", str(SHARED_HTML), "--db", str(db)]).exit_code == 0
    code, found = search_ids(db, "Russia's")  # the pages write Russia’s, curly
    assert code == 0
    assert {7506, 28186, 55767} <= set(found)
    assert search_ids(db, "--fts", "Russia's")[0] == 1


# --------------------------------------------------------------------------- list


def test_list_shows_every_event_newest_first(crawled):
    code, out = run(crawled, "list")
    lines = out.splitlines()
    assert code == 0
    assert [int(line.split()[0]) for line in lines] == crawled.site.ids
    edited = next(line for line in lines if line.startswith(str(crawled.edited)))
    assert "3 versions" in edited and crawled.new_title in edited


def test_list_since_and_json(crawled):
    _, out = run(crawled, "list", "--json")
    events = [json.loads(line) for line in out.splitlines()]
    middle = sorted(e["date"] for e in events)[len(events) // 2]
    _, out = run(crawled, "list", "--json", "--since", middle)
    recent = [json.loads(line) for line in out.splitlines()]
    assert recent and len(recent) < len(events)
    assert all(e["date"] >= middle for e in recent)
    assert {"url", "title", "versions", "status", "first_seen_at"} <= set(recent[0])


def test_list_since_rejects_a_bad_date(crawled):
    code, out = run(crawled, "list", "--since", "May 2020")
    assert code == 2
    assert "not a date" in out


# --------------------------------------------------------------------------- views


def test_views_for_datasette_read_the_archive(crawled):
    run(crawled, "list")
    with sqlite3.connect(crawled.db) as conn:
        current = conn.execute("SELECT event_id, version, title FROM current_transcripts")
        current = {row[0]: row[1:] for row in current}
        changes = conn.execute("SELECT event_id, version, changed_fields FROM changes").fetchall()
    assert set(current) == set(crawled.site.ids)
    assert current[crawled.edited] == (3, crawled.new_title)
    assert changes == [
        (crawled.edited, 3, '["title"]'),
        (crawled.edited, 2, '["body"]'),
    ]


def test_history_tells_a_renormalization_from_a_site_edit(dated, tmp_path):
    db = tmp_path / "copy.db"
    with sqlite3.connect(dated) as source, sqlite3.connect(db) as copy:
        source.backup(copy)
    reread = Normalizer(lambda body, url: transcript(7, "Second, re-read"), 99)
    with Archive(db) as archive:
        counts = renormalize(archive, reread)
    assert counts["renormalized"] == 1
    result = CliRunner().invoke(main, ["history", "7", "--db", str(db)])
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["v1", "v2", "v3"]
    assert "site edit" in lines[2]
    assert "re-normalization" in lines[3] and "changed title" in lines[3]


# --------------------------------------------------------------------------- gone, status


@pytest.fixture(scope="module")
def with_gone(tmp_path_factory: pytest.TempPathFactory):
    """4 pages crawled; one then gone (410); one id asked for that 404'd on its first fetch."""
    db = tmp_path_factory.mktemp("gone") / "g.db"
    with FakeSite(n_pages=4, seed=6, extras=0) as site:
        crawl(db, site)
        gone = site.ids[1]
        site.remove_page(gone, status=410)
        crawl(db, site, gone)
        args = ["crawl", "--db", str(db), "--base-url", site.url, "--delay", "0", "--id", "9999"]
        missing = CliRunner().invoke(main, args)
        assert missing.exit_code == 1 and "HTTP 404" in missing.stderr
        yield db, site.ids, gone


def test_show_of_a_gone_page_says_so_on_stderr(with_gone):
    db, _, gone = with_gone
    result = CliRunner().invoke(main, ["show", str(gone), "--db", str(db)])
    assert result.exit_code == 0
    assert result.stdout.startswith("Events\n")  # the text as archived, on stdout alone
    with sqlite3.connect(db) as conn:
        gone_at, captured_at = conn.execute(
            "SELECT gone_at, v.captured_at FROM pages p JOIN versions v ON v.page_id = p.id"
            " WHERE event_id = ?",
            (gone,),
        ).fetchone()
    assert gone_at >= captured_at
    assert result.stderr == (
        f"note: en.kremlin.ru event {gone} is gone from the site since {gone_at};"
        f" shown: v1 of {captured_at}\n"
    )


def test_show_of_a_live_page_adds_nothing_on_stderr(with_gone):
    db, ids, gone = with_gone
    live = next(i for i in ids if i != gone)
    result = CliRunner().invoke(main, ["show", str(live), "--db", str(db)])
    assert (result.exit_code, result.stderr) == (0, "")


def test_status_counts_the_pages_list_shows_and_the_never_archived_apart(with_gone):
    db, _, _ = with_gone
    listed = CliRunner().invoke(main, ["list", "--db", str(db)]).stdout.splitlines()
    status = CliRunner().invoke(main, ["status", "--db", str(db)]).stdout
    assert len(listed) == 4  # the gone page among them
    assert "pages     4 (gone 1), versions 4; 1 more never archived" in status
    data = json.loads(CliRunner().invoke(main, ["status", "--json", "--db", str(db)]).stdout)
    assert (data["pages"], data["never_archived"]) == (5, 1)
