"""Pure: page HTML -> Transcript (fields + text in the format of FORMAT.md). No I/O.

The transcript is what a reader sees in ``article div.read__content`` (innerText): block
elements and ``<br>`` end a line, inline elements continue it, white space folds to one
space, hidden elements (class ``hidden``, the slider controls, the direct-link line) are
skipped, and the photo slider becomes the two lines the site's script writes. Every label
comes from the page, so English and Russian pages render alike.

A body that is not one whole event page raises :class:`NotAnEventPage` with the reason;
there is never a partial transcript.
"""

from __future__ import annotations

import codecs
import functools
import logging
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ._article_scan import SNIFF_BYTES, article_document
from .config import SITE_URLS_BY_LANGUAGE
from .decoding import decode_html
from .errors import NotAnEventPage
from .timeutil import format_utc

logger = logging.getLogger(__name__)

#: Changes whenever the output for some page changes.
NORMALIZER_VERSION = 3

# fmt: off
BLOCK_TAGS = frozenset((
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
    "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1",
    "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "listing",
    "main", "menu", "nav", "ol", "p", "plaintext", "pre", "section", "summary", "table",
    "tbody", "tfoot", "thead", "tr", "ul", "xmp",
))
# fmt: on
CELL_TAGS = frozenset(("td", "th"))
BOLD_TAGS = frozenset(("b", "strong"))
# fmt: off
SKIPPED_TAGS = frozenset((
    "area", "audio", "button", "canvas", "datalist", "embed", "head", "iframe", "img", "input",
    "link", "map", "meta", "noscript", "object", "option", "picture", "script", "select",
    "source", "style", "svg", "template", "textarea", "title", "track", "video",
))
# fmt: on
HIDDEN_CLASSES = frozenset(
    ("hidden", "print_link_wrap", "slider__next", "slider__prev", "slider__description")
)
NOT_RENDERED_CLASSES = frozenset(("read__tagsmore",))

# Soft hyphen, zero-width space, bidi marks, word joiner and invisible operators, BOM,
# and C0/C1 control characters that are not white space.
_INVISIBLE_CHARS = (
    "\u00ad\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\ufeff"
    "\x00-\x08\x0e-\x1f\x7f\x80-\x84\x86-\x9f"
)
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")
# White space that folds to one space (rule 4): ASCII white space and the no-break spaces.
# Other spaces (thin, en, ideographic, line separator, ...) are characters the page has.
_FOLDED_SPACE = " \t\n\r\f\v\u00a0\u2007\u202f"
_SPACE_RUN = re.compile(f"[{_FOLDED_SPACE}]+")
# Texts that are nothing once cleaned: white space and invisible characters, or only the latter.
_BLANK = re.compile(f"[{_FOLDED_SPACE}{_INVISIBLE_CHARS}]*\\Z")
_ONLY_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]*\\Z")

_EVENT_ID = re.compile(r"^event-(\d+)$")
_URL_ID = re.compile(r"/(\d+)(?:/[a-z]+)?/?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_CYCLE_CAPTION_TEMPLATE = "{{slideNum}} / {{slideCount}}"  # Cycle2's own default
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.S)
_CSS_IMPORTANT = re.compile(r"!\s*important$")
_CSS_SPACE = " \t\n\r\f"
_INVISIBILITY = frozenset(("hidden", "collapse"))  # visibility values innerText skips


@dataclass(frozen=True)
class Turn:
    speaker: str  # as printed, without the colon
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str  # the transcript, FORMAT.md, no trailing newline
    event_id: int | None
    url: str | None  # canonical URL, e.g. http://en.kremlin.ru/events/president/news/53016
    language: str | None  # "en" / "ru" (from the page: inLanguage / html lang)
    title: str
    lead: str = ""
    date: str | None = None  # ISO date from time.read__published[datetime]
    time: str | None = None  # "18:40"
    place: str | None = None
    announcement: str | None = None  # "Announcement, December 14, 2012"
    tags: dict[str, list[str]] = field(default_factory=dict)  # heading -> tags, page order
    sections: list[str] = field(default_factory=list)
    published: str | None = None  # text after "Publication date: "
    photo_count: int = 0
    turns: list[Turn] = field(default_factory=list)
    kind: str = "event"  # "event", or "announcement" (article.announce)
    #: the page's own "Last updated at" (outside the article, ISO UTC): a fact of the
    #: capture, not of the version, so it is not one of the fields
    site_updated_at: str | None = field(default=None, compare=False)

    def fields(self) -> dict:
        """Everything but the text, JSON-ready (turns as [speaker, text] pairs)."""
        data = asdict(self)
        data.pop("text")
        data.pop("site_updated_at")
        data["turns"] = [[t.speaker, t.text] for t in self.turns]
        return data

    def to_dict(self) -> dict:
        """The fields and the text, JSON-ready (what ``normalize --json`` prints)."""
        return {**self.fields(), "text": self.text}


# --------------------------------------------------------------------------- text helpers


def clean_text(text: str) -> str:
    """Fold white space to single spaces, drop invisible characters, trim, NFC.

    White space is ASCII white space and the no-break spaces U+00A0, U+2007 and U+202F;
    other Unicode spaces stay as they are, and are not trimmed.
    """
    spaced = text.replace("\xa0", " ").replace("\n", " ")
    if spaced.isprintable():
        # Fast path for nearly every line: no white space but plain spaces is left and
        # no invisible character is there (all are format or control characters, which
        # are not printable), so folding runs of spaces is all there is to do.
        while "  " in spaced:
            spaced = spaced.replace("  ", " ")
        folded = spaced.strip(" ")
    else:
        folded = _SPACE_RUN.sub(" ", _INVISIBLE.sub("", text)).strip(" ")
    if folded.isascii():
        return folded
    return unicodedata.normalize("NFC", folded)


def _classes(node: LexborNode) -> list[str]:
    """The class tokens of an element."""
    value = node.attrs.get("class")
    return value.split() if value else []


def find_speaker(
    pieces: list[str], bold: list[bool], line: str | None = None
) -> tuple[str, str] | None:
    """Speaker and speech of a line whose leading bold run ends with a colon.

    ``pieces`` are the line's raw text runs, ``bold`` says which were inside ``<b>`` or
    ``<strong>``, and ``line`` is their cleaned text if the caller has it. The run starts
    at the first piece that is not blank (white space and invisible characters are
    nothing) and ends at the first piece outside bold that is not invisible: even white
    space between two ``<b>`` ends it, so ``<b>Name:</b> <b>Word</b>`` has the label
    "Name:". The colon may close the run or follow it.
    """
    index, count = 0, len(pieces)
    while index < count and not bold[index] and _BLANK.match(pieces[index]):
        index += 1
    start = index
    while index < count and (bold[index] or _ONLY_INVISIBLE.match(pieces[index])):
        index += 1
    if index == start:
        return None
    label = clean_text("".join(pieces[start:index]))
    rest = _after_label(pieces, index, label, line)
    if label.endswith(":"):
        speaker = label[:-1].rstrip(" ")
    elif rest.startswith(":"):
        speaker, rest = label, rest[1:].lstrip(" ")
    else:
        return None
    return (speaker, rest) if speaker else None


def _after_label(pieces: list[str], index: int, label: str, line: str | None) -> str:
    """The cleaned text after the label: the rest of the cleaned line, which starts with
    the label, rather than cleaning ``pieces[index:]`` again."""
    if line is None:
        line = clean_text("".join(pieces))
    if line.startswith(label):
        return line[len(label) :].lstrip(" ")
    return clean_text("".join(pieces[index:]))  # NFC joined the label with what follows


@dataclass(frozen=True, slots=True)
class _Kind:
    """What an element's tag and class attribute say about how it renders."""

    classes: tuple[str, ...]
    hidden: bool | None  # hidden by a class; None: only if not an li of a read__taglist
    slider: bool
    block: bool
    bold: bool
    cell: bool
    bare_p: bool  # a <p> without classes
    context: tuple[str, ...]  # classes that change what the elements inside mean
    field: str | None  # the field its classes print (_FIELD_CLASSES)
    published: bool  # time.read__published: the date field
    captures: bool  # an h1, a field or the date: _Renderer._capture has work outside contexts


@functools.lru_cache(maxsize=4096)
def _element_kind(tag: str, class_value: str | None) -> _Kind:
    """The :class:`_Kind` of a tag with a class attribute; pages repeat a few hundred pairs."""
    classes = tuple(class_value.split()) if class_value else ()
    hidden: bool | None = bool(NOT_RENDERED_CLASSES.intersection(classes))
    if not hidden:
        hidden_by = HIDDEN_CLASSES.intersection(classes)
        hidden = None if hidden_by == {"hidden"} and tag == "li" else bool(hidden_by)
    field = _first_field(classes)
    published = tag == "time" and "read__published" in classes
    return _Kind(
        classes=classes,
        hidden=hidden,
        slider="slider" in classes,
        block=tag in BLOCK_TAGS,
        bold=tag in BOLD_TAGS,
        cell=tag in CELL_TAGS,
        bare_p=tag == "p" and not classes,
        context=tuple(c for c in classes if c in _CONTEXT_CLASSES),
        field=field,
        published=published,
        captures=tag == "h1" or field is not None or published,
    )


def _is_hidden(node: LexborNode, kind: _Kind, attrs: dict) -> bool:
    """True for what the site's stylesheet hides; tags behind "N more" stay visible."""
    if "hidden" in attrs:
        return True
    style = attrs.get("style")
    if style and _style_hides(style):
        return True
    if kind.hidden is not None:
        return kind.hidden
    parent = node.parent
    return parent is None or "read__taglist" not in _classes(parent)


@functools.lru_cache(maxsize=1024)
def _style_hides(style: str) -> bool:
    """True when an inline style leaves the element out of innerText: ``display: none``,
    ``visibility: hidden`` or ``collapse``. (A descendant that sets ``visibility:
    visible`` again is not looked for.)"""
    declared = _declared_values(style)
    return declared.get("display") == "none" or declared.get("visibility") in _INVISIBILITY


def _declared_values(style: str) -> dict[str, str]:
    """Property -> value of an inline style, both lower case, ``!important`` cut off.

    Any spacing is allowed around names and values; the later of two declarations wins
    unless only the earlier is important.
    """
    if "/*" in style:
        style = _CSS_COMMENT.sub(" ", style)
    values: dict[str, str] = {}
    important: set[str] = set()
    for declaration in style.split(";"):
        name, colon, value = declaration.partition(":")
        if not colon:
            continue
        name = name.strip(_CSS_SPACE).lower()
        value = value.strip(_CSS_SPACE).lower()
        match = _CSS_IMPORTANT.search(value)
        if match:
            value = value[: match.start()].rstrip(_CSS_SPACE)
            important.add(name)
        elif name in important:
            continue
        values[name] = value
    return values


# --------------------------------------------------------------------------- rendering


@dataclass
class _Paragraph:
    """A body ``<p>`` being rendered: where its lines start and its speaker label."""

    start: int
    probed: bool = False
    label: tuple[str, str] | None = None


@dataclass
class _Fields:
    """Fields collected while rendering, from the elements that print them."""

    title: str | None = None  # h1.entry-title
    h1: str | None = None  # the first h1, the title where no h1 is an entry-title
    lead: str = ""
    date: str | None = None
    time: str | None = None
    place: str | None = None
    announcement: str | None = None
    tags: dict[str, list[str]] = field(default_factory=dict)
    heading: str = ""
    sections: list[str] = field(default_factory=list)
    published: str | None = None
    photo_count: int = 0


# Elements whose rendered text is a field, by class.
_FIELD_CLASSES = {
    "read__lead": "lead",
    "read__time": "time",
    "read__place": "place",
    "announce_date": "announcement",
}
# Classes that change what the elements inside them mean.
_CONTEXT_CLASSES = frozenset(
    ("read__internal_content", "read__cut", "read__bottommeta", "read__tagscol", "read__status")
)
# Contexts whose elements print fields (see _Renderer._context_field).
_FIELD_CONTEXTS = frozenset(("read__tagscol", "read__status"))
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
# What _Renderer._enter returns for an inline element with nothing to undo.
_INLINE = (False, False, False, False, None, None)


class _Renderer:
    """innerText of a subtree as lines, plus the fields and speaker turns it meets.

    One walk does everything: the lines, the fields (captured from the elements that
    print them, so a field is exactly what the transcript shows) and the turns. The walk
    is iterative (an explicit stack), so deep nesting cannot exhaust the recursion limit.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.turns: list[Turn] = []
        self.fields = _Fields()
        self._buf: list[str] = []
        self._bold: list[bool] = []
        self._bold_depth = 0
        self._flushes = 0
        self._context: list[str] = []
        self._body = False  # inside read__internal_content, outside See also / bottom meta
        self._field_context: str | None = None  # the innermost context, if it has fields
        self._para: _Paragraph | None = None

    # -- lines

    def flush(self) -> None:
        """End the current line (dropped when empty); a paragraph's first line is probed."""
        if not self._buf:
            return
        joined = "".join(self._buf)
        if not (joined.isspace() and not joined.strip(_FOLDED_SPACE)):
            line = clean_text(joined)
            para = self._para
            if para is not None and not para.probed and line:
                para.probed = True
                para.label = find_speaker(self._buf, self._bold, line)
            if line:
                self.lines.append(line)
        self._buf.clear()
        self._bold.clear()
        self._flushes += 1

    def _add_line(self, text: str) -> None:
        line = clean_text(text)
        if line:
            self.lines.append(line)

    # -- walk

    def render(self, root: LexborNode) -> _Renderer:
        """Render the children of ``root``.

        The walk steps from node to node (``first_child``, ``next``) with a stack of the
        open elements: cheaper than an iterator per element, and deep nesting cannot
        exhaust the recursion limit.
        """
        buf, bold = self._buf, self._bold
        open_elements: list[tuple[LexborNode, tuple]] = []
        node = root.first_child
        while True:
            if node is None:
                if not open_elements:
                    break
                element, exit_info = open_elements.pop()
                if exit_info is not _INLINE:
                    self._leave(exit_info)
                node = element.next
                continue
            if node.is_text_node:  # cheaper than reading the tag name
                buf.append(node.text_content or "")
                bold.append(self._bold_depth > 0)
            elif (tag := node.tag) and tag[0] != "-" and tag not in SKIPPED_TAGS:
                exit_info = self._enter(node, tag)
                if exit_info is not None:
                    open_elements.append((node, exit_info))
                    node = node.first_child
                    continue
            node = node.next
        self.flush()
        return self

    def _enter(self, node: LexborNode, tag: str) -> tuple | None:
        """Open an element; returns what to undo on leaving it, or None to skip it."""
        attrs = node.attributes
        kind = _element_kind(tag, attrs.get("class") if attrs else None)
        if attrs and _is_hidden(node, kind, attrs):
            return None
        if tag == "br":
            self.flush()
            return None
        if kind.slider:
            self.flush()
            self._render_slider(node)
            return None
        if kind.block:
            self.flush()
            if kind.bare_p and self._paragraph_fast_path(node):
                return None
        context = kind.context
        if context:
            self._push_context(context)
        bold = kind.bold
        self._bold_depth += bold
        para = tag == "p" and self._body and self._para is None
        if para:
            self._para = _Paragraph(len(self.lines))
        capture = None
        if kind.captures or self._field_context:
            capture = self._capture(tag, kind, attrs)
        if kind.block or bold or para or kind.cell or context or capture:
            return (kind.block, bold, para, kind.cell, context, capture)
        return _INLINE

    def _paragraph_fast_path(self, node: LexborNode) -> bool:
        """Render a class-less ``<p>`` without the walk when it is simple enough."""
        return self._plain_paragraph(node) or self._simple_paragraph(node)

    def _plain_paragraph(self, node: LexborNode) -> bool:
        """Fast path for the commonest element: a ``<p>`` holding one text node."""
        child = node.first_child
        if child is None or not child.is_text_node or child.next is not None:
            return False
        line = clean_text(child.text_content or "")
        if line:
            self.lines.append(line)
        self._flushes += 1
        return True

    def _simple_paragraph(self, node: LexborNode) -> bool:
        """Fast path for a ``<p>`` of texts and inline elements holding one text each.

        E.g. a speaker's turn, ``<p><b>Name:</b> speech</p>``, or a sentence with a link.
        No class, style or hidden attribute is allowed on those elements, so none can
        hide, end the line or print a field: the paragraph is one line, and a turn when
        it starts with a bold label. Returns False, having changed nothing, otherwise.
        """
        if self._field_context:
            return False
        pieces: list[str] = []
        flags: list[bool] = []
        outer_bold = self._bold_depth > 0
        child = node.first_child
        while child is not None:
            if child.is_text_node:
                pieces.append(child.text_content or "")
                flags.append(outer_bold)
            elif (tag := child.tag) and tag[0] != "-" and tag not in SKIPPED_TAGS:
                text = _simple_inline_text(child, tag)
                if text is None:
                    return False
                if text:
                    pieces.append(text)
                    flags.append(outer_bold or tag in BOLD_TAGS)
            child = child.next
        para = self._body and self._para is None
        if para:
            self._para = _Paragraph(len(self.lines))
        self._buf.extend(pieces)
        self._bold.extend(flags)
        self.flush()
        if para:
            self._finish_paragraph()
        return True

    def _leave(self, exit_info: tuple) -> None:
        """Close an element opened by :meth:`_enter`."""
        block, bold, para, cell, context, capture = exit_info
        if block:
            self.flush()
        elif cell:
            self._buf.append(" ")
            self._bold.append(False)
        if capture is not None:
            self._store(capture)
        if context:
            del self._context[-len(context) :]
            self._update_body()
        self._bold_depth -= bold
        if para:
            self._finish_paragraph()

    def _push_context(self, context: tuple[str, ...]) -> None:
        self._context.extend(context)
        self._update_body()

    def _update_body(self) -> None:
        body = False
        for name in self._context:
            if name == "read__internal_content":
                body = True
            elif name in ("read__cut", "read__bottommeta"):
                body = False
        self._body = body
        where = self._context[-1] if self._context else None
        self._field_context = where if where in _FIELD_CONTEXTS else None

    # -- turns

    def _finish_paragraph(self) -> None:
        """Record the paragraph just closed as a speaker turn when it has a label."""
        para, self._para = self._para, None
        if para is None or para.label is None:
            return
        speaker, first = para.label
        rest = self.lines[para.start + 1 :]
        self.turns.append(Turn(speaker, "\n".join([first, *rest]).strip("\n")))

    # -- fields

    def _capture(self, tag: str, kind: _Kind, attrs: dict) -> tuple | None:
        """Start capturing the text of an element that prints a field, if it is one."""
        key = None
        if tag == "h1":
            key = "title" if "entry-title" in kind.classes else "h1"
        elif kind.field:
            key = kind.field
        elif kind.published:
            self.fields.date = _iso_date(attrs.get("datetime"))
        elif self._field_context:
            key = self._context_field(tag, kind.classes)
        if key is None:
            return None
        return (key, len(self.lines), self._flushes, len(self._buf))

    def _context_field(self, tag: str, classes: tuple[str, ...]) -> str | None:
        where = self._field_context
        if where == "read__tagscol":
            return "heading" if tag in _HEADINGS else "tag" if tag == "li" else None
        if where == "read__status":
            if tag == "time":
                return "published"
            if tag == "a" and "text_version_link" not in classes:
                return "section"
        return None

    def _store(self, capture: tuple) -> None:
        """Store the text an element printed, from the lines and buffer it added to."""
        key, start_line, start_flushes, start_buf = capture
        if self._flushes == start_flushes:
            parts = [clean_text("".join(self._buf[start_buf:]))]
        else:
            parts = self.lines[start_line:] + [clean_text("".join(self._buf))]
        parts = [part for part in parts if part]
        if key == "lead":
            self.fields.lead = "\n".join(parts)
        else:
            _set_field(self.fields, key, " ".join(parts))

    # -- slider

    def _render_slider(self, slider: LexborNode) -> None:
        """The two lines the site's script writes: "1 of N" and the first caption."""
        slides = slider.css("div.slide")
        if not slides:
            return
        self.fields.photo_count += len(slides)
        holder = slider.css_first("[data-cycle-caption-template]")
        caption = _attribute_text(slides[0].attrs.get("data-cycle-desc") or "")
        if holder is not None:
            template = holder.attrs.get("data-cycle-caption-template") or ""
        else:
            logger.debug("slider without caption template slides=%d", len(slides))
            template = _CYCLE_CAPTION_TEMPLATE
        values = {"slideNum": "1", "slideCount": str(len(slides)), "desc": caption}
        self._add_line(_PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template))
        self._add_line(caption)


def _simple_inline_text(node: LexborNode, tag: str) -> str | None:
    """The text of an inline element that holds at most one text and nothing that could
    hide it; "" when it is empty, None when it is anything else."""
    if tag in BLOCK_TAGS or tag in CELL_TAGS or tag == "br":
        return None
    attrs = node.attributes
    if attrs and ("class" in attrs or "hidden" in attrs or "style" in attrs):
        return None
    child = node.first_child
    if child is None:
        return ""
    if not child.is_text_node or child.next is not None:
        return None
    return child.text_content or None


def _first_field(classes: tuple[str, ...]) -> str | None:
    for name in classes:
        key = _FIELD_CLASSES.get(name)
        if key:
            return key
    return None


def _set_field(fields: _Fields, key: str, text: str) -> None:
    """Put a captured text where it belongs; empty texts are not fields."""
    if key == "tag":
        if text:
            fields.tags.setdefault(fields.heading, []).append(text)
    elif key == "heading":
        fields.heading = text
        fields.tags.setdefault(text, [])
    elif key == "section":
        if text:
            fields.sections.append(text)
    elif text and getattr(fields, key) is None:
        setattr(fields, key, text)


def _iso_date(value: str | None) -> str | None:
    match = _ISO_DATE.match((value or "").strip())
    return match.group(0) if match else None


def _attribute_text(value: str) -> str:
    """A caption attribute as shown: the script inserts it as HTML, so entities in it are
    decoded (again) and tags are dropped, whether or not it has any."""
    if "<" not in value and "&" not in value:
        return value
    body = LexborHTMLParser(f"<div>{value}</div>").css_first("div")
    return " ".join(_Renderer().render(body).lines) if body is not None else ""


# --------------------------------------------------------------------------- refusals


def _find_article(tree: LexborHTMLParser, url: str | None) -> tuple[LexborNode, LexborNode]:
    """The event article and its reading pane, or a refusal naming what is missing."""
    article = tree.css_first("article")
    if article is None:
        raise NotAnEventPage("no <article> element", url)
    content = article.css_first("div.read__content")
    if content is None:
        raise NotAnEventPage("no div.read__content in <article>", url)
    if content.css_first("div.photoset") is not None:
        raise NotAnEventPage("the /photos tab of an event, not its text", url)
    return article, content


# --------------------------------------------------------------------------- fields


def _first_h1_text(article: LexborNode) -> str:
    """The text of the article's first ``<h1>`` (one outside the reading pane), or ""."""
    h1 = article.css_first("h1")
    return " ".join(_Renderer().render(h1).lines) if h1 is not None else ""


def _event_id(article: LexborNode, canonical: str | None) -> int | None:
    match = _EVENT_ID.match((article.attrs.get("id") or "").strip())
    if match is None and canonical:
        match = _URL_ID.search(urlsplit(canonical).path)
    return int(match.group(1)) if match else None


def _language(tree: LexborHTMLParser, article: LexborNode) -> str | None:
    """ "en" / "ru" from the article's inLanguage, else the ``<html lang>``."""
    value = _attr(article.css_first('meta[itemprop="inLanguage"]'), "content")
    if not value:
        value = _attr(tree.css_first("html"), "lang")
    return value.lower()[:2] or None


def _canonical_url(
    tree: LexborHTMLParser, language: str | None, event_id: int | None, url: str | None
) -> str | None:
    """og:url or the canonical link, else the given URL's path, on the site's own host."""
    candidates = [
        _attr(tree.css_first('meta[property="og:url"]'), "content"),
        _attr(tree.css_first('link[rel="canonical"]'), "href"),
        url,
    ]
    for candidate in candidates:
        resolved = _on_site_host(candidate, language, event_id)
        if resolved:
            return resolved
    categ = _attr(tree.css_first("a.read__categ"), "href")
    if event_id is not None and categ.startswith("http"):
        return _on_site_host(f"{categ.rstrip('/')}/{event_id}", language, event_id) or None
    return None


def _attr(node: LexborNode | None, name: str) -> str:
    return (node.attrs.get(name) or "").strip() if node is not None else ""


def _on_site_host(candidate: str | None, language: str | None, event_id: int | None) -> str:
    """An absolute event URL moved onto the real site's host; "" when unusable."""
    if not candidate or not candidate.startswith(("http://", "https://")):
        return ""
    try:
        parts = urlsplit(candidate)
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. a broken "[...]" host: not a usable URL
        return ""
    path = re.sub(r"/(print|photos|videos|copy)/?$", "", parts.path.rstrip("/"))
    if event_id is not None and not path.endswith(f"/{event_id}"):
        return ""
    if host == "kremlin.ru" or host.endswith(".kremlin.ru"):
        return f"{parts.scheme}://{host}{path}"
    base = SITE_URLS_BY_LANGUAGE.get(language or "")
    return f"{base}{path}" if base else ""


# --------------------------------------------------------------------------- entry point


def parse_event_page(html: str | bytes, url: str | None = None) -> Transcript:
    """Render one event page. Raises NotAnEventPage (or another PageError) with the reason."""
    if isinstance(html, bytes | bytearray):
        html = _decode_body(bytes(html), url)
    tree = _parse(article_document(html, url))
    article, content = _find_article(tree, url)
    transcript = _build(tree, article, content, url)
    transcript = replace(transcript, site_updated_at=parse_site_updated(html))
    if logger.isEnabledFor(logging.DEBUG):  # counting lines costs more than the check
        logger.debug(
            "normalized event_id=%s lines=%d turns=%d",
            transcript.event_id,
            transcript.text.count("\n") + 1,
            len(transcript.turns),
        )
    return transcript


def _decode_body(data: bytes, url: str | None) -> str:
    """Decode a fetched body, refusing binary data (NUL bytes outside UTF-16)."""
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if not utf16 and b"\x00" in data[:SNIFF_BYTES]:
        raise NotAnEventPage("binary body (NUL bytes), not HTML", url)
    return decode_html(data)


def _parse(document: str) -> LexborHTMLParser:
    """Parse with lexbor; text that cannot be encoded (lone surrogates) is replaced."""
    try:
        return LexborHTMLParser(document)
    except UnicodeEncodeError:
        return LexborHTMLParser(document.encode("utf-8", errors="replace"))


def _build(
    tree: LexborHTMLParser, article: LexborNode, content: LexborNode, url: str | None
) -> Transcript:
    """Assemble the Transcript of a checked article."""
    rendered = _Renderer().render(content)
    found = rendered.fields
    title = found.title or found.h1 or _first_h1_text(article)
    if not title:
        raise NotAnEventPage("event page without a title (h1)", url)
    if not rendered.lines:
        raise NotAnEventPage("the reading pane renders no text", url)
    language = _language(tree, article)
    canonical = _canonical_url(tree, language, _event_id(article, None), url)
    return Transcript(
        text="\n".join(rendered.lines),
        event_id=_event_id(article, canonical),
        url=canonical,
        language=language,
        title=title,
        lead=found.lead,
        date=found.date,
        time=found.time,
        place=found.place,
        announcement=found.announcement,
        tags=found.tags,
        sections=found.sections,
        published=found.published,
        photo_count=found.photo_count,
        turns=rendered.turns,
        kind="announcement" if "announce" in _classes(article) else "event",
    )


_SITE_UPDATED = re.compile(
    r"""<div[^>]*\bclass=["'][^"']*\bread__updated\b[^>]*>.{0,300}?"""
    r"""<time[^>]*\bdatetime=["'](\d{4}-\d{2}-\d{2})["'][^>]*>([^<]{0,100})</time>""",
    re.S | re.I,
)
_CLOCK = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
_SITE_ZONE = ZoneInfo("Europe/Moscow")  # the site prints Moscow wall-clock times


def parse_site_updated(html: str) -> str | None:
    """The page's "Last updated at" stamp (``div.read__updated``, outside the article) as
    ISO-8601 UTC, or None: the day comes from the ``datetime`` attribute, the time of day
    from the text (``March 20, 2015, 17:59``; Moscow time, as the site prints it), so the
    same rule reads the Russian site's words too."""
    found = _SITE_UPDATED.search(html)
    if found is None:
        return None
    day, printed = found.groups()
    clock = _CLOCK.search(printed)
    try:
        local = datetime.fromisoformat(day)
    except ValueError:
        return None
    if clock:
        local = local.replace(hour=int(clock.group(1)), minute=int(clock.group(2)))
    return format_utc(local.replace(tzinfo=_SITE_ZONE))
