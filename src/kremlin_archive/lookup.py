"""Read queries over the archive: find a page, its versions, history, diffs, search, list.

Nothing here writes. :func:`open_archive` opens an existing archive through
:class:`Archive`, read-only: a reader never migrates, and refuses a file that is no
archive of this version. Rows are read with a cursor and yielded, so a caller that
streams them keeps memory flat.

A page is named the way a user names it (:func:`resolve`): an event id (on the default
site, or the one given), or any URL form of the page: canonical, ``/print``, a replica or
mirror address, wget's ``.html``.
"""

from __future__ import annotations

import difflib
import logging
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from .archive import Archive, PageState, Version
from .changeset import version_name
from .config import DEFAULT_SITE_HOST
from .discover import MAX_EVENT_ID, event_number, parse_event_url
from .errors import ArchiveError, BadSearchQuery, NotArchived
from .timeutil import format_utc, stamp_key
from .urls import site_host

logger = logging.getLogger(__name__)

#: How ``history`` names a re-derivation: a capture placed in the page's past (a backfill,
#: an import) made its versions be worked out again in capture-time order.
REDERIVED = "history re-derived"


@dataclass(frozen=True)
class Record:
    """One version with the identity of its page."""

    site: str
    event_id: int
    url: str
    version: Version

    def to_dict(self) -> dict:
        """Identity, version facts, the fields and the text, JSON-ready."""
        v = self.version
        head = {
            "site": self.site,
            "event_id": self.event_id,
            "url": self.url,
            "version": v.seq,
            "captured_at": v.captured_at,
            "origin": v.origin,
            "changed_fields": v.changed_fields,
            "text_sha256": v.text_sha256,
            "fields_sha256": v.fields_sha256,
            "raw_sha256": v.raw_sha256,
            "normalizer_version": v.normalizer_version,
        }
        fields = {k: value for k, value in v.fields.items() if k not in head}
        return head | fields | {"text": v.text}


@dataclass(frozen=True)
class Rederivation:
    """A page's versions derived again from all its captures in capture-time order, when
    a capture older than its last one came (a backfill, an import)."""

    old_versions: int
    new_versions: int
    reason: str

    def counts(self) -> str:
        """``1 version → 2``."""
        old = f"{self.old_versions} version" + ("s" if self.old_versions != 1 else "")
        return f"{old} → {self.new_versions}"


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    event: str  # "version", "gone", "back" or "rederived"
    version: Version | None = None
    http_status: int | None = None  # of a gone / back capture
    site_updated_at: str | None = None  # the page's own "Last updated at" when captured
    rederivation: Rederivation | None = None

    def to_dict(self) -> dict:
        data: dict = {"at": self.at, "event": self.event}
        if self.version is not None:
            v = self.version
            data |= {"version": v.seq, "origin": v.origin, "changed_fields": v.changed_fields}
            data |= {"body_changes": v.body_changes, "text_sha256": v.text_sha256}
            data |= {"raw_sha256": v.raw_sha256, "normalizer_version": v.normalizer_version}
            data["site_updated_at"] = self.site_updated_at
        elif self.rederivation is not None:
            data |= self.rederivation.__dict__
        else:
            data["http_status"] = self.http_status
        return data


@dataclass(frozen=True)
class Hit:
    record: Record
    snippet: str

    def to_dict(self) -> dict:
        r, v = self.record, self.record.version
        return {
            "site": r.site,
            "event_id": r.event_id,
            "url": r.url,
            "version": v.seq,
            "captured_at": v.captured_at,
            "date": v.fields.get("date"),
            "title": v.title,
            "snippet": self.snippet,
        }


@dataclass(frozen=True)
class Listed:
    site: str
    event_id: int
    url: str
    date: str | None
    title: str
    versions: int
    status: str
    first_seen_at: str
    last_changed_at: str | None

    def to_dict(self) -> dict:
        return self.__dict__.copy()


# --------------------------------------------------------------------------- opening


@contextmanager
def open_archive(
    path: str | Path, busy_timeout: float = 30.0, *, read_only: bool = True
) -> Iterator[Archive]:
    """The existing archive at ``path`` (never a new empty one), read-only unless asked:
    a reader never migrates, so it works on read-only media and never changes the file."""
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"no archive at {path}: run `kremlin-archive crawl` first")
    with Archive(path, busy_timeout=busy_timeout, read_only=read_only) as archive:
        yield archive


# --------------------------------------------------------------------------- pages


def resolve(archive: Archive, ref: str, default_host: str, hosts: dict[str, str]) -> PageState:
    """The archived page named by ``ref``: an event id on ``default_host``, or a URL of the
    page on any host (``hosts`` maps the archive's canonical hosts to their base URLs; a URL
    on another host, a replica or mirror, counts as ``default_host``). NotArchived when
    absent."""
    host, event_id = parse_ref(ref, default_host, hosts)
    return archive.get_page(event_id, site=host)


def parse_ref(ref: str, default_host: str, hosts: dict[str, str]) -> tuple[str, int]:
    """``(canonical host, event id)`` of an id or a URL; NotArchived for anything else."""
    ref = ref.strip()
    if ref.isdigit():
        event_id = event_number(ref)
        if event_id is None:
            raise NotArchived(
                f"not an event id: {ref} (ids are whole numbers from 1 to {MAX_EVENT_ID})"
            )
        return default_host, event_id
    url = ref if "://" in ref else f"http://{ref}"
    host = site_host(url)
    host = host if host in hosts else default_host
    event = parse_event_url(urlsplit(url).path, hosts.get(host, f"http://{host}"))
    if event is None:
        raise NotArchived(f"not an event id or event page URL: {ref}")
    return host, event.event_id


# --------------------------------------------------------------------------- versions


def version(
    archive: Archive, page: PageState, seq: int | None = None, at: datetime | None = None
) -> Version:
    """Version ``seq``, or the one current at ``at``, or the latest."""
    found = archive.versions(page.site, page.event_id)
    if not found:
        raise NotArchived(f"{page.site} event {page.event_id} has no version (never fetched)")
    if seq is not None:
        return _numbered(found, seq, page)
    if at is not None:
        return _current_at(found, at, page)
    return found[-1]


def _numbered(found: list[Version], seq: int, page: PageState) -> Version:
    for v in found:
        if v.seq == seq:
            return v
    raise NotArchived(
        f"{page.site} event {page.event_id} has no version {seq} (versions 1 to {len(found)})"
    )


def _current_at(found: list[Version], at: datetime, page: PageState) -> Version:
    stamp = format_utc(at)
    earlier = [v for v in found if stamp_key(v.captured_at) <= stamp]
    if not earlier:
        raise NotArchived(
            f"{page.site} event {page.event_id} was first archived at "
            f"{found[0].captured_at}, after {stamp}"
        )
    return earlier[-1]


def pick_pair(
    archive: Archive, page: PageState, a: int | None = None, b: int | None = None
) -> tuple[Version, Version]:
    """Versions A and B of a page; A alone: A and the latest; neither: the last two."""
    found = archive.versions(page.site, page.event_id)
    if a is None:
        if len(found) < 2:
            raise ArchiveError(
                f"{page.site} event {page.event_id} has {len(found)} version(s): nothing to compare"
            )
        return found[-2], found[-1]
    old = _numbered(found, a, page)
    return old, _numbered(found, b, page) if b is not None else found[-1]


def page_history(archive: Archive, page: PageState) -> list[HistoryEntry]:
    """Versions, the captures that saw the page go or come back, and the re-derivations of
    its versions, in the order they happened (captures of one second keep their order)."""
    captures = archive.captures(page.site, page.event_id)[::-1]  # oldest first
    made_by = {c["version_id"]: c for c in captures if c["outcome"] in ("new", "changed")}
    entries = []
    for v in archive.versions(page.site, page.event_id):
        capture = made_by.get(v.id, {})
        entry = HistoryEntry(v.captured_at, "version", v, None, capture.get("site_updated_at"))
        entries.append((v.captured_at, capture.get("id", _NO_CAPTURE), entry))
    entries += [
        (
            c["captured_at"],
            c["id"],
            HistoryEntry(c["captured_at"], c["status_change"], None, c["http_status"]),
        )
        for c in captures
        if c["status_change"]
    ]
    entries += [
        (r["rederived_at"], _NO_CAPTURE, _rederived(r))
        for r in archive.rederivations(page.site, page.event_id)
    ]
    entries.sort(key=lambda item: (stamp_key(item[0]), item[1]))
    return [entry for _, _, entry in entries]


_NO_CAPTURE = 1 << 62  # a re-normalization comes after the captures of its second


def _rederived(row: dict) -> HistoryEntry:
    done = Rederivation(row["old_versions"], row["new_versions"], row["reason"])
    return HistoryEntry(row["rederived_at"], "rederived", rederivation=done)


def render_history(page: PageState, entries: list[HistoryEntry]) -> list[str]:
    """The lines ``history`` prints: the page, then one line per entry."""
    lines = [f"{page.site} {page.event_id} {page.url} ({page.status})"]
    return lines + [_history_line(entry) for entry in entries]


def _history_line(entry: HistoryEntry) -> str:
    if entry.rederivation is not None:
        done = entry.rederivation
        return f"{'':5} {entry.at:<20}  {REDERIVED} ({done.counts()}): {done.reason}"
    if entry.version is None:
        status = f" (HTTP {entry.http_status})" if entry.http_status else ""
        return f"{'':5} {entry.at:<20}  {entry.event}{status}"
    v = entry.version
    what = "first version" if v.seq == 1 else "changed " + (", ".join(v.changed_fields) or "-")
    origin = version_name(v.seq, v.origin)
    line = f"v{v.seq:<4} {v.captured_at:<20}  {what:<30}  {origin:<16}  {v.text_sha256[:12]}"
    return line + (f"  site updated {entry.site_updated_at}" if entry.site_updated_at else "")


# --------------------------------------------------------------------------- diff


def render_diff(old: Version, new: Version, word: bool = False) -> str:
    """A unified line diff of two versions' texts (or a word diff), "" when equal."""
    old_name = f"v{old.seq} {old.captured_at}"
    new_name = f"v{new.seq} {new.captured_at}"
    if word:
        return render_word_diff(old.text, new.text, old_name, new_name)
    lines = difflib.unified_diff(
        old.text.split("\n"), new.text.split("\n"), old_name, new_name, lineterm=""
    )
    return "\n".join(lines)


_WORD = re.compile(r"^\s+|\S+\s*")


def render_word_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """The new text with removed words as ``[-…-]`` and added ones as ``{+…+}``, only the
    lines that changed (git's ``--word-diff=plain``)."""
    if old == new:
        return ""
    out = [f"--- {old_name}", f"+++ {new_name}"]
    a, b = old.split("\n"), new.split("\n")
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            out.append(f"@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@")
            out.append(_word_hunk("\n".join(a[i1:i2]), "\n".join(b[j1:j2])))
    return "\n".join(out)


def _word_hunk(old: str, new: str) -> str:
    """``new`` with the words of ``old`` it lacks as ``[-…-]`` and its own as ``{+…+}``."""
    marks = {"equal": "{}", "delete": "[-{}-]", "insert": "{{+{}+}}"}
    return "".join(marks[tag].format(text) for tag, text in _word_ops(old, new))


def _word_ops(old: str, new: str) -> Iterator[tuple[str, str]]:
    """``new`` as ("equal" | "delete" | "insert", text) pieces against ``old``. A word is
    compared with the white space after it, which stays outside the changed pieces."""
    a, b = _WORD.findall(old), _WORD.findall(new)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        removed, added = "".join(a[i1:i2]), "".join(b[j1:j2])
        if tag == "equal":
            yield "equal", added
            continue
        last = added or removed
        if removed.strip():
            yield "delete", removed.rstrip()
        if added.strip():
            yield "insert", added.rstrip()
        if tail := last[len(last.rstrip()) :]:
            yield "equal", tail


def word_segments(old: str, new: str) -> list[tuple[str, str]]:
    """The whole of ``new`` as ("equal" | "delete" | "insert", text) pieces against
    ``old``: lines compared first, then words within the changed lines (the web view's
    diff page). Joined, the equal and insert pieces give ``new`` back."""
    a, b = old.split("\n"), new.split("\n")
    pieces: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            pieces.append(("equal", "\n".join(b[j1:j2]) + "\n"))
            continue
        before, after = "\n".join(a[i1:i2]), "\n".join(b[j1:j2])
        pieces.extend(_word_ops(before + "\n" if before else "", after + "\n" if after else ""))
    if pieces and pieces[-1][1].endswith("\n"):
        pieces[-1] = (pieces[-1][0], pieces[-1][1][:-1])
    return [piece for piece in pieces if piece[1]]


# --------------------------------------------------------------------------- search and list


def _record(row: sqlite3.Row) -> Record:
    data = dict(row)
    site, event_id, url = data.pop("page_site"), data.pop("page_event_id"), data.pop("page_url")
    data.pop("snippet", None)
    return Record(site, event_id, url, Version.from_row(data))


_QUERY_PART = re.compile(r'"([^"]*)"?|([^\s"]+)')


def quote_fts_query(text: str) -> str:
    """A query as a person types it, in FTS5 syntax: each word, and each "quoted phrase",
    matched as written (like sqlite-utils ``search --quote`` and Datasette's search box),
    so ``COVID-19``, ``S-400``, ``U.S.`` and ``Russia's`` are words to find, not syntax.
    Every term must match (AND). A repeated term counts once; an unclosed quote runs to
    the end. "" when the text holds no term. Pure: the web view uses it too."""
    terms: list[str] = []
    for phrase, word in _QUERY_PART.findall(text):
        term = " ".join((phrase or word).split())
        if term and f'"{term}"'.casefold() not in map(str.casefold, terms):
            terms.append(f'"{term}"')
    return " ".join(terms)


def search_versions(
    archive: Archive,
    query: str,
    all_versions: bool = False,
    limit: int | None = None,
    *,
    raw: bool = False,
) -> Iterator[Hit]:
    """Matches of ``query`` (words, see :func:`quote_fts_query`; FTS5 syntax with
    ``raw``), newest event first, each with a snippet around the match. Searches the
    current versions unless ``all_versions``. BadSearchQuery when the query cannot be
    read; a database error (a locked archive) is raised as what it is."""
    match = query if raw else quote_fts_query(query)
    if not match.strip():
        raise BadSearchQuery(f"empty search query {query!r}: give a word to search for")
    try:
        for row in archive.search(match, all_versions, limit):
            yield Hit(_record(row), row["snippet"])
    except BadSearchQuery as exc:
        hint = f"; to search for the words as typed, drop --fts: {quote_fts_query(query)}"
        raise BadSearchQuery(f"bad search query {query!r}: {exc}{hint if raw else ''}") from None


def render_hit(hit: Hit) -> str:
    """Two lines per search match: where, then the snippet."""
    v = hit.record.version
    when = v.fields.get("date") or v.captured_at[:10]
    snippet = hit.snippet.replace("\n", " / ")
    return f"{hit.record.event_id} v{v.seq} {when} {v.title}\n    {snippet}"


def list_pages(archive: Archive, since: date | None = None) -> Iterator[Listed]:
    """Archived events with a version, newest event first; ``since``: events of that day
    or later."""
    for row in archive.iter_current_pages(since.isoformat() if since else None):
        yield Listed(**dict(row))


def render_listed(item: Listed) -> str:
    where = "" if item.site == DEFAULT_SITE_HOST else f"{item.site} "
    versions = f"{item.versions} version" + ("s" if item.versions != 1 else "")
    day = item.date or "-"
    return f"{where}{item.event_id}  {day:<10}  {versions:<10}  {item.status:<4}  {item.title}"


def iter_records(
    archive: Archive, all_versions: bool = False, since: date | None = None
) -> Iterator[Record]:
    """Every page's current version (or every version), by site, event id and number,
    streamed from a cursor. ``since``: events of that day or later."""
    for row in archive.iter_version_rows(all_versions, since.isoformat() if since else None):
        yield _record(row)


def count_records(archive: Archive, all_versions: bool = False, since: date | None = None) -> int:
    """How many records :func:`iter_records` yields."""
    return archive.count_version_rows(all_versions, since.isoformat() if since else None)
