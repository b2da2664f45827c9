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
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ._article_scan import SNIFF_BYTES, article_document
from .config import SITE_URLS_BY_LANGUAGE
from .decoding import decode_html
from .errors import NotAnEventPage
from .htmlguard import check_markup
from .timeutil import format_utc

logger = logging.getLogger(__name__)

#: Changes whenever the output for some page changes.
NORMALIZER_VERSION = 4

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
    """Everything one speaker says until someone else speaks (FORMAT.md)."""

    speaker: str  # as printed, without the colon
    text: str  # its paragraphs, one a line, the label left out


@dataclass(frozen=True)
class Attachment:
    """A file attached to the event: a.cut__item and a.cut__meta in a See also box."""

    title: str
    format: str  # as printed: "doc"
    size: str  # as printed: "218.6 kB"
    url: str | None  # the link, absolute


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
    attachments: list[Attachment] = field(default_factory=list)
    #: the page's own "Last updated at" (outside the article, ISO UTC): a fact of the
    #: capture, not of the version, so it is not one of the fields
    site_updated_at: str | None = field(default=None, compare=False)

    def fields(self) -> dict:
        """Everything but the text, JSON-ready (turns as [speaker, text] pairs,
        attachments as objects), in the order of the declaration. Built field by field:
        ``asdict`` copied the text and every turn first, a tenth of re-deriving a page."""
        data = {name: getattr(self, name) for name in _TRANSCRIPT_FIELDS}
        data["tags"] = {heading: list(tags) for heading, tags in self.tags.items()}
        data["sections"] = list(self.sections)
        data["turns"] = [[t.speaker, t.text] for t in self.turns]
        data["attachments"] = [asdict(attachment) for attachment in self.attachments]
        return data

    def to_dict(self) -> dict:
        """The fields and the text, JSON-ready (what ``normalize --json`` prints)."""
        return {**self.fields(), "text": self.text}


#: what ``Transcript.fields`` holds: every field but the text and the capture's own stamp
_TRANSCRIPT_FIELDS = tuple(
    f.name for f in dataclass_fields(Transcript) if f.name not in ("text", "site_updated_at")
)


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
    pieces: list[str], bold: list[bool | None], line: str | None = None
) -> tuple[str, str] | None:
    """Speaker and speech of a line whose leading bold run ends with a colon.

    ``pieces`` are the line's raw text runs, ``bold`` says which were inside ``<b>`` or
    ``<strong>`` (a false value: outside), and ``line`` is their cleaned text if the caller
    has it. The run starts at the first piece that is not blank (white space and invisible
    characters are nothing) and goes on through bold pieces and the blank pieces between
    them, so ``<b>President of Russia</b> <b>Vladimir Putin:</b>`` is one run. The label
    ends at the first bold piece that ends with a colon (``<b>Name:</b> <b>Word</b>`` has
    the label "Name:"), or at the end of the run when the text after it starts with one
    (``<b>Name</b>: …``).
    """
    index, count = 0, len(pieces)
    while index < count and not bold[index] and _BLANK.match(pieces[index]):
        index += 1
    start = end = index
    while index < count:
        piece = pieces[index]
        index += 1
        if bold[index - 1]:
            end = index
            if _ends_with_colon(piece):
                break
        elif not _BLANK.match(piece):
            break
    if end == start:
        return None
    label = clean_text("".join(pieces[start:end]))
    rest = _after_label(pieces, end, label, line)
    if label.endswith(":"):
        speaker = label[:-1].rstrip(" ")
    elif rest.startswith(":"):
        speaker, rest = label, rest[1:].lstrip(" ")
    else:
        return None
    return (speaker, rest) if speaker else None


def _ends_with_colon(piece: str) -> bool:
    """True when a raw text ends with ":" once trailing white space and invisible
    characters are taken off."""
    if piece.endswith(":"):
        return True
    return ":" in piece and _INVISIBLE.sub("", piece).rstrip(_FOLDED_SPACE).endswith(":")


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
    emphasis: bool  # a heading (h1-h6): with bold, what makes a sub-heading
    context: tuple[str, ...]  # classes that change what the elements inside mean
    field: str | None  # the field its classes print (_FIELD_CLASSES)
    published: bool  # time.read__published: the date field
    captures: bool  # an h1, a field or the date: _Renderer._capture has work outside contexts
    leave: int  # the _LEAVE_* bits that its tag and classes alone set
    text_only: bool  # adds nothing but lines and style to its text: no context or field
    link: bool  # an <a>: a block inside div.cut__description


# What _Renderer._enter returns for an element it opens: what to undo on leaving it, as
# bits (0: an inline element with nothing to undo). The contexts and the field capture an
# element opened are kept on the renderer's own stacks, in the order they were opened.
_LEAVE_BLOCK = 1  # end the line
_LEAVE_CELL = 2  # a table cell: a space after it
_LEAVE_BOLD = 4  # one level of bold less
_LEAVE_EMPHASIS = 8  # one level of heading less
_LEAVE_CONTEXT = 16  # pop the contexts it opened
_LEAVE_CAPTURE = 32  # store the field text it printed
_LEAVE_STYLE = _LEAVE_BOLD | _LEAVE_EMPHASIS


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
    context = tuple(c for c in classes if c in _CONTEXT_CLASSES)
    if tag == "figure":
        context += ("figure",)
    block, bold, emphasis = tag in BLOCK_TAGS, tag in BOLD_TAGS, tag in EMPHASIS_TAGS
    leave = (
        block * _LEAVE_BLOCK
        | (tag in CELL_TAGS) * _LEAVE_CELL
        | bold * _LEAVE_BOLD
        | emphasis * _LEAVE_EMPHASIS
        | bool(context) * _LEAVE_CONTEXT
    )
    return _Kind(
        classes=classes,
        hidden=hidden,
        slider="slider" in classes,
        block=block,
        bold=bold,
        emphasis=emphasis,
        context=context,
        field=field,
        published=published,
        captures=tag == "h1" or field is not None or published,
        leave=leave,
        text_only=not leave & (_LEAVE_CELL | _LEAVE_CONTEXT)
        and not (tag == "h1" or field is not None or published),
        link=tag == "a",
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


class _Capture(NamedTuple):
    """An element printing a field: which field, and where its text starts."""

    key: str  # the field (_FIELD_CLASSES values, "title", "h1", a _context_field key)
    start_line: int  # len(lines) when it opened
    start_flushes: int  # lines ended (kept or dropped) when it opened
    start_buf: int  # pieces of the open line when it opened
    href: str | None = None  # the link of an attachment's title or format


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
    attachments: list[Attachment] = field(default_factory=list)
    link: tuple[str, str | None] | None = None  # the last a.cut__item: title, href


# Elements whose rendered text is a field, by class.
_FIELD_CLASSES = {
    "read__lead": "lead",
    "read__time": "time",
    "read__place": "place",
    "announce_date": "announcement",
    "cut__item": "link",  # a linked item's title, or an attachment's
    "cut__meta": "link_meta",  # an attachment's format and size: "doc, 218.6 kB"
}
# Classes (and "figure", the tag) that change what the elements inside them mean.
_CONTEXT_CLASSES = frozenset(
    (
        "read__internal_content",
        "read__cut",
        "read__bottommeta",
        "read__tagscol",
        "read__status",
        "cut__description",
        "media__container",
    )
)
# Inside the body, contexts whose lines are not the body's: boxes, meta, photos, videos.
_OUTSIDE_BODY = frozenset(("read__cut", "read__bottommeta", "media__container", "figure"))
# Contexts whose elements print fields (see _Renderer._context_field).
_FIELD_CONTEXTS = frozenset(("read__tagscol", "read__status"))
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
# Headings count as bold for sub-headings; italic does not: FORMAT.md makes a sub-heading
# of a bold paragraph only, and an italic line inside a speech (a quotation, a remark) is
# the speaker's.
EMPHASIS_TAGS = _HEADINGS
# A section break, "* * *", and an omission line, "<…>".
_SECTION_BREAK = re.compile(r"\*(?: ?\*){2,}\Z")
_OMISSION = re.compile(r"<(?:…|\.\.\.)>\Z")


class _Renderer:
    """innerText of a subtree as lines, plus the fields and speaker turns it meets.

    One walk does everything: the lines, the fields (captured from the elements that
    print them, so a field is exactly what the transcript shows) and the turns. The walk
    is iterative (an explicit stack), so deep nesting cannot exhaust the recursion limit.

    Each text piece of the open line is kept with its style (``_style``): True inside
    bold, None inside a heading only, False otherwise. Speaker labels are the leading
    bold run of a line; a sub-heading is a whole paragraph of bold, or a heading.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.turns: list[Turn] = []
        self.fields = _Fields()
        self._buf: list[str] = []
        self._style: list[bool | None] = []
        self._bold_depth = 0
        self._emphasis_depth = 0
        self._piece_style: bool | None = False
        self._flushes = 0
        self._context: list[str] = []
        self._opened_contexts: list[tuple[str, ...]] = []
        self._captures: list[_Capture] = []
        self._body = False  # inside read__internal_content, outside boxes, meta and media
        self._cut_links = False  # inside div.cut__description, where every link is a block
        self._field_context: str | None = None  # the innermost context, if it has fields
        self._opens_block = True  # the open line starts a block (not after a <br>)
        self._turn: tuple[str, list[str]] | None = None  # speaker and lines of the open turn

    # -- lines

    def flush(self, at_br: bool = False) -> None:
        """End the current line (dropped when empty); a body line goes to the turns."""
        buf = self._buf
        if not buf:
            if not at_br:
                self._opens_block = True
            return
        joined = "".join(buf)
        line = ""
        if not (joined.isspace() and not joined.strip(_FOLDED_SPACE)):
            line = clean_text(joined)
        if line:
            self.lines.append(line)
            if self._body:
                style = self._style
                if True in style or None in style or line[0] in "*<":
                    self._body_line(line, at_br)  # a label, break, sub-heading, omission?
                elif self._turn is not None:
                    self._turn[1].append(line)
            self._opens_block = not at_br
        elif not at_br:
            self._opens_block = True
        buf.clear()
        self._style.clear()
        self._flushes += 1

    def _add_line(self, text: str) -> None:
        line = clean_text(text)
        if line:
            self.lines.append(line)

    # -- walk

    def render(self, root: LexborNode) -> _Renderer:
        """Render the children of ``root``.

        The walk steps from node to node (``first_child``, ``next``) with a stack of the
        open elements and what to undo on leaving each (``_LEAVE_*`` bits): cheaper than
        an iterator per element, and deep nesting cannot exhaust the recursion limit.
        """
        buf, style = self._buf, self._style
        open_elements: list[tuple[LexborNode, int]] = []
        node = root.first_child
        while True:
            if node is None:
                if not open_elements:
                    break
                element, leave = open_elements.pop()
                if leave:
                    self._leave(leave)
                node = element.next
                continue
            if node.is_text_node:  # cheaper than reading the tag name
                buf.append(node.text_content or "")
                style.append(self._piece_style)
            elif (tag := node.tag) and tag[0] != "-" and tag not in SKIPPED_TAGS:
                leave = self._enter(node, tag)
                if leave is not None:
                    open_elements.append((node, leave))
                    node = node.first_child
                    continue
            node = node.next
        self.flush()
        self._end_turn()
        return self

    def _enter(self, node: LexborNode, tag: str) -> int | None:
        """Open an element; returns what to undo on leaving it, or None to skip it."""
        attrs = node.attributes
        kind = _element_kind(tag, attrs.get("class") if attrs else None)
        if attrs and _is_hidden(node, kind, attrs):
            return None
        if tag == "br":
            self.flush(at_br=True)
            return None
        if kind.slider:
            self.flush()
            self._render_slider(node)
            return None
        if kind.text_only and not self._field_context:
            child = node.first_child
            single = child is None or (child.next is None and child.is_text_node)
            if single and self._take_text(child, kind):
                return None
        leave = kind.leave
        if kind.block:
            if self._buf:
                self.flush()
            else:
                self._opens_block = True
        elif self._cut_links and tag == "a":
            self.flush()
            leave |= _LEAVE_BLOCK
        if kind.context:
            self._push_context(kind.context)
        if leave & _LEAVE_STYLE:
            self._bold_depth += kind.bold
            self._emphasis_depth += kind.emphasis
            self._piece_style = (
                True if self._bold_depth else None if self._emphasis_depth else False
            )
        if kind.captures or self._field_context:
            capture = self._capture(tag, kind, attrs)
            if capture is not None:
                self._captures.append(capture)
                leave |= _LEAVE_CAPTURE
        return leave

    def _take_text(self, child: LexborNode | None, kind: _Kind) -> bool:
        """Take in an element that holds nothing but ``child``, one text node, or nothing
        at all, as entering it, walking it and leaving it would (the commonest elements:
        a ``<p>`` of plain text, a label in ``<b>``, a link, an empty icon). False, having
        done nothing, for a link that a See also box makes a block."""
        if kind.block:
            if self._buf:
                self.flush()
            else:
                self._opens_block = True
        elif kind.link and self._cut_links:
            return False
        if child is None:
            return True
        self._buf.append(child.text_content or "")
        if kind.bold or self._bold_depth:
            self._style.append(True)
        else:
            self._style.append(None if kind.emphasis or self._emphasis_depth else False)
        if kind.block:
            self.flush()
        return True

    def _leave(self, leave: int) -> None:
        """Close an element opened by :meth:`_enter`."""
        if leave & _LEAVE_BLOCK:
            self.flush()
        elif leave & _LEAVE_CELL:
            self._buf.append(" ")
            self._style.append(False)
        if leave & _LEAVE_CAPTURE:
            self._store(self._captures.pop())
        if leave & _LEAVE_CONTEXT:
            del self._context[-len(self._opened_contexts.pop()) :]
            self._update_body()
        if leave & _LEAVE_STYLE:
            self._bold_depth -= leave & _LEAVE_BOLD and 1
            self._emphasis_depth -= leave & _LEAVE_EMPHASIS and 1
            self._piece_style = (
                True if self._bold_depth else None if self._emphasis_depth else False
            )

    def _push_context(self, context: tuple[str, ...]) -> None:
        self._context.extend(context)
        self._opened_contexts.append(context)
        self._update_body()

    def _update_body(self) -> None:
        body = cut_links = False
        for name in self._context:
            if name == "read__internal_content":
                body = True
            elif name in _OUTSIDE_BODY:
                body = False
            elif name == "cut__description":
                cut_links = True
        self._body, self._cut_links = body, cut_links
        where = self._context[-1] if self._context else None
        self._field_context = where if where in _FIELD_CONTEXTS else None

    # -- turns

    def _body_line(self, line: str, at_br: bool) -> None:
        """Give a line of the body to the turns (FORMAT.md): a label opens a turn (also
        after a ``<br>``: someone else speaks); a section break or a sub-heading ends it;
        an omission line is left out; any other line continues the open turn."""
        style = self._style
        bold = True in style
        if bold and (style[0] or _BLANK.match(self._buf[0])):  # may open with a label
            label = find_speaker(self._buf, style, line)
            if label is not None:
                self._end_turn()
                speaker, speech = label
                self._turn = (speaker, [speech] if speech else [])
                return
        turn = self._turn
        if turn is None:
            return
        styled = bold or None in style
        if (styled or line[0] == "*") and self._ends_turn(line, styled, at_br):
            self._end_turn()
        elif line[0] != "<" or not _OMISSION.match(line):
            turn[1].append(line)

    def _ends_turn(self, line: str, styled: bool, at_br: bool) -> bool:
        """True for a section break, and for a sub-heading: a whole paragraph (``styled``:
        some of it bold or in a heading)."""
        if line[0] == "*" and _SECTION_BREAK.match(line):
            return True
        return styled and self._opens_block and not at_br and self._is_subheading(line)

    def _is_subheading(self, line: str) -> bool:
        """True when the open line, a whole paragraph, is bold (or a heading) throughout and not
        a stage direction in brackets, "(Applause.)"."""
        for piece, style in zip(self._buf, self._style, strict=True):
            if style is False and not _BLANK.match(piece):
                return False
        return not (line[0] in "([" and line[-1] in ")]")

    def _end_turn(self) -> None:
        if self._turn is not None:
            speaker, lines = self._turn
            self.turns.append(Turn(speaker, "\n".join(lines)))
            self._turn = None

    # -- fields

    def _capture(self, tag: str, kind: _Kind, attrs: dict) -> _Capture | None:
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
        href = attrs.get("href") if tag == "a" else None
        return _Capture(key, len(self.lines), self._flushes, len(self._buf), href)

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

    def _store(self, capture: _Capture) -> None:
        """Store the text an element printed, from the lines and buffer it added to."""
        if self._flushes == capture.start_flushes:
            parts = [clean_text("".join(self._buf[capture.start_buf :]))]
        else:
            parts = self.lines[capture.start_line :] + [clean_text("".join(self._buf))]
        parts = [part for part in parts if part]
        if capture.key == "lead":
            self.fields.lead = "\n".join(parts)
        elif capture.key in ("link", "link_meta"):
            _store_link(self.fields, capture.key, " ".join(parts), capture.href)
        else:
            _set_field(self.fields, capture.key, " ".join(parts))

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


def _store_link(fields: _Fields, key: str, text: str, href: str | None) -> None:
    """A See also link's title is kept until the next one; a format line after it makes
    the pair an attachment (title, format, size as printed, link)."""
    if key == "link":
        fields.link = (text, href) if text else None
        return
    if fields.link is None or not text:
        return
    title, url = fields.link
    fields.link = None
    file_format, _, size = text.partition(",")
    fields.attachments.append(Attachment(title, file_format.strip(), size.strip(), url or href))


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
    tree = _parse(check_markup(article_document(html, url), url))
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
        attachments=[_absolute(item, canonical) for item in found.attachments],
    )


def _absolute(attachment: Attachment, base: str | None) -> Attachment:
    """The attachment with its link resolved against the page's canonical URL."""
    if not attachment.url or not base:
        return attachment
    return replace(attachment, url=urljoin(base, attachment.url))


_SITE_UPDATED = re.compile(
    r"""<div[^>]*\bclass=["'][^"']*\bread__updated\b[^>]*>.{0,300}?"""
    r"""<time[^>]*\bdatetime=["'](\d{4}-\d{2}-\d{2})["'][^>]*>([^<]{0,100})</time>""",
    re.S | re.I,
)
_CLOCK = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
_SITE_ZONE = ZoneInfo("Europe/Moscow")  # the site prints Moscow wall-clock times


def _site_updated_div(html: str) -> re.Match[str] | None:
    """The first ``div.read__updated`` with its ``<time>``. The pattern is tried only at
    the ``<div`` before each "read__updated" of the page: scanning a whole page with it
    cost the normalizer 15 % of its time."""
    at = html.find("read__updated")
    while at >= 0:
        start = html.rfind("<div", 0, at)
        found = _SITE_UPDATED.match(html, start) if start >= 0 else None
        if found is not None:
            return found
        at = html.find("read__updated", at + 1)
    return None


def parse_site_updated(html: str) -> str | None:
    """The page's "Last updated at" stamp (``div.read__updated``, outside the article) as
    ISO-8601 UTC, or None: the day comes from the ``datetime`` attribute, the time of day
    from the text (``March 20, 2015, 17:59``; Moscow time, as the site prints it), so the
    same rule reads the Russian site's words too."""
    found = _site_updated_div(html)
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
