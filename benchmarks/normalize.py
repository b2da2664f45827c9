"""Pages per second of parse_event_page, and of trafilatura.extract on the same pages.

Usage::

    python benchmarks/normalize.py [--rounds N] [--generated N] [--pages DIR]

The corpus is every event page in ../shared/kremlin-html (read in place) plus the
hand-written pages in tests/fixtures/pages, plus N generated pages: copies of those pages
with their body paragraphs repeated and shuffled, so sizes vary. trafilatura (the ``bench``
extra) is skipped with a note when it is not installed.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kremlin_archive.errors import KremlinArchiveError
from kremlin_archive.normalize import parse_event_page

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PAGES = ROOT.parent / "shared" / "kremlin-html"
FIXTURES = ROOT / "tests" / "fixtures" / "pages"
PARAGRAPH = re.compile(r"<p>.*?</p>", re.S)


def load_pages(folder: Path) -> list[str]:
    """Every event page in ``folder`` and in the test fixtures (refused pages left out)."""
    pages = []
    for path in sorted([*folder.glob("*.html"), *FIXTURES.glob("*.html")]):
        html = path.read_text(encoding="utf-8")
        try:
            parse_event_page(html)
        except KremlinArchiveError:
            continue
        pages.append(html)
    return pages


def generate_pages(pages: list[str], count: int, seed: int = 0) -> list[str]:
    """Variants of real pages: body paragraphs repeated (1-4 times) and shuffled."""
    rng = random.Random(seed)
    generated = []
    for _ in range(count):
        page = rng.choice(pages)
        start = page.find("read__internal_content")
        end = page.find('<div class="read__bottommeta', start)
        paragraphs = PARAGRAPH.findall(page, start, end)
        if start < 0 or end < 0 or not paragraphs:
            continue
        body = paragraphs * rng.randint(1, 4)
        rng.shuffle(body)
        first = page.index(paragraphs[0], start)
        last = page.rindex(paragraphs[-1], start, end) + len(paragraphs[-1])
        generated.append(page[:first] + "".join(body) + page[last:])
    return generated


def rate(extract: Callable[[str], object], pages: list[str], rounds: int) -> float:
    """Pages per second of ``extract`` over ``rounds`` passes of ``pages``."""
    started = time.perf_counter()
    for _ in range(rounds):
        for page in pages:
            extract(page)
    return rounds * len(pages) / (time.perf_counter() - started)


def trafilatura_extract() -> Callable[[str], object] | None:
    try:
        import trafilatura
    except ImportError:
        return None
    return trafilatura.extract


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"nproc {os.cpu_count()}, {model}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="passes for parse_event_page")
    parser.add_argument("--generated", type=int, default=40, help="generated pages to add")
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES, help="real pages folder")
    args = parser.parse_args()
    pages = load_pages(args.pages)
    if not pages:
        print(f"no event pages found in {args.pages} or {FIXTURES}", file=sys.stderr)
        return 1
    corpus = pages + generate_pages(pages, args.generated)
    megabytes = sum(len(page.encode("utf-8")) for page in corpus) / 1e6
    print(f"machine: {machine()}")
    print(f"corpus: {len(pages)} real/fixture pages + {len(corpus) - len(pages)} generated")
    print(f"        {megabytes:.1f} MB in all")
    ours = rate(parse_event_page, corpus, args.rounds)
    print(f"parse_event_page:     {ours:8.1f} pages/s")
    extract = trafilatura_extract()
    if extract is None:
        print("trafilatura.extract:  not installed (pip install -e '.[bench]'), skipped")
        return 0
    theirs = rate(extract, corpus, max(1, args.rounds // 10))
    print(f"trafilatura.extract:  {theirs:8.1f} pages/s")
    print(f"ratio:                {ours / theirs:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
