"""Pure: feed / listing HTML -> event references. No I/O.

INTERFACE STUB: the fetching issue fills this in; the names below are the contract.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import FeedError


@dataclass(frozen=True)
class EventRef:
    """One event page, by canonical identity."""

    event_id: int
    url: str  # canonical, e.g. http://en.kremlin.ru/events/president/news/53016
    section: str  # "news", "transcripts", … (as first seen)
    kind: str = "event"  # "event", "act" or "misc"


@dataclass(frozen=True)
class FeedEntry:
    ref: EventRef
    title: str
    updated: str | None  # as given, e.g. 2020-08-27T20:09:44+04:00
    updated_utc: str | None  # ISO-8601 UTC, e.g. 2020-08-27T16:09:44Z


@dataclass(frozen=True)
class FeedPage:
    entries: list[FeedEntry]
    next_url: str | None  # canonical URL of rel="next", None on the last page


@dataclass(frozen=True)
class ListingPage:
    refs: list[EventRef]
    next_url: str | None


def parse_event_url(url: str, canonical_url: str) -> EventRef | None:
    """The event a link points to, mapped onto the canonical site ``canonical_url``
    (e.g. http://en.kremlin.ru); None for links that are not event pages."""
    raise NotImplementedError


def parse_feed(body: str | bytes, page_url: str, canonical_url: str) -> FeedPage:
    """Entries of one Atom feed page. Raises FeedError when it is not a feed."""
    raise FeedError("not implemented")


def parse_listing(body: str | bytes, page_url: str, canonical_url: str) -> ListingPage:
    """Event links of one listing page (/events/president/news/page/N)."""
    raise FeedError("not implemented")
