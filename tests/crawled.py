"""The archive most reading tests share: the fake site crawled through the real CLI, one
page edited twice between crawls (three versions), one page that went and came back.

Built once per test session (the ``crawled`` fixture in conftest.py); tests that change the
archive or the site build their own with :func:`build_crawled_archive`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from fakesite import FakeSite
from kremlin_archive.cli import main


@dataclass
class Crawled:
    db: Path
    site: FakeSite
    edited: int  # three versions: v2 adds "Correction 2.", v3 changes the title
    gone: int  # went (410) and came back
    old_title: str
    new_title: str


def crawl(db: Path, site: FakeSite, *ids: int) -> None:
    args = ["crawl", "--db", str(db), "--base-url", site.url, "--delay", "0"]
    for event_id in ids:
        args += ["--id", str(event_id)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output


def build_crawled_archive(tmp: Path) -> Crawled:
    """The fake site crawled, then edited and re-crawled: see :class:`Crawled`."""
    db = tmp / "crawled.db"
    site = FakeSite(n_pages=8, seed=3).start()
    crawl(db, site)
    edited, gone = site.ids[1], site.ids[2]
    old_title = site.pages[edited].title
    site.edit_page(edited)
    crawl(db, site, edited)
    site.edit_page(edited, title="Meeting with the Government, revised")
    crawl(db, site, edited)
    page = site.pages[gone]
    site.remove_page(gone)
    crawl(db, site, gone)
    site.pages[gone] = page
    site.gone.pop(gone)
    crawl(db, site, gone)
    return Crawled(db, site, edited, gone, old_title, "Meeting with the Government, revised")
