"""What hostile input costs after the guards (issue 19, items 3 and 4), with the unguarded
baseline measured in the same run.

Usage::

    python benchmarks/hostile.py [--cap SECONDS] [--deadline SECONDS]

Markup: each page (a generated event page with hostile markup inside its reading pane) is
normalized by ``parse_event_page`` in a child process of its own, once as shipped (the
guard refuses it, or parses it) and once with ``htmlguard.check_markup`` switched off
(the baseline), the latter cut at ``--cap`` seconds. Wall time and the child's peak RSS.

Requests: a server on 127.0.0.1 drips an event page one byte every 50 ms; ``Fetcher.fetch``
with ``fetch.deadline = --deadline`` is timed, and, as the baseline, the same fetch with no
deadline to speak of on a body short enough to end (its time is the body's drip time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hostilesite import HostileSite  # noqa: E402
from kremlin_archive.config import load_config, with_base_url  # noqa: E402
from kremlin_archive.errors import FetchError  # noqa: E402
from kremlin_archive.fetch import Fetcher  # noqa: E402

PAGES = {
    "real-sized page (chrome, 43 kB)": ("chrome", 0),
    "20,000 unclosed <div>": ("<div>", 20_000),
    "40,000 unclosed <div>": ("<div>", 40_000),
    "200,000 unclosed <div> (1 MB)": ("<div>", 200_000),
    "8 MB of nested <b>": ("<b>", 2_700_000),
    "8 MB of nested <i>": ("<i>", 2_700_000),
    "8 MB of nested <q>": ("<q>", 2_700_000),
    "59,000 flat <span> (the most accepted)": ("<span>x</span>", 59_000),
}

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {tests!r})
from fakesite import FakeSite, render_event_page
from kremlin_archive import normalize
from kremlin_archive.errors import PageError
if {unguarded!r}:
    normalize.check_markup = lambda html, url=None: html
site = FakeSite(n_pages=1, seed=1)
page = site.news()[0]
markup, count = {markup!r}, {count!r}
if markup == "chrome":
    body = render_event_page(page, chrome=True).encode()
else:
    html = render_event_page(page)
    at = html.index(">", html.index('<div class="read__content')) + 1
    body = (html[:at] + markup * count + html[at:]).encode()
del site
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    normalize.parse_event_page(body)
    outcome = "parsed"
except PageError as exc:
    outcome = "refused" if "markup refused" in str(exc) else "other refusal"
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": seconds, "peak_mb": peak / 1024, "grew_mb": (peak - before) / 1024,
                  "outcome": outcome, "bytes": len(body)}}))
"""


def measure_page(markup: str, count: int, unguarded: bool, cap: float) -> dict:
    code = CHILD.format(tests=str(ROOT / "tests"), unguarded=unguarded, markup=markup, count=count)
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=cap
        )
    except subprocess.TimeoutExpired:
        return {"seconds": None, "cut": time.perf_counter() - start}
    if done.returncode != 0:
        return {"seconds": None, "error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout)


def show(result: dict) -> str:
    if result.get("seconds") is None:
        return f"still running at {result['cut']:.0f} s (cut)" if "cut" in result else "error"
    return (
        f"{result['outcome']} in {result['seconds']:.3f} s, "
        f"peak RSS {result['peak_mb']:.0f} MB (+{result['grew_mb']:.0f} MB)"
    )


def markup_rows(cap: float) -> list[str]:
    rows, slowest = [], (0.0, "")
    for name, (markup, count) in PAGES.items():
        guarded = measure_page(markup, count, False, cap)
        baseline = measure_page(markup, count, True, cap)
        rows.append(f"| {name} | {show(guarded)} | {show(baseline)} |")
        if guarded.get("seconds") and guarded["seconds"] > slowest[0]:
            slowest = (guarded["seconds"], name)
    rows.append(f"| **slowest guarded page** | {slowest[1]}: {slowest[0]:.3f} s | |")
    return rows


def timed_fetch(site: HostileSite, path: str, deadline: float) -> tuple[float, str]:
    overrides = {"fetch__delay": 0.0, "fetch__jitter": 0.0, "fetch__deadline": deadline}
    config = with_base_url(load_config(os.devnull, **overrides), site.url, "en")
    with Fetcher(config) as fetcher:
        fetcher.check_host(site.url)
        start = time.perf_counter()
        try:
            fetcher.fetch(site.url + path)
            outcome = "whole body"
        except FetchError as exc:
            outcome = type(exc).__name__
        return time.perf_counter() - start, outcome


def request_rows(deadline: float) -> list[str]:
    with HostileSite(n_pages=2, seed=1) as site:
        body = site.render(site.news()[0])
        long_path, short_path = (f"/events/president/news/{i}" for i in site.ids[:2])
        site.drip(long_path, body, 0.05)  # 43 kB at 20 bytes a second: about 36 minutes
        short = body[:100]
        site.drip(short_path, short, 0.05)  # 5 s
        guarded = timed_fetch(site, long_path, deadline)
        baseline = timed_fetch(site, short_path, 1e6)
    return [
        f"| {len(body):,}-byte body dripped 1 byte / 50 ms, fetch.deadline = {deadline:g} s "
        f"| {guarded[0]:.2f} s ({guarded[1]}) | no deadline, {len(short)} bytes dripped: "
        f"{baseline[0]:.2f} s ({baseline[1]}): the whole drip is waited out |"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cap", type=float, default=30.0, help="baseline cut (seconds)")
    parser.add_argument("--deadline", type=float, default=2.0)
    args = parser.parse_args()
    print(f"Machine: nproc {os.cpu_count()}, Python {platform.python_version()}\n")
    print("| hostile page | as shipped (guarded) | baseline: guard off |")
    print("| --- | --- | --- |")
    print("\n".join(markup_rows(args.cap)))
    print("\n| request | as shipped | baseline |")
    print("| --- | --- | --- |")
    print("\n".join(request_rows(args.deadline)))


if __name__ == "__main__":
    main()
