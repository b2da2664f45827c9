"""Save a fixed, seeded series of captures into an archive, reporting each save on stdout.

The SIGKILL test in test_archive.py runs this as a subprocess, kills it at a random point
and runs it again to see the archive resume. The series depends only on the arguments:
``rounds`` passes over ``pages`` generated pages; in each later pass some pages are edited
(a paragraph added, a title changed), some get white-space-only changes and one is gone::

    python tests/archive_writer.py DB --seed 1 --pages 30 --rounds 3 [--first-id 70000]

Prints ``started``, then ``saved <n> <outcome>`` after each save.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakesite import FakePage, generate_page, render_event_page  # noqa: E402
from kremlin_archive.archive import Archive, Capture  # noqa: E402
from kremlin_archive.normalize import parse_event_page  # noqa: E402

SITE = "en.kremlin.ru"
START = datetime(2024, 1, 1, 9, 0)


def _variant(rng: random.Random, page: FakePage, round_no: int) -> FakePage | None:
    """The page as served in a later pass: edited, white space changed, gone or as is."""
    roll = rng.random()
    if roll < 0.2:
        return replace(page, paragraphs=[*page.paragraphs, f"Correction {round_no}."])
    if roll < 0.3:
        return replace(page, title=f"{page.title} (updated)")
    if roll < 0.4:
        return replace(page, paragraphs=[f"  {p}  " for p in page.paragraphs])
    if roll < 0.45:
        return None
    return page


def plan(seed: int, pages: int, rounds: int, first_id: int = 70000) -> Iterator[Capture]:
    """The captures to save, in order; the same arguments give the same captures."""
    rng = random.Random(seed)
    base = [generate_page(rng, first_id + i, START + timedelta(hours=i)) for i in range(pages)]
    for round_no in range(rounds):
        for index, page in enumerate(base):
            when = START + timedelta(days=round_no, seconds=index)
            served = page if round_no == 0 else _variant(rng, page, round_no)
            yield _capture(page, served, when.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _capture(page: FakePage, served: FakePage | None, captured_at: str) -> Capture:
    base = {"site": SITE, "event_id": page.event_id, "url": page.url}
    if served is None:
        return Capture(**base, captured_at=captured_at, source="replica", status=410)
    body = render_event_page(served).encode()
    transcript = parse_event_page(body, page.url)
    return Capture(
        **base,
        captured_at=captured_at,
        source="replica",
        status=200,
        body=body,
        transcript=transcript,
        etag=f'"{page.event_id}-{len(body)}"',
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--first-id", type=int, default=70000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    captures = list(plan(args.seed, args.pages, args.rounds, args.first_id))
    with Archive(args.db, busy_timeout=30.0) as archive:
        print("started", flush=True)
        for number, capture in enumerate(captures, 1):
            outcome = archive.save_capture(capture)
            print(f"saved {number} {outcome}", flush=True)


if __name__ == "__main__":
    main()
