"""The web view for tests: ``kremlin-archive browse`` in a child process on 127.0.0.1, over
an archive built by the real crawl of the fake site."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import requests

from crawled import Crawled, build_crawled_archive, crawl
from fakesite import FakeSite
from kremlin_archive.archive import Archive
from kremlin_archive.normalize import parse_event_page
from kremlin_archive.renormalize import Normalizer, renormalize


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_web_archive(tmp: Path) -> tuple[Crawled, int]:
    """The crawled archive of ``test_lookup``, plus one page edited to mention COVID-19
    (its id is returned too) and, last, a re-normalization of the edited page (a newer
    normalizer that adds a line to its text)."""
    crawled = build_crawled_archive(tmp)
    site: FakeSite = crawled.site
    covid = site.ids[3]
    page = site.pages[covid]
    site.edit_page(covid, paragraphs=[*page.paragraphs, "Measures against COVID-19 in S-400."])
    crawl(crawled.db, site, covid)
    renormalize_one(crawled.db, crawled.edited)
    return crawled, covid


RENORMALIZED_LINE = "A line a newer normalizer finds."


def renormalize_one(db: Path, event_id: int) -> None:
    """Re-derive every page with a "newer normalizer" that changes only ``event_id``."""

    def newer(body: bytes, url: str | None):
        transcript = parse_event_page(body, url)
        if not (url or "").endswith(f"/{event_id}"):
            return transcript
        return replace(transcript, text=f"{transcript.text}\n{RENORMALIZED_LINE}")

    with Archive(db) as archive:
        assert renormalize(archive, Normalizer(newer, 10_000))["renormalized"] == 1


class Browse:
    """``kremlin-archive browse --db DB --port P`` until stopped."""

    def __init__(self, db: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kremlin_archive", "browse", "--db", str(db)]
            + ["--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"browse exited: {self.process.stdout.read()}")
            try:
                requests.get(self.url + "/-/versions.json", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.1)  # the child process starting, not a test's clock
        self.stop()
        raise RuntimeError("browse did not answer within a minute")

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
