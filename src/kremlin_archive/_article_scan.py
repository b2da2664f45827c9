"""Pure: cut the event ``<article>`` (and the ``<head>``) out of a raw page, or refuse it.

Private to :mod:`kremlin_archive.normalize`. The scan works on the raw text, before any
parsing: an HTML parser closes open tags itself, so only the raw text can tell that a page
was cut off before its ``</article>``; and parsing only the head and the article, not the
menus, footer and sprites around them, makes parsing several times faster.

The scan stops at the tags that matter (:data:`_BOUNDARY_TAG`) and skips what is not
markup: comments and the content of scripts, styles and the other raw-text elements, so an
``<article`` inside a script string is no tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .errors import NotAnEventPage

SNIFF_BYTES = 8192  # how much of a body is looked at to tell what kind of document it is

# Tags that matter for cutting the article out of the raw page: elements whose content is
# not markup (so "<article" in a script string is no tag), comments, </head>, and article
# tags. Lower case, the fast scan; a tag name starting in upper case switches to the
# case-blind one.
_RAW_TEXT_TAGS = ("script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes")
_BOUNDARY_NAMES = "|".join((*_RAW_TEXT_TAGS, "article", "!--", "/head", "/article"))
# The same, with the end tags behind one "/": about half the page's "<" start end tags,
# and the regex engine then tries one alternative for them instead of three.
_BOUNDARY_TAG = re.compile(
    "<(?:{}|[A-Z]|/(?:head|article|[A-Z]))".format("|".join((*_RAW_TEXT_TAGS, "article", "!--")))
)
_BOUNDARY_TAG_ANY_CASE = re.compile(f"<(?:{_BOUNDARY_NAMES})", re.IGNORECASE)
_RAW_TEXT_END = {name: re.compile(f"</{name}[\\s/>]", re.IGNORECASE) for name in _RAW_TEXT_TAGS}
_TAG_NAME_END = frozenset(" \t\n\r\f/>")
# The opening tag of the event article: article#event-<id>, or article.read__in.
_EVENT_ARTICLE_TAG = re.compile(
    r"""\sid\s*=\s*["']?\s*event-\d+(?![\w-])"""
    r"""|\sclass\s*=\s*["']?[^"'>]*?(?<![\w-])read__in(?![\w-])""",
    re.IGNORECASE,
)


def article_document(html: str, url: str | None) -> str:
    """The page's ``<head>`` and event ``<article>`` as one small document, or a refusal.

    Only these two parts are parsed: the rest of the page (menus, footer, sprites) is
    never rendered, and leaving it out makes parsing several times faster. The article's
    own ``</article>`` is looked for in the raw text because an HTML parser closes open
    tags itself: a page cut off before it is refused.
    """
    if not html or html.isspace():
        raise NotAnEventPage("empty body", url)
    if html.find("\x00", 0, SNIFF_BYTES) >= 0:
        raise NotAnEventPage("binary body (NUL bytes), not HTML", url)
    head_end, start, end = _article_span(html)
    if start < 0:
        raise NotAnEventPage(_no_article_reason(html), url)
    if end < 0:
        raise NotAnEventPage("page cut off before </article>", url)
    if _is_media_tab(html):
        raise NotAnEventPage("a photo or video tab of an event, not its text", url)
    return html[:head_end] + html[start:end]


def _article_span(html: str) -> tuple[int, int, int]:
    """Where ``</head>`` ends, and where the event article starts and ends (-1: none).

    The event article is ``article#event-<id>`` or ``article.read__in``, else the first
    ``<article>``; it ends at the ``</article>`` that closes it, nested articles counted.
    """
    head_end = 0
    first = -1
    for name, start, end in _boundary_tags(html, 0):
        if name == "/head":
            head_end = head_end or end
        elif name == "article":
            if _EVENT_ARTICLE_TAG.search(html, start, end):
                return head_end, start, _article_end(html, start)
            if first < 0:
                first = start
    return head_end, first, _article_end(html, first) if first >= 0 else -1


def _article_end(html: str, start: int) -> int:
    """The end of the ``</article>`` closing the article that starts at ``start``, or -1."""
    depth = 0
    for name, _, end in _boundary_tags(html, start):
        if name == "article":
            depth += 1
        elif name == "/article":
            depth -= 1
            if depth == 0:
                return end
    return -1


def _boundary_tags(html: str, pos: int) -> Iterator[tuple[str, int, int]]:
    """(name, start, end) of the ``<article>``, ``</article>`` and ``</head>`` tags from
    ``pos`` on that are markup, skipping comments and the content of scripts, styles
    and the other elements whose content is text. Stops at a tag the page cuts off."""
    pattern = _BOUNDARY_TAG
    while (match := pattern.search(html, pos)) is not None:
        start, pos = match.span()
        name = match.group()[1:]
        if name == "!--":  # "<!-->" and "<!--->" are whole comments too
            pos = html.find("-->", start + 2) + 3
            if pos < 3:
                return
            continue
        if pattern is _BOUNDARY_TAG and name[-1].isupper():  # rare: go on case-blind
            pattern, pos = _BOUNDARY_TAG_ANY_CASE, start
            continue
        if pos < len(html) and html[pos] not in _TAG_NAME_END:
            continue  # a longer name: <articles>, <style-x>
        name = name.lower()
        if name in _RAW_TEXT_END:
            closing = _RAW_TEXT_END[name].search(html, pos)
            if closing is None:
                return
            pos = closing.end()
            continue
        end = html.find(">", pos) + 1
        if end == 0:
            return
        yield name, start, end
        pos = end


def _is_media_tab(html: str) -> bool:
    """True for the photo or video tab of an event: its tab is the active one.

    Looks for the few "is-active" and what precedes them; one pass over the page.
    """
    found = html.find("is-active")
    while found >= 0:
        if found >= 11 and html.startswith(("tabs_photo ", "tabs_video "), found - 11):
            return True
        found = html.find("is-active", found + 1)
    return False


def _no_article_reason(html: str) -> str:
    """Say what a page without an ``<article>`` most likely is."""
    head = html[:SNIFF_BYTES].lstrip().lower()
    if head.startswith("<?xml") or "<feed" in head or "<rss" in head:
        return "a feed, not an event page"
    if 'class="photoset' in html or "tabs_photo is-active" in html:
        return "the /photos tab of an event, not its text"
    if "tabs_video is-active" in html:
        return "the /videos tab of an event, not its text"
    if "<html" not in head and "<body" not in head and "<!doctype" not in head:
        return "not HTML (no <article>)"
    if "captcha" in head or "challenge" in head:
        return "a challenge page (no <article>)"
    return "no <article> element (a listing, error or challenge page?)"
