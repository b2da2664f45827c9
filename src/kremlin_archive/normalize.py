"""Pure: page HTML -> Transcript (fields + text in the format of FORMAT.md). No I/O.

INTERFACE STUB: the normalizer issue fills this in; the dataclasses below are the contract
the rest of the pipeline codes against.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .errors import NotAnEventPage

NORMALIZER_VERSION = 0


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

    def fields(self) -> dict:
        """Everything but the text, JSON-ready (turns as [speaker, text] pairs)."""
        data = asdict(self)
        data.pop("text")
        data["turns"] = [[t.speaker, t.text] for t in self.turns]
        return data


def parse_event_page(html: str | bytes, url: str | None = None) -> Transcript:
    """Render one event page. Raises NotAnEventPage (or another PageError) with the reason."""
    raise NotAnEventPage("normalizer not implemented yet", url)
