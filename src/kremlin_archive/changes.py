"""The archive-wide change list: every site edit, removal and return, newest first.

A change is a version after the first made by a site edit (a re-normalization only when
asked for), or a capture that saw a page with a version go (404 / 410) or come back. First
captures are not changes. The same list feeds the ``changes`` command, its Atom feed, the
service's notifications and the web view, so they all say the same thing.

Each change has a stable id (an ``urn:uuid`` derived from the page URL and what changed),
used as the Atom entry id, and a path to its diff in the web view (``web.py``)::

    /-/event/en.kremlin.ru/60014/diff/1..2

and a place in the list (:class:`ChangeKey`: when, the capture, the kind, the row), the
cursor a reader pages back through the whole list with (``before``): each change is
listed once, however many changes share a second.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from .archive import Archive
from .changeset import ORIGIN_NAMES
from .config import DEFAULT_SITE_HOST
from .timeutil import format_utc, parse_moment, parse_utc

KIND_NAMES = {
    "edit": ORIGIN_NAMES["site"],
    "renormalization": ORIGIN_NAMES["renormalize"],
    "removal": "removal",
    "return": "return",
}
ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_ID = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "kremlin-archive:changes"))


@dataclass(frozen=True, order=True)
class ChangeKey:
    """A change's place in the list, newest first: its time, its capture (0 for a
    re-normalization), its kind, its row (the version's id, or the capture's)."""

    at: str
    capture_id: int
    kind: str
    row_id: int

    def token(self) -> str:
        """The key as one URL-safe word: ``2024-05-05T10:00:00Z.812.edit.455``."""
        return f"{self.at}.{self.capture_id}.{self.kind}.{self.row_id}"

    @classmethod
    def parse(cls, token: str) -> ChangeKey:
        """The key of :meth:`token`; ValueError for anything else."""
        parts = token.rsplit(".", 3)  # the time is kept as stored, whatever its form
        at, capture_id, kind, row_id = parts if len(parts) == 4 else ("", "", "", "")
        numbers = capture_id.isdigit() and row_id.isdigit()
        if parse_utc(at) is None or kind not in KIND_NAMES or not numbers:
            raise ValueError(f"not a place in the change list: {token!r}")
        return cls(at, int(capture_id), kind, int(row_id))


@dataclass(frozen=True)
class Change:
    """One change of one page."""

    at: str  # ISO-8601 UTC: when the archive saw it
    kind: str  # edit, renormalization, removal, return
    site: str
    event_id: int
    url: str
    title: str
    version: int  # the new version (edits), the current one (removals, returns)
    changed_fields: list[str] = field(default_factory=list)
    body_changes: dict | None = None
    http_status: int | None = None  # of a removal or return
    key: ChangeKey | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_row(cls, row: dict) -> Change:
        data = dict(row)
        data.pop("run_id", None)
        capture_id, row_id = data.pop("capture_id", 0), data.pop("row_id", 0)
        data["key"] = ChangeKey(data["at"], capture_id, data["kind"], row_id)
        data["changed_fields"] = json.loads(data["changed_fields"] or "[]")
        data["body_changes"] = json.loads(data["body_changes"] or "null")
        return cls(**data)

    @property
    def is_version(self) -> bool:
        return self.kind in ("edit", "renormalization")

    @property
    def id(self) -> str:
        """Stable: the same change has the same id in every feed and message."""
        what = f"v{self.version}" if self.is_version else f"{self.kind}@{self.at}"
        return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.url}#{what}"))

    @property
    def event_path(self) -> str:
        return f"/-/event/{self.site}/{self.event_id}"

    @property
    def diff_path(self) -> str:
        """The web view's diff of this change (the event page for a removal or return)."""
        if not self.is_version:
            return self.event_path
        return f"{self.event_path}/diff/{self.version - 1}..{self.version}"

    def what(self) -> str:
        """What changed, in words: ``title, body (1 paragraph added; 2 turns edited)``."""
        if self.kind == "removal":
            return f"gone (HTTP {self.http_status})"
        if self.kind == "return":
            return f"back (HTTP {self.http_status})"
        names = ", ".join(self.changed_fields) or "text"
        counts = describe_body_changes(self.body_changes)
        return f"{names} ({counts})" if counts else names

    def versions_label(self) -> str:
        return f"v{self.version - 1}→v{self.version}" if self.is_version else f"v{self.version}"

    def to_dict(self) -> dict:
        data = self.__dict__.copy()
        del data["key"]
        return data | {
            "id": self.id,
            "previous_version": self.version - 1 if self.is_version else None,
            "what": self.what(),
            "diff_path": self.diff_path,
        }


def describe_body_changes(body: dict | None) -> str:
    """``1 paragraph added, 2 edited; 1 turn removed`` from a version's body_changes."""
    parts = []
    for unit in ("paragraphs", "turns"):
        counts = (body or {}).get(unit) or {}
        said = [(n, verb) for verb in ("added", "removed", "edited") if (n := counts.get(verb))]
        if said:
            noun = unit[:-1] if said[0][0] == 1 else unit
            words = [
                f"{n} {noun} {verb}" if i == 0 else f"{n} {verb}"
                for i, (n, verb) in enumerate(said)
            ]
            parts.append(", ".join(words))
    return "; ".join(parts)


def list_changes(
    archive: Archive,
    *,
    since: str | None = None,
    site: str | None = None,
    include_renormalize: bool = False,
    run_ids: list[int] | None = None,
    limit: int | None = None,
    before: ChangeKey | None = None,
) -> list[Change]:
    """The changes, newest first (see :meth:`Archive.change_rows`); ``before``: only those
    after that place in the list (older, or listed after it in the same second)."""
    rows = archive.change_rows(
        since=since,
        site=site,
        run_ids=run_ids,
        include_renormalize=include_renormalize,
        limit=limit,
        before=before.__dict__ if before else None,
    )
    return [Change.from_row(row) for row in rows]


def parse_since(text: str) -> str:
    """``--since``: an ISO date (its start) or datetime (UTC unless it names a zone) as the
    archive's stamp form ``YYYY-MM-DDTHH:MM:SSZ``. ValueError for anything else."""
    return format_utc(parse_moment(text))


def render_change(change: Change) -> str:
    """One line of ``changes``: when, page, versions, kind, what changed, title."""
    where = "" if change.site == DEFAULT_SITE_HOST else f"{change.site} "
    kind = KIND_NAMES.get(change.kind, change.kind)
    page = f"{where}{change.event_id}"
    return (
        f"{change.at:<20}  {page:<6}  {change.versions_label():<7}  {kind:<16}  "
        f"{change.what()}  | {change.title}"
    )


# --------------------------------------------------------------------------- Atom


def render_atom(
    changes: Iterable[Change], web_url: str, updated: str, limit: int | None = None
) -> str:
    """An Atom 1.0 feed (RFC 4287) of ``changes``: one entry per change with a stable id,
    a summary and a link to its diff in the web view at ``web_url``. ``updated`` is the
    feed's stamp when it has no entry (else the newest change's). ``limit``: the most
    entries the list was cut to; the subtitle then says so and where the whole list is."""
    changes = list(changes)
    base = web_url.rstrip("/")
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(_atom("feed"))
    _text(feed, "id", FEED_ID)
    _text(feed, "title", "kremlin-archive: changes")
    _text(feed, "subtitle", feed_subtitle(base, limit))
    _text(feed, "updated", changes[0].at if changes else updated)
    ET.SubElement(feed, _atom("link"), rel="self", href=f"{base}/-/changes.atom")
    ET.SubElement(feed, _atom("link"), rel="alternate", type="text/html", href=f"{base}/-/changes")
    author = ET.SubElement(feed, _atom("author"))
    _text(author, "name", "kremlin-archive")
    ET.SubElement(feed, _atom("generator")).text = "kremlin-archive"
    for change in changes:
        feed.append(_entry(change, base))
    ET.indent(feed)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, "unicode") + "\n"


def feed_subtitle(base: str, limit: int | None) -> str:
    """What the feed holds; a cut one names the page that lists every change."""
    what = "Edits, removals and returns of pages of kremlin.ru"
    if limit is None:
        return what
    return f"{what}: the newest {limit}; every change, page by page: {base}/-/changes"


def _entry(change: Change, base: str) -> ET.Element:
    entry = ET.Element(_atom("entry"))
    kind = KIND_NAMES.get(change.kind, change.kind)
    _text(entry, "id", change.id)
    _text(entry, "title", f"{kind}: {change.title} ({change.event_id} {change.versions_label()})")
    _text(entry, "updated", change.at)
    ET.SubElement(
        entry, _atom("link"), rel="alternate", type="text/html", href=base + change.diff_path
    )
    ET.SubElement(entry, _atom("link"), rel="via", href=change.url)
    _text(entry, "summary", f"{kind} of {change.url} at {change.at}: {change.what()}")
    ET.SubElement(entry, _atom("category"), term=change.kind, label=kind)
    return entry


def _atom(tag: str) -> str:
    return f"{{{ATOM_NS}}}{tag}"


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, _atom(tag))
    element.text = text
    return element
