"""Speed of ``export --format warc`` and of importing that WARC, and its size.

Builds an archive through the Archive API from N real-sized pages of the fake site's
generator (``tests/fakesite.py``, ``--chrome``: about 43 kB each), each captured three
times like a crawl would: a 200 with the headers a server sends, a 304 a day later, and a
200 two days later (an edited page for one page in ten, the same body for the others).
Then, each in a child process of the real CLI and timed:

1. ``kremlin-archive export --format warc`` (baseline in the same run: ``export --format
   jsonl --all-versions`` of the same archive);
2. ``kremlin-archive import captures.warc.gz`` into an empty archive (baseline: warcio's
   ``ArchiveIterator`` reading every record and its content, in this process);

and prints captures/s and the peak memory of each child, the WARC's size against the
database's (WAL checkpointed) and the raw HTML's::

    PYTHONPATH=src python benchmarks/warc.py                 # 2,000 pages, 6,000 captures
    PYTHONPATH=src python benchmarks/warc.py --pages 300
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from warcio.archiveiterator import ArchiveIterator  # noqa: E402

from fakesite import generate_page, render_event_page  # noqa: E402
from kremlin_archive.archive import Archive, Capture, render_http_headers  # noqa: E402
from kremlin_archive.normalize import parse_event_page  # noqa: E402
from peak import run_measured  # noqa: E402

START = datetime(2024, 5, 1, 12, 0)


def headers(status: int, body: bytes, moment: datetime) -> str:
    """The headers a server like the real one sends (what a live crawl now keeps)."""
    reason = {200: "OK", 304: "Not Modified"}[status]
    pairs = [("Server", "nginx"), ("Date", moment.strftime("%a, %d %b %Y %H:%M:%S GMT"))]
    if status == 200:
        pairs += [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    pairs += [("ETag", f'"{hash(body) & 0xFFFFFFFF:08x}"'), ("Connection", "close")]
    return render_http_headers(f"HTTP/1.1 {status} {reason}", pairs)


def capture(page, moment: datetime, status: int, body: bytes | None) -> Capture:
    transcript = parse_event_page(body, page.url) if body else None
    return Capture(
        site="en.kremlin.ru", event_id=page.event_id, url=page.url,
        captured_at=moment.strftime("%Y-%m-%dT%H:%M:%SZ"), source="live", status=status,
        body=body, transcript=transcript, fetched_url=page.url,
        http_headers=headers(status, body or b"", moment),
    )  # fmt: skip


def build_archive(path: Path, pages: int, seed: int = 0) -> tuple[int, int]:
    """The archive of the module docstring; returns (captures, raw HTML bytes)."""
    rng = random.Random(seed)
    captures = html = 0
    with Archive(path) as archive:
        for index in range(pages):
            page = generate_page(rng, 60000 + index, START - timedelta(hours=index))
            body = render_event_page(page, chrome=True).encode()
            later = body
            if index % 10 == 0:
                edited = replace(page, paragraphs=[*page.paragraphs, "Correction."])
                later = render_event_page(edited, chrome=True).encode()
            moment = START + timedelta(seconds=index)
            archive.save_capture(capture(page, moment, 200, body))
            archive.save_capture(capture(page, moment + timedelta(days=1), 304, None))
            archive.save_capture(capture(page, moment + timedelta(days=2), 200, later))
            captures += 3
            html += len(body) + len(later)
    checkpoint(path)
    return captures, html


def checkpoint(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def cli(*args: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB, its own: see ``peak.py``) of one run of the real CLI
    in a child process."""
    command = [sys.executable, "-c", "from kremlin_archive.cli import main; main()", *args]
    run = run_measured(command)
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {run.stderr[-2000:]}")
    return run.seconds, run.peak_mb


def read_all(warc: Path) -> tuple[float, int]:
    """Seconds for warcio alone to read every record and its content; records read."""
    started = time.perf_counter()
    count = 0
    with warc.open("rb") as stream:
        for record in ArchiveIterator(stream):
            record.content_stream().read()
            count += 1
    return time.perf_counter() - started, count


def same_archive(a: Path, b: Path) -> bool:
    sql = (
        "SELECT p.event_id, v.seq, v.captured_at, v.text_sha256, v.fields_sha256, v.raw_sha256"
        " FROM versions v JOIN pages p ON p.id = v.page_id ORDER BY p.event_id, v.seq"
    )
    rows = []
    for db in (a, b):
        with sqlite3.connect(db) as conn:
            rows.append(conn.execute(sql).fetchall())
    return rows[0] == rows[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        report(Path(tmp), args.pages)


def report(work: Path, pages: int) -> None:
    db = work / "k.db"
    started = time.perf_counter()
    captures, html = build_archive(db, pages)
    print(f"built {pages} pages, {captures} captures in {time.perf_counter() - started:.1f} s")
    export_s, export_mb = cli(
        "export", "--db", str(db), "--format", "warc", "--out", str(work / "w")
    )
    jsonl_s, _ = cli(
        "export", "--db", str(db), "--format", "jsonl", "--all-versions", "--out",
        str(work / "j"),
    )  # fmt: skip
    warc = work / "w" / "captures.warc.gz"
    records = json.loads((work / "w" / "manifest.json").read_text())["counts"]["records"]
    read_s, read_n = read_all(warc)
    copy = work / "copy.db"
    import_s, import_mb = cli("import", "--db", str(copy), str(warc), "--log-level", "WARNING")
    checkpoint(copy)
    versions = sqlite3.connect(db).execute("SELECT count(*) FROM versions").fetchone()[0]
    db_bytes, warc_bytes = db.stat().st_size, warc.stat().st_size
    print(f"Python {platform.python_version()}, nproc {os.cpu_count()}")
    print("| figure | measured | baseline in the same run |\n| --- | --- | --- |")
    print(
        f"| export --format warc | {captures / export_s:,.0f} captures/s ({export_s:.1f} s,"
        f" {records} records, peak RSS {export_mb:.0f} MB) | export --format jsonl"
        f" --all-versions: {jsonl_s:.1f} s ({versions} versions) |"
    )
    print(
        f"| import of that WARC into an empty archive | {captures / import_s:,.0f} captures/s"
        f" ({import_s:.1f} s, peak RSS {import_mb:.0f} MB) | warcio reading every record"
        f" and its content: {read_n / read_s:,.0f} records/s ({read_s:.2f} s) |"
    )
    print(
        f"| WARC size | {warc_bytes:,} B = {warc_bytes / db_bytes:.2f}x the database"
        f" | database {db_bytes:,} B; raw HTML of the 200s {html:,} B |"
    )
    print(f"| round trip: same versions, times and hashes | {same_archive(db, copy)} | — |")


if __name__ == "__main__":
    main()
