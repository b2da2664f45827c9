"""Pages in the site's markup for the normalizer's tests: the hand-written fixtures and a
minimal event page around a body."""

from __future__ import annotations

from pathlib import Path

from kremlin_archive.normalize import Transcript

FIXTURES = Path(__file__).parent / "fixtures" / "pages"


def fixture_page(stem: str) -> bytes:
    return (FIXTURES / f"{stem}.html").read_bytes()


def event_page(body: str, *, head: str = "", title: str = "A meeting") -> str:
    """A minimal event page in the site's markup with ``body`` as its article body."""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"/>{head}</head><body>'
        '<article class="read__in hentry" id="event-12345"><div class="read__content">'
        '<a href="http://en.kremlin.ru/events/president/news" class="read__categ">Events</a>'
        f'<h1 class="entry-title">{title}</h1>'
        f'<div class="entry-content read__internal_content">{body}</div></div></article>'
        "</body></html>"
    )


def body_lines(page: Transcript) -> list[str]:
    """The transcript lines after the category and title lines."""
    return page.text.split("\n")[2:]
