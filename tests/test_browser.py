"""Browser check: the event page and the diff page of the web view, loaded in headless
Chromium from the real server (``kremlin-archive browse`` on 127.0.0.1), saved as
screenshots. Skipped, with the reason, where no Chromium is installed (Debian's
``chromium`` package provides ``/usr/bin/chromium``).

The screenshots go to ``$KREMLIN_SCREENSHOTS`` when it is set (to look at them), else to
the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kremlin_archive.archive import Archive
from webview import Browse, build_web_archive

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    for name in BROWSERS:
        if found := shutil.which(name):
            return found
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip("no Chromium installed (apt-get install chromium); browser check skipped")
    return found


def headless(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """One headless Chromium run with a fresh profile; no network but 127.0.0.1."""
    command = [chromium, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    crawled, _ = build_web_archive(tmp_path_factory.mktemp("browser"))
    crawled.site.stop()
    browse = Browse(crawled.db)
    yield browse, {"edited": crawled.edited, "talk": page_with_turns(crawled)}
    browse.stop()


def page_with_turns(crawled) -> int:
    with Archive(crawled.db) as archive:
        for event_id in crawled.site.ids:
            if archive.versions("en.kremlin.ru", event_id)[-1].fields.get("turns"):
                return event_id
    raise AssertionError("the fake site has pages with speaker turns")


@pytest.fixture
def out_dir(tmp_path) -> Path:
    where = Path(os.environ.get("KREMLIN_SCREENSHOTS") or tmp_path / "screenshots")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.mark.parametrize(
    ("name", "path", "seen"),
    [
        ("event", "/-/event/en.kremlin.ru/{edited}", ('class="mark mark-edit"', "diff v2→v3")),
        ("event-turns", "/-/event/en.kremlin.ru/{talk}", ('<strong class="speaker">',)),
        ("diff", "/-/event/en.kremlin.ru/{edited}/diff/1..3", ("<ins>Correction 2.</ins>",)),
        ("changes", "/-/changes", ('class="mark mark-removal"', "Atom feed")),
    ],
    ids=["event-page", "event-page-turns", "diff-page", "changes-page"],
)
def test_pages_render_in_headless_chromium(chromium, served, out_dir, tmp_path, name, path, seen):
    browse, ids = served
    url = browse.url + path.format(**ids)
    dom = headless(chromium, tmp_path / "dom-profile", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for text in seen:
        assert text in dom.stdout, text
    shot = out_dir / f"{name}.png"
    shot.unlink(missing_ok=True)
    result = headless(
        chromium, tmp_path / "shot-profile", "--window-size=1280,1600", f"--screenshot={shot}", url
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000  # a page, not a blank
