"""Re-normalization: versions re-derived from the stored raw pages, without network.

The archive keeps every raw page, so a newer normalizer can read them again. This module
does the reading (the archive never parses) over the archive's read and write API, and
records what differs as a version of origin "renormalize", never as a site edit:

    renormalize        every page not yet checked with the installed normalizer (all with
                       ``force``): its current version re-derived from its newest good raw
                       page, one transaction per page (an interrupted run resumes)
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
import logging
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, replace

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


def renormalize(
    archive: Archive,
    normalizer: Normalizer = INSTALLED,
    *,
    force: bool = False,
    jobs: int = 1,
    progress: Progress = NO_PROGRESS,
) -> dict[str, int]:
    """Re-derive the current version of every page not yet checked with ``normalizer``
    (every page with ``force``). Returns counts: pages, renormalized (versions added),
    unchanged, failed (raw pages that no longer normalize). With ``jobs`` above 1 the
    pages are parsed in that many worker processes while this one reads and writes, in
    the same order and with the same result as one process."""
    counts = {"pages": 0, "renormalized": 0, "unchanged": 0, "failed": 0}
    page_ids = archive.pages_to_renormalize(normalizer.version, force)
    progress.add_total(len(page_ids))
    work = (_parse_work(archive, page_id) for page_id in page_ids)
    parse = functools.partial(_parsed_content, normalizer.parse)
    for page_id, (raw_sha, content) in zip(page_ids, map_ordered(parse, work, jobs), strict=True):
        counts["pages"] += 1
        outcome = _apply(archive, page_id, raw_sha, content, normalizer)
        counts[outcome] += 1
        progress.advance(1, f"page {page_id} {outcome}")
    logger.info("renormalized version=%s counts=%s", normalizer.version, counts)
    return counts


def _parse_work(archive: Archive, page_id: int) -> tuple[str | None, bytes | None, str | None]:
    """What parsing a page again needs: its newest good raw page (sha256, body) and URL."""
    current = archive.current_version(page_id)
    good = archive.good_captures(page_id)
    if current is None or not good:
        return None, None, None
    sha = good[-1].raw_sha256
    return sha, archive.raw_body(sha), current.fields.get("url")


def _parsed_content(parse: Parse, work: tuple) -> tuple[str | None, Content | Failed | None]:
    """Run in a worker: the content a raw page normalizes to (a PageError as ``Failed``)."""
    sha, body, url = work
    if sha is None:
        return None, None
    try:
        return sha, Content.of(parse(body, url))
    except PageError as exc:
        return sha, Failed(type(exc).__name__, str(exc))


def _apply(
    archive: Archive,
    page_id: int,
    raw_sha: str | None,
    content: Content | Failed | None,
    normalizer: Normalizer,
) -> str:
    """Write one page's result in one transaction: "renormalized", "unchanged" or "failed"."""
    if isinstance(content, Failed):
        logger.warning("renormalize failed page_id=%s error=%s", page_id, content.message)
        return "failed"
    try:
        with archive.transaction():
            added = rederive_current(archive, page_id, normalizer, (raw_sha, content))
    except PageError as exc:
        logger.warning("renormalize failed page_id=%s error=%s", page_id, exc)
        return "failed"
    return "renormalized" if added else "unchanged"


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
