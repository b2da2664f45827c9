"""Saving a capture of any time: history in capture-time order, whatever the arrival order.

A Wayback backfill, a WARC import or old saved files bring captures older than the stored
versions. Appending them would compare each with the newest version and make the history
depend on the order they came in. So a good capture older than its page's last good one
is placed in the page's past instead:

    save_capture   the one entry point for saving a capture (crawl, import, wayback, warc):
                   a capture of the past is stored without a version, the page's chain is
                   derived again from all its good captures in capture-time order
                   (``renormalize.derive_chain``), and the archive swaps it in where it
                   differs, all in one transaction (``Archive.settle_chain``: the rows
                   replaced are kept, the re-derivation recorded); any other capture goes
                   through ``renormalize.save_capture`` as before.
    reread_refused a 200 that was refused when it came (its body kept) and that this
                   normalizer reads: it becomes a good capture placed in its page's history
                   the same way, by capture time (``renormalize`` runs it).

The same set of captures therefore gives the same versions, times and changes whatever
order they were saved in (captures of one second keep their saving order).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import replace

from .archive import Archive, Capture, RefusedCapture
from .changeset import Content
from .errors import PageError
from .progress import NO_PROGRESS, Progress
from .renormalize import INSTALLED, Normalizer, derive_chain
from .renormalize import save_capture as save_in_order

logger = logging.getLogger(__name__)

CONTENT_CACHE = 512  # raw pages whose content is kept between two re-derivations


class ContentCache(OrderedDict):
    """Contents by (normalizer, raw page SHA-256), the most recent ``size`` kept: a
    backfill re-derives one page many times, and each raw page needs parsing once."""

    def __init__(self, size: int = CONTENT_CACHE) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: tuple[Normalizer, str], value: Content) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


_CONTENTS = ContentCache()  # contents are a pure function of their key: safe to share


def save_capture(archive: Archive, capture: Capture, normalizer: Normalizer = INSTALLED) -> str:
    """Save one capture of any time; returns its outcome (``Archive.save_capture``'s)."""
    if capture.transcript is not None and capture.normalizer_version is None:
        capture = replace(capture, normalizer_version=normalizer.version)
    with archive.transaction():
        if not archive.arrives_early(capture):
            return save_in_order(archive, capture, normalizer)
        return _save_in_past(archive, capture, normalizer)


def _save_in_past(archive: Archive, capture: Capture, normalizer: Normalizer) -> str:
    past = archive.save_past_capture(capture)
    if past.capture_id is None:
        return past.outcome
    try:
        chain = derive_chain(archive, past.page_id, normalizer, _CONTENTS)
    except PageError as exc:
        logger.warning("re-derive failed page_id=%s error=%s", past.page_id, exc)
        chain = None
    reason = f"a capture of {capture.captured_at} ({capture.source}) came after later ones"
    outcome = archive.settle_chain(past, chain, normalizer.version, reason)
    logger.debug("saved past capture url=%s outcome=%s", capture.url, outcome)
    return outcome


def reread_refused(
    archive: Archive, normalizer: Normalizer = INSTALLED, progress: Progress = NO_PROGRESS
) -> dict[str, int]:
    """Read every refused 200 whose body was kept again with ``normalizer``; one that
    normalizes now, and names its own event, becomes a good capture in its page's history
    (one transaction each). Returns counts: refused (re-read), recovered."""
    refused = archive.refused_captures()
    progress.add_total(len(refused))
    counts = {"refused": len(refused), "recovered": 0}
    for capture in refused:
        recovered = _reread(archive, capture, normalizer)
        counts["recovered"] += recovered
        progress.advance(1, f"{capture.event_id} {'recovered' if recovered else 'refused'}")
    return counts


def _reread(archive: Archive, refused: RefusedCapture, normalizer: Normalizer) -> bool:
    try:
        transcript = normalizer.parse(archive.raw_body(refused.raw_sha256), refused.url)
    except PageError as exc:
        logger.debug("still refused capture_id=%s error=%s", refused.id, exc)
        return False
    if transcript.event_id not in (None, refused.event_id):
        return False
    reason = f"a refused capture of {refused.captured_at} normalizes now ({refused.error})"
    with archive.transaction():
        past = archive.accept_refused(refused)
        chain = derive_chain(archive, past.page_id, normalizer, _CONTENTS)
        archive.settle_chain(past, chain, normalizer.version, reason)
        archive.mark_normalized(past.page_id, normalizer.version)
    logger.info("refused capture re-read capture_id=%s event_id=%s", refused.id, refused.event_id)
    return True
