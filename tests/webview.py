"""The web view for tests: ``kremlin-archive browse`` in a child process on 127.0.0.1, over
an archive built by the real crawl of the fake site."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import requests

from crawled import Crawled, build_crawled_archive, crawl
from fakesite import FakeSite, generate_page, render_event_page
from kremlin_archive import chronology
from kremlin_archive.archive import Archive, Capture
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


MANY_START = datetime(2024, 1, 1, 9, 0)
MANY_FIRST_ID = 71000


def build_many_changes(db: Path, pages: int = 15, rounds: int = 11) -> int:
    """An archive of more changes than a page of the web view shows, saved through the
    archive's API: every page captured in each round at the same second (a round a day), in
    odd rounds gone (410), in even ones back and edited (a return and an edit of one
    capture); then every page re-normalized (those changes share a second and have no
    capture), and last an older capture of the first page, which re-derives its history.
    Returns the id of that page."""
    rng = random.Random(8)
    made = [
        generate_page(rng, MANY_FIRST_ID + i, MANY_START - timedelta(days=1)) for i in range(pages)
    ]
    edited = [replace(p, paragraphs=[*p.paragraphs, "A correction."]) for p in made]
    with Archive(db) as archive:
        for round_no in range(rounds):
            when = (MANY_START + timedelta(days=round_no)).strftime("%Y-%m-%dT%H:%M:%SZ")
            for page, other in zip(made, edited, strict=True):
                served = None if round_no % 2 else (other if round_no % 4 == 2 else page)
                archive.save_capture(_capture(page.url, page.event_id, served, when))
        assert renormalize(archive, Normalizer(_with_line, 10_000))["renormalized"] == pages
        early = (MANY_START - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        older = _capture(made[0].url, made[0].event_id, edited[0], early)
        chronology.save_capture(archive, older, Normalizer(_with_line, 10_000))
    return made[0].event_id


def _capture(url: str, event_id: int, served, captured_at: str) -> Capture:
    base = {"site": "en.kremlin.ru", "event_id": event_id, "url": url, "source": "replica"}
    if served is None:
        return Capture(**base, captured_at=captured_at, status=410)
    body = render_event_page(served).encode()
    transcript = parse_event_page(body, url)
    return Capture(**base, captured_at=captured_at, status=200, body=body, transcript=transcript)


def _with_line(body: bytes, url: str | None):
    """A "newer normalizer": every text gains a line."""
    transcript = parse_event_page(body, url)
    return replace(transcript, text=f"{transcript.text}\n{RENORMALIZED_LINE}")


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
