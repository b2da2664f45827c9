"""The article scanner: the event article cut out of the raw page, or the page refused."""

from __future__ import annotations

import pytest

from kremlin_archive._article_scan import article_document
from kremlin_archive.errors import NotAnEventPage
from kremlin_archive.normalize import parse_event_page
from pages import event_page, fixture_page

HEAD = '<html lang="en"><head><meta charset="utf-8"/></head><body>'
EVENT = '<article id="event-7"><div class="read__content"><p>Event.</p></div></article>'


def test_the_document_is_the_head_and_the_event_article_only() -> None:
    page = f"{HEAD}<div>menu</div>{EVENT}<div>footer</div></body></html>"
    assert article_document(page, None) == HEAD.removesuffix("<body>") + EVENT


SCANS = [
    pytest.param("<article class='card'>Card.</article>" + EVENT, EVENT, id="event-id-wins"),
    pytest.param(
        "<article class='read__in hentry'>X</article>",
        "<article class='read__in hentry'>X</article>",
        id="read-in-class",
    ),
    pytest.param(
        "<article>First</article><article>Second</article>",
        "<article>First</article>",
        id="else-the-first-article",
    ),
    pytest.param(
        "<ARTICLE ID='event-7'>Upper</ARTICLE>",
        "<ARTICLE ID='event-7'>Upper</ARTICLE>",
        id="upper-case-tags",
    ),
    pytest.param("<articles>x</articles>" + EVENT, EVENT, id="longer-tag-name-is-no-article"),
    pytest.param(
        "<article id='event-7'><article>in</article>out</article>",
        "<article id='event-7'><article>in</article>out</article>",
        id="nested-article-counted",
    ),
]


@pytest.mark.parametrize(("body", "article"), SCANS)
def test_the_event_article_is_found_and_closed_by_its_own_end_tag(body: str, article: str) -> None:
    document = article_document(f"<html><head></head><body>{body}</body></html>", None)
    assert document == "<html><head></head>" + article


@pytest.mark.parametrize("cut", [0.2, 0.5, 0.8, 0.97])
def test_page_cut_off_before_the_end_of_the_article_is_refused(cut: float) -> None:
    raw = fixture_page("ru-news-90001-meeting")
    end = raw.index(b"</article>")
    with pytest.raises(NotAnEventPage, match="cut off|no <article>"):
        parse_event_page(raw[: int(end * cut)])


def test_page_cut_after_the_article_still_renders() -> None:
    raw = fixture_page("ru-news-90001-meeting")
    whole = parse_event_page(raw)
    assert parse_event_page(raw[: raw.index(b"</article>") + len(b"</article>")]) == whole


TEXT = "<p>Text.</p>"
CARD = "<blockquote><article class='card'><p>Card.</p></article></blockquote>"
ARTICLE_IN_TEXT = [  # (extra <head> markup, article body)
    pytest.param("<script>var t = \"<article class='card'>\";</script>", TEXT, id="head-script"),
    pytest.param("<SCRIPT>var t = '<article>';</SCRIPT>", TEXT, id="upper-case-script"),
    pytest.param('<!-- <article id="event-9"> -->', TEXT, id="head-comment"),
    pytest.param("<style>/* <article> */ article { }</style>", TEXT, id="head-style"),
    pytest.param("", "<script>document.write('</article>');</script>" + TEXT, id="body-script"),
    pytest.param("", "<!-- </article> -->" + TEXT, id="body-comment"),
    pytest.param("", "<!-->" + TEXT, id="abrupt-comment"),
    pytest.param("", CARD + TEXT, id="nested-article"),
]


@pytest.mark.parametrize(("head", "body"), ARTICLE_IN_TEXT)
def test_article_tags_in_scripts_comments_and_nested_cards_do_not_move_the_article(
    head: str, body: str
) -> None:
    page = parse_event_page(event_page(body, head=head))
    assert (page.event_id, page.language, page.title) == (12345, "en", "A meeting")
    assert page.url == "http://en.kremlin.ru/events/president/news/12345"
    assert page.text.endswith("\nText.")


@pytest.mark.parametrize(("head", "body"), ARTICLE_IN_TEXT)
def test_page_cut_off_before_its_own_article_end_is_refused(head: str, body: str) -> None:
    whole = event_page(body + "<p>Last paragraph.</p>", head=head)
    with pytest.raises(NotAnEventPage, match="cut off before </article>"):
        parse_event_page(whole[: whole.index("Last paragraph")])


def test_photos_tab_is_refused_even_with_an_article() -> None:
    raw = fixture_page("ru-news-90001-meeting").decode("utf-8")
    tab = raw.replace('class="tabs_photo"', 'class="tabs_photo is-active"')
    with pytest.raises(NotAnEventPage, match="photo"):
        parse_event_page(tab)
