"""The Wayback client against the fake Wayback on 127.0.0.1: CDX pages, replays, limits."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime

import pytest

from fakeclock import FakeClock
from fakesite import generate_page, render_event_page
from fakewayback import FakeWayback
from kremlin_archive.config import load_config
from kremlin_archive.errors import FetchError, HostBlocked
from kremlin_archive.wayback_client import ReplayRefused, WaybackFetcher, parse_cdx_json

PREFIX = "en.kremlin.ru/events/president/news/"


@pytest.fixture
def wayback():
    with FakeWayback() as server:
        rng = random.Random(2)
        for index in range(7):
            page = generate_page(rng, 61000 + index, datetime(2020, 1, 1))
            server.add(page.url, datetime(2020, 2, 1 + index), render_event_page(page).encode())
        yield server


def fetcher(server: FakeWayback, clock: FakeClock, page_size: int = 3) -> WaybackFetcher:
    config = load_config(path=None)
    config = replace(config, wayback=replace(config.wayback, page_size=page_size))
    return WaybackFetcher(config, base_url=server.url, delay=0, sleep=clock.sleep)


def test_cdx_pages_follow_the_resume_key_to_the_end(wayback):
    with fetcher(wayback, FakeClock()) as client:
        seen, key, pages = [], None, 0
        while True:
            page = client.search(PREFIX, key)
            seen += [row.timestamp for row in page.rows]
            pages += 1
            if page.resume_key is None:
                break
            key = page.resume_key
    assert pages == 3 and len(seen) == len(set(seen)) == 7
    assert all("output=json" in path for path in wayback.searches())


def test_a_429_waits_its_retry_after_and_is_tried_again(wayback):
    clock = FakeClock()
    wayback.set_fault("status", "/web/*", times=1, status=429, retry_after="7")
    with fetcher(wayback, clock) as client:
        row = client.search(PREFIX).rows[0]
        replay = client.replay(row.timestamp, row.original)
    assert replay.status == 200 and b"<article" in replay.body
    assert clock.sleeps == [7.0]
    assert len(wayback.replays()) == 2


def test_the_breaker_opens_on_consecutive_refusals_of_one_endpoint(wayback):
    clock = FakeClock()
    wayback.set_fault("status", "/web/*", status=429, retry_after="1")
    with fetcher(wayback, clock) as client, pytest.raises(HostBlocked, match="5 consecutive"):
        row = client.search(PREFIX).rows[0]
        client.replay(row.timestamp, row.original)
    assert len(wayback.replays()) == 5  # fetch.breaker_threshold, then no more requests


def test_a_replay_the_server_cannot_give_is_refused_with_the_reason(wayback):
    with fetcher(wayback, FakeClock()) as client, pytest.raises(ReplayRefused, match="cannot"):
        client.replay("20000101000000", "http://en.kremlin.ru/events/president/news/1")


def test_an_unreadable_cdx_answer_is_a_clear_error(wayback):
    wayback.add_raw("/cdx/search/cdx", b"<html>maintenance</html>")
    with fetcher(wayback, FakeClock()) as client, pytest.raises(FetchError, match="unreadable"):
        client.search(PREFIX)


@pytest.mark.parametrize(
    ("text", "rows", "key"),
    [
        ("[]", 0, None),
        ('[["urlkey","timestamp","original","mimetype","statuscode","digest","length"]]', 0, None),
        (
            '[["urlkey","timestamp","original","mimetype","statuscode","digest","length"],'
            '["k","20200101000000","http://x/","text/html","200","D","5"],[],["next"]]',
            1,
            "next",
        ),
    ],
    ids=["empty", "header only", "rows and a resume key"],
)
def test_parse_cdx_json(text, rows, key):
    page = parse_cdx_json(text)
    assert (len(page.rows), page.resume_key) == (rows, key)
