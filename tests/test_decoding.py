"""One decoder for every body: byte-order mark, then header, then the page's own declaration."""

from __future__ import annotations

import random
import re
from datetime import datetime

import pytest

from fakesite import generate_page, render_event_page
from kremlin_archive.decoding import decode_html
from kremlin_archive.normalize import parse_event_page

RU = "Встреча с Президентом"
META_1251 = '<meta charset="windows-1251">'

CASES = {
    "utf-8 by default": (RU.encode("utf-8"), None, RU),
    "the header's charset": (RU.encode("cp1251"), "text/html; charset=windows-1251", RU),
    "a meta charset": ((META_1251 + RU).encode("cp1251"), None, META_1251 + RU),
    "the header over the meta": (
        ('<meta charset="koi8-r">' + RU).encode("cp1251"),
        "text/html; charset=windows-1251",
        '<meta charset="koi8-r">' + RU,
    ),
    "a UTF-8 mark over the header": (
        b"\xef\xbb\xbf" + RU.encode("utf-8"),
        "text/html; charset=windows-1251",
        RU,
    ),
    "a UTF-16 mark over the meta": (
        ("\ufeff" + META_1251 + RU).encode("utf-16-le"),
        None,
        META_1251 + RU,
    ),
    "a UTF-16 declared in ASCII markup is UTF-8": (
        ('<meta charset="utf-16">' + RU).encode("utf-8"),
        None,
        '<meta charset="utf-16">' + RU,
    ),
    "an unknown charset falls through": (
        (META_1251 + RU).encode("cp1251"),
        "text/html; charset=no-such-charset",
        META_1251 + RU,
    ),
    "the XML declaration": (
        ('<?xml version="1.0" encoding="windows-1251"?><p>' + RU).encode("cp1251"),
        None,
        '<?xml version="1.0" encoding="windows-1251"?><p>' + RU,
    ),
    "undecodable bytes are replaced": (b"caf\xe9", None, "caf\ufffd"),
}


@pytest.mark.parametrize("body, content_type, text", CASES.values(), ids=CASES.keys())
def test_a_body_decodes_by_mark_then_header_then_declaration(body, content_type, text):
    assert decode_html(body, content_type) == text


def test_the_normalizer_reads_a_marked_page_as_the_fetcher_does():
    page = generate_page(random.Random(3), 70001, datetime(2021, 5, 4, 12, 30))
    html = render_event_page(page)
    assert 'charset="utf-8"' in html.lower() or "charset=utf-8" in html.lower()
    lying = re.sub("utf-8", "windows-1251", html, count=1, flags=re.I)
    body = b"\xef\xbb\xbf" + lying.encode("utf-8")  # the mark says UTF-8, the meta lies
    text = decode_html(body, "text/html; charset=windows-1251")
    assert page.title in text
    assert parse_event_page(body).title == page.title
