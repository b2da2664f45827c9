"""Database bytes per archived page against the raw HTML, and growth after a second pass.

Builds a fresh archive through the Archive API from N pages made by the fake site's page
generator (``tests/fakesite.py``), or from the real event pages of ``../shared/kremlin-html``
(``--real``, read in place), saves every page twice (the second pass a day later, nothing
changed), and prints the database size after each pass (WAL checkpointed) against the raw
HTML bytes of the same pages::

    PYTHONPATH=src python benchmarks/archive_size.py               # 2,000 generated pages
    PYTHONPATH=src python benchmarks/archive_size.py --real
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakesite import SHARED_HTML, generate_page, render_event_page  # noqa: E402
from kremlin_archive.archive import Archive, Capture  # noqa: E402
from kremlin_archive.errors import PageError  # noqa: E402
from kremlin_archive.normalize import parse_event_page  # noqa: E402

SITE = "en.kremlin.ru"


def generated_pages(
    count: int, seed: int, chrome: bool = False
) -> Iterator[tuple[int, str, bytes]]:
    """(event id, canonical URL, body) of ``count`` generated pages (``chrome``: wrapped in
    site chrome of the real pages' size)."""
    rng = random.Random(seed)
    start = datetime(2020, 1, 1, 9, 0)
    for index in range(count):
        page = generate_page(rng, 60000 + index, start + timedelta(hours=index))
        yield page.event_id, page.url, render_event_page(page, chrome).encode()


def real_pages(root: Path) -> Iterator[tuple[int, str, bytes]]:
    """The real event pages that normalize (photos tab, listings, feeds left out)."""
    for path in sorted(root.glob("*.html")):
        body = path.read_bytes()
        try:
            transcript = parse_event_page(body, None)
        except PageError:
            continue
        if transcript.event_id is not None and transcript.url and "-print" not in path.stem:
            yield transcript.event_id, transcript.url, body


def save_pass(archive: Archive, pages: list, captured_at: str) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for event_id, url, body in pages:
        transcript = parse_event_page(body, url)
        capture = Capture(SITE, event_id, url, captured_at, "replica", 200, body)
        outcome = archive.save_capture(replace(capture, transcript=transcript))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def database_bytes(path: Path) -> int:
    """The file's size once the WAL is written back into it."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path.stat().st_size


def counts(path: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(path)
    found = tuple(
        conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("versions", "raw_pages", "captures")
    )
    conn.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", action="store_true", help="the real pages, read in place")
    parser.add_argument("--chrome", action="store_true", help="generated pages of real size")
    args = parser.parse_args()
    if args.real:
        pages = list(real_pages(SHARED_HTML))
    else:
        pages = list(generated_pages(args.pages, args.seed, args.chrome))
    html_bytes = sum(len(body) for _, _, body in pages)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kremlin.db"
        report(path, pages, html_bytes)


def bytes_by_kind(path: Path) -> list[tuple[str, int]]:
    """The file's bytes (``dbstat``: pages of each table and index) by what they hold: the
    versions (text, fields and their indexes), the full-text index, the raw pages, and
    everything else (captures, pages, the schema's other tables and indexes)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    sizes = {"versions": 0, "full-text index": 0, "raw pages": 0, "the rest": 0}
    for name, size in rows:
        if name.startswith("versions_fts"):
            sizes["full-text index"] += size
        elif name.startswith(("versions", "sqlite_autoindex_versions")):
            sizes["versions"] += size
        elif name.startswith(("raw_pages", "raw_dicts", "sqlite_autoindex_raw_pages")):
            sizes["raw pages"] += size
        else:
            sizes["the rest"] += size
    return list(sizes.items())


def report(path: Path, pages: list, html_bytes: int) -> None:
    n = len(pages)
    with Archive(path) as archive:
        started = time.perf_counter()
        first = save_pass(archive, pages, "2024-01-01T10:00:00Z")
        first_time = time.perf_counter() - started
        size1, after1 = database_bytes(path), counts(path)
        second = save_pass(archive, pages, "2024-01-02T10:00:00Z")
    size2, after2 = database_bytes(path), counts(path)
    print(f"pages {n}, raw HTML {html_bytes:,} bytes ({html_bytes / n:,.0f} per page)")
    print(f"pass 1: {first} in {first_time:.1f} s ({n / first_time:,.0f} pages/s)")
    share = size1 / html_bytes
    print(f"  database {size1:,} bytes = {size1 / n:,.0f} per page = {share:.1%} of HTML")
    print(f"  versions / raw pages / captures: {after1}")
    kinds = bytes_by_kind(path)
    print("  of it: " + ", ".join(f"{kind} {size / n:,.0f} B a page" for kind, size in kinds))
    print(f"pass 2 (nothing changed): {second}")
    growth = size2 - size1
    print(f"  database {size2:,} bytes, growth {growth:,} bytes = {growth / size1:.2%}")
    print(f"  versions / raw pages / captures: {after2}")


if __name__ == "__main__":
    main()
