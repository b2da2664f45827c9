"""Discovery: feeds and listing pages -> canonical event references."""

from __future__ import annotations

from datetime import date

import pytest

from fakesite import SHARED_HTML, FakeSite
from kremlin_archive.discover import (
    EventRef,
    by_date_url,
    entry_day,
    page_number,
    parse_event_url,
    parse_feed,
    parse_listing,
    sibling_page_url,
)
from kremlin_archive.errors import FeedError

SITE = "http://en.kremlin.ru"
NEWS = f"{SITE}/events/president/news"


def shared(name: str) -> bytes:
    path = SHARED_HTML / name
    if not path.exists():
        pytest.skip(f"real page {name} not found in {SHARED_HTML}")
    return path.read_bytes()


# --- URLs ---------------------------------------------------------------------------------

URL_CASES = {
    "canonical": (f"{NEWS}/53016", EventRef(53016, f"{NEWS}/53016", "news")),
    "transcripts-section": (
        f"{SITE}/events/president/transcripts/53016",
        EventRef(53016, f"{SITE}/events/president/transcripts/53016", "transcripts"),
    ),
    "mirror-host": (
        "http://127.0.0.1:8000/events/president/news/53016",
        EventRef(53016, f"{NEWS}/53016", "news"),
    ),
    "relative": ("/events/president/news/53016", EventRef(53016, f"{NEWS}/53016", "news")),
    "wget-html": (f"{NEWS}/53016.html", EventRef(53016, f"{NEWS}/53016", "news")),
    "print-tab": (f"{NEWS}/53016/print", EventRef(53016, f"{NEWS}/53016", "news")),
    "photos-tab-wget": (f"{NEWS}/53016/photos.html", EventRef(53016, f"{NEWS}/53016", "news")),
    "trailing-slash-query": (f"{NEWS}/53016/?x=1#top", EventRef(53016, f"{NEWS}/53016", "news")),
    "act": (f"{SITE}/acts/news/56620", EventRef(56620, f"{SITE}/acts/news/56620", "acts", "act")),
    "misc": (f"{SITE}/misc/56623", EventRef(56623, f"{SITE}/misc/56623", "misc", "misc")),
    "listing": (f"{NEWS}/page/2", None),
    "by-date": (f"{NEWS}/by-date/04.10.2016", None),
    "text-version": (f"{NEWS}/copy/53016", None),
    "feed": (f"{NEWS}/feed", None),
    "catalog": (f"{SITE}/catalog/persons/43/events", None),
    "acts-bank": (f"{SITE}/acts/bank/41465", None),
    "section-only": (NEWS, None),
}


@pytest.mark.parametrize("url, expected", URL_CASES.values(), ids=URL_CASES.keys())
def test_parse_event_url_maps_links_onto_the_canonical_event(url, expected):
    assert parse_event_url(url, SITE) == expected


# --- the real feeds and listing pages ------------------------------------------------------


@pytest.mark.shared
def test_real_news_feed_gives_twenty_entries_newest_first_and_the_next_page():
    page = parse_feed(
        shared("en-events-president-news-feed-2020-08-27.atom.xml"), f"{NEWS}/feed", SITE
    )
    assert len(page.entries) == 20
    first = page.entries[0]
    assert first.ref == EventRef(63953, f"{NEWS}/63953", "news")
    assert first.title == "Launching motor traffic on completed sections of Taurida motorway"
    assert first.updated == "2020-08-27T20:09:44+04:00"
    assert first.updated_utc == "2020-08-27T16:09:44Z"
    assert first.published_utc == "2020-08-27T11:20:00Z"
    assert page.entries[1].ref.event_id == 63951
    assert page.next_url == f"{NEWS}/feed/page/2"


@pytest.mark.shared
def test_real_news_feed_served_by_a_mirror_still_gives_canonical_urls():
    body = shared("en-events-president-news-feed-2020-08-27.atom.xml")
    page = parse_feed(body, "http://127.0.0.1:9/events/president/news/feed", SITE)
    assert all(e.ref.url.startswith(NEWS + "/") for e in page.entries)
    assert page.next_url == f"{NEWS}/feed/page/2"


@pytest.mark.shared
def test_real_all_feed_marks_acts_and_misc_so_the_caller_can_skip_them():
    page = parse_feed(
        shared("en-events-all-feed-2018-01-07.atom.xml"), f"{SITE}/events/all/feed", SITE
    )
    kinds = [e.ref.kind for e in page.entries]
    assert len(kinds) == 20
    assert (kinds.count("event"), kinds.count("act"), kinds.count("misc")) == (8, 11, 1)
    misc = next(e for e in page.entries if e.ref.kind == "misc")
    assert misc.ref.url == f"{SITE}/misc/56623"
    assert page.entries[0].ref == EventRef(56626, f"{NEWS}/56626", "news")


@pytest.mark.shared
def test_real_listing_page_gives_its_twenty_items_and_understands_wget_links():
    page = parse_listing(shared("en-news-list-page-2-2020-08.html"), f"{NEWS}/page/2", SITE)
    ids = [r.event_id for r in page.refs]
    assert len(ids) == 20 and ids[0] == 63911 and ids[-1] == 63883
    assert 63877 not in ids  # the promoted box is not part of the list
    assert all(r.url == f"{NEWS}/{r.event_id}" for r in page.refs)
    assert page.next_url == f"{NEWS}/page/3"


@pytest.mark.shared
def test_real_by_date_page_pages_on_to_the_listing():
    page = parse_listing(
        shared("en-news-by-date-04.10.2016.html"), f"{NEWS}/by-date/04.10.2016", SITE
    )
    assert 53016 in [r.event_id for r in page.refs]
    assert page.next_url == f"{NEWS}/page/253"
    assert page.number == 252  # the listing page that holds the day
    assert page.days[53016] == date(2016, 10, 4)
    assert page.days[53029] == date(2016, 10, 5)


@pytest.mark.shared
def test_real_listing_items_carry_their_day_and_the_page_its_number():
    page = parse_listing(shared("en-news-list-page-2-2020-08.html"), f"{NEWS}/page/2", SITE)
    assert page.number == 2
    assert len(page.days) == 20
    assert page.days[63911] == date(2020, 8, 19)
    assert min(page.days.values()) == date(2020, 8, 12)


@pytest.mark.shared
def test_real_feed_entries_are_dated_by_publication_not_by_their_last_edit():
    feed = parse_feed(
        shared("en-events-president-news-feed-2020-08-27.atom.xml"), f"{NEWS}/feed", SITE
    )
    days = [entry_day(e) for e in feed.entries]
    assert days == sorted(days, reverse=True)  # the feed is in publication order
    assert days[-1] == date(2020, 8, 19)
    assert feed.entries[-1].updated.startswith("2020-08-20")  # edited the next day


def test_walk_page_addresses():
    assert page_number(f"{NEWS}/feed/page/12") == 12
    assert page_number(f"{NEWS}/feed") == 1
    assert sibling_page_url(f"{NEWS}/feed/page/12", 11) == f"{NEWS}/feed/page/11"
    assert sibling_page_url(f"{NEWS}/feed/page/2", 1) == f"{NEWS}/feed"
    assert by_date_url(NEWS, date(2016, 10, 4)) == f"{NEWS}/by-date/04.10.2016"


@pytest.mark.shared
def test_an_event_page_is_not_a_feed():
    with pytest.raises(FeedError, match="not a feed"):
        parse_feed(shared("en-news-53016-meeting-nazarbayev-2016-10-04.html"), f"{NEWS}/feed", SITE)


# --- the fake site ------------------------------------------------------------------------


def walk(site: FakeSite, parse, path: str) -> tuple[list, int]:
    """Follow next_url through the fake site's pages, as a crawl would on a mirror."""
    items, url, pages = [], SITE + path, 0
    while url is not None:
        mirror_url = url.replace(SITE, site.url)
        reply = site.route(url.removeprefix(SITE), {})
        assert reply.status == 200, url
        page = parse(reply.body, mirror_url, SITE)
        items.extend(getattr(page, "entries", None) or getattr(page, "refs", []))
        url, pages = page.next_url, pages + 1
    return items, pages


def test_fake_feed_walk_finds_every_news_page_once_newest_first(fake_site):
    entries, pages = walk(fake_site, parse_feed, "/events/president/news/feed")
    assert [e.ref.event_id for e in entries] == fake_site.ids
    assert pages == 2
    assert all(e.updated and e.updated.endswith("+04:00") for e in entries)


def test_fake_by_date_page_is_the_listing_page_holding_the_day(fake_site):
    news = fake_site.news()
    day = news[25].published.date()
    reply = fake_site.route(by_date_url("/events/president/news", day), {})
    page = parse_listing(reply.body, by_date_url(NEWS, day), SITE)
    first = next(i for i, p in enumerate(news) if p.published.date() <= day)
    assert page.number == first // 20 + 1
    assert news[first].event_id in page.days and page.days[news[first].event_id] == day


def test_fake_listing_walk_finds_every_news_page_once(fake_site):
    refs, pages = walk(fake_site, parse_listing, "/events/president/news")
    assert [r.event_id for r in refs] == fake_site.ids
    assert pages == 2


def test_fake_all_feed_keeps_acts_and_misc_apart(fake_site):
    entries, _ = walk(fake_site, parse_feed, "/events/all/feed")
    events = [e.ref.event_id for e in entries if e.ref.kind == "event"]
    assert events == fake_site.ids
    assert {e.ref.kind for e in entries} == {"event", "act", "misc"}


def test_new_page_appears_first_in_the_feed(fake_site):
    added = fake_site.add_page()
    page = parse_feed(fake_site.route("/events/president/news/feed", {}).body, fake_site.url, SITE)
    assert page.entries[0].ref.event_id == added.event_id


# --- refusals -----------------------------------------------------------------------------


def test_feed_with_a_doctype_is_refused_before_any_entity_expands():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol2;</title></feed>'
    )
    with pytest.raises(FeedError, match="DOCTYPE"):
        parse_feed(bomb, f"{NEWS}/feed", SITE)


def test_feed_of_another_format_is_refused():
    with pytest.raises(FeedError, match="not an Atom feed"):
        parse_feed(b"<rss><channel/></rss>", f"{NEWS}/feed", SITE)


def test_feed_given_as_text_parses_like_bytes():
    body = '<?xml version="1.0" encoding="UTF-8" ?><feed xmlns="http://www.w3.org/2005/Atom">'
    body += f"<entry><title>Встреча</title><id>{NEWS}/1</id></entry></feed>"
    assert parse_feed(body, f"{NEWS}/feed", SITE).entries[0].title == "Встреча"


def test_challenge_page_is_not_a_listing():
    challenge = b"<html><body><h1>Checking your browser</h1></body></html>"
    with pytest.raises(FeedError, match="not a listing page"):
        parse_listing(challenge, f"{NEWS}/page/2", SITE)


def test_listing_ignores_links_to_other_hosts():
    body = (
        '<div class="lister-page"><div class="hentry"><a href="http://kremlin.ru/events/'
        'president/news/5">ru</a></div><div class="hentry"><a href="http://evil.example/'
        'events/president/news/6">x</a></div><div class="hentry"><a href="7">ok</a></div>'
        '</div><a rel="next" href="http://evil.example/events/president/news/page/3">n</a>'
    )
    page = parse_listing(body, f"{NEWS}/page/2", SITE)
    assert [r.event_id for r in page.refs] == []  # "7" from page/2 is page/7, not an event
    assert page.next_url is None
    page = parse_listing(body.replace('href="7"', 'href="../7"'), f"{NEWS}/page/2", SITE)
    assert [r.url for r in page.refs] == [f"{NEWS}/7"]


# --- hostile feeds (issue 19, items 2 and 15) ---------------------------------------------

LOLZ = (
    '<?xml version="1.0" encoding="{enc}"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    '<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol2;</title></feed>'
)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_wide_feed_with_a_doctype_is_refused_too(encoding):
    """The check looked for ASCII bytes, which a UTF-16 body does not have."""
    label = encoding.split("-l")[0].split("-b")[0].upper()
    body = LOLZ.format(enc=label).encode(encoding)
    with pytest.raises(FeedError, match="declares a DOCTYPE or entity"):
        parse_feed(body, f"{NEWS}/feed", SITE)


@pytest.mark.parametrize("digits", ["99999999999999999999", "7" * 5000, "0", "²"])
def test_a_link_with_an_id_the_archive_cannot_hold_is_no_event(digits):
    assert parse_event_url(f"/events/president/news/{digits}", SITE) is None
    assert parse_event_url(f"/acts/news/{digits}", SITE) is None


def test_the_largest_storable_id_is_an_event():
    ref = parse_event_url(f"/events/president/news/{2**63 - 1}", SITE)
    assert ref is not None and ref.event_id == 2**63 - 1
