"""Pages per second of parse_event_page, and of trafilatura.extract on the same pages.

Usage::

    python benchmarks/normalize.py [--rounds N] [--trials N] [--generated N] [--pages DIR]
                                   [--against OLD_NORMALIZE_PY]

The corpus is every event page in ../shared/kremlin-html (read in place) plus the
hand-written pages in tests/fixtures/pages, plus N generated pages: copies of those pages
with their body paragraphs repeated and shuffled, so sizes vary. trafilatura (the ``bench``
extra) is skipped with a note when it is not installed.

Both run on the same pages in the same process: after one warm-up pass each, every trial
takes the pages one by one and times ``--rounds`` calls of parse_event_page and a tenth
as many of trafilatura.extract on that page, back to back. The ratio is the median of the
trials' ratios, so load from other processes, which then slows both alike, hardly moves
it.

``--against PATH`` times another ``normalize.py`` (a copy of the module before a change,
kept outside the repository) instead of trafilatura, the same way and in the same run, and
counts the pages whose text or fields differ between the two. It times CPU time (the
process's own), so that other jobs on the machine, which only make it wait, hardly move
the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import random
import re
import statistics
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


def time_pass(extract: Callable[[str], object], pages: list[str], passes: int) -> float:
    """Pages per second of ``extract`` over ``passes`` passes of ``pages``."""
    started = time.perf_counter()
    for _ in range(passes):
        for page in pages:
            extract(page)
    return passes * len(pages) / (time.perf_counter() - started)


def compare(
    ours: Callable[[str], object],
    theirs: Callable[[str], object],
    pages: list[str],
    passes: tuple[int, int],
    trials: int,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], list[float]]:
    """Rates of both extractors in ``trials`` trials after a warm-up pass of each.

    Within a trial the two take turns page by page (``passes[0]`` calls of ours, then
    ``passes[1]`` of theirs, on the same page), so a burst of load from other processes
    falls on both alike; the ratio of a trial is fair even on a busy machine.
    """
    time_pass(ours, pages, 1)
    time_pass(theirs, pages, 1)
    ours_rates, theirs_rates = [], []
    for _ in range(trials):
        spent = [0.0, 0.0]
        for page in pages:
            for side, (extract, calls) in enumerate(((ours, passes[0]), (theirs, passes[1]))):
                started = clock()
                for _ in range(calls):
                    extract(page)
                spent[side] += clock() - started
        ours_rates.append(passes[0] * len(pages) / spent[0])
        theirs_rates.append(passes[1] * len(pages) / spent[1])
    return ours_rates, theirs_rates


def trafilatura_extract() -> Callable[[str], object] | None:
    try:
        import trafilatura
    except ImportError:
        return None
    return trafilatura.extract


def load_baseline(path: Path) -> Callable[[str], object]:
    """``parse_event_page`` of another normalize.py, loaded as a module of the package so
    that its relative imports (``.errors``) resolve."""
    name = "kremlin_archive._baseline_normalize"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.parse_event_page


def differing_pages(
    ours: Callable[[str], object], theirs: Callable[[str], object], pages: list[str]
) -> dict[str, int]:
    """On how many pages the two normalizers give another text, other turns, other fields
    (a field only one of them has counts as differing only where it is not empty)."""
    differ = {"text": 0, "turns": 0, "other fields": 0}
    for page in pages:
        mine, other = ours(page), theirs(page)
        differ["text"] += mine.text != other.text
        mine_fields, other_fields = mine.fields(), other.fields()
        differ["turns"] += mine_fields.pop("turns") != other_fields.pop("turns")
        names = set(mine_fields) | set(other_fields)
        differ["other fields"] += any(
            (mine_fields.get(n) or None) != (other_fields.get(n) or None) for n in names
        )
    return differ


def report_against(path: Path, corpus: list[str], args: argparse.Namespace) -> int:
    """Time parse_event_page against the one of ``path`` and print both rates."""
    baseline = load_baseline(path)
    passes = (args.rounds, args.rounds)
    ours, theirs = compare(
        parse_event_page, baseline, corpus, passes, args.trials, clock=time.process_time
    )
    ratios = [mine / other for mine, other in zip(ours, theirs, strict=True)]
    print(f"trials: {args.trials}, each {args.rounds} passes of both, page by page, CPU time")
    print("                       median     best pages/s")
    print(f"this normalize.py:    {statistics.median(ours):8.1f} {max(ours):8.1f}")
    print(f"{path.name + ':':<22}{statistics.median(theirs):8.1f} {max(theirs):8.1f}")
    print(
        f"ratio:                {statistics.median(ratios):8.3f}x (median of trials; "
        f"min {min(ratios):.3f}x, max {max(ratios):.3f}x)"
    )
    differ = differing_pages(parse_event_page, baseline, corpus)
    counts = ", ".join(f"{name} {count}" for name, count in differ.items())
    print(f"pages of {len(corpus)} whose output differs: {counts}")
    return 0


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
    parser.add_argument(
        "--rounds", type=int, default=10, help="passes of parse_event_page per trial"
    )
    parser.add_argument("--trials", type=int, default=5, help="timed trials (median shown)")
    parser.add_argument("--generated", type=int, default=40, help="generated pages to add")
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES, help="real pages folder")
    parser.add_argument(
        "--against", type=Path, help="another normalize.py to time instead of trafilatura"
    )
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
    if args.against is not None:
        return report_against(args.against, corpus, args)
    extract = trafilatura_extract()
    if extract is None:
        time_pass(parse_event_page, corpus, 1)
        rates = [time_pass(parse_event_page, corpus, args.rounds) for _ in range(args.trials)]
        print(f"parse_event_page:     {statistics.median(rates):8.1f} pages/s (median)")
        print("trafilatura.extract:  not installed (pip install -e '.[bench]'), skipped")
        return 0
    passes = (args.rounds, max(1, args.rounds // 10))
    ours, theirs = compare(parse_event_page, extract, corpus, passes, args.trials)
    ratios = [mine / other for mine, other in zip(ours, theirs, strict=True)]
    print(f"trials: {args.trials}, each {passes[0]} passes of ours, {passes[1]} of trafilatura")
    print("                       median     best pages/s")
    print(f"parse_event_page:     {statistics.median(ours):8.1f} {max(ours):8.1f}")
    print(f"trafilatura.extract:  {statistics.median(theirs):8.1f} {max(theirs):8.1f}")
    print(
        f"ratio:                {statistics.median(ratios):8.1f}x (median of trials; "
        f"min {min(ratios):.1f}x, max {max(ratios):.1f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
