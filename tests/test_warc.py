"""WARC in and out through the real CLI: a crawl of the fake site exported to WARC, checked
with warcio's own checker, imported into an empty archive; WARC files written by warcio
itself (as wget or Browsertrix write them), ARC files, corrupt files."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from fakesite import FakeSite
from runcli import kremlin

WARCIO = Path(sys.executable).with_name("warcio")


def crawl(db: Path, site: FakeSite, *args: str, status: int = 0):
    result = kremlin("crawl", "--db", db, "--base-url", site.url, "--delay", "0", *args)
    assert result.returncode == status, result.stderr
    return result


def query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def export_warc(db: Path, out: Path) -> Path:
    result = kremlin("export", "--format", "warc", "--out", out, "--db", db)
    assert result.returncode == 0, result.stderr
    return out / "captures.warc.gz"


def records(path: Path) -> list[dict]:
    """Every record of a WARC as type, headers and the content read."""
    found = []
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            found.append(
                {
                    "type": record.rec_type,
                    "headers": dict(record.rec_headers.headers),
                    "status": record.http_headers.get_statuscode() if record.http_headers else None,
                    "http": record.http_headers,
                    "content": record.content_stream().read(),
                }
            )
    return found


PAGES = (
    "SELECT site, event_id, url, status, gone_at, first_seen_at, last_checked_at,"
    " last_changed_at, etag, last_modified FROM pages ORDER BY site, event_id"
)
CAPTURES = (
    "SELECT p.event_id, c.captured_at, c.http_status, c.outcome, c.status_change,"
    " c.raw_sha256, c.bytes, c.error, v.seq FROM captures c JOIN pages p ON p.id = c.page_id"
    " LEFT JOIN versions v ON v.id = c.version_id"
    " ORDER BY p.event_id, c.captured_at, c.id"
)
VERSIONS = (
    "SELECT p.event_id, v.seq, v.origin, v.captured_at, v.title, v.text, v.text_sha256,"
    " v.fields, v.fields_sha256, v.raw_sha256, v.changed_fields, v.body_changes"
    " FROM versions v JOIN pages p ON p.id = v.page_id ORDER BY p.event_id, v.seq"
)


@pytest.fixture
def crawled(tmp_path) -> Iterator[tuple[Path, FakeSite]]:
    """An archive made by real crawls of the fake site: an edit, a 304, a gone page, a
    page that never existed, and a saved copy of a page imported as an unchanged capture."""
    with FakeSite(n_pages=6, seed=15, extras=0) as site:
        db = tmp_path / "crawl.db"
        crawl(db, site)
        edited, unchanged, gone = site.ids[1], site.ids[2], site.ids[3]
        site.edit_page(edited)
        crawl(db, site)  # the feed says the page changed: a second version
        crawl(db, site, "--id", str(unchanged))  # conditional GET: 304
        site.remove_page(gone, 410)
        crawl(db, site, "--id", str(gone))  # 410: the page is gone
        crawl(db, site, "--id", str(site.ids[0] + 1000), status=1)  # 404 of a page never archived
        saved = tmp_path / "saved.html"
        saved.write_bytes(site.render(site.pages[unchanged]))
        stamp = time.time()  # after every crawl above, not ahead of the clock
        os.utime(saved, (stamp, stamp))
        assert kremlin("import", saved, "--db", db).returncode == 0  # same body: unchanged
        yield db, site


def test_the_round_trip_gives_the_same_pages_captures_and_versions(crawled, tmp_path):
    db, site = crawled
    outcomes = {o for (o,) in query(db, "SELECT DISTINCT outcome FROM captures")}
    assert outcomes == {"new", "changed", "unchanged", "not-modified", "gone", "error"}
    warc = export_warc(db, tmp_path / "out")

    copy = tmp_path / "copy.db"
    result = kremlin("import", warc, "--db", copy)
    assert result.returncode == 0, result.stderr
    summary = (
        "imported 11 (new 6, changed 1, unchanged 1), already archived 0, skipped 0,"
        " other WARC records 1"
    )
    assert result.stdout.strip() == summary  # the other record: the warcinfo
    assert query(copy, PAGES) == query(db, PAGES)
    assert query(copy, VERSIONS) == query(db, VERSIONS)
    assert query(copy, CAPTURES) == query(db, CAPTURES)
    received = "SELECT captured_at, fetched_url, http_headers FROM captures ORDER BY id"
    kept = [row for row in query(db, received) if row[2] is not None]  # not the saved file
    assert len(kept) == 10
    assert set(kept) <= set(query(copy, received))
    assert query(copy, "SELECT DISTINCT source FROM captures") == [("warc",)]
    sources = [s for (s,) in query(copy, "SELECT source_url FROM captures ORDER BY id")]
    assert all(s.startswith("captures.warc.gz#") for s in sources)


def test_the_live_crawl_keeps_the_status_line_and_headers_received(crawled):
    db, site = crawled
    (stored,) = query(db, "SELECT http_headers, fetched_url FROM captures WHERE outcome = 'new'")[
        :1
    ]
    headers = json.loads(stored[0])
    assert headers["status_line"] == "HTTP/1.1 200 OK"
    names = [name for name, _ in headers["headers"]]
    assert names[:3] == ["Server", "Date", "Content-Type"]  # as sent: spelling and order
    assert stored[1].startswith(site.url + "/events/president/news/")
    (not_modified,) = query(db, "SELECT http_headers FROM captures WHERE http_status = 304")
    assert json.loads(not_modified[0])["status_line"] == "HTTP/1.1 304 Not Modified"


def test_warcio_check_passes_on_the_export(crawled, tmp_path):
    db, _ = crawled
    warc = export_warc(db, tmp_path / "out")
    checked = subprocess.run(
        [WARCIO, "check", "-v", warc], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("digest pass") == 10  # 7 responses, warcinfo, 2 metadata
    assert checked.stdout.count("digest present but not checked (revisit)") == 2
    indexed = subprocess.run([WARCIO, "index", warc], capture_output=True, text=True, timeout=60)
    assert indexed.returncode == 0, indexed.stderr
    assert len(indexed.stdout.splitlines()) == 12  # warcinfo and one record per capture


def test_the_export_writes_each_capture_as_the_standard_says(crawled, tmp_path):
    db, site = crawled
    warc = export_warc(db, tmp_path / "out")
    found = records(warc)
    assert found[0]["type"] == "warcinfo"
    assert b"software: kremlin-archive/" in found[0]["content"]
    kinds = [(r["type"], r["status"], r["headers"].get("WARC-Profile", "")) for r in found[1:]]
    assert sorted(kinds) == sorted(
        [("response", "200", "")] * 7
        + [("revisit", "200", "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest")]
        + [("revisit", "304", "http://netpreserve.org/warc/1.0/revisit/server-not-modified")]
        + [("metadata", None, "")] * 2  # the gone page and the page that never existed
    )
    times = query(db, "SELECT captured_at FROM captures ORDER BY captured_at")
    assert sorted(r["headers"]["WARC-Date"] for r in found[1:]) == [t for (t,) in times]
    response = next(r for r in found if r["type"] == "response")
    assert response["headers"]["WARC-Target-URI"].startswith(site.url + "/events/president/news/")
    assert response["headers"]["WARC-Payload-Digest"].startswith("sha1:")
    assert response["headers"]["WARC-Block-Digest"].startswith("sha1:")
    assert response["http"].get_header("Content-Length") == str(len(response["content"]))
    assert b'<h1 class="entry-title' in response["content"] or b"<h1" in response["content"]
    saved = next(r for r in found if "identical" in r["headers"].get("WARC-Profile", ""))
    assert saved["http"].headers == [  # the saved file's capture kept no headers: a minimal block
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(saved_length(db))),
    ]
    gone = [json.loads(r["content"]) for r in found if r["type"] == "metadata"]
    statuses = sorted(g["kremlin_archive_capture"]["http_status"] for g in gone)
    assert statuses == [404, 410]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    (entry,) = manifest["files"]
    assert entry["name"] == "captures.warc.gz" and entry["records"] == 12
    assert entry["bytes"] == warc.stat().st_size
    with gzip.open(warc) as whole:  # gzip per record: a multi-member gzip file
        assert whole.read().count(b"WARC/1.0\r\n") == 12


def saved_length(db: Path) -> int:
    (row,) = query(db, "SELECT bytes FROM captures WHERE source = 'import'")
    return row[0]


def test_the_export_is_deterministic(crawled, tmp_path):
    db, _ = crawled
    first = export_warc(db, tmp_path / "a").read_bytes()
    assert export_warc(db, tmp_path / "b").read_bytes() == first
    again = kremlin("export", "--format", "warc", "--out", tmp_path / "a", "--db", db)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "a" / "captures.warc.gz").read_bytes() == first


CAPTURE_SCRIPT = """
import sys
from warcio.capture_http import capture_http  # before requests: it patches http.client
import requests

path, base, url = sys.argv[1:4]
stamps = iter(sys.argv[4:])
now = {}

def dated(request, response, recorder):
    for record in (request, response):
        record.rec_headers.replace_header("WARC-Date", now["stamp"])
    return request, response

with capture_http(path, dated, gzip=True):
    for target in (url, url, "edit", url, base + "/events/president/news"):
        if target == "edit":
            input()  # the test edits the page, then says go on
            continue
        now["stamp"] = next(stamps)
        print(requests.get(target, timeout=10).status_code, flush=True)
"""


def test_since_keeps_the_captures_of_the_events_of_that_day_or_later(crawled, tmp_path):
    db, _ = crawled
    (day,) = query(db, "SELECT max(json_extract(fields, '$.date')) FROM versions")[0]
    latest = query(
        db,
        "SELECT count(*) FROM captures WHERE page_id IN (SELECT page_id FROM versions"
        f" GROUP BY page_id HAVING max(json_extract(fields, '$.date')) >= '{day}')",
    )[0][0]
    result = kremlin(
        "export", "--format", "warc", "--since", day, "--out", tmp_path / "w", "--db", db
    )
    assert result.returncode == 0, result.stderr
    found = records(tmp_path / "w" / "captures.warc.gz")
    assert 1 <= latest < 11
    assert len(found) == 1 + latest  # the warcinfo, then only those pages' captures


def written_by_warcio(path: Path, site: FakeSite, page_id: int) -> None:
    """Three captures of one page recorded by warcio's own HTTP capture, as a crawler
    records them (request and response pairs), the page edited before the third, then a
    listing page. In a child process: warcio must patch http.client before requests loads."""
    url = f"{site.url}/events/president/news/{page_id}"
    stamps = [f"2021-03-0{day}T09:00:00Z" for day in (1, 2, 3, 4)]
    child = subprocess.Popen(
        [sys.executable, "-c", CAPTURE_SCRIPT, str(path), site.url, url, *stamps],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert [child.stdout.readline().strip() for _ in range(2)] == ["200", "200"]
    site.edit_page(page_id)
    child.stdin.write("\n")
    child.stdin.flush()
    assert child.stdout.read().split() == ["200", "200"]
    assert child.wait(timeout=30) == 0


def test_a_warc_written_by_warcio_imports_as_two_versions(tmp_path):
    with FakeSite(n_pages=3, seed=7, extras=0) as site:
        page_id = site.ids[0]
        warc = tmp_path / "crawl.warc.gz"
        written_by_warcio(warc, site, page_id)
    db = tmp_path / "k.db"
    result = kremlin("import", warc, "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "imported 3 (new 1, changed 1, unchanged 1), already archived 0, skipped 0,"
        " other WARC records 5"
    )  # 4 requests and the listing page are counted, not imported
    assert query(db, "SELECT event_id, seq, captured_at FROM versions v JOIN pages p") == [
        (page_id, 1, "2021-03-01T09:00:00Z"),
        (page_id, 2, "2021-03-03T09:00:00Z"),
    ]
    urls = query(db, "SELECT DISTINCT url, fetched_url FROM pages JOIN captures")
    assert urls == [
        (
            f"http://en.kremlin.ru/events/president/news/{page_id}",
            f"{site.url}/events/president/news/{page_id}",
        )
    ]
    shown = kremlin("show", str(page_id), "--db", db)
    assert "Correction 2." in shown.stdout


def test_a_warc_older_than_the_archive_takes_its_place_in_the_history(tmp_path):
    with FakeSite(n_pages=3, seed=7, extras=0) as site:
        page_id = site.ids[0]
        warc = tmp_path / "crawl.warc.gz"
        written_by_warcio(warc, site, page_id)  # 2021, the page edited on the third day
        db = tmp_path / "k.db"
        crawl(db, site, "--id", str(page_id))  # today: the page as edited
    result = kremlin("import", warc, "--db", db)
    assert result.returncode == 0, result.stderr
    assert "skipped 0" in result.stdout
    versions = query(db, "SELECT seq, captured_at FROM versions ORDER BY seq")
    assert versions == [(1, "2021-03-01T09:00:00Z"), (2, "2021-03-03T09:00:00Z")]


def test_a_revisit_is_resolved_to_the_record_it_repeats(tmp_path):
    with FakeSite(n_pages=2, seed=3, extras=0) as site:
        page = site.news()[0]
        body = site.render(page)
    url = f"http://en.kremlin.ru/events/president/news/{page.event_id}"
    warc = tmp_path / "dedup.warc.gz"
    with warc.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        first = writer.create_warc_record(
            url, "response", payload=BytesIO(body), length=len(body), http_headers=http,
            warc_headers_dict={"WARC-Date": "2022-05-01T10:00:00Z"},
        )  # fmt: skip
        writer.write_record(first)
        digest = first.rec_headers.get_header("WARC-Payload-Digest")
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_revisit_record(
                url,
                digest,
                url,
                "2022-05-01T10:00:00Z",
                http_headers=http,
                warc_headers_dict={"WARC-Date": "2022-06-01T10:00:00Z"},
            )  # fmt: skip
        )
    db = tmp_path / "k.db"
    result = kremlin("import", warc, "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported 2 (new 1, changed 0, unchanged 1)")
    rows = query(db, "SELECT captured_at, outcome, raw_sha256 IS NOT NULL FROM captures")
    assert rows == [("2022-05-01T10:00:00Z", "new", 1), ("2022-06-01T10:00:00Z", "unchanged", 1)]


def test_an_arc_file_imports(tmp_path):
    with FakeSite(n_pages=2, seed=5, extras=0) as site:
        page = site.news()[0]
        body = site.render(page)
    url = f"http://en.kremlin.ru/events/president/news/{page.event_id}"
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + body
    version = b"1 0 kremlin-test\nURL IP-address Archive-date Content-type Archive-length\n"
    filedesc = b"filedesc://test.arc 0.0.0.0 20200101000000 text/plain %d\n" % len(version)
    head = b"%s 127.0.0.1 20200827183000 text/html %d\n" % (url.encode(), len(http))
    arc = tmp_path / "old.arc.gz"
    arc.write_bytes(
        gzip.compress(filedesc + version + b"\n", mtime=0) + gzip.compress(head + http + b"\n")
    )
    db = tmp_path / "k.db"
    result = kremlin("import", arc, "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported 1 (new 1, changed 0, unchanged 0)")
    assert query(db, "SELECT captured_at, source FROM captures") == [
        ("2020-08-27T18:30:00Z", "warc")
    ]


def test_a_corrupt_record_is_named_and_the_rest_still_imports(crawled, tmp_path):
    db, _ = crawled
    warc = export_warc(db, tmp_path / "out")
    data = bytearray(warc.read_bytes())
    with warc.open("rb") as stream:
        offsets = [(r.rec_type, it_offset) for r, it_offset in _offsets(stream)]
    bad = [o for t, o in offsets if t == "response"][2]
    data[bad + 10 : bad + 60] = (
        b"\xff" * 50
    )  # deflate data from its first byte: a reserved block type
    broken = tmp_path / "broken.warc.gz"
    broken.write_bytes(bytes(data))

    copy = tmp_path / "copy.db"
    result = kremlin("import", broken, "--db", copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{broken}: unreadable record at offset {bad}" in result.stderr
    assert "the rest was imported" in result.stderr
    imported = query(copy, "SELECT count(*) FROM captures")[0][0]
    assert imported == 10  # all but the corrupt one
    assert query(copy, "SELECT count(*) FROM pages")[0][0] == 7


def _offsets(stream) -> Iterator[tuple]:
    records = ArchiveIterator(stream)
    for record in records:
        yield record, records.offset


def test_a_file_that_is_no_warc_is_a_clear_error(tmp_path):
    junk = tmp_path / "notes.warc"
    junk.write_bytes(b"this is not a WARC file\n")
    result = kremlin("import", junk, "--db", tmp_path / "k.db")
    assert result.returncode == 1
    assert f"{junk}: unreadable record at offset 0" in result.stderr
