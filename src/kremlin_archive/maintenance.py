"""The raw pages' upkeep: ``verify`` reads every stored raw page back and checks its
SHA-256; ``compact`` stores the older ones anew (zstd with the archive's dictionary, and a
delta against the page's previous capture where that is smaller), checking each result
before it replaces the old bytes.

Both go through the archive's read and write API (no SQL here) and report progress through
a callback, so the CLI can draw a bar.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import rawcodec
from .archive import Archive
from .errors import ArchiveError

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class VerifyResult:
    pages: int = 0
    bytes: int = 0  # the bodies as received
    stored: int = 0  # what they take in the archive
    encodings: dict[str, int] = field(default_factory=dict)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (sha256, what is wrong)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.bad

    def summary(self) -> str:
        kinds = ", ".join(f"{name} {n}" for name, n in sorted(self.encodings.items()))
        verdict = "all match their SHA-256" if self.ok else f"{len(self.bad)} do not"
        return (
            f"verified {self.pages} raw pages ({self.bytes:,} bytes, stored in "
            f"{self.stored:,}; {kinds or 'none'}) in {self.seconds:.1f} s: {verdict}"
        )


def verify_raw_pages(archive: Archive, progress: Progress | None = None) -> VerifyResult:
    """Read every raw page back and compare it with its SHA-256 and size."""
    started = time.perf_counter()
    result = VerifyResult()
    facts = list(archive.iter_raw_page_facts())
    for done, fact in enumerate(facts, 1):
        result.pages += 1
        result.bytes += fact["bytes"]
        result.stored += fact["stored"]
        kind = fact["compression"]
        result.encodings[kind] = result.encodings.get(kind, 0) + 1
        problem = _problem(archive, fact["sha256"], fact["bytes"])
        if problem:
            logger.error("raw page bad sha256=%s problem=%s", fact["sha256"], problem)
            result.bad.append((fact["sha256"], problem))
        if progress:
            progress(done, len(facts))
    result.seconds = time.perf_counter() - started
    return result


def _problem(archive: Archive, sha256: str, size: int) -> str | None:
    try:
        body = archive.raw_body(sha256)
    except ArchiveError as exc:
        return str(exc)
    if hashlib.sha256(body).hexdigest() != sha256:
        return f"reads back as {hashlib.sha256(body).hexdigest()}"
    if len(body) != size:
        return f"reads back as {len(body)} bytes, not {size}"
    return None


@dataclass
class CompactResult:
    pages: int = 0  # raw pages stored anew
    deltas: int = 0  # of which as deltas
    stored_before: int = 0
    stored_after: int = 0
    dictionary: int | None = None  # the dictionary trained by this run
    file_before: int = 0
    file_after: int = 0

    def summary(self) -> str:
        trained = f"dictionary {self.dictionary} trained; " if self.dictionary else ""
        return (
            f"compacted {self.pages} raw pages ({self.deltas} as deltas): "
            f"{self.stored_before:,} -> {self.stored_after:,} bytes; {trained}"
            f"file {self.file_before:,} -> {self.file_after:,} bytes"
        )


def compact_archive(
    archive: Archive,
    *,
    retrain: bool = False,
    vacuum: bool = True,
    progress: Progress | None = None,
) -> CompactResult:
    """Store every raw page that is not in the newest encoding anew; one transaction a
    page, so an interrupted compact resumes where it stopped. ``retrain`` trains a new
    dictionary (a new version of it) first; one is trained anyway when the archive has
    none. ``vacuum`` gives the freed space back to the file system at the end."""
    result = CompactResult(file_before=_file_bytes(archive.path))
    if retrain or archive.dictionary() is None:
        result.dictionary = archive.train_new_dictionary(rawcodec.DICT_SAMPLES)
    rows = archive.raw_pages_to_compact()
    for done, row in enumerate(rows, 1):
        _compact_one(archive, row, result)
        if progress:
            progress(done, len(rows))
    if vacuum and rows:
        archive.vacuum()
    result.file_after = _file_bytes(archive.path)
    logger.info("compacted pages=%d deltas=%d", result.pages, result.deltas)
    return result


def _compact_one(archive: Archive, row, result: CompactResult) -> None:
    sha = row["sha256"]
    body = archive.raw_body(sha)
    base = None
    if not row["used"] and row["page_id"] is not None:  # a base of others stays whole
        base = archive.full_base_before(row["page_id"], row["captured_at"], sha)
    encoded = rawcodec.encode(body, base, archive.dictionary())
    check = rawcodec.decode(
        encoded.compression,
        encoded.body,
        base.body if encoded.base_sha256 else None,
        archive.dictionary()[1] if encoded.dict_id else None,
    )
    if check != body:  # never replace bytes with ones that do not read back the same
        raise ArchiveError(f"re-encoding raw page {sha} would not read back the same; kept")
    result.stored_before += len(archive.raw_stored(sha))
    archive.reencode_raw_page(sha, encoded)
    result.pages += 1
    result.deltas += encoded.compression == "zstd-delta"
    result.stored_after += len(encoded.body)


def _file_bytes(path: Path) -> int:
    files = (path, path.with_name(path.name + "-wal"))
    return sum(f.stat().st_size for f in files if f.exists())
