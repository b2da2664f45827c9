"""The web view: the real Datasette server (``kremlin-archive browse`` in a child process on
127.0.0.1, real HTTP) over an archive made by the real crawl of the fake site: a page
edited twice, a page that went and came back, a page that mentions COVID-19; and an archive
of more changes than a page shows, made through the archive's API."""

from __future__ import annotations

import json
import re
from html import unescape

import feedparser
import pytest
from click.testing import CliRunner

from kremlin_archive.archive import Archive
from kremlin_archive.cli import main
from kremlin_archive.web import CHANGES_SHOWN, FEED_ENTRIES, split_turns
from runcli import kremlin
from webview import RENORMALIZED_LINE, Browse, build_many_changes, build_web_archive


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    crawled, covid = build_web_archive(tmp_path_factory.mktemp("web"))
    crawled.site.stop()
    browse = Browse(crawled.db)
    yield browse, crawled, covid
    browse.stop()


def cli_changes(db, *args: str) -> list[dict]:
    result = CliRunner().invoke(main, ["changes", "--db", str(db), "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def page(web, path: str) -> str:
    browse = web[0]
    response = browse.get(path)
    assert response.status_code == 200, (path, response.text[:500])
    return response.text


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def rows_of(html: str, table_class: str) -> list[str]:
    table = html.split(f'class="{table_class}"', 1)[1].split("</table>", 1)[0]
    return [text_of(row) for row in re.findall(r"<tr class=.*?</tr>", table, re.S)]


def test_the_event_page_lists_every_version_with_its_kind(web):
    _, crawled, _ = web
    html = page(web, f"/-/event/en.kremlin.ru/{crawled.edited}")
    rows = rows_of(html, "kremlin-timeline")
    assert [row.split()[1] for row in rows] == ["v1", "v2", "v3", "v4"]
    assert "first capture" in rows[0]
    assert "site edit body (1 paragraph added) diff v1→v2" in rows[1]
    assert "site edit title diff v2→v3" in rows[2]
    assert "re-normalization body (1 paragraph added) diff v3→v4" in rows[3]
    assert 'class="mark mark-renormalization"' in html
    assert f'href="/-/event/en.kremlin.ru/{crawled.edited}/diff/2..3"' in html
    assert f"<h1>{crawled.new_title}</h1>" in html
    text = text_of(html.split('class="kremlin-text"', 1)[1])
    assert "Correction 2." in text and RENORMALIZED_LINE in text  # the latest version
    assert '<dd class="status-live">live' in html


def test_the_event_page_marks_a_removal_and_a_return(web):
    _, crawled, _ = web
    rows = rows_of(page(web, f"/-/event/en.kremlin.ru/{crawled.gone}"), "kremlin-timeline")
    assert [row.split()[1:3] for row in rows] == [
        ["v1", "first"],
        ["removal", "gone"],
        ["return", "back"],
    ]
    assert "gone (HTTP 410)" in rows[1]


def test_the_event_page_shows_an_older_version(web):
    _, crawled, _ = web
    html = page(web, f"/-/event/en.kremlin.ru/{crawled.edited}?version=1")
    body = text_of(html.split('class="kremlin-text"', 1)[1])
    assert crawled.old_title in body and "Correction 2." not in body
    assert "showing v1, captured" in text_of(html)


def test_the_event_page_shows_the_speaker_turns(web):
    _, crawled, _ = web
    with Archive(crawled.db) as archive:
        current = [archive.versions("en.kremlin.ru", eid)[-1] for eid in crawled.site.ids]
    version = next(v for v in current if v.fields.get("turns"))
    turns = version.fields["turns"]
    html = page(web, f"/-/event/en.kremlin.ru/{version.fields['event_id']}")
    body = unescape(html.split('class="kremlin-text"', 1)[1])
    for n, (speaker, said) in enumerate(turns, start=1):
        first = said.split("\n")[0]
        opening = f'<p class="turn" id="turn-{n}"><strong class="speaker">{speaker}:</strong>'
        assert f"{opening} {first}</p>" in body
    names = text_of(html.split("Speaker turns:", 1)[1].split("</p>", 1)[0])
    assert all(f"{speaker} (" in names for speaker, _ in turns)


def test_a_turn_of_several_paragraphs_is_marked_to_its_end():
    text = "Title\nPutin: One.\nTwo.\nThree.\nLavrov: Four.\nGeography"
    turns = [["Putin", "One.\nTwo.\nThree."], ["Lavrov", "Four."]]
    assert [(p["speaker"], p["text"], p["turn"]) for p in split_turns(text, turns)] == [
        (None, "Title", None),
        ("Putin", "One.", 1),
        (None, "Two.", 1),
        (None, "Three.", 1),
        ("Lavrov", "Four.", 2),
        (None, "Geography", None),
    ]


def test_the_diff_page_marks_the_changed_words(web):
    _, crawled, _ = web
    html = page(web, f"/-/event/en.kremlin.ru/{crawled.edited}/diff/1..3")
    diff = html.split('class="kremlin-diff"', 1)[1].split("</div>", 1)[0]
    assert "<ins>Correction 2.</ins>" in diff
    assert "<ins>the Government, revised</ins>" in diff
    deleted = " ".join(re.findall(r"<del>(.*?)</del>", diff))
    assert all(word in deleted for word in crawled.old_title.split()[:1])
    assert "Changed: title, body (1 paragraph added)" in text_of(html)
    assert f'href="/-/event/en.kremlin.ru/{crawled.edited}/diff/1..3"' in html  # permalink


def cli_history(db, event_id: int, *args: str) -> str:
    result = CliRunner().invoke(main, ["history", str(event_id), "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_web_view_names_each_version_as_history_does(web):
    _, crawled, _ = web
    lines = cli_history(crawled.db, crawled.edited).splitlines()[1:]
    names = [re.split(r"\s{2,}", line)[3] for line in lines if line.startswith("v")]
    assert names == ["first capture", "site edit", "site edit", "re-normalization"]
    rows = rows_of(page(web, f"/-/event/en.kremlin.ru/{crawled.edited}"), "kremlin-timeline")
    assert [
        " ".join(row.split()[2:])[: len(name)] for row, name in zip(rows, names, strict=True)
    ] == names
    html = page(web, f"/-/event/en.kremlin.ru/{crawled.edited}/diff/1..2")
    with Archive(crawled.db) as archive:
        v1, v2, *_ = archive.versions("en.kremlin.ru", crawled.edited)
    assert (
        f"version 1 ({v1.captured_at}, first capture) against version 2 "
        f"({v2.captured_at}, site edit)"
    ) in text_of(html)
    later = text_of(page(web, f"/-/event/en.kremlin.ru/{crawled.edited}/diff/3..4"))
    assert "site edit) against version 4" in later and "re-normalization)." in later


def test_the_diff_form_redirects_to_the_permalink(web):
    browse, crawled, _ = web
    response = browse.get(
        f"/-/event/en.kremlin.ru/{crawled.edited}/diff?a=2&b=3", allow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/-/event/en.kremlin.ru/{crawled.edited}/diff/2..3"


def test_an_unknown_page_or_version_is_a_404_that_says_so(web):
    browse, crawled, _ = web
    missing = browse.get("/-/event/en.kremlin.ru/1")
    assert missing.status_code == 404 and "event 1 is not in the archive" in missing.text
    response = browse.get(f"/-/event/en.kremlin.ru/{crawled.edited}/diff/1..9")
    assert response.status_code == 404 and "has no version 9" in response.text


def test_the_changes_page_lists_what_the_cli_lists(web):
    _, crawled, _ = web
    html = page(web, "/-/changes")
    listed = cli_changes(crawled.db)
    rows = rows_of(html, "kremlin-changes")
    assert len(rows) == len(listed) == 5
    for row, change in zip(rows, listed, strict=True):
        assert row.startswith(f"{change['at']} {change['event_id']} ")
        assert change["what"] in row
    for change in listed:
        assert f'href="{change["diff_path"]}"' in html
    assert '<link rel="alternate" type="application/atom+xml"' in html


def test_the_changes_page_lists_re_normalizations_when_asked(web):
    _, crawled, _ = web
    html = page(web, "/-/changes?renormalize=1")
    listed = cli_changes(crawled.db, "--include-renormalize")
    rows = rows_of(html, "kremlin-changes")
    assert len(rows) == len(listed) == 6
    names = {"edit": "site edit", "renormalization": "re-normalization"}
    for row, change in zip(rows, listed, strict=True):
        assert row.startswith(f"{change['at']} {change['event_id']} ")
        assert names.get(change["kind"], change["kind"]) in row and change["what"] in row
    assert sum("re-normalization" in row for row in rows) == 1


def test_the_atom_feed_lists_what_the_cli_lists_and_parses(web):
    browse, crawled, _ = web
    response = browse.get("/-/changes.atom")
    assert response.headers["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo and feed.version == "atom10"
    listed = cli_changes(crawled.db)
    assert [e.id for e in feed.entries] == [c["id"] for c in listed]
    assert [e.link for e in feed.entries] == [browse.url + c["diff_path"] for c in listed]
    diff = browse.get(feed.entries[0].link.removeprefix(browse.url))
    assert diff.status_code == 200


def test_the_changes_page_filters_by_since_and_site(web):
    html = page(web, "/-/changes?since=2999-01-01")
    assert "No changes since 2999-01-01T00:00:00Z." in html
    assert '<option value="en.kremlin.ru">en.kremlin.ru</option>' in html
    assert len(rows_of(page(web, "/-/changes?site=en.kremlin.ru"), "kremlin-changes")) == 5
    assert "No changes." in page(web, "/-/changes?site=kremlin.ru")


def test_search_accepts_everyday_queries(web):
    _, _, covid = web
    html = page(web, "/-/search?q=COVID-19")
    assert "1 match." in html
    assert f'href="/-/event/en.kremlin.ru/{covid}?version=2"' in html
    assert "1 match." in page(web, "/-/search?q=S-400+covid")
    assert "0 matches." in page(web, '/-/search?q="COVID-20"')
    db = web[1].db.stem
    assert "1 row where search matches" in page(web, f"/{db}/versions?_search=COVID-19")


def test_the_raw_tables_and_views_stay_reachable_with_texts_cut(web):
    _, crawled, _ = web
    db = crawled.db.stem
    listing = page(web, f"/{db}/versions")
    longest = max(crawled.site.pages.values(), key=lambda p: len(p.text)).text
    assert longest[:200] not in unescape(listing)
    assert "…" in listing
    for name in ("pages", "captures", "runs", "raw_pages", "notifications"):
        page(web, f"/{db}/{name}")
    for view in ("changes", "current_transcripts"):
        html = page(web, f"/{db}/{view}")
        assert f'href="/-/event/en.kremlin.ru/{crawled.edited}"' in html  # ids link
    changes = page(web, f"/{db}/changes")
    assert f'href="/-/event/en.kremlin.ru/{crawled.edited}/diff/2..3">3</a>' in changes
    row = page(web, f"/{db}/versions/1")
    assert len(text_of(row)) > 500  # a row's own page shows the text whole


def test_the_plugin_and_metadata_ship_with_the_package(web):
    browse, _, _ = web
    plugins = browse.get("/-/plugins.json").json()
    (ours,) = [p for p in plugins if p["name"] == "kremlin-archive"]
    assert ours["templates"] and ours["static"]
    assert "register_routes" in ours["hooks"]
    html = page(web, "/-/changes")
    (css,) = re.findall(r'href="(/-/static-plugins/[^"]+)"', html)
    assert "ins" in page(web, css)  # the stylesheet that marks the diff
    assert browse.get("/-/metadata.json").json()["title"] == "kremlin-archive"
    assert "/-/changes" in page(web, "/")


def test_browse_without_an_archive_is_an_error_and_creates_nothing(tmp_path):
    missing = tmp_path / "none.db"
    result = kremlin("browse", "--db", missing, "--port", "1", timeout=60)
    assert result.returncode == 1
    assert f"no archive at {missing}" in result.stderr
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- paging


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    db = tmp_path_factory.mktemp("many") / "many.db"
    rederived = build_many_changes(db)
    browse = Browse(db)
    yield browse, db, rederived
    browse.stop()


def walk_changes(browse: Browse, path: str) -> tuple[list[str], list[str], list[str]]:
    """Every row of the change list from ``path`` on, following the "older changes" links
    to the end; with the links followed and what each page said it showed."""
    rows, links, shown = [], [], []
    while path:
        response = browse.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        html = response.text
        rows += rows_of(html, "kremlin-changes")
        shown.append(text_of(html.split('class="kremlin-shown">', 1)[1].split("</p>", 1)[0]))
        older = re.search(r'<a class="older" rel="next" href="([^"]+)"', html)
        path = unescape(older.group(1)) if older else None
        links += [path] if path else []
        assert len(links) < 100, "the older links go round in circles"
    return rows, links, shown


def expected_rows(changes: list[dict]) -> list[str]:
    names = {"edit": "site edit", "renormalization": "re-normalization"}
    out = []
    for c in changes:
        label = f"v{c['previous_version']}→v{c['version']}" if c["previous_version"] else ""
        label = label or f"v{c['version']}"
        kind = names.get(c["kind"], c["kind"])
        out.append(f"{c['at']} {c['event_id']} {label} {kind} {c['what']} {c['title']}")
    return out


def test_the_older_links_reach_every_change_once(many):
    browse, db, _ = many
    listed = cli_changes(db)  # the CLI lists every change: no cap
    assert len(listed) > CHANGES_SHOWN
    rows, links, shown = walk_changes(browse, "/-/changes")
    assert rows == expected_rows(listed)
    assert len(set(rows)) == len(rows)
    assert len(links) == 1 and "before=" in links[0]
    first, last = listed[0]["at"], listed[CHANGES_SHOWN - 1]["at"]
    assert shown[0] == f"{CHANGES_SHOWN} newest changes shown, seen {first} back to {last}."
    assert shown[1].startswith(f"{len(listed) - CHANGES_SHOWN} older changes shown")
    end = page(many, links[0])
    assert '<a class="newest" href="/-/changes">← newest changes</a>' in end
    assert 'class="older"' not in end


def test_paging_keeps_the_filters_through_changes_of_one_second(many):
    browse, db, _ = many
    listed = cli_changes(db, "--include-renormalize", "--since", "2024-01-03", "--site", "en")
    seconds = {c["at"] for c in listed}
    assert len(seconds) < len(listed) / 10  # many changes share each second
    assert sum(c["kind"] == "renormalization" for c in listed) > 7  # and a second, no capture
    start = "/-/changes?since=2024-01-03&site=en.kremlin.ru&renormalize=1&size=7"
    rows, links, _ = walk_changes(browse, start)
    assert rows == expected_rows(listed)
    assert len(links) == (len(listed) - 1) // 7
    for link in links:
        assert all(f in link for f in ("since=2024-01-03", "site=en.kremlin.ru", "renormalize=1"))
        assert "size=7" in link


def test_a_bad_place_or_size_in_the_change_list_is_a_404_that_says_so(many):
    browse = many[0]
    bad = browse.get("/-/changes?before=yesterday")
    assert bad.status_code == 404 and "not a place in the change list" in bad.text
    big = browse.get("/-/changes?size=5000")
    assert big.status_code == 404 and "size must be from 1 to 1000" in big.text


def test_the_atom_feed_holds_the_newest_and_names_the_page_of_all(many):
    browse, db, _ = many
    feed = feedparser.parse(browse.get("/-/changes.atom").content)
    assert not feed.bozo
    listed = cli_changes(db)
    assert [e.id for e in feed.entries] == [c["id"] for c in listed[:FEED_ENTRIES]]
    assert len(listed) > FEED_ENTRIES
    assert feed.feed.subtitle.endswith(
        f"the newest {FEED_ENTRIES}; every change, page by page: {browse.url}/-/changes"
    )
    html = page(many, "/-/changes")
    assert f"Atom feed of the newest {FEED_ENTRIES}" in html


def test_the_event_page_shows_when_the_history_was_re_derived(many):
    browse, db, rederived = many
    rows = rows_of(page(many, f"/-/event/en.kremlin.ru/{rederived}"), "kremlin-timeline")
    (row,) = [row for row in rows if "history re-derived" in row]
    assert row.endswith(
        "history re-derived 7 versions → 7: a capture of 2024-01-01T08:00:00Z (replica)"
        " came after later ones"
    )
    assert rows[-1] == row  # it happened after every capture it placed
    assert rows[0].split()[1:4] == ["v1", "first", "capture"]
    assert rows[0].startswith("2024-01-01T08:00:00Z")  # the older capture is version 1
    cli = cli_history(db, rederived).splitlines()
    assert cli[-1].endswith(
        "history re-derived (7 versions → 7): a capture of 2024-01-01T08:00:00Z (replica)"
        " came after later ones"
    )
