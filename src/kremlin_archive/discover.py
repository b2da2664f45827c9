"""Pure: feed / listing HTML -> event references. No I/O.

Event pages are ``/events/president/<section>/<id>``; ``/acts/news/<id>`` and
``/misc/<id>`` come back too, with ``kind`` "act" or "misc", and the caller decides whether
it wants them. The id is the identity: one event listed under several sections is one page.

Links are taken as they come: absolute on the canonical host, absolute on the host the page
was fetched from (a mirror or replica), relative, or rewritten by ``wget --convert-links``
(``../63911.html``, ``3.html``). The tab variants ``/print``, ``/photos`` and ``/videos``
map onto the event itself, so a tab is never fetched as if it were the event page. Every
URL returned is on the canonical site.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from .decoding import decode_html
from .errors import FeedError, MarkupRefused
from .htmlguard import check_markup
from .timeutil import to_utc
from .urls import site_host

ATOM = "{http://www.w3.org/2005/Atom}"

_EVENT_PATH = re.compile(
    r"^/events/president/(?P<section>[a-z][a-z_-]*)/(?P<id>\d+)(?:/(?:print|photos|videos))?/?$"
)
_ACT_PATH = re.compile(r"^/acts/news/(?P<id>\d+)(?:/(?:print|photos|videos))?/?$")
_MISC_PATH = re.compile(r"^/misc/(?P<id>\d+)(?:/(?:print|photos|videos))?/?$")
_NOT_SECTIONS = frozenset(("page", "by-date", "calendar", "copy", "feed"))
_DOCTYPE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_HTML_DOCTYPE = re.compile(rb"^\s*<!doctype\s+html", re.IGNORECASE)
#: The largest id SQLite can store (a longer number in a link is no event of this site).
MAX_EVENT_ID = 2**63 - 1
#: Byte-order marks and the first bytes of "<?" in the encodings wider than one byte.
_WIDE_STARTS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
    (b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00", "utf-16-le"), (b"\x00<", "utf-16-be"),
)  # fmt: skip


@dataclass(frozen=True)
class EventRef:
    """One event page, by canonical identity."""

    event_id: int
    url: str  # canonical, e.g. http://en.kremlin.ru/events/president/news/53016
    section: str  # "news", "transcripts", … (as first seen); "acts" or "misc" for those
    kind: str = "event"  # "event", "act" or "misc"


@dataclass(frozen=True)
class FeedEntry:
    ref: EventRef
    title: str
    updated: str | None  # as given, e.g. 2020-08-27T20:09:44+04:00
    updated_utc: str | None  # ISO-8601 UTC, e.g. 2020-08-27T16:09:44Z
    published: str | None = None  # as given
    published_utc: str | None = None


@dataclass(frozen=True)
class FeedPage:
    entries: list[FeedEntry]
    next_url: str | None  # canonical URL of rel="next", None on the last page


@dataclass(frozen=True)
class ListingPage:
    refs: list[EventRef]
    next_url: str | None
    days: dict[int, date] = field(default_factory=dict)  # event id -> the item's day
    number: int | None = None  # the page's number in the list (data-page), where given


# --- URLs ---------------------------------------------------------------------------------


def parse_event_url(url: str, canonical_url: str) -> EventRef | None:
    """The event a link points to, mapped onto the canonical site ``canonical_url``
    (e.g. http://en.kremlin.ru); None for links that are not event pages.

    Only the path counts: whether the link's host belongs to the site is the caller's
    question (``parse_feed`` and ``parse_listing`` keep links on the canonical host and on
    the host the page came from). A relative ``url`` is taken against ``canonical_url``."""
    base = canonical_url.rstrip("/")
    path = _clean_path(urlsplit(urljoin(base + "/", url.strip())).path)
    if match := _EVENT_PATH.match(path):
        section = match["section"]
        if section in _NOT_SECTIONS:
            return None
        event_id = event_number(match["id"])
        if event_id is None:
            return None
        return EventRef(event_id, f"{base}/events/president/{section}/{event_id}", section)
    if (match := _ACT_PATH.match(path)) and (event_id := event_number(match["id"])):
        return EventRef(event_id, f"{base}/acts/news/{event_id}", "acts", "act")
    if (match := _MISC_PATH.match(path)) and (event_id := event_number(match["id"])):
        return EventRef(event_id, f"{base}/misc/{event_id}", "misc", "misc")
    return None


def event_number(digits: str) -> int | None:
    """The event id written by ``digits`` (ASCII only), or None when it is no id the
    archive can hold: 0, or above MAX_EVENT_ID (a 20-digit or 5,000-digit number)."""
    digits = digits.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        return None
    number = int(digits)
    return number if 0 < number <= MAX_EVENT_ID else None


def canonical_page_url(href: str, page_url: str, canonical_url: str) -> str | None:
    """``href`` (found on ``page_url``) as a canonical URL, or None when it leads to
    another host. wget's ``.html`` endings are dropped."""
    absolute = urljoin(page_url, href.strip())
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not _same_site(absolute, page_url, canonical_url):
        return None
    query = f"?{parts.query}" if parts.query else ""
    return canonical_url.rstrip("/") + _clean_path(parts.path) + query


def _clean_path(path: str) -> str:
    """``/events/president/news/63911.html`` -> ``/events/president/news/63911``."""
    if path.endswith(".html"):
        path = path[: -len(".html")]
    return re.sub(r"/{2,}", "/", path) or "/"


def _same_site(url: str, page_url: str, canonical_url: str) -> bool:
    return site_host(url) in (site_host(page_url), site_host(canonical_url))


def _ref_for_link(href: str, page_url: str, canonical_url: str) -> EventRef | None:
    absolute = urljoin(page_url, href.strip())
    if not _same_site(absolute, page_url, canonical_url):
        return None
    return parse_event_url(urlsplit(absolute).path, canonical_url)


# --- Atom feeds ---------------------------------------------------------------------------


def parse_feed(body: str | bytes, page_url: str, canonical_url: str) -> FeedPage:
    """Entries of one Atom feed page. Raises FeedError when it is not a feed.

    A DOCTYPE or ENTITY declaration is refused outright (no entity expansion)."""
    root = _feed_root(body, page_url)
    entries = [_entry(node, page_url, canonical_url) for node in root.findall(f"{ATOM}entry")]
    next_href = _link(root, "next")
    next_url = canonical_page_url(next_href, page_url, canonical_url) if next_href else None
    if next_url == canonical_page_url(page_url, page_url, canonical_url):
        next_url = None  # a feed pointing at itself would loop
    return FeedPage([e for e in entries if e is not None], next_url)


def _feed_root(body: str | bytes, page_url: str) -> ET.Element:
    raw = _as_narrow(body.encode("utf-8") if isinstance(body, str) else body)
    if _HTML_DOCTYPE.search(raw[:1024]):
        raise FeedError(f"{page_url}: not a feed (an HTML page)")
    if _DOCTYPE.search(raw):
        raise FeedError(f"{page_url}: feed declares a DOCTYPE or entity; refused")
    try:
        root = ET.fromstring(_without_declared_encoding(body))
    except ET.ParseError as exc:
        raise FeedError(f"{page_url}: not a feed (XML error: {exc})") from None
    if root.tag != f"{ATOM}feed":
        raise FeedError(f"{page_url}: not an Atom feed (root element {root.tag!r})")
    return root


def _as_narrow(raw: bytes) -> bytes:
    """A UTF-16 or UTF-32 body as UTF-8, for the declaration checks (which look for
    ASCII bytes); any other body as it is."""
    for start, encoding in _WIDE_STARTS:
        if raw.startswith(start):
            return raw.decode(encoding, errors="replace").encode("utf-8")
    return raw


def _without_declared_encoding(body: str | bytes) -> str | bytes:
    """A str with ``encoding="…"`` in its XML declaration is already decoded."""
    if isinstance(body, bytes):
        return body
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", body, count=1)


def _link(node: ET.Element, rel: str) -> str | None:
    for link in node.findall(f"{ATOM}link"):
        if link.get("rel", "alternate") == rel and link.get("href"):
            return link.get("href")
    return None


def _entry(node: ET.Element, page_url: str, canonical_url: str) -> FeedEntry | None:
    href = _link(node, "alternate") or _text(node, "id")
    ref = _ref_for_link(href, page_url, canonical_url) if href else None
    if ref is None:
        return None
    updated = _text(node, "updated")
    published = _text(node, "published")
    return FeedEntry(
        ref=ref,
        title=" ".join((_text(node, "title") or "").split()),
        updated=updated,
        updated_utc=to_utc(updated),
        published=published,
        published_utc=to_utc(published),
    )


def _text(node: ET.Element, name: str) -> str | None:
    child = node.find(f"{ATOM}{name}")
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


# --- listing pages ------------------------------------------------------------------------


def parse_listing(body: str | bytes, page_url: str, canonical_url: str) -> ListingPage:
    """Event links of one listing page (/events/president/news/page/N, or the page a
    /by-date/DD.MM.YYYY address shows), in page order, one per event, with the day of
    each item; the promoted box and the site menus are not part of the list."""
    try:
        tree = LexborHTMLParser(check_markup(_decode_html(body), page_url))
    except MarkupRefused as exc:
        raise FeedError(str(exc)) from None
    lister = tree.css_first("div.lister-page") or tree.css_first("#events")
    if lister is None:
        raise FeedError(f"{page_url}: not a listing page (no list of events)")
    refs: dict[int, EventRef] = {}
    days: dict[int, date] = {}
    for item in lister.css(".hentry"):
        ref = _item_ref(item, page_url, canonical_url)
        if ref is not None and ref.event_id not in refs:
            refs[ref.event_id] = ref
            if (day := _item_day(item)) is not None:
                days[ref.event_id] = day
    next_url = _listing_next(tree, page_url, canonical_url)
    return ListingPage(list(refs.values()), next_url, days, _listing_number(lister))


def _item_day(item) -> date | None:
    node = item.css_first("time[datetime]")
    return _iso_day(node.attributes.get("datetime") if node is not None else None)


def _listing_number(lister) -> int | None:
    value = (lister.attributes.get("data-page") or "").strip()
    return int(value) if value.isdigit() and len(value) < 7 else None


def _item_ref(item, page_url: str, canonical_url: str) -> EventRef | None:
    for link in item.css("a[href]"):
        ref = _ref_for_link(link.attributes.get("href") or "", page_url, canonical_url)
        if ref is not None:
            return ref
    return None


def _listing_next(tree: LexborHTMLParser, page_url: str, canonical_url: str) -> str | None:
    node = tree.css_first('a[rel="next"][href]') or tree.css_first('link[rel="next"][href]')
    if node is None:
        return None
    next_url = canonical_page_url(node.attributes["href"] or "", page_url, canonical_url)
    if next_url == canonical_page_url(page_url, page_url, canonical_url):
        return None
    return next_url


def _decode_html(body: str | bytes) -> str:
    return body if isinstance(body, str) else decode_html(body)


# --- walking ------------------------------------------------------------------------------


def entry_day(entry: FeedEntry) -> date | None:
    """The event's day of a feed entry: its <published> day as the site gives it (Moscow),
    else its <updated> day. The feed is ordered by publication; an edit moves <updated>."""
    return _iso_day(entry.published) or _iso_day(entry.updated)


def _iso_day(stamp: str | None) -> date | None:
    try:
        return date.fromisoformat(stamp.strip()[:10]) if stamp else None
    except ValueError:
        return None


def page_number(url: str) -> int:
    """The number of a feed or listing page from its address (``…/page/3`` is 3; the
    first page has none)."""
    match = re.search(r"/page/(\d{1,6})/?$", urlsplit(url).path)
    return int(match[1]) if match else 1


def numbered_page_url(base: str, number: int) -> str:
    """Page ``number`` of the feed or listing at ``base`` (the first page is ``base``)."""
    return base if number <= 1 else f"{base.rstrip('/')}/page/{number}"


def sibling_page_url(url: str, number: int) -> str:
    """Page ``number`` of the feed or listing that ``url`` is a page of."""
    return numbered_page_url(re.sub(r"/page/\d{1,6}/?$", "", url), number)


def by_date_url(listing_url: str, day: date) -> str:
    """The listing page that holds the events of ``day``
    (``/events/president/news/by-date/04.10.2016``)."""
    return f"{listing_url.rstrip('/')}/by-date/{day:%d.%m.%Y}"
