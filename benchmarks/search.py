"""Time of ``kremlin-archive search`` on a generated archive, against the old snippet plan.

Builds (once, then reuses) an archive of N events with ``benchmarks/export.py``'s
generated transcripts (every one holds "Vladimir Putin"), then times in this process:

- the old plan: one query that makes a snippet for every match before ORDER BY / LIMIT;
- ``search_versions`` as the CLI runs it: snippets after ORDER BY / LIMIT, for the rows
  shown only; a plain query made of words (each term once), or a raw ``--fts`` one.

::

    PYTHONPATH=src python benchmarks/search.py                 # 1,200 events
    PYTHONPATH=src python benchmarks/search.py --events 3000 --repeat 200
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export import build_archive  # noqa: E402
from kremlin_archive.archive import Archive  # noqa: E402
from kremlin_archive.lookup import search_versions  # noqa: E402

OLD_PLAN = """
    SELECT v.id, snippet(versions_fts, -1, '[', ']', '…', 12) AS snippet
    FROM versions_fts JOIN versions v ON v.id = versions_fts.rowid
    JOIN pages p ON p.id = v.page_id WHERE versions_fts MATCH ?
    AND v.seq = (SELECT max(seq) FROM versions w WHERE w.page_id = v.page_id)
    ORDER BY json_extract(v.fields, '$.date') DESC, p.event_id DESC, v.seq DESC LIMIT ?"""


def timed(run) -> tuple[float, int]:
    started = time.perf_counter()
    rows = run()
    return time.perf_counter() - started, rows


def measure(archive: Archive, repeat: int, limit: int) -> list[tuple[str, float, int]]:
    raw = " ".join(["Putin"] * repeat)
    cases = [
        (f"old plan, `Putin` x{repeat}, limit {limit}", lambda: _old(archive, raw, limit)),
        (f"`search --fts` `Putin` x{repeat} `--limit {limit}`", lambda: _new(archive, raw, limit)),
        (f"`search` `Putin` x{repeat} `--limit {limit}`", lambda: _new(archive, raw, limit, False)),
        (f"`search` `Putin` x{repeat}, every match", lambda: _new(archive, raw, None, False)),
        ("`search` `Putin`, every match", lambda: _new(archive, "Putin", None, False)),
        (f"`search --fts` `Putin` x{repeat}, every match", lambda: _new(archive, raw, None)),
        (f"old plan, `Putin` x{repeat}, every match", lambda: _old(archive, raw, -1)),
    ]
    return [(name, *timed(run)) for name, run in cases]


def _old(archive: Archive, query: str, limit: int) -> int:
    return len(archive.conn.execute(OLD_PLAN, (query, limit)).fetchall())


def _new(archive: Archive, query: str, limit: int | None, raw: bool = True) -> int:
    return len(list(search_versions(archive, query, limit=limit, raw=raw)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1200)
    parser.add_argument("--repeat", type=int, default=100, help="times the term is repeated")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    db = args.workdir / f"kremlin-export-bench-{args.events}.db"
    if not db.exists():
        build_archive(db, args.events)
    print(f"{args.events} events, Python {platform.python_version()}")
    print("| query | time | matches |\n| --- | ---: | ---: |")
    with Archive(db) as archive:
        for name, seconds, rows in measure(archive, args.repeat, args.limit):
            print(f"| {name} | {seconds:.2f} s | {rows} |")


if __name__ == "__main__":
    main()
