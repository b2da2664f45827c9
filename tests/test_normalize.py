"""The normalizer: real pages against hand-checked goldens, the reference example, refusals."""

from __future__ import annotations

import json
import random
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser, LexborNode

from kremlin_archive.errors import KremlinArchiveError, NotAnEventPage
from kremlin_archive.normalize import (
    Attachment,
    Transcript,
    Turn,
    clean_text,
    find_speaker,
    parse_event_page,
)
from pages import FIXTURES, body_lines, event_page, fixture_page
from runcli import kremlin

TESTS = Path(__file__).parent
GOLDEN = TESTS / "golden"
SHARED = Path(__file__).parents[2] / "shared"
SHARED_HTML = SHARED / "kremlin-html"
EXAMPLE = SHARED / "reference" / "transcript-example.txt"

SHARED_EVENT_PAGES = sorted(
    path.stem for path in GOLDEN.glob("en-news-*.txt") if not path.stem.startswith("en-transc")
)
FIXTURE_PAGES = sorted(path.stem for path in FIXTURES.glob("*.html"))
NOT_EVENT_PAGES = {
    "en-news-53016-photos.html": "photos",
    "en-news-list-page-2-2020-08.html": "no <article>",
    "en-news-by-date-04.10.2016.html": "no <article>",
    "en-events-president-news-feed-2020-08-27.atom.xml": "feed",
    "en-events-all-feed-2018-01-07.atom.xml": "feed",
    "en-robots-2020-08.txt": "no <article>",
}

needs_shared = pytest.mark.skipif(
    not SHARED_HTML.is_dir(), reason=f"real pages not found at {SHARED_HTML}"
)


def shared_page(name: str) -> bytes:
    return (SHARED_HTML / name).read_bytes()


def golden(stem: str) -> str:
    return (GOLDEN / f"{stem}.txt").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- goldens


@pytest.mark.shared
@needs_shared
@pytest.mark.parametrize("stem", SHARED_EVENT_PAGES)
def test_real_page_renders_its_golden_transcript(stem: str) -> None:
    transcript = parse_event_page(shared_page(f"{stem}.html"))
    assert transcript.text == golden(stem)


@pytest.mark.parametrize("stem", FIXTURE_PAGES)
def test_fixture_page_renders_its_golden_transcript(stem: str) -> None:
    assert parse_event_page(fixture_page(stem)).text == golden(stem)


@pytest.mark.parametrize("stem", SHARED_EVENT_PAGES + FIXTURE_PAGES)
def test_golden_transcripts_follow_the_file_rules(stem: str) -> None:
    text = golden(stem)
    assert not text.endswith("\n")
    assert "\n\n" not in text
    assert "\u00a0" not in text and "\u00ad" not in text and "\u200b" not in text
    assert text == unicodedata.normalize("NFC", text)
    assert all(line == line.strip() and "  " not in line for line in text.split("\n"))


@pytest.mark.shared
@needs_shared
def test_every_saved_page_is_either_golden_or_refused() -> None:
    names = {p.name for p in SHARED_HTML.iterdir() if p.suffix in {".html", ".xml", ".txt"}}
    covered = {f"{stem}.html" for stem in SHARED_EVENT_PAGES} | set(NOT_EVENT_PAGES)
    assert names <= covered, f"pages without golden or refusal test: {names - covered}"


# --------------------------------------------------------------------------- the example

EXAMPLE_LEAD = (
    "<div><p>Vladimir Putin met with President of\u00a0Kazakhstan Nursultan Nazarbayev, "
    "who had arrived in\u00a0Moscow on\u00a0the\u00a0President of\u00a0Russia\u2019s "
    "invitation.</p></div>"
)
NAZARBAYEV = (
    '<a href="http://en.kremlin.ru/catalog/persons/43/events" class="person_tag read__tag">'
    "<b>Nursultan Nazarbayev</b>"
    '<span class="read__tooltip tooltip_person hidden masha-ignore"> '
    '<span class="tooltip__text"> <span class="tooltip_title tooltip_link" '
    'data-href="/catalog/persons/43/events">Nazarbayev Nursultan</span></span> </span></a>'
)
EXAMPLE_BODY = f"""<p>The meeting was timed to coincide with the\u00a020th anniversary
of\u00a0the\u00a0signing of the Agreement on Friendship, Cooperation and Mutual Assistance
and the 20th anniversary since the establishment of diplomatic ties between the Russian
Federation and the Republic of Kazakhstan. Following the meeting, the two presidents issued
a joint statement.</p><p>Later, Vladimir Putin and Nursultan Nazarbayev<br/>
attended a gala concert at the Bolshoi Theatre.</p>
<p><b>* * *</b></p><p><i>Beginning of meeting with President of Kazakhstan Nursultan Nazarbayev</i>
</p><p><b>President of Russia Vladimir Putin:</b> Mr President, we saw each other just recently at
the <a href="http://en.kremlin.ru/events/president/news/16486">Russia-Kazakhstan Interregional
Cooperation Forum</a></p><p>I am very pleased that you have accepted our invitation and come to
Moscow to continue our discussions on developing our bilateral political, trade and economic
ties, to address issues pertaining to further integration \u2013 deepening integration \u2013 not
just between our countries but throughout the entire post-Soviet space overall. We will have an
excellent opportunity today to mark the anniversaries of major events, and this evening, we will
discuss all these issues in more detail in an informal setting.</p><p>Welcome.</p>
<div class="read__cut masha-ignore" role="complementary" aria-labelledby="1-cut"> <div class="cut">
<h3 class="cut__title" id="1-cut">See also</h3> <div class="cut__description"> <a
href="http://en.kremlin.ru/events/president/news/16486" class="cut__item" target="_blank">
Russia-Kazakhstan Interregional Cooperation Forum</a> <div class="cut__date">September 19, 2012
</div> </div> </div> </div><p><b>President of Kazakhstan </b>{NAZARBAYEV}: Thank you, Mr President,
for your invitation.</p><p>I want to once again wish you a happy birthday. I wish you good health
and hope you will be successful in carrying out all your plans for Russia.</p><p>We are marking
the 20th anniversaries of our diplomatic ties and our framework agreement on friendship,
cooperation and mutual assistance. At our discussion we came to realise that our relations serve
as a model within the CIS. Questions of energy, space exploration, and our bilateral relations, as
well as the Common Economic Space \u2013 this is just a short, brief list of our joint work and
issues we are addressing.</p><p>The fact that 3,000 businesses are operating in Russia with
participation by Kazakhstani capital, as well as 1,700 enterprises in Kazakhstan with Russian
capital, speaks for itself. So we want to renew this major conversation on all the issues we just
discussed, adapting to current needs and moving forward toward creating the Common Economic Space
between Russia, Kazakhstan and Belarus.</p><p>This is our noble goal; we must resolve this matter
properly, without rushing, in order to foster a true, integrated association, the best in the
post-Soviet space.</p><p>Thank you for your attentive attitude toward all the matters that come up
between our countries. We discussed this in Pavlodar, and talked it over today. I think that our
cooperation and alliance will continue developing in a positive direction.</p><p><b>Vladimir
Putin:</b> You know, what makes me particularly happy is that both Kazakhstan and Russia are oil
and gas producers, but the structure of our trade does not have very many mutual purchases and
sales of these products traditionally key to our economies; and still, our trade is growing,
having hit a record last year. Twenty plus billion dollars \u2013 ultimately, that is a very good
indicator. It speaks to the fact that everything pertaining to integration is working very
efficiently.</p><p><b>Nursultan Nazarbayev:</b> Twenty-five billion dollars in turnover, and we
have already reached half that in the first six months of this year. After the creation of the
Customs Union trade has been growing by 30 percent per year. This is excellent and hadn\u2019t
happened before.</p><p>New companies are emerging and cooperation is increasing, including in the
military and technical sector. So we are very grateful. In Pavlodar, we discussed the issue of
innovative, scientific and technical collaboration. This is very major, modern cooperation.</p>
<p> &lt;\u2026&gt;</p> """


def _replace_once(pattern: str, replacement: str, text: str) -> str:
    """Replace one match of ``pattern``; fail loudly if the template changed."""
    result, count = re.subn(pattern, lambda _: replacement, text, count=1, flags=re.S)
    assert count == 1, f"template of 53016 has no match for {pattern!r}"
    return result


def build_example_page(template: str) -> str:
    """Page 53016's own markup carrying the event of the example (October 9, 2012)."""
    page = _replace_once(
        r'(?<=id="read-lead">).*?(?=</div> <div class="read__meta">)', "", template
    )
    page = page.replace('id="read-lead">', f'id="read-lead">  {EXAMPLE_LEAD}  ', 1)
    page = _replace_once(
        r'datetime="2016-10-04" itemprop="datePublished">October 4, 2016',
        'datetime="2012-10-09" itemprop="datePublished">October 9, 2012',
        page,
    )
    page = _replace_once(r'"read__time">10:30<', '"read__time">18:40<', page)
    page = _replace_once(r"<i></i>Astana</div>", "<i></i>The Kremlin, Moscow</div>", page)
    page = _replace_once(
        r'(?<=<div class="slider_overlay"></div> </div> </div>).*?(?=<div class="read__bottommeta)',
        EXAMPLE_BODY,
        page,
    )
    page = _replace_once(r'<li class="p-category"> <a href="[^"]*86/events".*?</li>', "", page)
    return _replace_once(
        r'<time datetime="2016-10-04">October 4, 2016, 10:30</time>',
        '<time datetime="2012-10-09">October 9, 2012, 18:40</time>',
        page,
    )


@pytest.mark.shared
@needs_shared
@pytest.mark.skipif(not EXAMPLE.is_file(), reason=f"reference example not found at {EXAMPLE}")
def test_example_event_in_the_53016_template_renders_the_reference_byte_for_byte() -> None:
    template = shared_page("en-news-53016-meeting-nazarbayev-2016-10-04.html").decode("utf-8")
    transcript = parse_event_page(build_example_page(template).encode("utf-8"))
    assert transcript.text.encode("utf-8") == EXAMPLE.read_bytes()
    assert transcript.date == "2012-10-09"
    assert [t.speaker for t in transcript.turns] == [
        "President of Russia Vladimir Putin",
        "President of Kazakhstan Nursultan Nazarbayev",
        "Vladimir Putin",
        "Nursultan Nazarbayev",
    ]


# --------------------------------------------------------------------------- fields


@pytest.mark.shared
@needs_shared
def test_fields_of_a_transcript_page() -> None:
    page = parse_event_page(shared_page("en-news-53016-meeting-nazarbayev-2016-10-04.html"))
    assert (page.event_id, page.url, page.language) == (
        53016,
        "http://en.kremlin.ru/events/president/news/53016",
        "en",
    )
    assert page.title == "Meeting with President of Kazakhstan Nursultan Nazarbayev"
    assert page.lead == "Vladimir Putin met with President of Kazakhstan Nursultan Nazarbayev."
    assert (page.date, page.time, page.place) == ("2016-10-04", "10:30", "Astana")
    assert page.announcement is None and page.kind == "event"
    assert page.tags == {
        "Geography": ["Kazakhstan"],
        "Topics": ["Foreign policy", "Regions"],
        "Persons": ["Nazarbayev Nursultan"],
    }
    assert page.sections == ["News", "Transcripts"]
    assert page.published == "October 4, 2016, 10:30"
    assert page.photo_count == 5
    assert len(page.turns) == 9
    first = page.turns[0]
    assert first.speaker == "President of Kazakhstan Nursultan Nazarbayev"
    lines = first.text.split("\n")
    assert len(lines) == 6  # the labelled paragraph and the five after it
    assert lines[0] == "Mr Putin, I am very happy to see you here. Thank you for your visit."
    assert lines[-1].endswith("I think it is already time for everyone to get to work. Why delay?")
    assert page.turns[1].text.startswith("Mr Nazarbayev, thank you very much for the invitation.\n")
    assert page.turns[-1].speaker == "Nursultan Nazarbayev"
    assert page.attachments == []


# What is in the body but in no turn: boxes, photos, videos and the meta block go from the
# page before it is rendered; section breaks, omission lines and sub-headings from its text.
NOT_SPEECH_ELEMENTS = (
    "div.read__cut, div.read__bottommeta, div.slider, figure, .media__container, .hidden"
)
SECTION_BREAK_OR_OMISSION = re.compile(r"\*(?: ?\*){2,}|<…>")
LEADING_BOLD = re.compile(r"\s*(?:<(b|strong)>(?:(?!</?\1>).)*</\1>\s*)+(:?)", re.S)


def _body_of(raw: bytes) -> LexborNode:
    body = LexborHTMLParser(raw.decode("utf-8")).css_first("div.read__internal_content")
    assert body is not None
    for node in body.css(NOT_SPEECH_ELEMENTS):
        node.decompose()
    return body


def _sub_headings(body: LexborNode) -> set[str]:
    """Paragraphs that are one bold element (no colon), and headings."""
    found = set()
    for node in body.css("p, h2, h3, h4, h5, h6"):
        inner = (node.html or "").split(">", 1)[1].rsplit("<", 1)[0].strip()
        whole = re.fullmatch(r"<(b|strong)>(?:(?!</?\1>).)*</\1>", inner, re.S)
        text = clean_text(node.text())
        if (node.tag != "p" or whole) and not text.endswith(":") and not text.startswith("("):
            found.add(text)
    return found


def _first_label_line(body: LexborNode) -> str | None:
    """The text of the first paragraph whose leading bold elements (inside links or not)
    end with a colon or are followed by one."""
    for node in body.css("p"):
        inner = re.sub(r"</?a\b[^>]*>", "", (node.html or "").split(">", 1)[1])  # links
        match = LEADING_BOLD.match(inner)
        if match and (
            match.group(2) or clean_text(re.sub("<[^>]+>", "", match.group(0)))[-1:] == ":"
        ):
            return clean_text(node.text())
    return None


def _turn_lines(turns: list[Turn]) -> list[str]:
    """The turns as the lines of the text: each first line with its label again."""
    lines = []
    for turn in turns:
        first, *rest = turn.text.split("\n")
        lines += [f"{turn.speaker}: {first}".rstrip(" "), *rest]
    return lines


@pytest.mark.shared
@needs_shared
@pytest.mark.parametrize("stem", SHARED_EVENT_PAGES)
def test_joined_turns_cover_the_body_from_the_first_label_to_its_end(stem: str) -> None:
    raw = shared_page(f"{stem}.html")
    turns = parse_event_page(raw).turns
    body = _body_of(raw)
    first = _first_label_line(body)
    if first is None:
        assert turns == []
        return
    skipped = _sub_headings(body)
    lines = body_lines(parse_event_page(event_page(body.html or "")))
    spoken = lines[lines.index(first) :]
    spoken = [
        ln for ln in spoken if not SECTION_BREAK_OR_OMISSION.fullmatch(ln) and ln not in skipped
    ]
    assert _turn_lines(turns) == spoken
    assert len(spoken) > 1


@pytest.mark.shared
@needs_shared
def test_announcement_has_its_line_and_no_date_fields() -> None:
    page = parse_event_page(shared_page("en-news-17109-announcement-2012-12-10.html"))
    assert page.kind == "announcement"
    assert page.announcement == "Announcement, December 14, 2012"
    assert (page.date, page.time, page.place) == (None, None, None)
    assert page.sections == ["News", "Announcements"]


@pytest.mark.shared
@needs_shared
def test_tags_folded_behind_more_are_listed_and_the_control_is_not() -> None:
    page = parse_event_page(shared_page("en-news-17164-csto-summit-2012-12-19.html"))
    assert page.tags["Persons"][-1] == "Sargsyan Serzh"
    assert "1 more" not in page.text
    assert "\nSargsyan Serzh\nPublication status" in page.text


@pytest.mark.shared
@needs_shared
@pytest.mark.parametrize(
    "stem",
    [
        "en-news-17593-meeting-hollande-2013-02-28",
        "en-news-17145-congratulations-nazarbayev-2012-12-16",
    ],
)
def test_hidden_text_does_not_leak(stem: str) -> None:
    text = parse_event_page(shared_page(f"{stem}.html")).text
    for leak in (
        "Background information",
        "Direct link",
        "en.kremlin.ru/d/",
        "Hollande Francois\n1",
    ):
        assert leak not in text


def test_russian_page_takes_every_label_from_the_page() -> None:
    page = parse_event_page(fixture_page("ru-news-90001-meeting"))
    assert page.language == "ru"
    assert page.url == "http://kremlin.ru/events/president/news/90001"
    assert page.text.startswith("События\n")
    assert "\n1 из 3\nС Президентом Казахстана Нурсултаном Назарбаевым.\n" in page.text
    assert page.tags == {
        "География": ["Казахстан"],
        "Темы": ["Внешняя политика"],
        "Персоны": ["Назарбаев Нурсултан"],
    }
    assert page.sections == ["Новости", "Стенограммы"]
    assert page.published == "9 октября 2012 года, 18:40"
    assert page.turns[1] == Turn(
        "Президент Казахстана Н.Назарбаев",
        "Спасибо за приглашение, Владимир Владимирович.\nТоварооборот вырос на 30 процентов.",
    )
    assert not re.search(r"\b(of|Events|Publication|See also)\b", page.text)


def test_russian_page_in_windows_1251_renders_the_same() -> None:
    utf8 = fixture_page("ru-news-90001-meeting")
    cp1251 = utf8.decode("utf-8").replace('charset="utf-8"', 'charset="windows-1251"')
    assert parse_event_page(cp1251.encode("cp1251")) == parse_event_page(utf8)


def test_str_and_bom_prefixed_bytes_render_the_same() -> None:
    raw = fixture_page("en-transcripts-90002-edge-cases")
    expected = parse_event_page(raw)
    assert parse_event_page(raw.decode("utf-8")) == expected
    assert parse_event_page(b"\xef\xbb\xbf" + raw) == expected


def test_edge_case_fields_and_turns() -> None:
    page = parse_event_page(fixture_page("en-transcripts-90002-edge-cases"))
    assert page.title == "Meeting on edge cases & otherthings"
    assert (page.lead, page.place, page.date) == ("", None, "2014-01-20")
    assert page.tags == {"Persons": ["Alpha Anna", "Beta Boris", "Gamma Gleb", "Delta Dina"]}
    assert page.sections == ["Transcripts"]
    assert page.turns == [
        Turn("Vladimir Putin", "Good afternoon, BRICS colleagues.\nLet us begin."),
        Turn("Question", "What about the roads?"),
    ]


def test_whole_turns_run_until_someone_else_speaks() -> None:
    page = parse_event_page(fixture_page("en-transcripts-90003-whole-turns"))
    assert page.turns == [
        Turn(
            "President of Russia Vladimir Putin",  # two bold runs with white space between
            "Good afternoon, colleagues,\n"
            "Today we will discuss the preparations for the autumn session.\n"
            "First, the federal budget.\n"  # after a See also box, before an omission line
            "Second, the regions.\n"
            "Third, the elections.\n"  # a photo after it
            "A quoted sentence inside the speech.\n"
            "(Applause.)\n"
            "Mr Patrushev, please.",
        ),
        Turn(
            "Security Council Secretary NIKOLAI PATRUSHEV",
            "Mr President, colleagues,\nThe situation is stable.\nThat concludes my report.",
        ),
        Turn("Question", "What about the roads?"),  # ended by a bold sub-heading
        Turn("Vladimir Putin", "Thank you.\nWe will meet again next week."),  # ended by * * *
    ]


def test_attachments_render_as_two_lines_and_are_stored_with_their_link() -> None:
    page = parse_event_page(fixture_page("en-transcripts-90003-whole-turns"))
    assert "\nAdditional\nList of accredited foreign journalists\ndoc, 218.6 kB\n" in page.text
    assert page.attachments == [
        Attachment(
            "List of accredited foreign journalists",
            "doc",
            "218.6 kB",
            "http://en.kremlin.ru/media/events/files/en/list.doc",
        ),
        Attachment(
            "Agenda of the meeting",
            "pdf",
            "1.2 MB",
            "http://static.kremlin.ru/media/events/files/en/agenda.pdf",
        ),
    ]
    assert json.loads(json.dumps(page.fields()))["attachments"][0] == {
        "title": "List of accredited foreign journalists",
        "format": "doc",
        "size": "218.6 kB",
        "url": "http://en.kremlin.ru/media/events/files/en/list.doc",
    }


def test_a_linked_item_is_no_attachment() -> None:
    page = parse_event_page(fixture_page("en-transcripts-90002-edge-cases"))
    assert "See also" in page.text and page.attachments == []


def test_canonical_url_comes_from_the_page_not_the_replica_address() -> None:
    raw = fixture_page("ru-news-90001-meeting").decode("utf-8")
    page = parse_event_page(raw, "http://127.0.0.1:8000/events/president/news/90001")
    assert page.url == "http://kremlin.ru/events/president/news/90001"
    bare = re.sub(r'<meta property="og:url"[^>]*>|<link rel="canonical"[^>]*>', "", raw)
    replica = parse_event_page(bare, "http://127.0.0.1:8000/events/president/news/90001/print")
    assert replica.url == "http://kremlin.ru/events/president/news/90001"
    assert parse_event_page(bare).url == "http://kremlin.ru/events/president/news/90001"


def test_fields_are_json_ready_and_keep_turns_as_pairs() -> None:
    page = parse_event_page(fixture_page("ru-news-90001-meeting"))
    data = json.loads(json.dumps(page.to_dict(), ensure_ascii=False))
    assert data["text"] == page.text
    assert data["turns"][0] == ["В.Путин", page.turns[0].text]
    assert "text" not in page.fields()
    assert isinstance(page, Transcript)


@pytest.mark.shared
@needs_shared
@pytest.mark.parametrize("event", ["53016", "17758"])
def test_print_variant_gives_the_same_transcript(event: str) -> None:
    (page_path,) = (p for p in SHARED_HTML.glob(f"en-news-{event}-*.html") if "-20" in p.name)
    page = parse_event_page(page_path.read_bytes())
    printed = parse_event_page(shared_page(f"en-news-{event}-print.html"))
    assert printed == page


def test_text_cleaning_folds_space_and_drops_invisible_characters() -> None:
    assert clean_text(" a\u00a0\tb\n c\u00ad\u200bd\u2060e\ufeff ") == "a b cde"
    assert clean_text("Cafe\u0301") == "Caf\u00e9"


CLEANED = [
    pytest.param(" a\u00a0\tb\n c ", "a b c", id="ascii-and-no-break-spaces-fold"),
    pytest.param("a\r\n\f\vb", "a b", id="cr-ff-vt-fold"),
    pytest.param("\u2007a\u202f\u00a0b\u2007", "a b", id="figure-and-narrow-no-break-fold"),
    pytest.param("a\u2009b\u2002c\u3000d", "a\u2009b\u2002c\u3000d", id="other-spaces-stay"),
    pytest.param("a\u2028b\u2029c\u0085d", "a\u2028b\u2029c\u0085d", id="separators-stay"),
    pytest.param("\u2009a \u2009 b\u3000", "\u2009a \u2009 b\u3000", id="other-spaces-not-trimmed"),
    pytest.param("a\u00ad\u200bb\u2060c\ufeff", "abc", id="invisible-characters-go"),
    pytest.param("a\x01b\x1cc\x1fd\x7fe\x9ff", "abcdef", id="control-characters-go"),
]


@pytest.mark.parametrize(("raw", "cleaned"), CLEANED)
def test_only_ascii_white_space_and_no_break_spaces_fold(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


def test_other_unicode_spaces_stay_in_the_transcript() -> None:
    body = "<p>Thin\u2009space, en\u2002space,\tnarrow\u202fno-break, ideographic\u3000space.</p>"
    assert body_lines(parse_event_page(event_page(body))) == [
        "Thin\u2009space, en\u2002space, narrow no-break, ideographic\u3000space."
    ]


def slider(*captions: str, template: str | None = "{{slideNum}} of {{slideCount}}") -> str:
    """A photo slider as the site writes it, one slide per caption (already escaped)."""
    attribute = "" if template is None else f' data-cycle-caption-template="{template}"'
    slides = "".join(f'<div class="slide" data-cycle-desc="{c}"></div>' for c in captions)
    return f'<div class="slider"><div class="slider__slides"{attribute}>{slides}</div></div>'


CAPTIONS = [
    pytest.param("Tom and Jerry.", "Tom and Jerry.", id="plain"),
    pytest.param("Tom &amp; Jerry.", "Tom & Jerry.", id="entity-in-the-page"),
    pytest.param("Tom &amp;amp; Jerry.", "Tom & Jerry.", id="entity-in-the-attribute"),
    pytest.param("Tom &amp;amp; &lt;i&gt;Jerry&lt;/i&gt;.", "Tom & Jerry.", id="entity-and-tag"),
    pytest.param("Kazakhstan\\&#39;s President.", "Kazakhstan\\'s President.", id="old-backslash"),
]


@pytest.mark.parametrize(("caption", "shown"), CAPTIONS)
def test_slider_caption_is_shown_as_the_script_inserts_it_as_html(caption: str, shown: str) -> None:
    page = parse_event_page(event_page(slider(caption, "Second.") + "<p>Text.</p>"))
    assert body_lines(page) == ["1 of 2", shown, "Text."]


def test_slider_without_a_caption_template_uses_the_scripts_default() -> None:
    page = parse_event_page(event_page(slider("First.", "Second.", template=None)))
    assert body_lines(page) == ["1 / 2", "First."]
    assert page.photo_count == 2


# --------------------------------------------------------------------------- small pages


TITLES = [
    pytest.param(
        '<h1 class="entry-title p-name">The title</h1>', "", "The title", id="entry-title"
    ),
    pytest.param(
        '<h1>Heading first</h1><h1 class="entry-title">The title</h1>',
        "",
        "The title",
        id="entry-title-after-another-h1",
    ),
    pytest.param("<h1>The <i>title</i></h1><h1>Another</h1>", "", "The title", id="first-h1"),
    pytest.param("", "<h1>Outside the pane</h1>", "Outside the pane", id="h1-outside-the-pane"),
]


@pytest.mark.parametrize(("pane", "outside", "title"), TITLES)
def test_title_is_the_entry_title_else_the_first_h1_of_the_article(
    pane: str, outside: str, title: str
) -> None:
    page = (
        '<html lang="en"><head></head><body><article id="event-1">'
        f'{outside}<div class="read__content">{pane}<p>Text.</p></div></article></body></html>'
    )
    assert parse_event_page(page).title == title


# --------------------------------------------------------------------------- turns

TURNS = [
    pytest.param(
        "<p><b>Vladimir Putin:</b> <b>Colleagues</b>, good afternoon.</p>",
        [Turn("Vladimir Putin", "Colleagues, good afternoon.")],
        id="speech-starting-in-bold",
    ),
    pytest.param(
        "<p><b>Vladimir </b><b>Putin:</b> Good afternoon.</p>",
        [Turn("Vladimir Putin", "Good afternoon.")],
        id="adjacent-bold-elements-are-one-run",
    ),
    pytest.param(
        "<p><b>Vladimir Putin</b>: Good afternoon.</p>",
        [Turn("Vladimir Putin", "Good afternoon.")],
        id="colon-just-after-the-bold",
    ),
    pytest.param(
        "<p>\n <b>Question:</b> Why?</p>",
        [Turn("Question", "Why?")],
        id="white-space-before-the-label",
    ),
    pytest.param(
        "<p>\ufeff<b>Vladimir Putin:</b> Good afternoon.</p>"
        "<p>\u200b <b>Question:</b> Why?</p><p>\u00ad\u2060<b>Answer:</b> Because.</p>",
        [
            Turn("Vladimir Putin", "Good afternoon."),
            Turn("Question", "Why?"),
            Turn("Answer", "Because."),
        ],
        id="invisible-characters-before-the-label",
    ),
    pytest.param(
        "<p><b>Vladimir</b>\u200b<b> Putin:</b> Good afternoon.</p>",
        [Turn("Vladimir Putin", "Good afternoon.")],
        id="invisible-character-between-bold-elements",
    ),
    pytest.param(
        "<p><b>Vladimir</b> <b>Putin:</b> Good afternoon.</p>",
        [Turn("Vladimir Putin", "Good afternoon.")],
        id="white-space-between-bold-elements-is-one-run",
    ),
    pytest.param(
        "<p><b>Headline</b> and <b>more:</b> text</p>",
        [],
        id="label-not-leading",
    ),
    pytest.param(
        "<p><b>Vladimir Putin:</b> <b>Colleagues</b>,<br/>good afternoon.</p><p>Next.</p>",
        [Turn("Vladimir Putin", "Colleagues,\ngood afternoon.\nNext.")],
        id="speech-in-bold-across-lines",
    ),
]


SEE_ALSO = (
    '<div class="read__cut read__cut_full_size masha-ignore"><div class="cut">'
    '<h3 class="cut__title">See also</h3><div class="cut__description">'
    '<a href="http://en.kremlin.ru/events/president/news/1" class="cut__item">Linked</a>'
    '<div class="cut__date">May 1, 2020</div></div></div></div>'
)
WHOLE_TURNS = [
    pytest.param(
        "<p>Lead-in.</p><p><b>Vladimir Putin:</b> One.</p><p>Two.</p><p>Three.</p>",
        [Turn("Vladimir Putin", "One.\nTwo.\nThree.")],
        id="multi-paragraph-turn-without-the-lead-in",
    ),
    pytest.param(
        f"<p><b>Vladimir Putin:</b> One.</p>{SEE_ALSO}<p>Two.</p>",
        [Turn("Vladimir Putin", "One.\nTwo.")],
        id="see-also-box-inside-a-speech",
    ),
    pytest.param(
        "<p><b>Vladimir Putin:</b> One.</p><p> &lt;…&gt;</p><p>Two.</p>",
        [Turn("Vladimir Putin", "One.\nTwo.")],
        id="omission-inside-a-speech",
    ),
    pytest.param(
        "<p><b>A:</b> One.</p><p><b>* * *</b></p><p>Narrative.</p><p><b>B:</b> Two.</p>",
        [Turn("A", "One."), Turn("B", "Two.")],
        id="bold-section-break-ends-a-turn",
    ),
    pytest.param(
        "<p><b>A:</b> One.</p><p>* * *</p><p>Narrative.</p>",
        [Turn("A", "One.")],
        id="plain-section-break-ends-a-turn",
    ),
    pytest.param(
        "<p><b>A:</b> One.</p><p><b>Part two</b></p><p>Narrative.</p>",
        [Turn("A", "One.")],
        id="bold-sub-heading-ends-a-turn",
    ),
    pytest.param(
        "<p><b>A:</b> One.</p><p><i>A quotation in italics.</i></p><p>Two.</p>",
        [Turn("A", "One.\nA quotation in italics.\nTwo.")],
        id="italic-paragraph-stays-in-the-turn",
    ),
    pytest.param(
        "<p><b>A:</b> One.</p><h3>Part two</h3><p>X.</p>",
        [Turn("A", "One.")],
        id="heading-ends-a-turn",
    ),
    pytest.param(
        "<p><b>A:</b> One.</p><p><i>(Laughter.)</i></p><p>Two.</p>",
        [Turn("A", "One.\n(Laughter.)\nTwo.")],
        id="stage-direction-in-brackets-stays-in-the-turn",
    ),
    pytest.param(
        "<p><b>A:</b> One.</p><p><b>Important</b>, he said.</p>",
        [Turn("A", "One.\nImportant, he said.")],
        id="bold-word-opening-a-paragraph-of-the-speech",
    ),
    pytest.param(
        "<p><b>President of Russia</b> <b>Vladimir Putin</b>: Good afternoon.</p>",
        [Turn("President of Russia Vladimir Putin", "Good afternoon.")],
        id="split-bold-label-colon-outside",
    ),
    pytest.param(
        "<p><b>Security Council Secretary</b>\n<b>NIKOLAI PATRUSHEV:</b> Mr President.</p>",
        [Turn("Security Council Secretary NIKOLAI PATRUSHEV", "Mr President.")],
        id="split-bold-label-colon-inside",
    ),
    pytest.param(
        "<p><strong>President of Russia Vladimir Putin</strong>: Colleagues.</p>",
        [Turn("President of Russia Vladimir Putin", "Colleagues.")],
        id="colon-outside-the-strong",
    ),
    pytest.param(
        "<p><b>Vladimir Putin:</b></p><p>The speech in the next paragraph.</p>",
        [Turn("Vladimir Putin", "The speech in the next paragraph.")],
        id="label-alone-in-its-paragraph",
    ),
    pytest.param(
        "<div><b>Vladimir Putin:</b> In a div.</div><ul><li>A point.</li></ul>",
        [Turn("Vladimir Putin", "In a div.\nA point.")],
        id="label-in-a-div-and-a-list-in-the-speech",
    ),
    pytest.param(
        "<p><b>A:</b> One.<br/><b>B:</b> not a new paragraph.</p>",
        [Turn("A", "One."), Turn("B", "not a new paragraph.")],
        id="label-after-a-line-break-opens-a-turn",
    ),
]


@pytest.mark.parametrize(("body", "turns"), WHOLE_TURNS)
def test_a_turn_is_everything_one_speaker_says_until_someone_else_speaks(
    body: str, turns: list[Turn]
) -> None:
    assert parse_event_page(event_page(body)).turns == turns


@pytest.mark.parametrize(("body", "turns"), TURNS)
def test_speaker_turns_start_with_a_leading_bold_run_ending_in_a_colon(
    body: str, turns: list[Turn]
) -> None:
    assert parse_event_page(event_page(body)).turns == turns


SPEAKER_ALPHABET = list("Ab: \u00a0\n\u200b\u2009e\u0301")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(alphabet=st.sampled_from(SPEAKER_ALPHABET), max_size=8), st.booleans()),
        max_size=6,
    )
)
def test_speech_taken_from_the_cleaned_line_is_the_rest_cleaned_alone(
    runs: list[tuple[str, bool]],
) -> None:
    pieces, bold = [text for text, _ in runs], [flag for _, flag in runs]
    line = clean_text("".join(pieces))
    assert find_speaker(pieces, bold, line) == _speaker_cleaning_apart(pieces, bold)


def _speaker_cleaning_apart(pieces: list[str], bold: list[bool]) -> tuple[str, str] | None:
    """The rule of find_speaker, with the label and the rest each cleaned on its own."""
    index, count = 0, len(pieces)
    while index < count and not bold[index] and not clean_text(pieces[index]):
        index += 1
    start = end = index
    while index < count:  # bold pieces and the blank ones between them
        if bold[index]:
            end = index + 1
            if clean_text(pieces[index]).endswith(":"):
                break
        elif clean_text(pieces[index]):
            break
        index += 1
    if end == start:
        return None
    label, rest = clean_text("".join(pieces[start:end])), clean_text("".join(pieces[end:]))
    if label.endswith(":"):
        label = label[:-1].rstrip(" ")
    elif rest.startswith(":"):
        rest = rest[1:].lstrip(" ")
    else:
        return None
    return (label, rest) if label else None


# --------------------------------------------------------------------------- hiding

HIDING_STYLES = [
    pytest.param("display:none", id="display-none"),
    pytest.param("DISPLAY: NONE", id="upper-case"),
    pytest.param("display:\tnone", id="tab"),
    pytest.param("display:\nnone", id="newline"),
    pytest.param("color: red ;  display : none ; ", id="among-others"),
    pytest.param("display:none !important", id="important"),
    pytest.param("display: block !important; display: none !important", id="later-important"),
    pytest.param("display:block; display:none", id="later-wins"),
    pytest.param("display:none !important; display:block", id="earlier-important"),
    pytest.param("display:/* gone */none", id="comment"),
    pytest.param("visibility:hidden", id="visibility-hidden"),
    pytest.param("Visibility: Collapse", id="visibility-collapse"),
]
SHOWING_STYLES = [
    pytest.param("x-display:none", id="other-property"),
    pytest.param("display:none-ish", id="other-value"),
    pytest.param("display:block !important; display:none", id="earlier-important-wins"),
    pytest.param("display:none; display:block", id="later-shows"),
    pytest.param("visibility:visible", id="visibility-visible"),
    pytest.param("content:'display:none'", id="inside-a-value"),
]


@pytest.mark.parametrize("style", HIDING_STYLES)
def test_inline_style_that_hides_leaves_the_element_out(style: str) -> None:
    body = f'<p>Shown.</p><p style="{style}">Hidden.</p><p>A<span style="{style}">X</span>B</p>'
    assert body_lines(parse_event_page(event_page(body))) == ["Shown.", "AB"]


@pytest.mark.parametrize("style", SHOWING_STYLES)
def test_inline_style_that_does_not_hide_keeps_the_element(style: str) -> None:
    body = f'<p>Shown.</p><p style="{style}">Also shown.</p>'
    assert body_lines(parse_event_page(event_page(body))) == ["Shown.", "Also shown."]


# --------------------------------------------------------------------------- refusals


@pytest.mark.shared
@needs_shared
@pytest.mark.parametrize("name", sorted(NOT_EVENT_PAGES))
def test_pages_that_are_not_event_pages_are_refused_with_the_reason(name: str) -> None:
    with pytest.raises(NotAnEventPage, match=re.escape(NOT_EVENT_PAGES[name])):
        parse_event_page(shared_page(name))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"  \n\t ", "empty body"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (
            b"<html><head><title>Just a moment...</title></head><body>captcha</body></html>",
            "challenge",
        ),
        (b"<html><body><h1>404 Not Found</h1></body></html>", "no <article>"),
        (b'<html><body><article id="event-1"><p>x</p></article></body></html>', "read__content"),
        (b'<article><div class="read__content"><p>no title</p></div></article>', "title"),
        (
            b'<article id="event-1"><h1>Title outside</h1><div class="read__content">'
            b"<p> </p><script>x</script></div></article>",
            "renders no text",
        ),
    ],
)
def test_bodies_that_are_not_event_pages_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(NotAnEventPage, match=re.escape(reason)) as caught:
        parse_event_page(body, "http://en.kremlin.ru/events/president/news/1")
    assert caught.value.url == "http://en.kremlin.ru/events/president/news/1"


# --------------------------------------------------------------------------- robustness

BASE = fixture_page("en-transcripts-90002-edge-cases").decode("utf-8")


def _mutate(seed: int, kind: str) -> str | bytes:
    rng = random.Random(seed)
    if kind == "truncate":
        return BASE[: rng.randrange(len(BASE))]
    if kind == "shuffle":
        chunks = BASE.split("<")
        rng.shuffle(chunks)
        return "<".join(chunks)
    if kind == "nest":
        depth = rng.choice([10, 1000, 20000])
        tag = rng.choice(["div", "b", "p", "li", "span"])
        return BASE.replace("<p>", f"<{tag}>" * depth + "<p>", 1)
    if kind == "huge":
        return BASE.replace("<p>", "<p>" + "word &amp; <i>x</i> " * rng.randrange(1, 50000), 1)
    if kind == "encoding":
        return BASE.encode(rng.choice(["utf-16", "latin-1", "cp1251", "utf-32"]), errors="replace")
    raw = bytearray(BASE.encode("utf-8"))
    for _ in range(rng.randrange(1, 50)):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw)


def _parses_or_refuses(body: str | bytes) -> None:
    try:
        transcript = parse_event_page(body)
    except KremlinArchiveError:
        return
    assert isinstance(transcript.text, str) and transcript.text
    assert "\n\n" not in transcript.text


@settings(max_examples=60, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    kind=st.sampled_from(["truncate", "shuffle", "nest", "huge", "encoding", "bytes"]),
)
def test_mutated_pages_parse_or_raise_the_projects_error(seed: int, kind: str) -> None:
    _parses_or_refuses(_mutate(seed, kind))


@settings(max_examples=40, deadline=2000)
@given(body=st.one_of(st.binary(max_size=2000), st.text(max_size=2000)))
def test_arbitrary_bodies_parse_or_raise_the_projects_error(body: str | bytes) -> None:
    _parses_or_refuses(body)


@settings(max_examples=40, deadline=2000)
@given(
    inner=st.text(alphabet=st.sampled_from(list("<>/=\"' abpdivlsn&;#\u00a0\u00ad")), max_size=400)
)
def test_arbitrary_markup_inside_a_real_article_parses(inner: str) -> None:
    body = BASE.replace("<p>&lt;", inner + "<p>&lt;", 1)
    _parses_or_refuses(body)


# --------------------------------------------------------------------------- CLI


def test_cli_prints_the_transcript_of_a_file() -> None:
    result = kremlin("normalize", FIXTURES / "ru-news-90001-meeting.html")
    assert result.returncode == 0, result.stderr
    assert result.stdout == golden("ru-news-90001-meeting") + "\n"


def test_cli_prints_fields_and_text_as_json() -> None:
    result = kremlin("normalize", "--json", FIXTURES / "ru-news-90001-meeting.html")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["text"] == golden("ru-news-90001-meeting")
    assert data["event_id"] == 90001 and data["language"] == "ru"


def test_cli_reads_standard_input() -> None:
    raw = fixture_page("en-transcripts-90002-edge-cases").decode("utf-8")
    result = kremlin("normalize", "-", input=raw)
    assert result.returncode == 0, result.stderr
    assert result.stdout == golden("en-transcripts-90002-edge-cases") + "\n"


def test_cli_refuses_a_cut_page_with_the_reason(tmp_path: Path) -> None:
    raw = fixture_page("ru-news-90001-meeting")
    cut = tmp_path / "cut.html"
    cut.write_bytes(raw[: raw.index(b"</article>")])
    result = kremlin("normalize", cut)
    assert result.returncode == 1
    assert "cut off before </article>" in result.stderr
    assert result.stdout == ""


# --- the site's own "Last updated at" stamp (outside the article) -------------------------


@needs_shared
@pytest.mark.parametrize(
    ("name", "stamp"),
    [
        ("en-news-53016-meeting-nazarbayev-2016-10-04.html", "2016-10-06T13:49:00Z"),
        ("en-news-28186-talks-nazarbayev-2003-02-18.html", "2015-03-20T14:59:00Z"),
    ],
)
def test_the_last_updated_stamp_of_a_real_page_is_kept_in_utc(name, stamp):
    transcript = parse_event_page(shared_page(name))
    assert transcript.site_updated_at == stamp  # printed in Moscow time, UTC+3 since 2014
    assert "site_updated_at" not in transcript.fields()  # a fact of the capture, no field


def test_the_last_updated_stamp_follows_moscow_time_of_its_day():
    page = (
        '<article class="read__in" id="event-1"><div class="read__content">'
        '<h1 class="entry-title">T</h1><div class="read__internal_content"><p>Text.</p>'
        "</div></div></article>"
        '<div class="read__updated">Последнее обновление <time datetime="2012-06-01">'
        "1 июня 2012 года, 09:05</time></div>"
    )
    assert parse_event_page(page).site_updated_at == "2012-06-01T05:05:00Z"  # UTC+4 in 2012
    assert parse_event_page(page.replace("read__updated", "x")).site_updated_at is None
