"""Reads at scale: search, history, show, diff, changes, list, export and verify on a
generated archive of N pages with 3 versions each.

Builds (once, then reuses from ``benchmarks/.work/``) an archive through the Archive API:
``benchmarks/export.py``'s generated transcripts (4–12 kB of text, 5–30 turns), 3/8 of the
pages on en.kremlin.ru and 5/8 on kremlin.ru (about 60,000 and 100,000 at full scale); each
page is captured three times, the 2nd and 3rd capture with an edited text, so it has three
versions. Captures are spread over two years (2024–2025), so a week holds about 1/100 of
the changes. Then it times the library calls the CLI makes (in this process, the archive
opened read-only once, as the CLI opens it), and the real CLI in a subprocess for
``export --format jsonl`` (wall time and peak RSS) and ``verify`` (wall time)::

    PYTHONPATH=src python benchmarks/scale.py                       # 160,000 pages
    PYTHONPATH=src python benchmarks/scale.py --pages 20000 --out benchmarks/README.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sections  # noqa: E402
from export import WORDS, make_transcript, run_export  # noqa: E402
from kremlin_archive.archive import Archive, Capture  # noqa: E402
from kremlin_archive.changes import list_changes  # noqa: E402

try:
    from kremlin_archive.cli import SEARCH_LIMIT
except ImportError:  # a baseline from before the CLI's default limit: the same query
    SEARCH_LIMIT = 20
from kremlin_archive.lookup import (  # noqa: E402
    list_pages,
    open_archive,
    page_history,
    pick_pair,
    render_diff,
    render_history,
    search_versions,
    version,
)

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work"
SECTION = "## Reads at scale (benchmarks/scale.py)"
VERSIONS = 3
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)  # captures spread over two years
GOALS = {"search": 0.100, "page": 0.020, "since": 0.200, "export_s": 60.0, "export_mb": 200.0}


# --------------------------------------------------------------------------- building


def site_of(index: int) -> tuple[str, str]:
    """(host, base URL) of page ``index``: 3 in 8 English, 5 in 8 Russian."""
    if index % 8 < 3:
        return "en.kremlin.ru", "http://en.kremlin.ru"
    return "kremlin.ru", "http://kremlin.ru"


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def capture_times(rng: random.Random, index: int, pages: int) -> list[datetime]:
    """Three capture moments of one page: the first in page order across the first year,
    the two re-captures at random later moments within the two years."""
    first = START + SPAN / 2 * (index / pages)
    later = sorted(first + (START + SPAN - first) * rng.random() for _ in range(VERSIONS - 1))
    return [first, *later]


def edited(rng: random.Random, transcript, n: int):
    """The transcript with one more sentence: what a site edit looks like to the archive."""
    extra = " ".join(rng.choice(WORDS) for _ in range(12)).capitalize()
    text = transcript.text.replace(
        "\nPublication status", f"\nEdit {n}: {extra}.\nPublication status"
    )
    return dataclasses.replace(transcript, text=text)


def build_archive(path: Path, pages: int, seed: int = 0, batch: int = 500) -> float:
    """Build the archive at ``path`` (via ``path.partial``, renamed when complete): every
    capture through ``Archive.save_capture``, ``batch`` captures a transaction. Seconds."""
    rng = random.Random(seed)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    with Archive(partial) as archive:
        for low in range(0, pages, batch):
            with archive.transaction():
                for index in range(low, min(low + batch, pages)):
                    save_page(archive, rng, index, pages)
            if low and low % (batch * 20) == 0:
                done = time.perf_counter() - started
                print(f"  {low} pages in {done:.0f} s", flush=True)
        archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    partial.rename(path)
    return time.perf_counter() - started


def save_page(archive: Archive, rng: random.Random, index: int, pages: int) -> None:
    host, base = site_of(index)
    event_id = index + 1
    transcript = make_transcript(rng, event_id)
    url = f"{base}/events/president/news/{event_id}"
    transcript = dataclasses.replace(transcript, url=url, language=host[:2])
    for n, moment in enumerate(capture_times(rng, index, pages)):
        if n:
            transcript = edited(rng, transcript, n)
        body = f"<html><article>{transcript.text}</article></html>".encode()
        archive.save_capture(
            Capture(
                site=host,
                event_id=event_id,
                url=url,
                captured_at=stamp(moment),
                source="import",
                status=200,
                body=body,
                transcript=transcript,
            )
        )


# --------------------------------------------------------------------------- measuring


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def sample_pages(archive: Archive, count: int, rng: random.Random) -> list:
    rows = archive.conn.execute("SELECT site, event_id FROM pages").fetchall()
    return [archive.get_page(r[1], site=r[0]) for r in rng.sample(rows, min(count, len(rows)))]


def measure_reads(db: Path, samples: int, queries: int, every_n: int, seed: int) -> dict:
    rng = random.Random(seed + 1)
    out: dict = {}
    out["open"] = p95([timed(lambda: open_archive(db).__enter__().close()) for _ in range(20)])
    with open_archive(db) as archive:
        words = [[rng.choice(WORDS) for _ in range(3)] for _ in range(queries)]
        texts = [" ".join(w) for w in words]
        every = [timed(lambda q=q: list(search_versions(archive, q))) for q in texts[:every_n]]
        shown = [
            timed(lambda q=q: list(search_versions(archive, q, limit=SEARCH_LIMIT + 1)))
            for q in texts
        ]
        first20 = [timed(lambda q=q: list(search_versions(archive, q, limit=20))) for q in texts]
        out["search_all"], out["search_20"], out["queries"] = p95(every), p95(first20), texts
        out["search_default"] = p95(shown)
        out["search_matches"] = len(list(search_versions(archive, texts[0])))
        pages = sample_pages(archive, samples, rng)

        def history(page):
            return render_history(page, page_history(archive, page))

        def show(page):
            return version(archive, page).text

        def diff(page):
            return render_diff(*pick_pair(archive, page))

        for name, call in (("history", history), ("show", show), ("diff", diff)):
            out[name] = p95(
                [
                    timed(lambda p=p, call=call: call(archive.get_page(p.event_id, p.site)))
                    for p in pages
                ]
            )
        last = archive.conn.execute("SELECT max(captured_at) FROM captures").fetchone()[0]
        week = stamp(datetime.fromisoformat(last.replace("Z", "+00:00")) - timedelta(days=7))
        day = archive.conn.execute("SELECT max(json_extract(fields, '$.date')) FROM versions")
        month = date.fromisoformat(day.fetchone()[0]) - timedelta(days=30)
        out["week"], out["month"] = week, month.isoformat()
        # the first run reads from the disk what the searches before left out of the
        # page cache: reported apart from the p95 of the 5 runs after it
        runs = [timed(lambda: list_changes(archive, since=week)) for _ in range(6)]
        out["changes_first"], out["changes"] = runs[0], p95(runs[1:])
        out["changes_rows"] = len(list_changes(archive, since=week))
        runs = [timed(lambda: list(list_pages(archive, month))) for _ in range(6)]
        out["list_first"], out["list"] = runs[0], p95(runs[1:])
        out["list_rows"] = len(list(list_pages(archive, month)))
        counts = "SELECT (SELECT count(*) FROM pages), (SELECT count(*) FROM versions)"
        out["pages"], out["versions"] = archive.conn.execute(counts).fetchone()
    return out


def run_verify(db: Path) -> float:
    command = [sys.executable, "-c", "from kremlin_archive.cli import main; main()"]
    command += ["verify", "--db", str(db), "--log-level", "WARNING"]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure_all(db: Path, args: argparse.Namespace) -> dict:
    """The reads, an export and a verify of ``db`` by the code on the path."""
    measured = measure_reads(db, args.samples, args.queries, args.every, args.seed)
    with tempfile.TemporaryDirectory(dir=args.workdir) as out:
        measured["export_s"], measured["export_mb"], _ = run_export(db, "jsonl", Path(out))
    measured |= {"verify": run_verify(db), "bytes": db.stat().st_size}
    measured["samples"], measured["every"] = args.samples, min(args.every, args.queries)
    return measured


def measure_baseline(db: Path, args: argparse.Namespace) -> dict:
    """:func:`measure_all` by the older checkout at ``args.baseline``, in a child process
    with that code first on the path (the archive is not migrated: it is read as it is)."""
    out = args.workdir / "baseline-reads.json"
    command = [sys.executable, __file__, "--pages", str(args.pages), "--seed", str(args.seed)]
    command += ["--samples", str(args.samples), "--queries", str(args.queries)]
    command += ["--every", str(args.every), "--workdir", str(args.workdir)]
    command += ["--reads-json", str(out)]
    env = os.environ | {"PYTHONPATH": str(args.baseline.resolve())}
    print(f"measuring the baseline ({args.baseline})", flush=True)
    subprocess.run(command, check=True, env=env)
    return json.loads(out.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- report


def verdict(value: float, goal: float) -> str:
    return "met" if value <= goal else "**missed**"


def _ms(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value >= 0.0095 else f"{value * 1000:.1f} ms"


def _first_and_p95(r: dict, name: str) -> str:
    """The p95 of the warm runs, and the first run where it was measured apart."""
    first = r.get(f"{name}_first")
    return f"p95 {_ms(r[name])}" + (f" (first run: {_ms(first)})" if first is not None else "")


def figure_rows(m: dict) -> list[tuple[str, str, Callable[[dict], str], str]]:
    """(figure, key, how to print it from a measurement, goal) for each row."""
    g = GOALS
    rows = [
        (
            f"`search` (3 words, as the CLI by default: the newest {SEARCH_LIMIT} matches and "
            f"whether more match; {m['search_matches']:,} matches for `{m['queries'][0]}`)",
            "search_default",
            lambda r: f"p95 {_ms(r['search_default'])}",
            f"≤ 100 ms ({verdict(m['search_default'], g['search'])})",
        ),
        (
            "`search --limit 20` (the same queries)",
            "search_20",
            lambda r: f"p95 {_ms(r['search_20'])}",
            f"≤ 100 ms ({verdict(m['search_20'], g['search'])})",
        ),
        (
            f"`search --limit 0` (every match, a snippet for each; the first {m['every']} queries)",
            "search_all",
            lambda r: f"p95 {_ms(r['search_all'])}",
            "report",
        ),
    ]
    for name in ("history", "show", "diff"):
        rows.append(
            (
                f"`{name}` (p95 of {m['samples']} random pages)",
                name,
                lambda r, name=name: f"p95 {_ms(r[name])}",
                f"≤ 20 ms ({verdict(m[name], g['page'])})",
            )
        )
    rows += [
        (
            f"`changes --since {m['week']}` ({m['changes_rows']:,} changes)",
            "changes",
            lambda r: _first_and_p95(r, "changes"),
            f"≤ 200 ms ({verdict(m['changes'], g['since'])})",
        ),
        (
            f"`list --since {m['month']}` ({m['list_rows']:,} events)",
            "list",
            lambda r: _first_and_p95(r, "list"),
            f"≤ 200 ms ({verdict(m['list'], g['since'])})",
        ),
        (
            "`export --format jsonl` (the CLI in a subprocess)",
            "export_s",
            lambda r: f"{r['export_s']:.1f} s, peak RSS {r['export_mb']:.0f} MB",
            f"≤ 60 s ({verdict(m['export_s'], g['export_s'])}), "
            f"≤ 200 MB ({verdict(m['export_mb'], g['export_mb'])})",
        ),
        (
            "`kremlin-archive verify` (the CLI in a subprocess, every raw page)",
            "verify",
            lambda r: f"{r['verify']:.1f} s",
            "report",
        ),
    ]
    return rows


def render_section(m: dict, command: str, baseline: dict | None = None) -> str:
    columns = ["figure", "measured", "baseline (older code, same file)", "goal"]
    if baseline is None:
        columns.remove("baseline (older code, same file)")
    head = "| " + " | ".join(columns) + " |\n" + "| --- " * len(columns) + "|\n"
    lines = []
    for label, key, show, goal in figure_rows(m):
        cells = [label, show(m)]
        if baseline is not None:
            cells.append(show(baseline) if key in baseline else "—")
        lines.append("| " + " | ".join([*cells, goal]) + " |\n")
    built = f"built in {m['build']:.0f} s" if m["build"] else "built by an earlier run"
    return (
        f"{SECTION}\n\nProduced by `{command}` on {date.today().isoformat()}: "
        f"{m['pages']:,} pages, {m['versions']:,} versions, {m['bytes']:,} B "
        f"({m['bytes'] / 1e9:.1f} GB, WAL checkpointed); {built}; opened for writing by "
        f"this code (its migrations) in {m['migrate']:.0f} s. Machine: nproc "
        f"{os.cpu_count()}, Python {platform.python_version()}, load average "
        f"{os.getloadavg()[0]:.1f} at the end. Reads are the library calls the CLI makes, "
        f"in one process with the archive open read-only (opening it: p95 "
        f"{_ms(m['open'])} more per command); p95 of {len(m['queries'])} queries, of "
        f"{m['samples']} random pages, of the 5 runs of `changes` and `list` after a "
        f"first one, timed apart.\n\n" + head + "".join(lines)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=160_000)
    parser.add_argument("--samples", type=int, default=50, help="random pages per read")
    parser.add_argument("--queries", type=int, default=20, help="3-word search queries")
    parser.add_argument("--every", type=int, default=2, help="of them, run for every match")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=WORK)
    parser.add_argument("--out", type=Path, help="write the section into this README")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="the src folder of an older checkout: its reads are measured on the same "
        "archive first, before this code migrates it",
    )
    parser.add_argument(
        "--baseline-reads",
        type=Path,
        help="the baseline's figures as an earlier --baseline run wrote them "
        "(WORKDIR/baseline-reads.json), when that run measured them on this same file",
    )
    parser.add_argument("--reads-json", type=Path, help=argparse.SUPPRESS)  # baseline's half
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    db = args.workdir / f"scale-{args.pages}-{args.seed}.db"
    build = 0.0
    if not db.exists():
        print(f"building {args.pages} pages x {VERSIONS} versions: {db}", flush=True)
        build = build_archive(db, args.pages, args.seed)
        print(f"built in {build:.0f} s", flush=True)
    if args.reads_json:  # the baseline's half of a run: measure as this code is, write
        measured = measure_all(db, args)
        args.reads_json.write_text(json.dumps(measured), encoding="utf-8")
        return
    baseline = None
    if args.baseline_reads:  # measured by an earlier --baseline run on this same file
        baseline = json.loads(args.baseline_reads.read_text(encoding="utf-8"))
    elif args.baseline:
        baseline = measure_baseline(db, args)
    migrate = timed(lambda: Archive(db).close())  # older code's archive gets this schema
    print(f"opened for writing (migrations) in {migrate:.1f} s", flush=True)
    measured = measure_all(db, args) | {"build": build, "migrate": migrate}
    command = f"PYTHONPATH=src python benchmarks/scale.py --pages {args.pages}"
    if args.baseline or args.baseline_reads:
        command += f" --baseline {args.baseline or 'OLD/src'}"
    section = render_section(measured, command, baseline)
    print(section)
    if args.out:
        sections.write_section(args.out, section, SECTION)
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
