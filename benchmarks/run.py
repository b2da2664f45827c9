"""The whole crawler, measured side by side in one run, written as a table to the README.

Serves a fake en.kremlin.ru of N real-sized event pages (``tests/fakesite.py --chrome``, a
separate process, no delay) on 127.0.0.1, then measures against it::

    python benchmarks/run.py                      # 3,000 pages, about 2 minutes on 2 cores
    python benchmarks/run.py --pages 40 --quick   # smoke run
    python benchmarks/run.py --out /tmp/table.md  # write the table elsewhere

1. a plain ``requests`` loop over the event URLs (the fetch-bound limit; untimed warm-up
   pass first, so the server renders every page before either side is timed);
2. the first crawl (``kremlin-archive crawl`` in a child process): wall time, CPU time
   (``os.wait4``), database bytes per page against the raw HTML;
3. a re-check of every page (``crawl --id`` for each): conditional GET, 304, one capture
   row; a ``--backfill`` walk of every feed page; an incremental run (requests counted);
4. ``parse_event_page`` against ``trafilatura.extract`` on served pages
   (``benchmarks/normalize.py``'s timer), and ``kremlin-archive export`` of the archive
   (``benchmarks/export.py``'s runner).

The table replaces the "## Summary (benchmarks/run.py)" section of ``--out``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import archive_size  # noqa: E402
import export as export_bench  # noqa: E402
import normalize as normalize_bench  # noqa: E402
import sections  # noqa: E402
from kremlin_archive.config import load_config, with_base_url  # noqa: E402
from kremlin_archive.crawl import CrawlOptions, run_crawl  # noqa: E402
from kremlin_archive.normalize import parse_event_page  # noqa: E402

CANONICAL = "http://en.kremlin.ru"
FEED = "/events/president/news/feed"
FEED_PAGE_SIZE = 20
SECTION = "## Summary (benchmarks/run.py)"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")
_ENTRY_ID = re.compile(r"<entry><title>.*?</title><id>([^<]+)</id>", re.S)
_NEXT = re.compile(r'<link href="([^"]+)" rel="next" />')


@dataclass(frozen=True)
class Figure:
    name: str
    measured: str
    baseline: str
    goal: str
    command: str
    met: bool | None = None  # None: no goal to meet


@dataclass(frozen=True)
class ChildRun:
    seconds: float  # wall
    cpu: float  # user + system of the child
    stdout: str


# --- the site and the plain loop ----------------------------------------------------------


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    return env | {"PYTHONUNBUFFERED": "1"}


@contextmanager
def serve_site(pages: int, seed: int) -> Iterator[str]:
    """``tests/fakesite.py --chrome`` in a child process; yields its base URL."""
    command = [sys.executable, str(ROOT / "tests" / "fakesite.py"), "--chrome"]
    command += ["--pages", str(pages), "--seed", str(seed), "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=clean_env())
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("serving "):
            raise SystemExit(f"fake site did not start: {line!r}")
        yield line.split()[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def new_session() -> requests.Session:
    """A requests.Session as it comes (it reads proxy settings from the environment per
    request, as the crawler's does; run.py's children get no proxy variables)."""
    return requests.Session()


def list_event_urls(base: str) -> list[str]:
    """Every event URL the news feed lists, on the local site (walked by rel=next)."""
    urls: list[str] = []
    url: str | None = base + FEED
    with new_session() as session:
        while url:
            body = session.get(url, timeout=30).text
            urls += [u.replace(CANONICAL, base) for u in _ENTRY_ID.findall(body)]
            found = _NEXT.search(body)
            url = found[1].replace(CANONICAL, base) if found else None
    return urls


def warm_up(urls: list[str], keep: int) -> tuple[int, list[str]]:
    """GET every URL once (the server renders and caches each page): total body bytes,
    and ``keep`` pages spread over the site for the normalizer comparison."""
    step = max(1, len(urls) // max(1, keep))
    total, sample = 0, []
    with new_session() as session:
        for index, url in enumerate(urls):
            response = session.get(url, timeout=30)
            total += len(response.content)
            if index % step == 0 and len(sample) < keep:
                sample.append(response.text)
    return total, sample


def plain_loop(urls: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one requests.Session GETting each URL once."""
    with new_session() as session:
        started, cpu = time.perf_counter(), time.process_time()
        for url in urls:
            session.get(url, timeout=30).content  # noqa: B018 (read the body)
        return time.perf_counter() - started, time.process_time() - cpu


# --- the crawler --------------------------------------------------------------------------


def run_cli(args: list[str], workdir: Path) -> ChildRun:
    """``kremlin-archive ARGS`` in a child process: wall, CPU (wait4 rusage), stdout."""
    command = [sys.executable, "-m", "kremlin_archive", *args]
    out, log = workdir / "stdout.txt", workdir / "crawl.log"
    with out.open("wb") as stdout, log.open("ab") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=workdir, env=clean_env())
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    if status != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(args[:2])} failed ({status}):\n{tail}")
    return ChildRun(seconds, usage.ru_utime + usage.ru_stime, out.read_text())


def write_config(workdir: Path, pages: int) -> Path:
    """max_pages large enough for the first crawl to walk the whole feed."""
    path = workdir / "bench.toml"
    path.write_text(f"[discover]\nmax_pages = {pages // FEED_PAGE_SIZE + 5}\n")
    return path


def incremental_requests(config_path: Path, db: Path, base: str) -> tuple[int, float]:
    """Requests sent (Fetcher.requests_sent) and wall seconds of an incremental run."""
    config = load_config(config_path, database__path=str(db), fetch__delay=0.0, fetch__jitter=0.0)
    started = time.perf_counter()
    result = run_crawl(with_base_url(config, base), CrawlOptions(trigger="benchmark"))
    return result.requests, time.perf_counter() - started


# --- the run ------------------------------------------------------------------------------


@dataclass
class Measured:
    pages: int
    html_bytes: int
    plain_wall: float
    plain_cpu: float
    startup_cpu: float
    crawl: ChildRun
    recheck: ChildRun
    backfill: ChildRun
    db_bytes: int
    growth: int
    new_versions: int
    not_modified: str
    incremental: tuple[int, float]
    ours: float
    theirs: float | None
    sample: int
    export: tuple[float, float]


def measure(args: argparse.Namespace, workdir: Path) -> Measured:
    with serve_site(args.pages, args.seed) as base:
        urls = list_event_urls(base)
        html_bytes, sample = warm_up(urls, args.sample)
        plain_wall, plain_cpu = plain_loop(urls)
        config = write_config(workdir, len(urls))
        db = workdir / "kremlin.db"
        common = ["--config", str(config), "--db", str(db), "--base-url", base, "--delay", "0"]
        startup = run_cli(["--version"], workdir)
        crawl = run_cli(["crawl", *common], workdir)
        size1, before = archive_size.database_bytes(db), archive_size.counts(db)
        ids = [arg for url in urls for arg in ("--id", url.rsplit("/", 1)[1])]
        recheck = run_cli(["crawl", *common, *ids], workdir)
        size2, after = archive_size.database_bytes(db), archive_size.counts(db)
        backfill = run_cli(["crawl", *common, "--backfill", str(len(urls) // 20 + 1)], workdir)
        incremental = incremental_requests(config, db, base)
    # export first: a child forked after trafilatura is imported reports a larger peak RSS
    export_seconds, export_peak, _ = export_bench.run_export(db, "jsonl", workdir / "export")
    ours, theirs = normalizer_rates(sample, args.rounds, args.trials)
    return Measured(
        pages=len(urls), html_bytes=html_bytes, plain_wall=plain_wall, plain_cpu=plain_cpu,
        startup_cpu=startup.cpu, crawl=crawl, recheck=recheck, backfill=backfill,
        db_bytes=size1, growth=size2 - size1, new_versions=after[0] - before[0],
        not_modified=recheck.stdout.strip(), incremental=incremental,
        ours=ours, theirs=theirs, sample=len(sample), export=(export_seconds, export_peak),
    )  # fmt: skip


def normalizer_rates(pages: list[str], rounds: int, trials: int) -> tuple[float, float | None]:
    """Median pages/s of parse_event_page and of trafilatura.extract, timed turn about."""
    extract = normalize_bench.trafilatura_extract()
    if extract is None:
        return normalize_bench.time_pass(parse_event_page, pages, rounds), None
    ours, theirs = normalize_bench.compare(parse_event_page, extract, pages, (rounds, 1), trials)
    return statistics.median(ours), statistics.median(theirs)


# --- the table ----------------------------------------------------------------------------


def figures(m: Measured) -> list[Figure]:
    n = m.pages
    crawl_cmd = "`kremlin-archive crawl --base-url $SITE --delay 0 --config bench.toml`"
    ratio = m.crawl.seconds / m.plain_wall
    fraction = m.recheck.seconds / m.crawl.seconds
    requests_sent, incremental_wall = m.incremental
    per_page = (m.crawl.cpu - m.startup_cpu) / n * 1000
    return [
        Figure(
            "first crawl, end to end (discover, fetch, normalize, archive)",
            f"{n / m.crawl.seconds:,.0f} pages/s ({m.crawl.seconds:.1f} s, {ratio:.2f}x the loop)",
            f"plain requests loop: {n / m.plain_wall:,.0f} pages/s ({m.plain_wall:.1f} s)",
            "at most 1.5x the loop's time",
            crawl_cmd + f" ({n} pages, {n // FEED_PAGE_SIZE} feed pages)",
            ratio <= 1.5,
        ),
        Figure(
            "CPU time per page of the crawl",
            f"{per_page:.2f} ms ({m.crawl.cpu:.1f} s in all, {m.startup_cpu:.2f} s start-up"
            " excluded)",
            f"plain loop: {m.plain_cpu / n * 1000:.2f} ms",
            "small next to a fetch",
            crawl_cmd + " (user + system time of the child, `os.wait4`)",
        ),
        Figure(
            "re-check of every page, nothing changed (conditional GET, 304)",
            f"{fraction:.0%} of the first crawl's time ({m.recheck.seconds:.1f} s)",
            f"first crawl: {m.crawl.seconds:.1f} s",
            "under 10 %",
            f"`kremlin-archive crawl --id ID` for all {n} ids, same options",
            fraction < 0.10,
        ),
        Figure(
            "re-check of every page: new versions",
            f"{m.new_versions} ({m.not_modified})",
            f"{n} pages",
            "0",
            "same run; `count(*)` of versions before and after",
            m.new_versions == 0,
        ),
        Figure(
            "re-check of every page: database growth",
            f"{m.growth:,} B = {m.growth / m.db_bytes:.2%} ({m.growth / n:.0f} B per page)",
            f"database after the first crawl: {m.db_bytes:,} B",
            "under 1 %",
            "same run; file size with the WAL checkpointed",
            m.growth / m.db_bytes < 0.01,
        ),
        Figure(
            "backfill walk of every feed page, nothing changed",
            f"{m.backfill.seconds / m.crawl.seconds:.0%} of the first crawl's time "
            f"({m.backfill.seconds:.1f} s)",
            f"first crawl: {m.crawl.seconds:.1f} s",
            "—",
            f"`kremlin-archive crawl --backfill {n // 20 + 1}`, same options",
        ),
        Figure(
            "incremental run, nothing new: requests sent",
            f"{requests_sent} (robots.txt and the first feed page; {incremental_wall:.2f} s)",
            "—",
            "at most 2",
            "`run_crawl(config, CrawlOptions())` in run.py (`CrawlResult.requests`)",
            requests_sent <= 2,
        ),
        normalizer_figure(m),
        Figure(
            "export of the whole archive (jsonl)",
            f"{m.export[0]:.1f} s, peak RSS {m.export[1]:.0f} MB ({n} events)",
            "—",
            "under 10 s and 150 MB (set for 10,000 events)",
            "`kremlin-archive export --format jsonl` (`benchmarks/export.py`'s runner)",
            m.export[0] < 10 and m.export[1] < 150,
        ),
        Figure(
            "database bytes per page",
            f"{m.db_bytes / n:,.0f} B ({m.db_bytes / m.html_bytes:.0%} of the HTML)",
            f"raw HTML: {m.html_bytes / n:,.0f} B per page",
            "—",
            "after the first crawl; file size with the WAL checkpointed",
        ),
    ]


def normalizer_figure(m: Measured) -> Figure:
    baseline, met, ratio = "trafilatura not installed", None, ""
    if m.theirs:
        baseline = f"trafilatura.extract: {m.theirs:,.0f} pages/s"
        met, ratio = m.ours / m.theirs >= 20, f" ({m.ours / m.theirs:.1f}x)"
    return Figure(
        "normalizer",
        f"{m.ours:,.0f} pages/s{ratio}",
        baseline,
        "20x trafilatura",
        f"`parse_event_page` on {m.sample} served pages"
        " (`benchmarks/normalize.py`'s `compare`, median of trials)",
        met,
    )


def render_table(rows: list[Figure], m: Measured, command: str) -> str:
    lines = [
        SECTION,
        "",
        f"Produced by `{command}` on {datetime.now(UTC):%Y-%m-%d}: {m.pages:,} event pages"
        f" of {m.html_bytes / m.pages / 1000:.1f} kB on average (`tests/fakesite.py --chrome`,"
        " a separate process on 127.0.0.1, no delay). Machine: "
        f"{normalize_bench.machine()}.",
        "",
        "| figure | measured | baseline in the same run | goal | command |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        mark = {True: " (met)", False: " (**missed**)", None: ""}[row.met]
        lines.append(
            f"| {row.name} | {row.measured} | {row.baseline} | {row.goal}{mark} | {row.command} |"
        )
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace the summary section of ``path`` (up to the next ``## ``), or put it right
    after the title."""
    sections.write_section(path, section, SECTION, first=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000, help="event pages of the site")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer normalizer pages/rounds")
    parser.add_argument("--out", type=Path, default=BENCH / "README.md")
    args = parser.parse_args()
    for name in [k for k in os.environ if k.lower() in PROXY_VARIABLES]:
        del os.environ[name]  # the plain loop talks to 127.0.0.1 directly, as the children do
    args.sample, args.rounds, args.trials = (5, 2, 1) if args.quick else (100, 10, 3)
    command = "python benchmarks/run.py" + " ".join(
        ["", f"--pages {args.pages}"] + (["--quick"] if args.quick else [])
    )
    with tempfile.TemporaryDirectory(prefix="kremlin-bench-") as tmp:
        measured = measure(args, Path(tmp))
    section = render_table(figures(measured), measured, command)
    print(section)
    write_section(args.out, section)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
