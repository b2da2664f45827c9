"""Pure: refuse markup an HTML parser would take minutes or gigabytes over, before parsing.

lexbor (like every HTML5 parser) does work proportional to the stack of open elements for
each new element, so deeply nested markup costs quadratic time: 20,000 unclosed ``<div>``
took 1.2 s, 200,000 more than 90 s that no signal could interrupt, and 8 MB of nested
``<b>`` 7-9 s and about 1 GB. :func:`check_markup` measures the nesting depth and the
number of elements in one linear scan of the tags (comments and the content of scripts,
styles and the other raw-text elements skipped, as a parser does) and raises
``MarkupRefused`` past ``MAX_DEPTH`` or ``MAX_ELEMENTS``, far beyond any real page of the
site (depth under 40, a few thousand elements). The scan stops at the first limit passed,
so a hostile page costs at most that many steps.

The depth is counted as a parser builds it, roughly: void elements (``<br>``) and
elements whose end is implied by the next sibling (``<p>``, ``<li>``, ``<td>``…) never
nest by themselves, ``/>`` closes a foreign element (``<path/>`` in an inline SVG) but not
an HTML container (``<div/>`` is an open ``<div>``), and an end tag closes one level.
"""

from __future__ import annotations

import re

from .errors import MarkupRefused

MAX_DEPTH = 1_000
MAX_ELEMENTS = 60_000


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)|<!--")
_VOID = _names("area base br col embed hr img input keygen link meta param source track wbr")
_IMPLIED_END = _names("p li dt dd option optgroup tr td th rb rt rp rtc")
_RAW_TEXT = _names("script style textarea title xmp iframe noembed noframes")
_HTML_CONTAINERS = _names(
    """a abbr address article aside audio b bdi bdo big blockquote body button canvas
    caption center cite code colgroup dd del details dfn dialog div dl dt em fieldset
    figcaption figure font footer form h1 h2 h3 h4 h5 h6 head header hgroup html i ins kbd
    label legend li main map mark menu nav nobr noscript object ol output p picture pre q
    ruby s samp section select small span strike strong sub summary sup table tbody td
    template tfoot th thead time tr tt u ul var video"""
)


def check_markup(html: str, url: str | None = None) -> str:
    """``html`` itself when a parser can take it in bounded time and memory; else
    MarkupRefused naming what was measured."""
    if html.count("<") <= MAX_DEPTH:  # no deeper, and no more elements, than tags opened
        return html
    depth = elements = 0
    pos = 0
    while (match := _TAG.search(html, pos)) is not None:
        pos = match.end()
        closing, name = match.group(1), match.group(2)
        if name is None:  # a comment: skip to its end, or the page ends inside it
            end = html.find("-->", pos)
            if end < 0:
                break
            pos = end + 3
            continue
        name = name.lower()
        if closing:
            if name not in _VOID and name not in _IMPLIED_END and depth:
                depth -= 1
            continue
        elements += 1
        if elements > MAX_ELEMENTS:
            raise _refused(f"more than {MAX_ELEMENTS:,} elements", url)
        end = html.find(">", pos)
        if end < 0:
            break
        if name in _RAW_TEXT:
            pos = _raw_text_end(html, name, end + 1)
            continue
        if name in _VOID or name in _IMPLIED_END:
            continue
        if html[end - 1] == "/" and name not in _HTML_CONTAINERS:
            continue  # a self-closed foreign element
        depth += 1
        if depth > MAX_DEPTH:
            raise _refused(f"elements nested more than {MAX_DEPTH:,} deep", url)
    return html


def _raw_text_end(html: str, name: str, pos: int) -> int:
    """Where the content of a raw-text element opened before ``pos`` ends."""
    closing = re.compile(rf"</{name}\s*>", re.IGNORECASE).search(html, pos)
    return closing.end() if closing else len(html)


def _refused(what: str, url: str | None) -> MarkupRefused:
    where = f" ({url})" if url else ""
    return MarkupRefused(
        f"markup refused before parsing{where}: {what} (no real page comes near; parsing "
        "it would take minutes)"
    )
