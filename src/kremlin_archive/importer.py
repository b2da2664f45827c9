"""Import: archive saved event pages without network (a browser's "save page", a wget mirror)
and WARC / ARC files (their records are read in ``warc.py``).

Each file is one capture of source ``import``, taken at the time given or at the file's
modification time, and keyed by the canonical URL the page names (its site found in the
config), like a crawled one. The import holds the run lock and is recorded in the runs
table like a crawl.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from .archive import Archive, Capture, Prepared, prepare_capture
from .chronology import save_capture
from .config import Config
from .discover import event_number
from .errors import ConfigError, PageError
from .locks import hold_run_lock
from .normalize import Transcript, parse_event_page
from .parallel import Failed, map_ordered
from .progress import NO_PROGRESS, Progress
from .timeutil import format_utc, utc_now
from .warc import Problem, WarcImport, WarcImporter, is_warc_path

logger = logging.getLogger(__name__)

IMPORT_SUFFIXES = (".html", ".htm")
#: saved files archived in one transaction: a commit per file costs the one writer a third
#: of its time; an interrupted import loses at most these (a new run imports them again)
FILES_PER_TRANSACTION = 64


@dataclass
class ImportResult:
    imported: dict[str, int] = field(default_factory=dict)  # outcome -> files
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    warc: WarcImport | None = None  # what the WARC / ARC files gave, when there were any
    already_archived: int = 0  # files whose very capture the archive holds: nothing stored

    def summary(self) -> str:
        done = ", ".join(f"{k} {self.imported.get(k, 0)}" for k in ("new", "changed", "unchanged"))
        line = (
            f"imported {sum(self.imported.values())} ({done}), "
            f"already archived {self.already_archived}, skipped {len(self.skipped)}"
        )
        if self.warc is not None:
            line += f", other WARC records {self.warc.other_records}"
        return line

    @property
    def problems(self) -> list[Problem]:
        return self.warc.problems if self.warc else []

    def add(self, other: ImportResult) -> None:
        """Count ``other``'s files too (those of a committed transaction)."""
        for outcome, n in other.imported.items():
            self.imported[outcome] = self.imported.get(outcome, 0) + n
        self.skipped.extend(other.skipped)
        self.already_archived += other.already_archived

    def add_warc(self, warc: WarcImport) -> None:
        self.warc = warc
        for outcome, n in warc.outcomes.items():
            self.imported[outcome] = self.imported.get(outcome, 0) + n
        self.skipped.extend(warc.skipped)

    def counts(self, files: int) -> dict[str, int]:
        """The run's counts: files found (a WARC record of an event page counts as one),
        and what they became (skipped files are not failures: a mirror holds listings and
        tabs beside the event pages; unreadable WARC records are)."""
        kept = {k: self.imported.get(k, 0) for k in ("new", "changed", "unchanged")}
        kept |= {"not_modified": self.imported.get("not-modified", 0)}
        kept |= {"gone": self.imported.get("gone", 0)}
        failed = self.imported.get("error", 0) + len(self.problems)
        if self.warc is not None:
            files += sum(self.warc.outcomes.values()) + len(self.warc.skipped)
        extra = {"already_archived": self.already_archived, "skipped": len(self.skipped)}
        return {"discovered": files, **kept, "failed": failed, **extra}


def iter_saved_pages(paths: tuple[Path, ...]) -> Iterator[Path]:
    """The HTML files named, and those below the folders named, in a stable order."""
    for path in paths:
        if path.is_dir():
            found = (p for p in path.rglob("*") if _importable(p))
            yield from sorted(p for p in found if p.is_file())
        else:
            yield path


def run_import(
    config: Config,
    paths: tuple[Path, ...],
    captured_at: str | None,
    jobs: int = 1,
    progress: Progress = NO_PROGRESS,
) -> ImportResult:
    """Archive saved event pages (a browser's "save page", a wget mirror) without network,
    each as a capture of source "import" taken at ``captured_at`` or, by default, at the
    file's modification time. Files that are no event page are skipped with the reason.
    A file older than the archive's last capture of its page takes its place in the page's
    history (the archive re-derives the versions in capture-time order). With ``jobs``
    above 1 the files are read and parsed in that many worker processes while this one
    writes, in the same order and with the same result as one process."""
    result = ImportResult()
    now = utc_now()
    if captured_at is not None and captured_at > now:
        raise ConfigError(
            f"--captured-at {captured_at} is ahead of the clock (now {now}): a page cannot"
            " have been saved in the future"
        )
    with (
        hold_run_lock(config.database.path, config.schedule.lock_wait),
        Archive(config.database.path, busy_timeout=config.database.busy_timeout) as archive,
    ):
        run_id = archive.start_run("import", utc_now())
        found = list(iter_saved_pages(paths))
        warcs = [p for p in found if is_warc_path(p)]
        files = sorted(
            ((p, captured_at or _mtime(p)) for p in found if not is_warc_path(p)),
            key=lambda pair: (pair[1], str(pair[0])),
        )
        archive.count_discovered(len(files))
        progress.add_total(len(files) + len(warcs))
        try:
            _import_files(config, archive, files, result, jobs, progress)
            if warcs:
                result.add_warc(import_warcs(config, archive, warcs, progress))
        except BaseException as exc:
            archive.finish_run(run_id, utc_now(), result.counts(len(files)), f"{exc}")
            raise
        archive.finish_run(run_id, utc_now(), result.counts(len(files)), None)
    logger.info("import finished run_id=%s %s", run_id, result.summary())
    return result


@dataclass(frozen=True)
class _Parsed:
    """A saved file read, parsed and prepared for saving (in a worker process when there
    are several: the writer then only stores)."""

    body: bytes | None
    transcript: Transcript | None
    skip: str | None  # why the file is skipped, when it is
    prepared: Prepared | None = None


def _read_and_parse(work: tuple[Path, tuple[int, bytes] | None]) -> _Parsed:
    """A file read, parsed and prepared with the archive's dictionary of the moment."""
    path, dictionary = work
    try:
        body = path.read_bytes()
        transcript = parse_event_page(body)
    except OSError as exc:
        return _Parsed(None, None, f"cannot read: {exc.strerror}")
    except (PageError, ValueError) as exc:  # ValueError: an id of thousands of digits
        return _Parsed(None, None, str(exc))
    return _Parsed(body, transcript, None, prepare_capture(body, transcript, dictionary))


def _import_files(
    config: Config,
    archive: Archive,
    files: list[tuple[Path, str]],
    result: ImportResult,
    jobs: int,
    progress: Progress = NO_PROGRESS,
) -> None:
    """Each file in order, FILES_PER_TRANSACTION to a transaction; ``result`` counts the
    files of the transactions committed. The ones dated in the future are skipped before
    parsing."""
    now = utc_now()
    wanted = [path for path, stamp in files if stamp <= now]
    work = ((path, archive.dictionary()) for path in wanted)  # drawn as the writer goes
    parsed = map_ordered(_read_and_parse, work, jobs)
    for start in range(0, len(files), FILES_PER_TRANSACTION):
        done = ImportResult()
        with archive.transaction():
            for path, stamp in files[start : start + FILES_PER_TRANSACTION]:
                if stamp > now:
                    reason = f"its time {stamp} is ahead of the clock (a wrong file date?)"
                    done.skipped.append((str(path), reason))
                else:
                    _import_parsed(config, archive, path, stamp, next(parsed), done)
                progress.advance(1, path.name)
        result.add(done)


def _import_parsed(
    config: Config,
    archive: Archive,
    path: Path,
    captured_at: str,
    parsed: _Parsed | Failed,
    result: ImportResult,
) -> None:
    if isinstance(parsed, Failed):  # what parsing raised besides the expected refusals
        result.skipped.append((str(path), f"{parsed.kind}: {parsed.message}"))
        return
    if parsed.skip is not None:
        result.skipped.append((str(path), parsed.skip))
        return
    transcript = parsed.transcript
    if transcript.event_id is None or transcript.url is None:
        result.skipped.append((str(path), "the page names neither its event id nor its URL"))
        return
    if event_number(str(transcript.event_id)) is None:
        result.skipped.append((str(path), f"event id {transcript.event_id} cannot exist"))
        return
    parts = urlsplit(transcript.url)
    site = config.site_for_host(parts.netloc)
    if site is None:
        result.skipped.append((str(path), f"a page of {parts.netloc}, not a configured site"))
        return
    capture = Capture(
        site=site.host, event_id=transcript.event_id, url=site.url + parts.path,
        captured_at=captured_at, source="import", status=200, body=parsed.body,
        transcript=transcript, prepared=parsed.prepared,
    )  # fmt: skip
    if archive.stored_outcome(capture) is not None:
        result.already_archived += 1
        logger.debug("already archived file=%s url=%s", path, transcript.url)
        return
    outcome = save_capture(archive, capture)
    result.imported[outcome] = result.imported.get(outcome, 0) + 1
    logger.debug("imported file=%s url=%s outcome=%s", path, transcript.url, outcome)


def import_warcs(
    config: Config, archive: Archive, paths: list[Path], progress: Progress = NO_PROGRESS
) -> WarcImport:
    """Import WARC / ARC files in the order given (see ``warc.py``)."""
    importer = WarcImporter(config, archive)
    for path in paths:
        importer.import_file(path)
        progress.advance(1, path.name)
    return importer.result


def _importable(path: Path) -> bool:
    return path.suffix.lower() in IMPORT_SUFFIXES or is_warc_path(path)


def _mtime(path: Path) -> str:
    try:
        return format_utc(datetime.fromtimestamp(path.stat().st_mtime, UTC))
    except OSError:
        return utc_now()
