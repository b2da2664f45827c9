"""A fake en.kremlin.ru on 127.0.0.1 for tests and benchmarks.

``FakeSite`` serves generated event pages, Atom feeds, listing pages (by number and by
date) and robots.txt in the site's real markup (a hand-written template, not a copy), with
state the tests control (add, edit, remove pages) and faults they plan (503 with
Retry-After, 429, resets, cut bodies, slow answers, challenge pages, redirects).
``ReplicaSite`` serves the saved real pages of ``../shared/kremlin-html`` under their real
paths.

Both log every request (``site.requests``). Links in what they serve point at the canonical
``http://en.kremlin.ru`` like the real site; a client maps them onto ``site.url``.

Run one by hand for a benchmark (``--chrome``: pages wrapped in the full site chrome, about
43 KB each like real ones, instead of about 7 KB)::

    python tests/fakesite.py --pages 5000 --port 8000 --chrome
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import hashlib
import html
import random
import re
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

CANONICAL = "http://en.kremlin.ru"
PAGE_SIZE = 20
MSK_LABEL = "+04:00"  # the site labels Moscow wall-clock times +04:00
MSK_TO_UTC = timedelta(hours=4)
SHARED_HTML = Path(__file__).resolve().parents[1].parent / "shared" / "kremlin-html"

ROBOTS_TXT = """User-agent: *
# news
Disallow: /search
# subscription
Disallow: /subscribe/sms/send
Disallow: /subscribe/daily/send
Disallow: /events/president/news/copy
Disallow: /misc/copy
Disallow: /acts/news/copy/
"""

CHALLENGE_HTML = (
    "<!DOCTYPE html><html><head><title>DDoS-Guard</title></head><body>"
    "<h1>Checking your browser before accessing en.kremlin.ru</h1>"
    "<p>Please complete the captcha to continue.</p></body></html>"
)

# --- generated content --------------------------------------------------------------------

WORDS = (  # noqa: SIM905
    "cooperation development economic regional investment energy transport agreement "
    "security partnership programme infrastructure industry agriculture healthcare education "
    "technology trade support budget project region government federal national strategic "
    "important priority issue question measures results experience growth construction"
).split()
SPEAKERS = (
    "Vladimir Putin",
    "Sergei Lavrov",
    "Anton Siluanov",
    "Maxim Oreshkin",
    "Elvira Nabiullina",
)
PLACES = ("The Kremlin, Moscow", "Novo-Ogaryovo, Moscow Region", "Sochi", "Astana", "")
COUNTRIES = ("Kazakhstan", "France", "China", "Belarus", "India")
TOPICS = ("Foreign policy", "Regions", "Economy and finance", "Science and innovation")
KINDS = ("Meeting with", "Telephone conversation with", "Talks with", "Greetings to")
SECTION_PATHS = {"news": "/events/president/news", "transcripts": "/events/president/transcripts"}
KIND_PATHS = {"event": "/events/president/news", "act": "/acts/news", "misc": "/misc"}


@dataclass
class FakePage:
    """One event page; ``version`` grows with every edit."""

    event_id: int
    title: str
    lead: str
    published: datetime  # Moscow wall clock
    updated: datetime
    place: str
    paragraphs: list[str]  # inner HTML of <p> elements, turns included
    tags: dict[str, list[str]]
    sections: tuple[str, ...] = ("news",)
    kind: str = "event"  # event, act or misc
    slider: int = 0  # photos in the slider
    version: int = 1

    @property
    def path(self) -> str:
        return f"{KIND_PATHS[self.kind]}/{self.event_id}"

    @property
    def url(self) -> str:
        return CANONICAL + self.path

    @property
    def text(self) -> str:
        """The words of the body, markup stripped (what a version differs by)."""
        return re.sub(r"<[^>]+>", "", "\n".join(self.paragraphs))


def _sentence(rng: random.Random, low: int = 6, high: int = 18) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(1, 4)))


def generate_page(rng: random.Random, event_id: int, published: datetime) -> FakePage:
    """A page of plausible shape: lead, paragraphs, speaker turns, tags."""
    who = rng.choice(COUNTRIES)
    paragraphs = [_paragraph(rng) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.7:
        paragraphs.append("<b>* * *</b>")
        for _ in range(rng.randint(2, 6)):
            speaker = rng.choice(SPEAKERS)
            paragraphs.append(f"<b>{speaker}:</b> {html.escape(_paragraph(rng))}")
            if rng.random() < 0.3:
                paragraphs.append(html.escape(_paragraph(rng)))
        paragraphs.append(" &lt;…&gt;")
    tags = {"Geography": [who], "Topics": rng.sample(TOPICS, rng.randint(1, 2))}
    if rng.random() < 0.2:
        tags = {}
    sections = ("news", "transcripts") if rng.random() < 0.3 else ("news",)
    return FakePage(
        event_id=event_id,
        title=f"{rng.choice(KINDS)} President of {who} No. {event_id}",
        lead=f"Vladimir Putin held talks on {rng.choice(WORDS)} {rng.choice(WORDS)}.",
        published=published,
        updated=published + timedelta(minutes=rng.randint(5, 300)),
        place=rng.choice(PLACES),
        paragraphs=paragraphs,
        tags=tags,
        sections=sections,
        slider=rng.choice((0, 0, 3, 5)),
    )


# --- markup -------------------------------------------------------------------------------


def _msk(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + MSK_LABEL


def _long_date(moment: datetime) -> str:
    return f"{moment:%B} {moment.day}, {moment.year}"


def _head(title: str, links: str = "", meta: str = "") -> str:
    return (
        '<!doctype html> <html lang="en" class="no-js" itemscope="itemscope" '
        'xmlns="http://www.w3.org/1999/xhtml"> <head> <meta charset="utf-8"/> '
        f'<title itemprop="name">{html.escape(title)} • President of Russia</title> {meta}'
        f'<link rel="home" href="{CANONICAL}/"/> {links}</head>'
    )


SITE_HEADER = (
    '<div class="header" role="banner"> <div class="topline topline__menu"> '
    f'<a href="{CANONICAL}/" class="topline__head" rel="home">President of Russia</a> '
    '<nav aria-label="Main menu"> <ul class="nav">'
    f'<li class="nav__item"><a href="{CANONICAL}/events/president/news" class="nav__link">'
    "<span>Events</span></a></li>"
    f'<li class="nav__item"><a href="{CANONICAL}/acts/news" class="nav__link">'
    "<span>Documents</span></a></li>"
    f'<li class="nav__item"><a href="{CANONICAL}/search" class="nav__link">Search</a></li>'
    "</ul> </nav> </div> </div>"
)
SITE_FOOTER = (
    '<div class="footer" id="footer"> <div class="footer__in"> <ul class="footer_list">'
    f'<li><a href="{CANONICAL}/events/president/news">Events</a></li>'
    f'<li><a href="{CANONICAL}/about">About website</a></li></ul> '
    '<div class="footer__license"><p>All content on this site is licensed under</p> '
    '<p><a href="http://creativecommons.org/licenses/by/4.0/deed.en" rel="license">'
    "Creative Commons Attribution 4.0 International</a></p></div> </div> </div>"
)


def _slider(page: FakePage) -> str:
    if not page.slider:
        return ""
    slides = "".join(
        f'<div class="slide" data-cycle-desc="Photo {n} of the event."> '
        f'<div class="slider__block" data-text="Photo {n} of the event."> '
        f'<img src="http://static.kremlin.ru/media/events/photos/big/p{page.event_id}x{n}.jpg" '
        f'alt="Photo {n} of the event." id="photo-{page.event_id}{n}"/> </div> </div>'
        for n in range(1, page.slider + 1)
    )
    return (
        f'<div class="slider masha-ignore" id="slider-{page.event_id}" role="listbox">'
        '<div class="slider__slides" data-cycle-caption-template="{{slideNum}} of {{slideCount}}">'
        f"{slides}"
        '<div class="slider__next" role="button"><i></i></div>'
        '<div class="slider__prev" role="button"><i></i></div> </div> '
        '<div class="slider__description"> <div class="slider_caption"></div> </div> </div>'
    )


def _keyword_id(tag: str) -> int:
    """A stable id per tag (Python's str hash differs between processes)."""
    return zlib.crc32(tag.encode()) % 100


def _tags(page: FakePage) -> str:
    cols = "".join(
        f'<div class="read__tagscol"> <h3>{name}</h3> <ul class="read__taglist">'
        + "".join(
            f'<li><a href="{CANONICAL}/catalog/keywords/{_keyword_id(v)}/events" rel="tag">'
            f"<i></i>{html.escape(v)}</a></li>"
            for v in values
        )
        + "</ul> </div>"
        for name, values in page.tags.items()
    )
    return f'<div class="read__tags masha-ignore">{cols}</div>' if cols else ""


def _status(page: FakePage) -> str:
    sections = ", ".join(
        f'<a href="{CANONICAL}{SECTION_PATHS[s]}">{s.capitalize()}</a>' for s in page.sections
    )
    return (
        '<div class="read__status masha-ignore"> <div class="width_limiter"> '
        f"<h3>Publication status</h3> <p>Published in sections: {sections}<br/> </p>"
        f'<p> Publication date: <time datetime="{page.published:%Y-%m-%d}">'
        f"{_long_date(page.published)}, {page.published:%H:%M}</time> </p>"
        f'<p class="print_link_wrap"> Direct link: <a class="print_link" '
        f'href="{CANONICAL}/d/{page.event_id}">en.kremlin.ru/d/{page.event_id}</a> </p> '
        f'<p> <a class="text_version_link" href="{CANONICAL}/events/president/news/copy/'
        f'{page.event_id}" rel="nofollow" target="_blank">Text version</a> </p> </div> </div>'
    )


def render_article(page: FakePage) -> str:
    place = f'<div class="read__place p-location"><i></i>{html.escape(page.place)}</div>'
    body = "".join(f"<p>{p}</p>" for p in page.paragraphs)
    return (
        '<article class="read__in hentry h-entry" itemscope="itemscope" '
        f'itemtype="http://schema.org/NewsArticle" id="event-{page.event_id}" role="document" '
        'aria-describedby="read-lead"> <div class="read__content"> <div class="read__top"> '
        f'<div class="width_limiter"> <a href="{CANONICAL}/events/president/news" '
        'class="read__categ" rel="category" data-info="Open">Events</a> '
        f'<h1 class="entry-title p-name" itemprop="name">{html.escape(page.title)}</h1> '
        '<div class="read__lead entry-summary p-summary" itemprop="description" '
        f'role="heading" id="read-lead"> <div><p>{html.escape(page.lead)}</p></div> </div> '
        f'<div class="read__meta"><time class="read__published" '
        f'datetime="{page.published:%Y-%m-%d}" itemprop="datePublished">'
        f"{_long_date(page.published)}</time> "
        f'<div class="read__time">{page.published:%H:%M}</div> '
        f"{place if page.place else ''} "
        '<meta itemprop="inLanguage" content="en"/> </div> </div> </div> '
        '<div class="entry-content e-content read__internal_content" itemprop="articleBody">'
        f"{_slider(page)} {body} "
        '<div class="read__bottommeta hidden-copy"> <div class="width_limiter">'
        f"{_tags(page)} {_status(page)} </div> </div> </div> </div> </article>"
    )


# --- site chrome (benchmarks) -------------------------------------------------------------
# What a real page carries around its article: stylesheets and scripts in <head>, the top
# line with the main menu and search, the side menu of every section, share buttons, the
# footer's link columns. Hand-written in the site's markup style; ``chrome=True`` wraps
# event pages in it so they weigh what real ones do (35-50 KB instead of about 7 KB).

_CHROME_SECTIONS = {
    "Events": (
        ("News", "/events/president/news"),
        ("Speeches and transcripts", "/events/president/transcripts"),
        ("Presidential trips", "/events/president/trips"),
        ("Letters and telegrams", "/events/president/letters"),
        ("Executive Office news", "/events/administration"),
        ("State Council", "/events/state-council"),
        ("Security Council", "/events/security-council"),
        ("Commissions and councils", "/events/councils"),
    ),
    "Structure": (
        ("President", "/structure/president"),
        ("Executive Office", "/structure/administration"),
        ("Security Council", "/structure/security-council"),
        ("State Council", "/structure/state-council"),
        ("Presidential Plenipotentiary Envoys", "/structure/plenipotentiary_envoys"),
        ("Presidential Councils and Commissions", "/structure/councils"),
    ),
    "Videos and photos": (
        ("Videos", "/multimedia/video"),
        ("Photos", "/multimedia/photo"),
        ("Video archive", "/multimedia/video/section/archive"),
        ("Photo galleries", "/multimedia/photo/section/galleries"),
    ),
    "Documents": (
        ("Executive orders", "/acts/bank/orders"),
        ("Laws", "/acts/bank/laws"),
        ("Instructions", "/acts/assignments/orders"),
        ("Constitution", "/acts/constitution"),
        ("State symbols", "/acts/symbols"),
        ("Documents news", "/acts/news"),
    ),
    "Contacts": (
        ("Send a letter", "/contacts/letters"),
        ("Public reception office", "/contacts/reception"),
        ("Accreditation", "/contacts/accreditation"),
        ("Subscribe", "/subscribe"),
        ("Press service", "/contacts/press"),
    ),
}
_CHROME_REGIONS = (
    "Central", "Northwestern", "Southern", "North Caucasian", "Volga", "Urals", "Siberian",
    "Far Eastern",
)  # fmt: skip
_CHROME_SHARE = ("Telegram", "VKontakte", "Odnoklassniki", "X", "E-mail")
_CHROME_SCRIPTS = ("jquery", "modernizr", "cycle2", "viewport", "masha", "reading", "share")


def _chrome_sprite() -> str:
    """An inline SVG sprite of the interface icons."""
    rng = random.Random(7)
    names = (
        "menu", "search", "close", "photo", "video", "audio", "print", "share", "link",
        "telegram", "vk", "ok", "x", "mail", "arrow-left", "arrow-right", "calendar", "place",
    )  # fmt: skip
    symbols = []
    for name in names:
        points = " ".join(f"{rng.randint(0, 24)}.{rng.randint(0, 9)}" for _ in range(48))
        symbols.append(
            f'<symbol id="icon-{name}" viewBox="0 0 24 24"><title>{name}</title>'
            f'<path d="M{points}z" fill="currentColor"/></symbol>'
        )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" style="display:none" aria-hidden="true">'
        + "".join(symbols)
        + "</svg>"
    )


def _chrome_latest() -> str:
    """The sidebar's "Latest news" list: fixed headlines, as a cached page shows them."""
    rng = random.Random(11)
    items = []
    for n in range(24):
        title = f"{rng.choice(KINDS)} President of {rng.choice(COUNTRIES)}: {_sentence(rng, 3, 7)}"
        items.append(
            f'<li class="sidebar__item sidebar__item_news"><a href="{CANONICAL}'
            f'/events/president/news/{59000 + 7 * n}" class="no-warning">'
            f'<time class="sidebar__time" datetime="2020-08-{27 - n // 3:02d}">'
            f"August {27 - n // 3}, {9 + n % 9}:{n % 6}0</time>"
            f"<span>{html.escape(title)}</span></a></li>"
        )
    return (
        '<div class="sidebar__block sidebar__block_news"> <h3 class="sidebar_title '
        'sidebar_title_caption">Latest news</h3> <ul class="sidebar__list">'
        + "".join(items)
        + "</ul> </div>"
    )


def _chrome_date_filter() -> str:
    """The advanced search's date range: day, month and year selects, twice."""
    months = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")  # fmt: skip
    selects = ""
    for edge in ("since", "till"):
        days = "".join(f'<option value="{d}">{d}</option>' for d in range(1, 32))
        names = "".join(f'<option value="{m}">{name}</option>' for m, name in enumerate(months, 1))
        years = "".join(f'<option value="{y}">{y}</option>' for y in range(2000, 2025))
        selects += (
            f'<fieldset class="search__dates search__dates_{edge}"> <legend>{edge.capitalize()}'
            f'</legend> <select name="{edge}_day" class="select">{days}</select> '
            f'<select name="{edge}_month" class="select">{names}</select> '
            f'<select name="{edge}_year" class="select">{years}</select> </fieldset>'
        )
    return f'<div class="search__advanced" hidden> {selects} </div>'


def _chrome_links(items: tuple[tuple[str, str], ...], item_class: str) -> str:
    return "".join(
        f'<li class="{item_class}"><a href="{CANONICAL}{path}" class="no-warning" '
        f'title="{html.escape(label)}">{html.escape(label)}</a></li>'
        for label, path in items
    )


def _chrome_head() -> str:
    styles = "".join(
        f'<link rel="stylesheet" href="/static/css/{name}.css?{zlib.crc32(name.encode()):08x}" '
        'media="all"/> '
        for name in ("main", "print", "reading", "slider", "search", "share")
    )
    icons = "".join(
        f'<link rel="apple-touch-icon" sizes="{n}x{n}" href="/static/img/icon-{n}.png"/> '
        for n in (57, 60, 72, 76, 114, 120, 144, 152, 180)
    )
    feeds = "".join(
        f'<link rel="alternate" type="application/atom+xml" title="{html.escape(label)}" '
        f'href="{CANONICAL}{path}/feed"/> '
        for label, path in _CHROME_SECTIONS["Events"]
    )
    setup = (
        "<script>window.siteConfig={lang:'en',root:'/',static:'/static/',"
        "reading:{tabs:['text','photo','video'],scrollOffset:64,keepHistory:true},"
        "search:{minLength:2,suggest:'/search/suggest',delay:300},"
        "share:{services:['" + "','".join(s.lower() for s in _CHROME_SHARE) + "']}};"
        "document.documentElement.className=document.documentElement.className"
        ".replace('no-js','js');</script> "
    )
    scripts = "".join(
        f'<script src="/static/js/{name}.js?{zlib.crc32(name.encode()):08x}" defer></script> '
        for name in _CHROME_SCRIPTS
    )
    viewport = '<meta name="viewport" content="width=device-width, initial-scale=1"/> '
    return viewport + styles + icons + feeds + setup + scripts


def _chrome_header() -> str:
    menu = "".join(
        f'<li class="nav__item"><a href="{CANONICAL}{items[0][1]}" class="nav__link">'
        f"<span>{html.escape(name)}</span></a></li>"
        for name, items in _CHROME_SECTIONS.items()
    )
    filters = "".join(
        f'<li class="search__filter__item"><a href="{CANONICAL}/search?section={n}" '
        f'class="no-warning">{html.escape(name)}</a></li>'
        for n, name in enumerate(_CHROME_SECTIONS)
    )
    return (
        f"{_chrome_sprite()} "
        '<div class="header" role="banner"> <div class="topline topline__menu"> '
        '<a href="#sidebar" class="topline__toggleaside" aria-controls="sidebar">'
        '<i></i><span class="hidden">Menu</span></a> <div class="topline__in"> '
        f'<a href="{CANONICAL}/" class="topline__head" rel="home"><i class="topline__logo">'
        "</i>President of Russia</a> "
        '<div class="topline__togglemore"><i class="topline__togglemore_button"></i></div> '
        '<div class="topline__more"> <nav aria-label="Main menu"> '
        f'<ul class="nav">{menu}<li class="nav__item last"><a href="{CANONICAL}/search" '
        'class="nav__link nav__link_search">Search</a></li></ul> </nav> '
        '<div class="search"> <ul class="search__filter">'
        '<li class="search__filter__item is-active"><a href="#" class="search_without_filter">'
        f"Everywhere</a></li>{filters}</ul> "
        '<div class="search__in"> <form class="form search__form simple_search form_special" '
        f'action="{CANONICAL}/search" method="get" role="search"> '
        '<label for="search-simple" class="hidden">Search the website</label> '
        '<input type="search" name="query" id="search-simple" class="search__field" '
        'placeholder="Search" autocomplete="off"/> '
        '<button type="submit" class="search__submit">Find</button> </form> </div> '
        f"{_chrome_date_filter()} </div> "
        "</div> </div> </div> </div>"
    )


def _chrome_sidebar() -> str:
    blocks = "".join(
        f'<div class="sidebar__block"> <h3 class="sidebar_title sidebar_title_caption">'
        f'{html.escape(name)}</h3> <ul class="sidebar__list">'
        f"{_chrome_links(items, 'sidebar__item')}</ul> </div>"
        for name, items in _CHROME_SECTIONS.items()
    )
    regions = "".join(
        f'<li class="sidebar__item"><a href="{CANONICAL}/regions/{n}" class="no-warning">'
        f"{name} Federal District</a></li>"
        for n, name in enumerate(_CHROME_REGIONS, start=1)
    )
    return (
        '<div class="sidebar" id="sidebar" role="navigation" aria-label="Site sections"> '
        '<div class="sidebar__in"> <h2 class="sidebar_title">Sections</h2> '
        f'{_chrome_latest()} {blocks} <div class="sidebar__block"> <h3 class="sidebar_title '
        f'sidebar_title_caption">Regions</h3> <ul class="sidebar__list">{regions}</ul> </div> '
        f'<a href="{CANONICAL}/supplement" class="sidebar__special">Special projects</a> '
        f'<a href="{CANONICAL}/about/accessibility" class="sidebar__special">'
        "Version for the visually impaired</a> </div> </div>"
    )


def _chrome_share(url: str) -> str:
    sites = "".join(
        f'<li><a class="share_to_site no-warning" href="{CANONICAL}/share?to='
        f'{name.lower()}&amp;url={html.escape(url)}" rel="nofollow" target="_blank" '
        f'title="Share on {name}"><i class="share_icon share_icon_{name.lower()}"></i>'
        f"<span>{name}</span></a></li>"
        for name in _CHROME_SHARE
    )
    return (
        '<div class="share_where"> <label class="share_where_small">Share</label> '
        f'<ul class="share_sites">{sites}</ul> <div class="small_tooltip"> '
        '<span class="small_tooltip_text">Link copied to clipboard</span></div> </div>'
    )


def _chrome_footer() -> str:
    columns = "".join(
        f'<div class="footer__col"> <h2 class="footer_title">{html.escape(name)}</h2> '
        f'<ul class="footer_list">{_chrome_links(items, "footer_list_item")}</ul> </div>'
        for name, items in _CHROME_SECTIONS.items()
    )
    return (
        '<div class="footer" id="footer" role="contentinfo"> <div class="footer__in"> '
        f"{columns} "
        '<ul class="footer_list nav_mob">'
        f'<li class="footer_list_item"><a href="{CANONICAL}/about">About website</a></li>'
        f'<li class="footer_list_item"><a href="{CANONICAL}/about/mobile">Mobile version</a>'
        f'</li><li class="footer_list_item"><a href="{CANONICAL}/about/feeds">Feeds</a></li>'
        "</ul> "
        '<p class="message_info">Using this website means you agree to its terms of use and '
        "to the storage of cookies that make it work.</p> "
        '<div class="footer__license"><p>All content on this site is licensed under</p> '
        '<p><a href="http://creativecommons.org/licenses/by/4.0/deed.en" rel="license">'
        "Creative Commons Attribution 4.0 International</a></p></div> </div> </div>"
    )


CHROME_HEAD = _chrome_head()
CHROME_HEADER = _chrome_header()
CHROME_SIDEBAR = _chrome_sidebar()
CHROME_FOOTER = _chrome_footer()


def render_event_page(page: FakePage, chrome: bool = False) -> str:
    """The whole page; ``chrome`` wraps the article in the site's full chrome (menus,
    sidebar, share buttons, footer, scripts) so the page weighs what a real one does."""
    meta = (
        f'<meta name="description" content="{html.escape(page.lead)}"/> '
        f'<meta property="og:url" content="{page.url}"/> '
        f'<meta property="og:title" content="{html.escape(page.title)}"/> '
    )
    links = f'<link rel="canonical" href="{page.url}"/> '
    if chrome:
        meta += CHROME_HEAD
    header, footer = (CHROME_HEADER, CHROME_FOOTER) if chrome else (SITE_HEADER, SITE_FOOTER)
    aside = f"{CHROME_SIDEBAR} {_chrome_share(page.url)}" if chrome else ""
    return (
        f'{_head(page.title, links, meta)} <body class=" is-reading"> {header} '
        '<div class="read" role="complementary" aria-label="Material for reading" '
        f'data-href="{page.url}"> <div class="read__scroll" role="tabpanel"> '
        f"{render_article(page)} {_updated_line(page)} </div> "
        f'<div class="read__tabs" role="tablist"> <a href="{page.url}" '
        'class="tabs_article is-active" title="Text" role="tab"><i></i></a> '
        + (
            f'<a href="{page.url}/photos" class="tabs_photo" title="Photo" role="tab">'
            f'<i><sup class="tabs__count">{page.slider}</sup></i></a>'
            if page.slider
            else ""
        )
        + f" </div> </div> {aside}{' ' if aside else ''}{footer} </body> </html>"
    )


def _updated_line(page: FakePage) -> str:
    """The "Last updated at" line the site prints after the article (Moscow wall clock)."""
    printed = f"{page.updated:%B} {page.updated.day}, {page.updated:%Y, %H:%M}"
    return (
        f'<div class="read__updated">Last updated at <time datetime="{page.updated:%Y-%m-%d}">'
        f"{printed}</time> </div>"
    )


def _feed_entry(page: FakePage) -> str:
    summary = html.escape(f'<div class="c-summary"><p>{html.escape(page.lead)}</p></div>')
    content = html.escape("".join(f"<p>{p}</p>" for p in page.paragraphs[:2]))
    return (
        f"<entry><title>{html.escape(page.title)}</title><id>{page.url}</id>"
        f"<updated>{_msk(page.updated)}</updated><published>{_msk(page.published)}</published>"
        f'<link href="{page.url}" hreflang="en" rel="alternate" type="text/html" />'
        f'<summary type="html">{summary}</summary><content type="html">{content}</content>'
        "</entry>"
    )


def render_feed(pages: list[FakePage], feed_path: str, number: int, title: str) -> str:
    """One page of an Atom feed (``pages`` newest first, all of them)."""
    last = max(1, -(-len(pages) // PAGE_SIZE))
    chunk = pages[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    base = CANONICAL + feed_path
    self_url = base if number == 1 else f"{base}/page/{number}"
    links = [f'<link href="{self_url}" rel="self" />', f'<link href="{base}" rel="first" />']
    if number < last:
        links.append(f'<link href="{base}/page/{number + 1}" rel="next" />')
    links.append(f'<link href="{base}/page/{last}" rel="last" />')
    updated = max((p.updated for p in pages), default=datetime(2020, 1, 1))
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>'
        '<?xml-stylesheet type="text/xsl" href="/static/xsl/feed.xsl?571da04668" ?>'
        '<feed xml:lang="en" xmlns="http://www.w3.org/2005/Atom">'
        f'<title type="text">Website of the President of Russia: {title}</title>'
        "<author><name>Presidential Press and Information Office</name></author>"
        f"<updated>{_msk(updated)}</updated><id>{base}</id>"
        + "".join(links)
        + f'<link href="{CANONICAL}/events/president/news" hreflang="en" rel="alternate" '
        'type="text/html" />' + "".join(_feed_entry(p) for p in chunk) + "</feed>"
    )


def _listing_item(page: FakePage) -> str:
    photos = (
        f'<a href="{page.url}/photos" class="tabs_photo item" title="Related photos" '
        f'rel="bookmark" hidden> <i><span class="tabs__count">{page.slider}</span></i> </a>'
        if page.slider
        else ""
    )
    return (
        f'<div class="hentry h-entry hentry_event" data-id="{page.event_id}" '
        'itemscope="itemscope" itemtype="http://schema.org/NewsArticle" role="listitem"> '
        f'<h3 class="hentry__title hentry__title_special"> <a href="{page.url}" '
        f'rel="bookmark" itemprop="url"><span class="entry-title p-name" itemprop="name">'
        f'{html.escape(page.title)}</span> <span class="hentry__meta"> '
        f'<time class="published dt-published" datetime="{page.published:%Y-%m-%d}" '
        f'itemprop="datePublished">{_long_date(page.published)}, {page.published:%H:%M}'
        "</time> </span> </a> </h3> "
        f'<div class="hentry__assets"> <a href="{page.url}" rel="bookmark" '
        f'aria-hidden="true" class="tabs_article item small" title="Text of the article">'
        f"<i></i> </a> {photos} </div> </div>"
    )


def render_listing(pages: list[FakePage], number: int, promoted: FakePage | None) -> str:
    """Listing page ``number`` of /events/president/news (``pages`` newest first)."""
    base = CANONICAL + "/events/president/news"
    last = max(1, -(-len(pages) // PAGE_SIZE))
    chunk = pages[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    newer = None if number == 1 else (base if number == 2 else f"{base}/page/{number - 1}")
    older = f"{base}/page/{number + 1}" if number < last else None
    links = f'<link rel="first" href="{base}"/> <link rel="last" href="{base}/page/{last}"/> '
    links += f'<link rel="prev" href="{newer}"/> ' if newer else ""
    links += f'<link rel="next" href="{older}"/> ' if older else ""
    items, day = [], None
    for page in chunk:
        if page.published.date() != day:
            day = page.published.date()
            items.append(
                f'<h2 class="events__title"> <span><time datetime="{day:%Y-%m-%d}">'
                f"{day:%B} {day.day}, {day:%A}</time></span> </h2>"
            )
        items.append(_listing_item(page))
    prev_button = (
        f'<a href="{newer}" class="button button_white more more-prev" rel="prev">Next</a>'
        if newer
        else ""
    )
    next_button = (
        f'<a href="{older}" class="button button_green more more-next" rel="next">Previous</a>'
        if older
        else ""
    )
    promo = (
        f'<div class="promoted" role="region"> <div class="promoted__in"> <a href="{promoted.url}"'
        f' class="promoted__entry"> <h3 class="promoted__title">{html.escape(promoted.title)}'
        "</h3> </a> </div> </div>"
        if promoted
        else ""
    )
    return (
        f"{_head('News ∙ President ∙ Events', links)} <body> {SITE_HEADER} "
        '<div class="wrapsite"> <div class="content-view" role="main"> '
        '<div class="content content_main" data-section="News" '
        'data-section-href="/events/president/news"> <div class="content__in"> '
        '<div class="events hslice" id="events"> '
        f'{prev_button}<div class="entry-content lister-page" role="list" '
        'data-url-template="/events/president/news/page/PAGE" '
        f'data-base-url="/events/president/news" data-page="{number}" data-pages="{last}">'
        + " ".join(items)
        + f"</div>{next_button} </div> </div> </div> </div> </div> {promo} "
        f"{SITE_FOOTER} </body> </html>"
    )


# --- HTTP machinery -----------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it."""

    time: float  # site.clock() on arrival (time.monotonic unless a test swapped it)
    method: str
    path: str
    headers: dict[str, str]
    fault: str | None = None


@dataclass
class Fault:
    """A planned misbehaviour. ``remaining`` None means every matching request.

    kinds: ``status`` (answer ``status``, with ``retry_after`` when given), ``reset``
    (close the connection without an answer), ``truncate`` (Content-Length larger than the
    body sent), ``slow`` (wait ``delay`` seconds, then answer normally), ``challenge`` (a
    200 captcha page), ``redirect`` (``status`` 302 to ``location``; ``{path}`` in it is
    replaced by the request path).
    """

    kind: str
    path: str = "*"
    remaining: int | None = None
    status: int = 503
    retry_after: str | None = None
    delay: float = 1.0
    location: str = "http://evil.example{path}"

    def matches(self, path: str) -> bool:
        if path == "/robots.txt" and self.path != "/robots.txt":
            return False
        return fnmatch.fnmatchcase(path, self.path)


FAULT_KINDS = ("status", "reset", "truncate", "slow", "challenge", "redirect")
RANDOM_FAULTS = (
    Fault("status", status=503, retry_after="1"),
    Fault("status", status=500),
    Fault("reset"),
    Fault("truncate"),
)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "nginx"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.site._handle(self)

    def do_HEAD(self) -> None:  # noqa: N802
        self.server.site._handle(self, head=True)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()


class BaseSite:
    """An HTTP server in a thread with a request log and a fault plan."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.RLock()
        self._requests: list[RequestRecord] = []
        self._faults: list[Fault] = []
        self._random: tuple[float, random.Random, tuple[Fault, ...], str] | None = None
        self._streaks: dict[str, int] = {}
        self._max_streak = 2
        self.raw: dict[str, Reply] = {}
        self.clock = time.monotonic  # stamps the request log; tests may swap in a fake clock
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.site = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # lifecycle

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def start(self) -> BaseSite:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits forever for a loop never started
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> BaseSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # the request log

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, pattern: str) -> list[RequestRecord]:
        return [r for r in self.requests if fnmatch.fnmatchcase(r.path, pattern)]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # faults

    def set_fault(self, kind: str, path: str = "*", times: int | None = None, **params) -> Fault:
        """Misbehave on requests whose path matches ``path`` (fnmatch; robots.txt only when
        named), for the next ``times`` of them or for good. Later faults go first."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        fault = Fault(kind, path=path, remaining=times, **params)
        with self._lock:
            self._faults.insert(0, fault)
        return fault

    def set_fault_rate(
        self,
        rate: float,
        *,
        seed: int = 0,
        faults: tuple[Fault, ...] = RANDOM_FAULTS,
        path: str = "/events/president/news/[0-9]*",
        max_streak: int = 2,
    ) -> None:
        """Misbehave at random on ``rate`` of the requests matching ``path`` (event pages by
        default), picking one of ``faults``; reproducible through ``seed``. One path fails
        at most ``max_streak`` times in a row (transient faults: a client retrying that
        often always gets the page)."""
        with self._lock:
            self._random = (rate, random.Random(seed), faults, path) if rate > 0 else None
            self._max_streak = max_streak
            self._streaks.clear()

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._random = None

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
            if self._random and fnmatch.fnmatchcase(path, self._random[3]):
                return self._random_fault(path)
        return None

    def _random_fault(self, path: str) -> Fault | None:
        rate, rng, faults, _ = self._random
        fault = rng.choice(faults) if rng.random() < rate else None
        if fault is None or self._streaks.get(path, 0) >= self._max_streak:
            self._streaks[path] = 0
            return None
        self._streaks[path] = self._streaks.get(path, 0) + 1
        return fault

    # serving

    def route(self, path: str, headers: dict[str, str]) -> Reply:
        raise NotImplementedError

    def _handle(self, handler: _Handler, head: bool = False) -> None:
        path = urlsplit(handler.path).path
        headers = {k: v for k, v in handler.headers.items()}
        fault = self._take_fault(path)
        record = RequestRecord(self.clock(), handler.command, handler.path, headers, None)
        with self._lock:
            self._requests.append(replace(record, fault=fault.kind if fault else None))
        try:
            self._answer(handler, path, headers, fault, head)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    def _answer(self, handler, path, headers, fault: Fault | None, head: bool) -> None:
        if fault and fault.kind == "reset":
            _reset(handler)
            return
        if fault and fault.kind == "slow":
            time.sleep(fault.delay)
        reply = self._reply_for(path, headers, fault)
        _send(handler, reply, head, truncate=bool(fault and fault.kind == "truncate"))

    def _reply_for(self, path: str, headers: dict[str, str], fault: Fault | None) -> Reply:
        if fault and fault.kind == "status":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return Reply(fault.status, _error_page(fault.status), headers=extra)
        if fault and fault.kind == "challenge":
            return Reply(200, CHALLENGE_HTML.encode())
        if fault and fault.kind == "redirect":
            location = fault.location.replace("{path}", path)
            status = fault.status if 300 <= fault.status < 400 else 302
            return Reply(status, b"", headers={"Location": location})
        if path in self.raw:
            return self.raw[path]
        return self.route(path, headers)

    def add_raw(
        self,
        path: str,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Serve ``body`` as is at ``path`` (overrides the generated routes)."""
        self.raw[path] = Reply(status, body, content_type, dict(headers or {}))


def _error_page(status: int) -> bytes:
    return f"<html><body><h1>{status}</h1></body></html>".encode()


def _send(handler: _Handler, reply: Reply, head: bool, truncate: bool = False) -> None:
    handler.send_response(reply.status)
    handler.send_header("Content-Type", reply.content_type)
    handler.send_header("Content-Length", str(len(reply.body)))
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    if truncate:
        handler.send_header("Connection", "close")
    handler.end_headers()
    if head:
        return
    if truncate:
        handler.wfile.write(reply.body[: len(reply.body) // 2])
        handler.close_connection = True
        return
    handler.wfile.write(reply.body)


def _reset(handler: _Handler) -> None:
    """Close the connection with a TCP RST and no answer."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True
    handler.connection.close()


def _http_date(moment_utc: datetime) -> str:
    return format_datetime(moment_utc.replace(tzinfo=UTC), usegmt=True)


def _not_modified(headers: dict[str, str], etag: str, last_modified: str) -> bool:
    lowered = {k.lower(): v for k, v in headers.items()}
    if "if-none-match" in lowered:
        return etag in [t.strip() for t in lowered["if-none-match"].split(",")]
    since = lowered.get("if-modified-since")
    if since:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _conditional(headers: dict[str, str], reply: Reply, modified_utc: datetime) -> Reply:
    """ETag and Last-Modified on ``reply``; 304 when the client has this version."""
    etag = '"' + hashlib.sha256(reply.body).hexdigest()[:20] + '"'
    last_modified = _http_date(modified_utc)
    reply.headers.update({"ETag": etag, "Last-Modified": last_modified})
    if _not_modified(headers, etag, last_modified):
        return Reply(304, b"", reply.content_type, reply.headers)
    return reply


# --- the fake site ------------------------------------------------------------------------

_EVENT_PATH = re.compile(r"^/events/president/(news|transcripts)/(\d+)(/print)?/?$")
_OTHER_PATH = re.compile(r"^/(acts/news|misc)/(\d+)/?$")
_FEEDS = {
    "/events/president/news/feed": ("news", "President: News"),
    "/events/all/feed": ("all", "All Publications"),
}


class FakeSite(BaseSite):
    """A generated en.kremlin.ru: ``n_pages`` news pages (ids descending from newest),
    plus a few acts and misc items that only ``/events/all/feed`` lists."""

    def __init__(
        self,
        n_pages: int = 30,
        seed: int = 0,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        first_id: int = 60000,
        extras: int = 4,
        start: datetime = datetime(2020, 8, 27, 18, 0),
        chrome: bool = False,
    ) -> None:
        super().__init__(host, port)
        self.chrome = chrome  # event pages in the full site chrome (real-sized, ~43 KB)
        self.rng = random.Random(seed)
        self.pages: dict[int, FakePage] = {}
        self.gone: dict[int, int] = {}  # event id -> 404 or 410
        self.robots_txt = ROBOTS_TXT
        self._clock = start
        self._next_id = first_id
        self._render_cache: dict[tuple[int, int], bytes] = {}
        kinds = ["event"] * n_pages + ["act", "misc"] * (extras // 2) + ["act"] * (extras % 2)
        self.rng.shuffle(kinds)
        steps = [self._step() for _ in kinds]
        when = start - sum(steps, timedelta())
        for kind, step in zip(kinds, steps, strict=True):  # oldest first: ids grow with time
            when += step
            self._new_page(when, kind)

    def _step(self) -> timedelta:
        return timedelta(minutes=self.rng.randint(20, 600))

    # state the tests control

    def _new_page(self, published: datetime, kind: str = "event", **fields) -> FakePage:
        self._next_id += self.rng.randint(1, 3)
        page = generate_page(self.rng, self._next_id, published)
        page = replace(page, kind=kind, **fields)
        if kind != "event":
            page.sections = ()
        self.pages[page.event_id] = page
        return page

    def add_page(self, **fields) -> FakePage:
        """A new newest page (id above all others); ``fields`` override FakePage fields."""
        with self._lock:
            self._clock += timedelta(hours=1)
            newest = max((p.published for p in self.pages.values()), default=self._clock)
            published = fields.pop("published", max(newest, self._clock))
            return self._new_page(published, **fields)

    def edit_page(self, event_id: int, **fields) -> FakePage:
        """Change a page: ``fields`` replace FakePage fields; with none, a paragraph is
        added. The version and ``updated`` move on, so the ETag changes."""
        with self._lock:
            page = self.pages[event_id]
            if not fields:
                fields = {"paragraphs": [*page.paragraphs, f"Correction {page.version + 1}."]}
            self._clock += timedelta(minutes=10)
            updated = max(self._clock, page.updated + timedelta(minutes=1))
            new = replace(page, **fields, version=page.version + 1, updated=updated)
            self.pages[event_id] = new
            return new

    def remove_page(self, event_id: int, status: int = 410) -> None:
        """The page answers ``status`` (404 or 410) from now on and leaves feeds and lists."""
        with self._lock:
            self.pages.pop(event_id, None)
            self.gone[event_id] = status

    def news(self) -> list[FakePage]:
        """News pages, newest first (what the news feed and listing show)."""
        with self._lock:
            pages = [p for p in self.pages.values() if p.kind == "event"]
        return sorted(pages, key=lambda p: (p.published, p.event_id), reverse=True)

    def everything(self) -> list[FakePage]:
        with self._lock:
            pages = list(self.pages.values())
        return sorted(pages, key=lambda p: (p.published, p.event_id), reverse=True)

    @property
    def ids(self) -> list[int]:
        return [p.event_id for p in self.news()]

    # routes

    def route(self, path: str, headers: dict[str, str]) -> Reply:
        path = path.rstrip("/") or "/"
        if path == "/robots.txt":
            return Reply(200, self.robots_txt.encode(), "text/plain; charset=utf-8")
        feed = self._feed_route(path)
        if feed is not None:
            return feed
        listing = self._listing_route(path) or self._by_date_route(path)
        if listing is not None:
            return listing
        return self._event_route(path, headers)

    def _feed_route(self, path: str) -> Reply | None:
        match = re.fullmatch(
            r"(/events/president/news/feed|/events/all/feed)(?:/page/(\d+))?", path
        )
        if not match:
            return None
        which, title = _FEEDS[match[1]]
        pages = self.news() if which == "news" else self.everything()
        number = int(match[2] or 1)
        if number < 1 or (number - 1) * PAGE_SIZE >= max(len(pages), 1):
            return Reply(404, _error_page(404))
        body = render_feed(pages, match[1], number, title).encode()
        return Reply(200, body, "application/atom+xml; charset=utf-8")

    def _listing_route(self, path: str) -> Reply | None:
        match = re.fullmatch(r"/events/president/news(?:/page/(\d+))?", path)
        if not match:
            return None
        pages = self.news()
        number = int(match[1] or 1)
        if number < 1 or (number - 1) * PAGE_SIZE >= max(len(pages), 1):
            return Reply(404, _error_page(404))
        promoted = pages[min(len(pages) - 1, PAGE_SIZE + 3)] if pages else None
        return Reply(200, render_listing(pages, number, promoted).encode())

    def _by_date_route(self, path: str) -> Reply | None:
        """``/events/president/news/by-date/DD.MM.YYYY``: the listing page holding the
        newest event of that day (or, on a day without events, the next older one)."""
        match = re.fullmatch(r"/events/president/news/by-date/(\d\d)\.(\d\d)\.(\d{4})", path)
        if not match:
            return None
        day = datetime(int(match[3]), int(match[2]), int(match[1])).date()
        pages = self.news()
        index = next((i for i, p in enumerate(pages) if p.published.date() <= day), None)
        if index is None:
            return Reply(404, _error_page(404))
        promoted = pages[min(len(pages) - 1, PAGE_SIZE + 3)]
        return Reply(200, render_listing(pages, index // PAGE_SIZE + 1, promoted).encode())

    def _event_route(self, path: str, headers: dict[str, str]) -> Reply:
        match = _EVENT_PATH.fullmatch(path) or _OTHER_PATH.fullmatch(path)
        if not match:
            return Reply(404, _error_page(404))
        event_id = int(match[2])
        with self._lock:
            page = self.pages.get(event_id)
            gone = self.gone.get(event_id, 404)
        if page is None or not _served_at(page, match[1]):
            return Reply(gone, _error_page(gone))
        return _conditional(headers, Reply(200, self.render(page)), page.updated - MSK_TO_UTC)

    def render(self, page: FakePage) -> bytes:
        key = (page.event_id, page.version)
        body = self._render_cache.get(key)
        if body is None:
            body = render_event_page(page, self.chrome).encode()
            self._render_cache[key] = body
        return body


def _served_at(page: FakePage, section: str) -> bool:
    if page.kind == "event":
        return section in page.sections
    return KIND_PATHS[page.kind] == f"/{section}"


# --- the replica of the saved real pages --------------------------------------------------


class ReplicaSite(BaseSite):
    """The real saved pages of ``root`` (../shared/kremlin-html) under their real paths;
    404 for everything else."""

    def __init__(self, root: Path = SHARED_HTML, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.root = root
        self.files = dict(_replica_files(root))

    def route(self, path: str, headers: dict[str, str]) -> Reply:
        file = self.files.get(path.rstrip("/") or "/")
        if file is None:
            return Reply(404, _error_page(404))
        content_type = {
            ".xml": "application/atom+xml; charset=utf-8",
            ".txt": "text/plain; charset=utf-8",
        }.get(file.suffix, "text/html; charset=utf-8")
        return Reply(200, file.read_bytes(), content_type)


def _replica_files(root: Path) -> Iterator[tuple[str, Path]]:
    news = "/events/president/news"
    for file in sorted(root.glob("*")):
        name = file.name
        if name.startswith("en-robots-"):
            yield "/robots.txt", file
        elif name.startswith("en-events-president-news-feed-"):
            yield f"{news}/feed", file
        elif name.startswith("en-events-all-feed-"):
            yield "/events/all/feed", file
        elif match := re.fullmatch(r"en-news-list-page-(\d+)-.*\.html", name):
            yield f"{news}/page/{match[1]}", file
        elif match := re.fullmatch(r"en-news-by-date-([\d.]+)\.html", name):
            yield f"{news}/by-date/{match[1]}", file
        elif match := re.fullmatch(r"en-news-(\d+)-(print|photos)\.html", name):
            yield f"{news}/{match[1]}/{match[2]}", file
        elif match := re.fullmatch(r"en-news-(\d+)-.*\.html", name):
            yield f"{news}/{match[1]}", file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--replica", action="store_true", help="serve ../shared/kremlin-html")
    parser.add_argument("--chrome", action="store_true", help="real-sized pages: full chrome")
    args = parser.parse_args()
    if args.replica:
        site: BaseSite = ReplicaSite(host=args.host, port=args.port)
    else:
        site = FakeSite(args.pages, args.seed, host=args.host, port=args.port, chrome=args.chrome)
    site.set_fault_rate(args.fault_rate, seed=args.seed)
    print(f"serving {site.url} (Ctrl-C stops)", flush=True)
    try:
        site._server.serve_forever()
    except KeyboardInterrupt:
        site._server.server_close()


if __name__ == "__main__":
    main()
