"""Time and peak memory of ``kremlin-archive export`` on a generated archive.

Builds (once, then reuses) an archive of N events through the Archive API with generated
transcripts of realistic size, then runs ``kremlin-archive export`` in a subprocess per
format and reports its wall time and peak resident memory (``ru_maxrss`` of that child,
measured by ``peak.py``'s launcher so that it is the export's own)::

    PYTHONPATH=src python benchmarks/export.py                  # 10,000 events, every format
    PYTHONPATH=src python benchmarks/export.py --events 2000 --formats jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kremlin_archive.archive import Archive, Capture  # noqa: E402
from kremlin_archive.normalize import Transcript, Turn  # noqa: E402
from peak import run_measured  # noqa: E402

WORDS = (  # noqa: SIM905
    "cooperation development economic regional investment energy transport agreement "
    "security partnership programme infrastructure industry agriculture healthcare education "
    "technology trade support budget project region government federal national strategic"
).split()
SPEAKERS = ("Vladimir Putin", "Sergei Lavrov", "Anton Siluanov", "Elvira Nabiullina")
FORMATS = ("jsonl", "csv", "txt", "turns")


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18))).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))


def make_transcript(rng: random.Random, event_id: int) -> Transcript:
    """A transcript of the shape and size of a real one (about 4–12 kB, 5–30 turns)."""
    day = f"20{10 + event_id % 14:02d}-{1 + event_id % 12:02d}-{1 + event_id % 28:02d}"
    title = f"Meeting No. {event_id} on {rng.choice(WORDS)}"
    turns = [Turn(rng.choice(SPEAKERS), paragraph(rng)) for _ in range(rng.randint(5, 30))]
    body = [paragraph(rng) for _ in range(rng.randint(1, 4))]
    lines = ["Events", title, day, "The Kremlin, Moscow", *body]
    lines += [f"{t.speaker}: {t.text}" for t in turns]
    lines += ["Publication status", "Published in section: News", "Text version"]
    return Transcript(
        text="\n".join(lines),
        event_id=event_id,
        url=f"http://en.kremlin.ru/events/president/news/{event_id}",
        language="en",
        title=title,
        date=day,
        time="12:00",
        place="The Kremlin, Moscow",
        tags={"Topics": ["Economy and finance"]},
        sections=["News"],
        published=day,
        turns=turns,
    )


def build_archive(path: Path, events: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    started = time.perf_counter()
    with Archive(path) as archive:
        for event_id in range(1, events + 1):
            transcript = make_transcript(rng, event_id)
            body = f"<html><article>{transcript.text}</article></html>".encode()
            archive.save_capture(
                Capture(
                    site="en.kremlin.ru",
                    event_id=event_id,
                    url=transcript.url or "",
                    captured_at=f"2024-01-01T00:{event_id // 3600 % 60:02d}:{event_id % 60:02d}Z",
                    source="import",
                    status=200,
                    body=body,
                    transcript=transcript,
                )
            )
    print(f"built {events} events in {time.perf_counter() - started:.1f} s: {path}")


def run_export(db: Path, fmt: str, out: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (the export's own, whatever this process holds: see
    ``peak.py``), and the manifest's SHA-256 of one export run."""
    command = [sys.executable, "-c", "from kremlin_archive.cli import main; main()"]
    command += ["export", "--db", str(db), "--format", fmt, "--out", str(out)]
    command += ["--log-level", "WARNING"]
    run = run_measured(command)
    if run.returncode != 0:
        raise SystemExit(f"export --format {fmt} failed ({run.returncode}): {run.stderr[-2000:]}")
    digest = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    return run.seconds, run.peak_mb, digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    db = args.workdir / f"kremlin-export-bench-{args.events}.db"
    if not db.exists():
        build_archive(db, args.events)
    print(f"archive {db.stat().st_size / 1e6:.0f} MB, Python {platform.python_version()}")
    print("| format | files | time | peak RSS |\n| --- | ---: | ---: | ---: |")
    for fmt in args.formats:
        with tempfile.TemporaryDirectory(dir=args.workdir) as out:
            seconds, peak, _ = run_export(db, fmt, Path(out))
            files = len(os.listdir(out)) - 1
            print(f"| {fmt} | {files} | {seconds:.1f} s | {peak:.0f} MB |")


if __name__ == "__main__":
    main()
