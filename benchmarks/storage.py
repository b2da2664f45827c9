"""Database bytes per re-capture whose text did not change but whose chrome did.

Real event pages of ``../shared/kremlin-html`` (read in place) are archived once, then
re-captured ``--deploys`` times, each time as after a deploy of the site: other asset
hashes, a menu item more, other counters in the sidebar; the article, and so the text, is
the same. Prints the file's growth per re-capture (WAL checkpointed) and what the raw
pages of the re-captures take. Run it with an older checkout on PYTHONPATH for the
baseline::

    PYTHONPATH=src python benchmarks/storage.py
    PYTHONPATH=../old/src python benchmarks/storage.py        # the same, older code
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from archive_size import SHARED_HTML, database_bytes, real_pages  # noqa: E402  (same dir)
from kremlin_archive.archive import Archive, Capture  # noqa: E402
from kremlin_archive.normalize import parse_event_page  # noqa: E402

SITE = "en.kremlin.ru"
ASSET_HASH = re.compile(rb"(\?|%3F)([0-9a-f]{10})")


def deployed(body: bytes, deploy: int, rng: random.Random) -> bytes:
    """The page as served after deploy number ``deploy``: the chrome moved, not the article."""
    token = f"{rng.getrandbits(40):010x}".encode()
    body = ASSET_HASH.sub(lambda m: m.group(1) + token, body)
    item = (
        f'<li class="nav__item"><a href="http://en.kremlin.ru/special/{deploy}" '
        f'class="nav__link">Special project {deploy}</a></li>'
    ).encode()
    body = body.replace(b'<li class="nav__item"', item + b'<li class="nav__item"', 1)
    counters = f"<!-- views {rng.randint(1000, 99999)}, served in {rng.randint(5, 90)} ms -->"
    return body.replace(b"</body>", counters.encode() + b"</body>", 1)


def save(archive: Archive, event_id: int, url: str, body: bytes, at: str) -> str:
    capture = Capture(SITE, event_id, url, at, "replica", 200, body)
    return archive.save_capture(replace(capture, transcript=parse_event_page(body, url)))


def raw_bytes(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT coalesce(sum(length(body)), 0) FROM raw_pages").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deploys", type=int, default=20, help="re-captures of each page")
    args = parser.parse_args()
    pages = list(real_pages(SHARED_HTML))
    if not pages:
        raise SystemExit(f"no real pages at {SHARED_HTML}")
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kremlin.db"
        with Archive(path) as archive:
            for event_id, url, body in pages:
                save(archive, event_id, url, body, "2024-01-01T10:00:00Z")
            size1, raw1 = database_bytes(path), raw_bytes(path)
            outcomes: dict[str, int] = {}
            for deploy in range(1, args.deploys + 1):
                at = (
                    f"2024-01-{1 + deploy:02d}T10:00:00Z"
                    if deploy < 28
                    else f"2024-02-{deploy - 26:02d}T10:00:00Z"
                )
                for event_id, url, body in pages:
                    outcome = save(archive, event_id, url, deployed(body, deploy, rng), at)
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
        size2, raw2 = database_bytes(path), raw_bytes(path)
    n = len(pages) * args.deploys
    print(f"{len(pages)} real pages, {args.deploys} chrome-only re-captures each: {outcomes}")
    print(f"database after the first captures: {size1:,} bytes; raw pages {raw1:,} bytes")
    file_growth, raw_growth = (size2 - size1) / n, (raw2 - raw1) / n
    print(f"growth per re-capture: {file_growth:,.0f} bytes (file), {raw_growth:,.0f} (raw pages)")


if __name__ == "__main__":
    main()
