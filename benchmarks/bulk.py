"""Bulk work on two cores: ``import`` of saved pages and a ``renormalize`` of every page, with
``--jobs 1`` and ``--jobs 2``, and the same import by an older checkout for the baseline.

Writes N real-sized generated pages (``tests/fakesite.py``'s generator in site chrome of
the real pages' size) and the real event pages of ``../shared/kremlin-html`` (read in
place) into a temporary folder, then times the real CLI in a subprocess::

    PYTHONPATH=src python benchmarks/bulk.py --pages 13000
    PYTHONPATH=src python benchmarks/bulk.py --pages 13000 --baseline ../old/src

Besides the time, each line gives the CPU seconds (user + system) of the process that
writes the archive and of its worker processes, and the load average before the run: on a
machine shared with other work, wall time says what the cores left gave, the CPU seconds
what the run needs (on idle cores, ``--jobs 2`` takes about the larger of the writer's
seconds and half the total). Every file is read once before each run, so that no run waits
for a disk the others found in memory (the machine's memory is shared too).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakesite import SHARED_HTML, generate_page, render_event_page  # noqa: E402


def write_corpus(folder: Path, pages: int) -> int:
    rng = random.Random(0)
    start = datetime(2019, 1, 1, 9)
    total = 0
    for n in range(pages):
        page = generate_page(rng, 40000 + n, start + timedelta(hours=n))
        data = render_event_page(page, chrome=True).encode()
        (folder / f"{page.event_id}.html").write_bytes(data)
        total += len(data)
    for path in sorted(SHARED_HTML.glob("*.html")) if SHARED_HTML.is_dir() else []:
        data = path.read_bytes()
        (folder / path.name).write_bytes(data)
        total += len(data)
    return total


#: the CLI, reporting at its exit the CPU seconds of its own process and of its workers
CLI_WITH_CPU = """
import resource, sys
from kremlin_archive.cli import main
try:
    main(sys.argv[1:], prog_name="kremlin-archive")
finally:
    own, workers = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print("cpu", own.ru_utime + own.ru_stime, workers.ru_utime + workers.ru_stime, file=sys.stderr)
"""


@dataclass(frozen=True)
class Timed:
    seconds: float
    writer_cpu: float  # the process that writes the archive
    workers_cpu: float  # its worker processes
    load: float  # the 1-minute load average before the run
    summary: str  # the command's last line of output

    def line(self, what: str, name: str, count: int, unit: str) -> str:
        cpu = f"cpu {self.writer_cpu:5.1f} + {self.workers_cpu:5.1f} s"
        rate = f"{count / self.seconds:7.1f} {unit}/s"
        took = f"{what:<11} {name:<20} {self.seconds:7.1f} s  {rate}"
        return f"{took}  {cpu}  load {self.load:.1f}  {self.summary}"


def timed(args: list[str], src: Path, cwd: Path) -> Timed:
    """The CLI of the code in ``src``, run in ``cwd`` (no config file there: defaults)."""
    env = dict(os.environ, PYTHONPATH=str(src.resolve()))
    load = os.getloadavg()[0]
    started = time.perf_counter()
    command = [sys.executable, "-c", CLI_WITH_CPU, *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
    _, writer, workers = done.stderr.strip().splitlines()[-1].split()
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return Timed(seconds, float(writer), float(workers), load, summary)


def read_into_memory(folder: Path) -> None:
    """Read every file once, so that the timed run finds them in the page cache."""
    for path in folder.iterdir():
        path.read_bytes()


def _as_if_older_normalizer(db: Path) -> None:
    """Mark every page as checked by another normalizer, so renormalize parses them all."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE pages SET normalizer_version = 0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=13_000)
    parser.add_argument("--baseline", type=Path, help="src folder of an older checkout")
    args = parser.parse_args()
    src = ROOT / "src"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "saved"
        folder.mkdir()
        size = write_corpus(folder, args.pages)
        files = len(list(folder.iterdir()))
        print(f"{files} files, {size / 1e6:,.1f} MB, nproc {os.cpu_count()}")
        runs = [
            ("this code, --jobs 1", src, ["--jobs", "1"]),
            ("this code, --jobs 2", src, ["--jobs", "2"]),
        ]
        if args.baseline:
            runs.insert(0, ("baseline", args.baseline, []))
        for name, code, jobs in runs:
            db = Path(tmp) / f"{len(name)}-{name[-1]}.db"
            read_into_memory(folder)
            done = timed(["import", str(folder), "--db", str(db), *jobs], code, Path(tmp))
            print(done.line("import", name, files, "files"), flush=True)
            _as_if_older_normalizer(db)
            done = timed(["renormalize", "--db", str(db), *jobs], code, Path(tmp))
            print(done.line("renormalize", name, files, "pages"), flush=True)
            db.unlink()


if __name__ == "__main__":
    main()
