"""Polite fetching against the fake site on 127.0.0.1; time is a fake clock, no test sleeps
(except the one timeout test, which waits a fraction of a second)."""

from __future__ import annotations

import gzip
import os
import random
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from fakeclock import FakeClock
from fakesite import CANONICAL, SHARED_HTML, FakeSite
from hostilesite import HostileSite, wait_until
from kremlin_archive.config import load_config, with_base_url
from kremlin_archive.decoding import decode_html
from kremlin_archive.errors import (
    FetchError,
    FetchInterrupted,
    ForeignRedirect,
    HostBlocked,
    HostUnreachable,
    HTTPStatusError,
    ResponseTooLarge,
    ResponseTooSlow,
    RobotsDisallowed,
    TruncatedResponse,
)
from kremlin_archive.fetch import Fetcher, Response, looks_blocked

CANONICAL_PAGE = SHARED_HTML / "en-news-53016-meeting-nazarbayev-2016-10-04.html"
FAST = {"delay": 1.0, "jitter": 0.0, "backoff": 2.0, "max_backoff": 60.0, "retries": 3}


def make_config(site_url: str | None, **fetch):
    overrides = {f"fetch__{k}": v for k, v in (FAST | fetch).items()}
    config = load_config(os.devnull, **overrides)
    return with_base_url(config, site_url, "en") if site_url else config


@pytest.fixture
def clock(fake_site: FakeSite) -> FakeClock:
    clock = FakeClock()
    fake_site.clock = clock  # the server's request log is stamped in fake time
    return clock


def fetcher_for(site: FakeSite, clock: FakeClock, **fetch) -> Fetcher:
    config = make_config(site.url, **fetch)
    return Fetcher(config, sleep=clock.sleep, clock=clock, rng=random.Random(7))


def event_url(site: FakeSite, index: int = 0) -> str:
    return f"{site.url}/events/president/news/{site.ids[index]}"


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


# --- pages, validators, politeness -------------------------------------------------------


def test_fetch_returns_the_page_with_validators_and_an_honest_user_agent(fake_site, clock):
    fetcher = fetcher_for(fake_site, clock)
    response = fetcher.fetch(event_url(fake_site))
    page = fake_site.pages[fake_site.ids[0]]
    assert response.status == 200
    assert page.title in response.text
    assert response.etag and response.last_modified
    assert response.fetched_at.endswith("Z")
    agents = {r.headers["User-Agent"] for r in fake_site.requests}
    assert agents == {fetcher.config.fetch.user_agent}
    assert "+http" in agents.pop()  # a contact URL
    assert [r.path for r in fake_site.requests] == ["/robots.txt", path_of(event_url(fake_site))]
    assert fetcher.requests_sent == 2


def test_conditional_get_gives_304_until_the_page_changes(fake_site, clock):
    fetcher = fetcher_for(fake_site, clock)
    url = event_url(fake_site)
    first = fetcher.fetch(url)
    again = fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert (again.status, again.body, again.text) == (304, b"", "")
    by_date = fetcher.fetch(url, last_modified=first.last_modified)
    assert by_date.status == 304
    fake_site.edit_page(fake_site.ids[0])
    changed = fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert changed.status == 200 and changed.etag != first.etag
    sent = fake_site.requests[-1].headers
    assert sent["If-None-Match"] == first.etag
    assert sent["If-Modified-Since"] == first.last_modified


def test_requests_to_one_host_are_spaced_by_delay_plus_jitter(fake_site, clock):
    fetcher = fetcher_for(fake_site, clock, delay=5.0, jitter=2.0)
    for index in range(6):
        fetcher.fetch(event_url(fake_site, index))
    times = [r.time for r in fake_site.requests]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) == 6
    assert min(gaps) >= 5.0
    assert max(gaps) <= 7.0
    assert len(set(round(g, 3) for g in gaps)) > 1  # the jitter varies


def test_removed_pages_answer_404_or_410(fake_site, clock):
    fetcher = fetcher_for(fake_site, clock)
    gone, missing = fake_site.ids[:2]
    fake_site.remove_page(gone, status=410)
    fake_site.remove_page(missing, status=404)
    news = f"{fake_site.url}/events/president/news"
    assert fetcher.fetch(f"{news}/{gone}").status == 410
    assert fetcher.fetch(f"{news}/{missing}").status == 404


# --- robots.txt --------------------------------------------------------------------------


def test_robots_is_read_once_and_its_disallows_are_honoured(fake_site, clock):
    fetcher = fetcher_for(fake_site, clock)
    for index in range(3):
        fetcher.fetch(event_url(fake_site, index))
    with pytest.raises(RobotsDisallowed, match="disallows"):
        fetcher.fetch(f"{fake_site.url}/events/president/news/copy/{fake_site.ids[0]}")
    with pytest.raises(RobotsDisallowed):
        fetcher.fetch(f"{fake_site.url}/search?query=putin")
    assert len(fake_site.requests_to("/robots.txt")) == 1
    assert not fake_site.requests_to("/search*")


def test_robots_can_be_switched_off_but_check_host_still_reads_it(fake_site, clock):
    fetcher = fetcher_for(fake_site, clock, robots=False)
    fetcher.check_host(fake_site.url)
    fetcher.fetch(f"{fake_site.url}/events/president/news/copy/1")
    assert [r.path for r in fake_site.requests] == ["/robots.txt", "/events/president/news/copy/1"]


def test_missing_robots_allows_everything(fake_site, clock):
    fake_site.add_raw("/robots.txt", b"not here", status=404)
    fetcher = fetcher_for(fake_site, clock)
    assert fetcher.fetch(f"{fake_site.url}/search").status == 404  # fetched, not refused


def test_robots_failing_with_5xx_disallows_everything(fake_site, clock):
    fake_site.set_fault("status", path="/robots.txt", status=503)
    fetcher = fetcher_for(fake_site, clock, retries=1)
    with pytest.raises(RobotsDisallowed):
        fetcher.fetch(event_url(fake_site))
    assert not fake_site.requests_to("/events/*")


# --- retries -----------------------------------------------------------------------------


def test_503_with_retry_after_is_waited_out_then_the_page_comes(fake_site, clock):
    url = event_url(fake_site)
    fake_site.set_fault("status", path=path_of(url), times=2, status=503, retry_after="7")
    fetcher = fetcher_for(fake_site, clock)
    assert fetcher.fetch(url).status == 200
    assert clock.sleeps[-2:] == [7.0, 7.0]  # Retry-After beats backoff 2 and 4
    assert len(fake_site.requests_to(path_of(url))) == 3


def test_retry_after_as_an_http_date(fake_site, clock):
    url = event_url(fake_site)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    fake_site.set_fault("status", path=path_of(url), times=1, status=429, retry_after=when)
    fetcher = fetcher_for(fake_site, clock)
    assert fetcher.fetch(url).status == 200
    assert 25 <= clock.sleeps[-1] <= 30


def test_backoff_doubles_up_to_the_cap_then_the_status_is_raised(fake_site, clock):
    url = event_url(fake_site)
    fake_site.set_fault("status", path=path_of(url), status=500)
    fetcher = fetcher_for(fake_site, clock, retries=5, backoff=2.0, max_backoff=10.0, delay=0.0)
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(url)
    assert caught.value.status == 500
    assert clock.sleeps == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert len(fake_site.requests_to(path_of(url))) == 6


def test_connection_reset_is_retried(fake_site, clock):
    url = event_url(fake_site)
    fake_site.set_fault("reset", path=path_of(url), times=2)
    assert fetcher_for(fake_site, clock).fetch(url).status == 200
    assert len(fake_site.requests_to(path_of(url))) == 3


def test_host_that_keeps_resetting_is_unreachable_by_name(fake_site, clock):
    url = event_url(fake_site)
    fake_site.set_fault("reset", path=path_of(url))
    with pytest.raises(HostUnreachable, match=r"127\.0\.0\.1:\d+ unreachable"):
        fetcher_for(fake_site, clock, retries=2).fetch(url)
    assert len(fake_site.requests_to(path_of(url))) == 3


def test_cut_body_is_retried_and_reported_as_truncated_when_it_persists(fake_site, clock):
    url = event_url(fake_site)
    fake_site.set_fault("truncate", path=path_of(url), times=1)
    fetcher = fetcher_for(fake_site, clock, retries=1)
    response = fetcher.fetch(url)
    assert len(response.body) == int(response.headers["content-length"])
    fake_site.set_fault("truncate", path=path_of(url))
    with pytest.raises(TruncatedResponse, match="cut"):
        fetcher.fetch(url)


def test_slow_answer_past_the_timeout_is_retried(fake_site, clock):
    url = event_url(fake_site)
    fake_site.set_fault("slow", path=path_of(url), times=1, delay=0.6)
    fetcher = fetcher_for(fake_site, clock, timeout=0.2, retries=1)
    assert fetcher.fetch(url).status == 200
    assert len(fake_site.requests_to(path_of(url))) == 2
    assert clock.sleeps[-1] == 2.0  # the backoff, in fake time


def test_unreachable_host_fails_check_host_naming_it(clock):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    fetcher = Fetcher(make_config(base, retries=2), sleep=clock.sleep, clock=clock)
    with pytest.raises(HostUnreachable, match=f"127.0.0.1:{port} unreachable"):
        fetcher.check_host(base)
    assert fetcher.requests_sent == 3
    assert clock.sleeps[:2] == [2.0, 4.0]


def test_a_name_that_does_not_resolve_fails_at_once(clock, monkeypatch):
    def no_dns(*args, **kwargs):  # what a machine without network answers
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    fetcher = Fetcher(make_config(None, retries=4), sleep=clock.sleep, clock=clock)
    with pytest.raises(HostUnreachable, match="en.kremlin.ru unreachable: its name does not"):
        fetcher.check_host("http://en.kremlin.ru")
    assert (fetcher.requests_sent, clock.sleeps) == (1, [])  # no retries, no waiting


# --- blocking ----------------------------------------------------------------------------


def test_breaker_opens_after_consecutive_refusals_and_stays_open(fake_site, clock):
    fetcher = fetcher_for(fake_site, clock, retries=0, breaker_threshold=3)
    fake_site.set_fault("status", path="/events/*", status=403)
    for index in range(2):
        with pytest.raises(HTTPStatusError):
            fetcher.fetch(event_url(fake_site, index))
    with pytest.raises(HostBlocked, match="3 consecutive"):
        fetcher.fetch(event_url(fake_site, 2))
    fake_site.clear_faults()
    sent = len(fake_site.requests)
    with pytest.raises(HostBlocked):
        fetcher.fetch(event_url(fake_site, 3))
    assert len(fake_site.requests) == sent  # an open breaker asks nobody


def test_an_answer_between_refusals_resets_the_breaker(fake_site, clock):
    fetcher = fetcher_for(fake_site, clock, retries=0, breaker_threshold=2)
    for index in range(3):
        fake_site.set_fault("status", path="/events/*", times=1, status=429)
        with pytest.raises(HTTPStatusError):
            fetcher.fetch(event_url(fake_site, index))
        assert fetcher.fetch(event_url(fake_site, index)).status == 200


def test_challenge_page_blocks_the_host(fake_site, clock):
    fake_site.set_fault("challenge", path="/events/*", times=1)
    fetcher = fetcher_for(fake_site, clock)
    with pytest.raises(HostBlocked, match="challenge"):
        fetcher.fetch(event_url(fake_site))


def test_real_and_fake_event_pages_do_not_look_blocked(fake_site):
    page = fake_site.pages[fake_site.ids[0]]
    body = fake_site.render(page)
    assert looks_blocked(response_of(body)) is None
    real = CANONICAL_PAGE
    if not real.exists():
        pytest.skip(f"real page not found at {real}")
    assert looks_blocked(response_of(real.read_bytes())) is None


def response_of(body: bytes, content_type: str = "text/html; charset=utf-8") -> Response:
    text = decode_html(body, content_type)
    headers = {"content-type": content_type}
    return Response("http://x/", 200, body, text, None, None, "", headers)


# --- hosts and redirects -----------------------------------------------------------------


@pytest.mark.parametrize("location", ["http://evil.example{path}", "http://127.0.0.2:1{path}"])
def test_redirect_to_another_host_is_refused(fake_site, clock, location):
    url = event_url(fake_site)
    fake_site.set_fault("redirect", path=path_of(url), location=location)
    with pytest.raises(ForeignRedirect, match="another host"):
        fetcher_for(fake_site, clock).fetch(url)


def test_redirect_on_the_same_host_is_followed(fake_site, clock):
    url, target = event_url(fake_site, 0), event_url(fake_site, 1)
    fake_site.set_fault("redirect", path=path_of(url), times=1, status=301, location=target)
    response = fetcher_for(fake_site, clock).fetch(url)
    assert response.url == url
    assert fake_site.pages[fake_site.ids[1]].title in response.text


def test_redirect_loop_ends(fake_site, clock):
    url = event_url(fake_site)
    fake_site.set_fault("redirect", path=path_of(url), location="{path}")
    with pytest.raises(HTTPStatusError, match="redirects"):
        fetcher_for(fake_site, clock).fetch(url)


def test_hosts_outside_the_config_are_never_asked(fake_site, clock):
    fetcher = fetcher_for(fake_site, clock)
    with pytest.raises(FetchError, match="not a configured site"):
        fetcher.fetch("http://127.0.0.2:9/events/president/news/1")
    assert fetcher.requests_sent == 0


def test_proxy_from_config_carries_canonical_urls(fake_site, clock):
    config = make_config(None, proxy=fake_site.url)
    fetcher = Fetcher(config, sleep=clock.sleep, clock=clock)
    response = fetcher.fetch(f"{CANONICAL}/events/president/news/{fake_site.ids[0]}")
    assert response.status == 200
    assert fake_site.requests[-1].path.startswith("http://en.kremlin.ru/")


def test_proxy_from_the_environment_carries_canonical_urls(fake_site, clock, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", fake_site.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    fetcher = Fetcher(make_config(None), sleep=clock.sleep, clock=clock)
    response = fetcher.fetch(f"{CANONICAL}/events/president/news/{fake_site.ids[0]}")
    assert response.status == 200
    assert fake_site.requests[-1].path.startswith("http://en.kremlin.ru/")
    assert not fetcher.session.trust_env  # read once, not on every request


def test_no_proxy_host_is_fetched_directly(fake_site, clock, monkeypatch):
    with socket.socket() as closed:  # a port nothing listens on: the proxy would fail
        closed.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("HTTP_PROXY", dead_proxy)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    response = fetcher_for(fake_site, clock).fetch(event_url(fake_site))
    assert response.status == 200
    assert fake_site.requests[-1].path == path_of(event_url(fake_site))


# --- bodies ------------------------------------------------------------------------------


def test_body_over_the_cap_is_refused(fake_site, clock):
    with pytest.raises(ResponseTooLarge):
        fetcher_for(fake_site, clock, max_bytes=1000).fetch(event_url(fake_site))


def test_cp1251_decodes_by_header_or_meta(fake_site, clock):
    text = "Встреча с Президентом Казахстана"
    html = f'<html><head><meta charset="windows-1251"></head><body>{text}</body></html>'
    body = html.encode("cp1251")
    fake_site.add_raw("/header", body, "text/html; charset=windows-1251")
    fake_site.add_raw("/meta", body, "text/html")
    fetcher = fetcher_for(fake_site, clock)
    assert text in fetcher.fetch(f"{fake_site.url}/header").text
    assert text in fetcher.fetch(f"{fake_site.url}/meta").text


def test_replica_serves_the_real_pages(replica_site, clock):
    replica_site.clock = clock
    fetcher = Fetcher(make_config(replica_site.url), sleep=clock.sleep, clock=clock)
    page = fetcher.fetch(f"{replica_site.url}/events/president/news/53016")
    assert 'id="event-53016"' in page.text and "Nursultan Nazarbayev" in page.text
    assert fetcher.fetch(f"{replica_site.url}/events/president/news/1").status == 404
    with pytest.raises(RobotsDisallowed):
        fetcher.fetch(f"{replica_site.url}/events/president/news/copy/53016")


def test_random_faults_are_transient_and_reproducible(fake_site, clock):
    def crawl(seed: int) -> list[str | None]:
        fake_site.clear_requests()
        fake_site.set_fault_rate(0.3, seed=seed)
        fetcher = fetcher_for(fake_site, clock, retries=2)
        statuses = [fetcher.fetch(event_url(fake_site, i)).status for i in range(30)]
        assert statuses == [200] * 30
        return [r.fault for r in fake_site.requests]

    faults = crawl(seed=5)
    assert 5 <= sum(f is not None for f in faults) <= 20
    assert crawl(seed=5) == faults
    assert crawl(seed=6) != faults


def test_a_stop_during_a_wait_ends_the_fetch_without_another_request(fake_site, clock):
    stop = threading.Event()

    def signal_arrives(seconds: float) -> None:  # as SIGTERM would, mid-wait
        clock.sleep(seconds)
        stop.set()

    config = make_config(fake_site.url, delay=0.0)  # the only wait: the retry's
    fetcher = Fetcher(config, sleep=signal_arrives, clock=clock, stop=stop)
    fake_site.set_fault("status", path="/events/president/news/*", status=503, retry_after="30")
    with pytest.raises(FetchInterrupted):
        fetcher.fetch(event_url(fake_site))
    asked = [r.path for r in fake_site.requests if r.path != "/robots.txt"]
    assert asked == [path_of(event_url(fake_site))]  # the 503, then no retry


# --- hostile answers (issue 19, items 2, 4, 15) -------------------------------------------


@pytest.fixture
def hostile_site():
    with HostileSite(n_pages=5, seed=1) as site:
        yield site


def test_a_dripping_body_is_cut_at_the_request_deadline_and_not_retried(hostile_site):
    """1 byte every 20 ms of a 3,000-byte body would take a minute; the deadline is 0.3 s."""
    path = "/events/president/news/" + str(hostile_site.ids[0])
    drip = hostile_site.drip(path, hostile_site.render(hostile_site.news()[0])[:3000], 0.02)
    fetcher = Fetcher(make_config(hostile_site.url, delay=0.0, deadline=0.3), sleep=lambda s: 0)
    with pytest.raises(ResponseTooSlow, match=r"fetch\.deadline = 0\.3s"):
        fetcher.fetch(hostile_site.url + path)
    assert wait_until(lambda: hostile_site.requests_to(path) and not drip.done, 1)
    assert len(hostile_site.requests_to(path)) == 1  # a server that slow is not asked again
    assert 0 < drip.sent < len(drip.body) // 2


def test_a_stop_request_cuts_a_body_read_short(hostile_site):
    path = "/events/president/news/" + str(hostile_site.ids[0])
    drip = hostile_site.drip(path, b"x" * 5000, 0.01)
    stop = threading.Event()
    fetcher = Fetcher(make_config(hostile_site.url, delay=0.0), sleep=lambda s: 0, stop=stop)
    timer = threading.Timer(0.2, stop.set)  # as SIGTERM would, mid-body
    timer.start()
    with pytest.raises(FetchInterrupted, match="stopped while reading"):
        fetcher.fetch(hostile_site.url + path)
    timer.join()
    assert 0 < drip.sent < len(drip.body) // 2  # 5,000 bytes take 50 s


def test_a_gzip_body_that_does_not_decode_is_one_failed_fetch(hostile_site):
    path = "/events/president/news/" + str(hostile_site.ids[0])
    headers = {"Content-Encoding": "gzip"}
    hostile_site.add_raw(path, b"\x1f\x8b\x08\x00 this is not gzip at all", headers=headers)
    fetcher = Fetcher(make_config(hostile_site.url, delay=0.0), sleep=lambda s: 0)
    with pytest.raises(FetchError, match="does not decode as Content-Encoding gzip"):
        fetcher.fetch(hostile_site.url + path)
    good = hostile_site.url + "/events/president/news/" + str(hostile_site.ids[1])
    assert fetcher.fetch(good).status == 200  # the fetcher goes on


def test_a_gzip_body_is_decoded(hostile_site):
    page = hostile_site.news()[0]
    path = "/events/president/news/" + str(page.event_id)
    hostile_site.add_raw(path, gzip.compress(hostile_site.render(page)),
                         headers={"Content-Encoding": "gzip"})  # fmt: skip
    fetcher = Fetcher(make_config(hostile_site.url, delay=0.0), sleep=lambda s: 0)
    response = fetcher.fetch(hostile_site.url + path)
    assert response.body == hostile_site.render(page)


def test_a_robots_txt_larger_than_max_bytes_is_parsed_for_its_first_500_kib(fake_site, clock):
    """It meant "allow all" (the size cap refused it); RFC 9309 asks for 500 KiB at least."""
    padding = "".join(f"# comment line {n:06d} of a long robots.txt\n" for n in range(20_000))
    fake_site.robots_txt = "User-agent: *\nDisallow: /events/\n" + padding + "Disallow: /late\n"
    assert len(fake_site.robots_txt) > 800_000
    fetcher = fetcher_for(fake_site, clock, max_bytes=100_000)
    with pytest.raises(RobotsDisallowed):
        fetcher.fetch(event_url(fake_site))
    assert fetcher.fetch(f"{fake_site.url}/late").status == 404  # past 500 KiB: not read
    assert not fake_site.requests_to("/events/*")


def test_a_robots_txt_unreachable_after_a_5xx_disallows_everything(fake_site, clock):
    fake_site.set_fault("reset", path="/robots.txt")
    fake_site.set_fault("status", path="/robots.txt", times=1, status=503)
    fetcher = fetcher_for(fake_site, clock, retries=2)
    with pytest.raises(RobotsDisallowed):
        fetcher.fetch(event_url(fake_site))
    assert [r.fault for r in fake_site.requests_to("/robots.txt")] == ["status", "reset", "reset"]
    assert not fake_site.requests_to("/events/*")


def test_a_robots_txt_unreachable_from_the_start_still_allows(fake_site, clock):
    fake_site.set_fault("reset", path="/robots.txt")
    fetcher = fetcher_for(fake_site, clock, retries=1)
    assert fetcher.fetch(event_url(fake_site)).status == 200


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1{path}"])
def test_a_redirect_to_another_scheme_is_reported_as_such(fake_site, clock, location):
    url = event_url(fake_site)
    fake_site.set_fault("redirect", path=path_of(url), location=location)
    scheme = location.split(":")[0]
    with pytest.raises(ForeignRedirect, match=f"redirects to a {scheme}: URL, not followed"):
        fetcher_for(fake_site, clock).fetch(url)


# --- a block page without a marker (issue 19, item 14) ------------------------------------


def blank_block_page(size: int = 30_000) -> bytes:
    """A 200 page over 20 kB with no marker in its title and no article: what a
    protection service may serve instead of every page."""
    script = "<script>var t=" + "1" * size + ";</script>"
    return f"<html><head><title>en.kremlin.ru</title>{script}</head><body></body></html>".encode()


def test_answers_without_the_article_open_the_breaker(fake_site, clock):
    fetcher = fetcher_for(fake_site, clock, breaker_threshold=3)
    for index in range(6):
        fake_site.add_raw(path_of(event_url(fake_site, index)), blank_block_page())
    for index in range(2):
        assert fetcher.fetch(event_url(fake_site, index), expect="<article").status == 200
    with pytest.raises(HostBlocked, match="3 answers in a row without <article"):
        fetcher.fetch(event_url(fake_site, 2), expect="<article")
    with pytest.raises(HostBlocked):
        fetcher.fetch(event_url(fake_site, 3), expect="<article")
    assert len(fake_site.requests_to("/events/*")) == 3


def test_one_real_page_between_block_pages_resets_the_count(fake_site, clock):
    fetcher = fetcher_for(fake_site, clock, breaker_threshold=2)
    fake_site.add_raw(path_of(event_url(fake_site, 0)), blank_block_page())
    fake_site.add_raw(path_of(event_url(fake_site, 2)), blank_block_page())
    for index in range(3):
        assert fetcher.fetch(event_url(fake_site, index), expect="<article").status == 200


def test_a_large_page_without_the_article_and_with_a_marker_blocks_at_once(fake_site, clock):
    body = blank_block_page().replace(b"<body>", b"<body><p>Please complete the captcha</p>")
    fake_site.add_raw(path_of(event_url(fake_site)), body)
    with pytest.raises(HostBlocked, match="challenge page"):
        fetcher_for(fake_site, clock).fetch(event_url(fake_site), expect="<article")
