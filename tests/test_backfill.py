"""The Wayback backfill against a fake Wayback Machine on 127.0.0.1, through the real CLI.

The fake holds captures of four event pages of a generated site: one captured four times
(the same body twice, then an edit, then the edit in a page whose chrome differs), one
under news/ID and then transcripts/ID with a new title, one under trips/ID, and one whose
later captures are bad (a Wayback error, a redirect to another capture, a challenge page,
another event's page); plus noise the URL rules drop and rows the CDX filters drop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from fakesite import CHALLENGE_HTML, FakeSite, render_event_page
from fakewayback import FakeWayback
from kremlin_archive.cli import main
from runcli import kremlin

EN = "http://en.kremlin.ru/events/president"


@dataclass
class Scenario:
    site: FakeSite
    wayback: FakeWayback
    config: Path
    edited: int  # four captures: v1, v1 again, v2, v2 in other chrome
    moved: int  # news/ID, then transcripts/ID with a new title
    trip: int  # trips/ID only
    bad: int  # one good capture, then four bad ones
    duplicate: str  # timestamp of the capture whose digest is held already
    broken: tuple[str, ...]  # timestamps of the captures whose replay fails


def at(month: int, day: int = 1) -> datetime:
    return datetime(2021, month, day, 12, 0, 0)


def build(site: FakeSite, wayback: FakeWayback, config: Path) -> Scenario:
    edited, moved, trip, bad = site.ids[:4]
    body = site.render(site.pages[edited])
    wayback.add(f"{EN}/news/{edited}", at(1), body)
    wayback.add(f"{EN}/news/{edited}", at(2), body)  # same digest: never fetched
    new = site.edit_page(edited)
    wayback.add(f"{EN}/news/{edited}", at(3), site.render(new))
    wayback.add(f"{EN}/news/{edited}", at(4), render_event_page(new, chrome=True).encode())
    wayback.add(f"{EN}/news/{moved}", at(1, 5), site.render(site.pages[moved]))
    retitled = site.edit_page(moved, title="Talks with the President of France, revised")
    wayback.add(f"{EN}/transcripts/{moved}", at(5), site.render(retitled))
    wayback.add(f"{EN}/trips/{trip}", at(6), site.render(site.pages[trip]))
    wayback.add(f"{EN}/news/{bad}", at(1, 9), site.render(site.pages[bad]))
    wayback.add(f"{EN}/news/{bad}", at(2, 9), b"lost", replay="error")
    wayback.add(f"{EN}/news/{bad}", at(3, 9), b"moved", replay="redirect")
    wayback.add(f"{EN}/news/{bad}", at(4, 9), CHALLENGE_HTML.encode())
    wayback.add(f"{EN}/news/{bad}", at(5, 9), body)  # the page of another event
    for noise in (f"news/{edited}/print", f"news/{edited}/photos", f"news/{edited}?lang=fr"):
        wayback.add(f"{EN}/{noise}", at(7), body)
    wayback.add(f"{EN}/news/by-date/01.03.2021", at(7), b"<html>a listing</html>")
    wayback.add(f"{EN}/news/{trip}", at(8), b"", statuscode="301")  # the CDX filter drops it
    wayback.add(f"{EN}/news/{trip}", at(8, 2), b"%PDF", mimetype="application/pdf")
    config.write_text("[wayback]\npage_size = 3\n")
    broken = (at(2, 9).strftime("%Y%m%d%H%M%S"), at(3, 9).strftime("%Y%m%d%H%M%S"))
    return Scenario(
        site, wayback, config, edited, moved, trip, bad, "20210201120000", broken
    )  # fmt: skip


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    with FakeSite(n_pages=6, seed=11, extras=0) as site, FakeWayback() as wayback:
        yield build(site, wayback, tmp_path / "kremlin.toml")


def backfill(s: Scenario, db: Path, *more: str):
    args = ["wayback", "--config", s.config, "--db", db, "--base-url", s.wayback.url]
    return kremlin(*args, "--delay", "0", *more)


def rows(db: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def versions(db: Path, event_id: int) -> list[tuple]:
    return rows(
        db,
        "SELECT v.seq, v.captured_at, v.changed_fields FROM versions v"
        " JOIN pages p ON p.id = v.page_id WHERE p.event_id = ? ORDER BY v.seq",
        event_id,
    )


def test_a_backfill_archives_each_capture_once_and_versions_only_real_edits(scenario, tmp_path):
    s, db = scenario, tmp_path / "k.db"
    result = backfill(s, db)
    assert result.returncode == 0, result.stderr
    assert versions(db, s.edited) == [
        (1, "2021-01-01T12:00:00Z", "[]"),
        (2, "2021-03-01T12:00:00Z", '["body"]'),
    ]
    assert versions(db, s.moved) == [
        (1, "2021-01-05T12:00:00Z", "[]"),
        (2, "2021-05-01T12:00:00Z", '["title"]'),
    ]
    assert [v[0] for v in versions(db, s.trip)] == [1] and len(versions(db, s.bad)) == 1
    per_page = rows(
        db,
        "SELECT p.event_id, count(*) FROM captures c JOIN pages p ON p.id = c.page_id"
        " WHERE c.source = 'wayback' GROUP BY p.event_id ORDER BY p.event_id",
    )
    assert dict(per_page) == {s.edited: 4, s.moved: 2, s.trip: 1, s.bad: 5}
    assert rows(db, "SELECT count(*) FROM pages") == [(4,)]  # news/ID and transcripts/ID: one
    replays = s.wayback.replays()
    assert len(replays) == len(set(replays)) == 11  # 12 captures, one digest held already
    assert not any(s.duplicate in path for path in replays)
    assert not any(word in p for p in replays for word in ("print", "photos", "lang", "by-date"))
    assert "listed 12 (noise 4 dropped)" in result.stdout
    assert "new 4, changed 2, unchanged 2, refused 4" in result.stdout


def test_bad_captures_are_refused_with_the_reason_and_never_a_version(scenario, tmp_path):
    s, db = scenario, tmp_path / "k.db"
    result = backfill(s, db)
    refused = [line for line in result.stderr.splitlines() if line.startswith("refused ")]
    assert len(refused) == 4
    joined = "\n".join(refused)
    assert "cannot replay it" in joined and "java.io.IOException" in joined
    assert "redirects to another capture (HTTP 302" in joined
    assert "a block or challenge page ('ddos-guard')" in joined
    assert f"another URL's page: the capture holds event {s.edited}" in joined
    errors = rows(
        db,
        "SELECT captured_at, outcome, version_id, raw_sha256 IS NOT NULL FROM captures"
        " WHERE error IS NOT NULL ORDER BY captured_at",
    )
    assert [(e[1], e[2]) for e in errors] == [("error", None)] * 4
    assert [e[3] for e in errors] == [0, 0, 1, 1]  # refused bodies kept; failed replays: none
    assert rows(db, "SELECT max(seq) FROM versions v JOIN pages p ON p.id = v.page_id"
                " WHERE p.event_id = ?", s.bad) == [(1,)]  # fmt: skip


def test_a_second_backfill_sends_no_request_for_known_digests(scenario, tmp_path):
    s, db = scenario, tmp_path / "k.db"
    assert backfill(s, db).returncode == 0
    before = rows(db, "SELECT count(*) FROM captures"), rows(db, "SELECT count(*) FROM versions")
    s.wayback.clear_requests()
    again = backfill(s, db)
    assert again.returncode == 0, again.stderr
    replays = s.wayback.replays()
    assert sorted(p.split("/")[2][:14] for p in replays) == sorted(s.broken)  # failed ones only
    after = rows(db, "SELECT count(*) FROM captures"), rows(db, "SELECT count(*) FROM versions")
    assert after == before
    assert "already archived 10" in again.stdout


def test_a_backfill_cut_short_resumes_at_its_resume_key(scenario, tmp_path):
    s, db = scenario, tmp_path / "k.db"
    first = backfill(s, db, "--limit", "4")
    assert first.returncode == 0, first.stderr
    assert "fetched 4" in first.stdout
    (cursor,) = rows(db, "SELECT query, resume_key FROM wayback_cursors")
    assert cursor[0].startswith("en.kremlin.ru/events/president/news/")
    s.wayback.clear_requests()
    rest = backfill(s, db)
    assert rest.returncode == 0, rest.stderr
    assert "resumeKey=" in s.wayback.searches()[0]  # it went on, not back to the start
    assert rows(db, "SELECT count(*) FROM wayback_cursors") == [(0,)]
    assert len(versions(db, s.edited)) == 2 and len(versions(db, s.moved)) == 2
    assert rows(db, "SELECT count(*) FROM captures WHERE source = 'wayback'") == [(12,)]


def test_since_until_and_id_narrow_the_captures(scenario, tmp_path):
    s, db = scenario, tmp_path / "k.db"
    result = backfill(s, db, "--id", str(s.moved), "--since", "2021-02-01", "--until", "2021-12-31")
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT event_id FROM pages") == [(s.moved,)]
    assert versions(db, s.moved) == [(1, "2021-05-01T12:00:00Z", "[]")]
    assert all("from=20210201" in p and "to=20211231" in p for p in s.wayback.searches())


def test_captures_keep_where_they_came_from(scenario, tmp_path):
    s, db = scenario, tmp_path / "k.db"
    backfill(s, db)
    (row,) = rows(
        db,
        "SELECT source_url, fetched_url, http_headers FROM captures"
        " WHERE captured_at = '2021-06-01T12:00:00Z'",
    )
    memento = f"{s.wayback.url}/web/20210601120000id_/{EN}/trips/{s.trip}"
    assert row[0] == row[1] == memento
    assert '"status_line": "HTTP/1.1 200 OK"' in row[2] and '["Server", "nginx"]' in row[2]
    (held,) = rows(db, "SELECT source_url, fetched_url FROM captures WHERE captured_at = ?",
                   "2021-02-01T12:00:00Z")  # fmt: skip
    assert held[0].endswith(f"/web/{s.duplicate}id_/{EN}/news/{s.edited}") and held[1] is None


def test_the_wayback_breaker_stops_a_backfill_that_is_refused(scenario, tmp_path):
    s, db = scenario, tmp_path / "k.db"
    s.wayback.set_fault("status", "/web/*", status=403)
    result = backfill(s, db)
    assert result.returncode == 1
    assert "consecutive 403/429 answers" in result.stderr
    assert len(s.wayback.replays()) == 5  # fetch.breaker_threshold, then nothing more


def test_user_agent_is_the_projects(scenario, tmp_path):
    backfill(scenario, tmp_path / "k.db", "--limit", "1")
    agents = {r.headers.get("User-Agent") for r in scenario.wayback.requests}
    assert len(agents) == 1 and agents.pop().startswith("kremlin-archive/")


# --- the same captures in any order -------------------------------------------------------------


def run(*args: str | Path) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def history(db: Path, live_at: set[str]) -> list[tuple]:
    """Every page's versions: number, time (a live fetch's time as "live": it is when the
    test ran), changed fields, text hash."""
    found = rows(
        db,
        "SELECT p.event_id, v.seq, v.captured_at, v.changed_fields, v.text_sha256"
        " FROM versions v JOIN pages p ON p.id = v.page_id ORDER BY p.event_id, v.seq",
    )
    return [(e, n, "live" if t in live_at else t, c, h) for e, n, t, c, h in found]


def live_times(db: Path) -> set[str]:
    return {t for (t,) in rows(db, "SELECT captured_at FROM captures WHERE source = 'replica'")}


@pytest.mark.parametrize("order", ["live first", "wayback first", "interleaved"])
def test_the_same_captures_in_three_orders_give_one_history(scenario, tmp_path, order):
    s = scenario
    s.site.edit_page(s.edited)  # the live site serves a third version of that page
    ids = [a for i in (s.edited, s.moved, s.trip, s.bad) for a in ("--id", str(i))]
    live = ["crawl", "--base-url", s.site.url, "--delay", "0", *ids]
    wayback = ["wayback", "--config", s.config, "--base-url", s.wayback.url, "--delay", "0"]
    reference, db = tmp_path / "reference.db", tmp_path / f"{order}.db"
    run(*wayback, "--db", reference)
    run(*live, "--db", reference)
    if order == "live first":
        run(*live, "--db", db)
        run(*wayback, "--db", db)
    elif order == "wayback first":
        run(*wayback, "--db", db)
        run(*live, "--db", db)
    else:
        run(*wayback, "--until", "2021-02-28", "--db", db)
        run(*live, "--db", db)
        run(*wayback, "--since", "2021-03-01", "--db", db)
    expected = history(reference, live_times(reference))
    assert history(db, live_times(db)) == expected
    assert [row[1:4] for row in expected if row[0] == s.edited] == [
        (1, "2021-01-01T12:00:00Z", "[]"),
        (2, "2021-03-01T12:00:00Z", '["body"]'),
        (3, "live", '["body"]'),
    ]
    shown = run("show", str(s.edited), "--at", "2021-02-15", "--db", db)
    assert "Correction 2." not in shown
    assert "Correction 2." in run("show", str(s.edited), "--at", "2021-03-15", "--db", db)
