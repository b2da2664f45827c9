"""Re-normalization: versions re-derived from the stored raw pages, without network.

The archive keeps every raw page, so a newer normalizer can read them again. This module
does the reading (the archive never parses) over the archive's read and write API, and
records what differs as a version of origin "renormalize", never as a site edit:

    renormalize        every page not yet checked with the installed normalizer (all with
                       ``force``): its current version re-derived from its newest good raw
                       page, 64 pages to a transaction (an interrupted run resumes with
                       the pages of the transaction it lost)
    save_capture       a capture made by this normalizer: the page's current version is
                       first re-derived if an older normalizer made it, in the capture's
                       transaction, so the difference is not taken for an edit by the site
    derive_chain       a page's whole version chain as this normalizer reads its good
                       captures in capture-time order, each version's change counted
                       against its chronological predecessor; run it inside
                       ``Archive.transaction()`` to write the result in the same one

Errors: ``rederive_current`` and ``derive_chain`` raise PageError when a stored raw page no
longer normalizes; ``renormalize`` counts the page as failed and goes on, ``save_capture``
logs it and saves the capture over the version as it stands.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path

from .archive import Archive, Capture, GoodCapture, Version
from .changeset import Content, Link, link_chain
from .errors import PageError
from .normalize import NORMALIZER_VERSION, Transcript, parse_event_page
from .parallel import Failed, map_ordered
from .progress import NO_PROGRESS, Progress

logger = logging.getLogger(__name__)

Parse = Callable[[bytes, str | None], Transcript]


@dataclass(frozen=True)
class Normalizer:
    """A parser and the version number it stores with what it makes."""

    parse: Parse = parse_event_page
    version: int = NORMALIZER_VERSION


INSTALLED = Normalizer()


#: pages re-derived in one transaction: a commit per page was the one writer's largest
#: cost after the parsing left it; a killed run loses the marks of at most these pages,
#: which the next run re-derives again (nothing else is lost or left half written)
PAGES_PER_TRANSACTION = 64

COUNTS = ("pages", "renormalized", "unchanged", "failed")

#: a page's newest good raw page (sha256) and the content it normalizes to (a PageError
#: as ``Failed``); (None, None) for a page with no version or no good capture
Parsed = tuple[str | None, Content | Failed | None]


@dataclass(frozen=True)
class Unchanged:
    """A worker's answer for a page whose newest good raw page still reads as its current
    version: the writer checks that both are still those, and marks the page."""

    version_id: int
    raw_sha256: str

    @property
    def read(self) -> tuple[int, str]:
        return self.version_id, self.raw_sha256


#: what a worker hands back for a page (the content only where it differs)
Answer = Parsed | Unchanged


@dataclass(frozen=True)
class _ArchiveAt:
    """The archive a worker process opens for itself, read-only (a connection cannot
    cross to another process; its path and lock wait can)."""

    path: Path
    busy_timeout: float


def renormalize(
    archive: Archive,
    normalizer: Normalizer = INSTALLED,
    *,
    force: bool = False,
    jobs: int = 1,
    progress: Progress = NO_PROGRESS,
) -> dict[str, int]:
    """Re-derive the current version of every page not yet checked with ``normalizer``
    (every page with ``force``), PAGES_PER_TRANSACTION pages to a transaction. Returns
    counts of the pages committed: pages, renormalized (versions added), unchanged, failed
    (raw pages that no longer normalize). With ``jobs`` above 1, worker processes read
    each page's raw page through their own read-only archive and parse it while this one
    writes, in the same order and with the same result as one process."""
    counts = dict.fromkeys(COUNTS, 0)
    page_ids = archive.pages_to_renormalize(normalizer.version, force)
    progress.add_total(len(page_ids))
    source = archive if jobs <= 1 else _ArchiveAt(archive.path, archive.busy_timeout)
    read = functools.partial(_read_and_parse, normalizer.parse, source)
    answers = zip(page_ids, map_ordered(read, page_ids, jobs), strict=True)
    while batch := list(itertools.islice(answers, PAGES_PER_TRANSACTION)):
        for name, n in _apply_batch(archive, batch, normalizer, progress).items():
            counts[name] += n
    logger.info("renormalized version=%s counts=%s", normalizer.version, counts)
    return counts


def _read_and_parse(parse: Parse, source: Archive | _ArchiveAt, page_id: int) -> Answer:
    """Run in a worker: the page's newest good raw page read through ``source`` (the
    writer's own archive in one process), parsed and compared with its current version."""
    reader = source if isinstance(source, Archive) else _reader(source)
    found = reader.rederive_source(page_id)
    if found is None:
        return None, None
    try:
        content = Content.of(parse(reader.raw_body(found.raw_sha256), found.url))
    except PageError as exc:
        return found.raw_sha256, Failed(type(exc).__name__, str(exc))
    if content.same_as(found):
        return Unchanged(found.version_id, found.raw_sha256)
    return found.raw_sha256, content


@functools.cache
def _reader(at: _ArchiveAt) -> Archive:
    """This worker process's read-only archive, opened at its first page and kept until
    the process ends."""
    return Archive(at.path, busy_timeout=at.busy_timeout, read_only=True)


def _apply_batch(
    archive: Archive,
    batch: list[tuple[int, Answer | Failed]],
    normalizer: Normalizer,
    progress: Progress,
) -> dict[str, int]:
    """Write the pages' results in one transaction (taken once they are all parsed, so
    the write lock is not held while the workers parse); returns their counts."""
    done = dict.fromkeys(COUNTS, 0)
    with archive.transaction():
        for page_id, answer in batch:
            outcome = _apply(archive, page_id, answer, normalizer)
            done["pages"] += 1
            done[outcome] += 1
            progress.advance(1, f"page {page_id} {outcome}")
    return done


def _apply(archive: Archive, page_id: int, answer: Answer | Failed, normalizer: Normalizer) -> str:
    """Write one page's result: "renormalized", "unchanged" or "failed". Where the page
    changed since the worker read it, or the worker could not read it (``Failed``: the
    archive's error, not the parser's), it is read and parsed here, as one process does."""
    if isinstance(answer, Unchanged) and _still_current(archive, page_id, answer):
        archive.mark_normalized(page_id, normalizer.version)
        return "unchanged"
    parsed = None if isinstance(answer, Unchanged | Failed) else answer
    if parsed is not None and isinstance(parsed[1], Failed):
        logger.warning("renormalize failed page_id=%s error=%s", page_id, parsed[1].message)
        return "failed"
    try:
        with archive.transaction():
            added = rederive_current(archive, page_id, normalizer, parsed)
    except PageError as exc:
        logger.warning("renormalize failed page_id=%s error=%s", page_id, exc)
        return "failed"
    return "renormalized" if added else "unchanged"


def _still_current(archive: Archive, page_id: int, answer: Unchanged) -> bool:
    now = archive.rederive_source(page_id)
    return now is not None and (now.version_id, now.raw_sha256) == answer.read


def rederive_current(
    archive: Archive,
    page_id: int,
    normalizer: Normalizer,
    parsed: tuple[str | None, Content | None] | None = None,
) -> Version | None:
    """Parse the page's newest good raw page again; where the result differs from the
    current version, add and return a "renormalize" version. The page is marked as
    checked with ``normalizer`` either way. Raises PageError (nothing is marked).
    ``parsed`` is (raw sha256, content) already worked out for that raw page, used when it
    is still the newest."""
    current = archive.current_version(page_id)
    good = archive.good_captures(page_id)
    if current is None or not good:
        return None
    newest = good[-1]
    if parsed is not None and parsed[0] == newest.raw_sha256 and parsed[1] is not None:
        content = parsed[1]
    else:
        content = _content(archive, newest, current.fields.get("url"), normalizer)
    archive.mark_normalized(page_id, normalizer.version)
    if content.same_as(current):
        return None
    return archive.add_version(
        page_id,
        current,
        content,
        origin="renormalize",
        captured_at=newest.captured_at,
        raw_sha256=newest.raw_sha256,
        normalizer_version=normalizer.version,
    )


def save_capture(archive: Archive, capture: Capture, normalizer: Normalizer = INSTALLED) -> str:
    """Save a capture whose transcript ``normalizer`` made (``Archive.save_capture``'s
    outcome). Where the page's current version was made by another normalizer, it is
    re-derived first, in the same transaction, so that only a real edit is "changed"; a
    304 (the page as it was) brings it up to date too."""
    if capture.transcript is not None and capture.normalizer_version is None:
        capture = replace(capture, normalizer_version=normalizer.version)
    with archive.transaction():
        answered = capture.transcript is not None or capture.status == 304
        if answered and capture.error is None:
            _bring_up_to_date(archive, capture, normalizer)
        return archive.save_capture(capture)


def _bring_up_to_date(archive: Archive, capture: Capture, normalizer: Normalizer) -> None:
    state = archive.page_state(capture.site, capture.event_id)
    if state is None or not state.versions or state.normalizer_version == normalizer.version:
        return
    try:
        rederive_current(archive, state.page_id, normalizer)
    except PageError as exc:
        logger.warning("re-derive failed page_id=%s error=%s", state.page_id, exc)


def derive_chain(
    archive: Archive,
    page_id: int,
    normalizer: Normalizer = INSTALLED,
    cache: MutableMapping[tuple[Normalizer, str], Content] | None = None,
) -> list[Link[GoodCapture]]:
    """The page's version chain as ``normalizer`` reads every good capture, oldest first:
    one link per capture whose content differs from its chronological predecessor's,
    with its change counted against that predecessor. The same captures give the same
    chain whatever order they were archived in. Reads only; raises PageError. ``cache``
    keeps contents by (normalizer, raw page) for the next derivations."""
    current = archive.current_version(page_id)
    url = current.fields.get("url") if current else None
    good = archive.good_captures(page_id)
    return link_chain((c, _cached_content(archive, c, url, normalizer, cache)) for c in good)


def _cached_content(
    archive: Archive,
    capture: GoodCapture,
    url: str | None,
    normalizer: Normalizer,
    cache: MutableMapping[tuple[Normalizer, str], Content] | None,
) -> Content:
    if cache is None:
        return _content(archive, capture, url, normalizer)
    key = (normalizer, capture.raw_sha256)
    if key not in cache:
        cache[key] = _content(archive, capture, url, normalizer)
    return cache[key]


def _content(
    archive: Archive, capture: GoodCapture, url: str | None, normalizer: Normalizer
) -> Content:
    return Content.of(normalizer.parse(archive.raw_body(capture.raw_sha256), url))


def render_summary(
    counts: dict[str, int], refused: dict[str, int], up_to_date: int, version: int
) -> str:
    """What ``renormalize`` prints: its counts, the refused 200s read again, and why nothing
    was done when nothing was."""
    line = ", ".join(f"{name} {counts[name]}" for name in counts)
    if refused["refused"]:
        line += f"; refused pages re-read {refused['refused']}, recovered {refused['recovered']}"
    if counts["pages"] or refused["refused"]:
        return line
    if not up_to_date:
        return f"{line}: nothing to do, the archive holds no version yet"
    return (
        f"{line}: nothing to do, all {up_to_date} pages were read with normalizer version "
        f"{version} already; --force re-derives every page from its stored raw page"
    )
