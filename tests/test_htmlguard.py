"""The markup guard: one linear scan refuses what would make the HTML parser quadratic,
and lets every real and generated page through (issue 19, item 3). The time it saves is
measured in benchmarks/hostile.py, not here."""

from __future__ import annotations

import pytest

from fakesite import SHARED_HTML, FakeSite, render_event_page
from hostilesite import deep_page
from kremlin_archive.discover import parse_listing
from kremlin_archive.errors import FeedError, MarkupRefused
from kremlin_archive.htmlguard import MAX_DEPTH, MAX_ELEMENTS, check_markup
from kremlin_archive.normalize import decode_html, parse_event_page
from runcli import kremlin

SITE = "http://en.kremlin.ru"


def article(inner: str) -> str:
    return f"<html><head><title>t</title></head><body><article>{inner}</article></body></html>"


@pytest.mark.parametrize(
    ("inner", "what"),
    [
        ("<div>" * 200_000, "nested more than 1,000 deep"),
        ("<b>" * 2_700_000, "nested more than 1,000 deep"),  # 8 MB, as observed
        ("<q><i>" * 600, "nested more than 1,000 deep"),
        ("<div/>" * 2_000, "nested more than 1,000 deep"),  # an HTML container stays open
        ("<span>x</span>" * (MAX_ELEMENTS + 1), f"more than {MAX_ELEMENTS:,} elements"),
        ("<br>" * (MAX_ELEMENTS + 1), f"more than {MAX_ELEMENTS:,} elements"),
    ],
    ids=["div-200k", "b-8MB", "q-i", "div-self-closed", "flat-spans", "flat-br"],
)
def test_markup_a_parser_would_choke_on_is_refused(inner, what):
    with pytest.raises(MarkupRefused, match=what):
        check_markup(article(inner), "http://en.kremlin.ru/events/president/news/1")


@pytest.mark.parametrize(
    "inner",
    [
        "<p>x" * 5_000,  # <p> ends the one before it
        "<ul>" + "<li>x" * 5_000 + "</ul>",
        "<svg>" + '<path d="M0 0"/>' * 5_000 + "</svg>",  # foreign elements close with />
        "<!--" + "<div>" * 5_000 + "-->",
        "<script>var s = '" + "<div>" * 5_000 + "';</script>",
        "<div>" * (MAX_DEPTH - 10) + "</div>" * (MAX_DEPTH - 10),
        "<div>x</div>" * 10_000,
        "<!-- a comment the page never closes " + "<div>" * 5_000,
    ],
    ids=["p", "li", "svg", "comment", "script", "deep-closed", "many-closed", "open-comment"],
)
def test_markup_a_parser_takes_in_its_stride_passes(inner):
    html = article(inner)
    assert check_markup(html) is html


def test_every_saved_real_page_passes():
    pages = sorted(SHARED_HTML.glob("*.html")) if SHARED_HTML.is_dir() else []
    if not pages:
        pytest.skip(f"real pages not found at {SHARED_HTML}")
    for path in pages:
        html = decode_html(path.read_bytes())
        assert check_markup(html) is html, path.name


def test_a_deep_event_page_is_refused_with_the_reason_before_parsing():
    site = FakeSite(n_pages=1, seed=2)
    event_id = site.ids[0]
    assert parse_event_page(render_event_page(site.pages[event_id]))  # the page itself is fine
    with pytest.raises(MarkupRefused, match="markup refused before parsing"):
        parse_event_page(deep_page(site, event_id, 200_000))


def test_a_deep_listing_page_is_a_feed_error():
    body = "<html><body><div class='lister-page'>" + "<div>" * 50_000 + "</div></body></html>"
    with pytest.raises(FeedError, match="nested more than 1,000 deep"):
        parse_listing(body, f"{SITE}/events/president/news", SITE)


def test_normalize_refuses_a_deep_page_through_the_cli(tmp_path):
    site = FakeSite(n_pages=1, seed=2)
    saved = tmp_path / "deep.html"
    saved.write_bytes(deep_page(site, site.ids[0], 40_000, "div"))  # 4 s to parse, unguarded
    result = kremlin("normalize", saved)
    assert result.returncode == 1
    assert "markup refused before parsing: elements nested more than 1,000 deep" in result.stderr


def test_the_count_of_tags_bounds_the_depth_on_both_sides_of_the_limit():
    at_limit = "<div>" * MAX_DEPTH  # as few tags as the limit: passes without a scan
    assert check_markup(at_limit) is at_limit
    with pytest.raises(MarkupRefused, match="nested more than 1,000 deep"):
        check_markup("<div>" * (MAX_DEPTH + 1))
