"""Archive -> jsonl / csv / txt / turns files, streaming, with a manifest.

Records are read from a cursor and written as they come, each file hashed while it is
written, so memory stays flat however large the archive. The same archive gives the same
bytes: records go in a fixed order (site, event id, version), JSON keys in a fixed order,
and ``manifest.json`` records the archive's state (its last capture, its counts, its
schema version), never the wall clock.

Nothing half-written ever stands under a final name, and nothing this tool did not write
is touched. Every file is first written as ``<name>.part``; then the new manifest as
``manifest.json.part``; then the files are moved into place, the earlier export's stale
files removed, and the manifest moved into place last. An export that fails (a full disk)
removes its ``.part`` files and says so; one that is killed leaves ``.part`` files and
perhaps the pending manifest, which the next export reads as its own and tidies up. Only
plain file names listed by a manifest (``events.jsonl``, ``53016.txt``) are ever replaced
or removed, inside the folder: a manifest naming ``../x``, ``/abs`` or a folder is refused.

    jsonl   events.jsonl (versions.jsonl with all versions): one record per line
    csv     events.csv (versions.csv): the same columns; lists and dicts as JSON strings
    txt     <id>.txt per event (<site>-<id>.txt off en.kremlin.ru; -v<N> with all versions)
    turns   turns.jsonl: one line per speaker turn (event, date, version, turn, speaker, text)
    warc    captures.warc.gz: every capture as a WARC record (see ``warc.py``), gzip per record
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from . import __version__
from .archive import Archive
from .config import DEFAULT_SITE_HOST
from .errors import ExportError
from .lookup import Record, iter_records
from .lookup import count_records as count_lookup
from .warc import warcinfo_fields, write_warc

logger = logging.getLogger(__name__)

FORMATS = ("jsonl", "csv", "txt", "turns", "warc")
WARC_FILE = "captures.warc.gz"
MANIFEST = "manifest.json"
PART = ".part"
#: The names an export may list: one plain file name inside the folder.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: The files this version writes (their ``.part`` files are its own temporary files).
_EXPORT_NAME = re.compile(
    r"(?:events|versions)\.(?:jsonl|csv)|turns\.jsonl|manifest\.json|captures\.warc\.gz"
    r"|(?:[A-Za-z0-9][A-Za-z0-9._-]*-)?\d+(?:-v\d+)?\.txt"
)
# The record's columns, in order: identity, version facts, Transcript fields, text.
COLUMNS = (
    "site",
    "event_id",
    "url",
    "version",
    "captured_at",
    "origin",
    "changed_fields",
    "text_sha256",
    "fields_sha256",
    "raw_sha256",
    "normalizer_version",
    "language",
    "kind",
    "title",
    "lead",
    "date",
    "time",
    "place",
    "announcement",
    "tags",
    "sections",
    "published",
    "photo_count",
    "turns",
    "attachments",
    "text",
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ExportOptions:
    format: str
    out: Path
    all_versions: bool = False
    since: date | None = None


@dataclass
class FileEntry:
    name: str
    records: int = 0
    bytes: int = 0
    sha256: str = ""

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "records": self.records,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }


Progress = Callable[[int], None]


def count_records(archive: Archive, options: ExportOptions) -> int:
    """How many versions (captures for WARC) the export reads (a progress bar's length)."""
    if options.format == "warc":
        return archive.count_captures(_day(options))
    return count_lookup(archive, options.all_versions, options.since)


def export_archive(
    archive: Archive, options: ExportOptions, progress: Progress | None = None
) -> dict:
    """Write the export into ``options.out`` and return the manifest it wrote."""
    if options.format not in FORMATS:
        raise ExportError(f"unknown export format {options.format!r} (known: {FORMATS})")
    out = options.out
    earlier = _earlier_export(out)
    created = _make_dir(out)
    _tidy_killed_export(out, earlier)
    try:
        manifest, files = _write_parts(archive, options, progress)
        _move_into_place(out, [f.name for f in files])
        _remove_stale(out, earlier - {f.name for f in files})
        _move_into_place(out, [MANIFEST])
    except BaseException as exc:
        raise _aborted(out, exc, created) from None
    logger.info("exported format=%s files=%d dir=%s", options.format, len(files), out)
    return manifest


def _write_parts(
    archive: Archive, options: ExportOptions, progress: Progress | None
) -> tuple[dict, list[FileEntry]]:
    """Every file as ``<name>.part`` from one snapshot, then the manifest's ``.part``."""
    with archive.snapshot():  # a crawl writing meanwhile is not half seen
        state = archive.content_state()
        if options.format == "warc":
            files = write_warc_export(archive, options, state, progress)
        else:
            rows = _counted(iter_records(archive, options.all_versions, options.since), progress)
            with contextlib.closing(rows):  # a failed write ends the cursor in the snapshot
                files = WRITERS[options.format](rows, options)
    manifest = build_manifest(options, state, files)
    _stream(options.out / MANIFEST, lambda out: _write_json(out, manifest))
    return manifest, files


def _write_json(out: HashingWriter, data: dict) -> None:
    """``data`` as JSON (indented, keys sorted, a final newline), written 64 kB at a time:
    a txt export's manifest lists every file, and ``json.dumps`` would first hold the
    whole text and the thousand small pieces it joins (about 1 kB a file)."""
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, sort_keys=True)
    pieces: list[str] = []
    size = 0
    for piece in encoder.iterencode(data):
        pieces.append(piece)
        size += len(piece)
        if size >= _JSON_WRITE_SIZE:
            out.write("".join(pieces))
            pieces, size = [], 0
    out.write("".join(pieces) + "\n")


def _aborted(out: Path, exc: BaseException, created: bool) -> BaseException:
    """Remove what this export wrote (its ``.part`` files; the folder if it made it and
    it is empty) and say so; the earlier export is left as it was."""
    _remove_parts(out)
    removed_dir = False
    if created:
        with contextlib.suppress(OSError):
            out.rmdir()
            removed_dir = True
    if not isinstance(exc, OSError | ExportError):
        return exc
    what = str(exc) if isinstance(exc, ExportError) else f"cannot write in {out}: {exc}"
    if removed_dir:
        return ExportError(f"{what}; the unfinished export and its folder {out} were removed")
    return ExportError(
        f"{what}; the unfinished files of this export were removed, and whatever was in "
        f"{out} before is as it was"
    )


def _earlier_export(out: Path) -> set[str]:
    """The files the manifest of an earlier export in ``out`` lists, which this one
    replaces. Those of an export killed before it moved its manifest into place (listed by
    its pending manifest, or ``.part`` files) are this tool's too. A folder that holds
    anything else is refused: an export never mixes with, or deletes, other files."""
    names = {p.name for p in out.iterdir()} if out.is_dir() else set()
    if not names:
        return set()
    listed = _listed_files(out, MANIFEST)
    pending = _listed_files(out, MANIFEST + PART)
    ours = {n for n in names if n.endswith(PART) and _EXPORT_NAME.fullmatch(n[: -len(PART)])}
    strangers = sorted(names - listed - pending - ours - {MANIFEST})
    if strangers:
        shown = ", ".join(strangers[:3]) + (", …" if len(strangers) > 3 else "")
        raise ExportError(
            f"{out} holds files that are not from an earlier export ({shown}); "
            "export into an empty or new folder"
        )
    return listed


def _listed_files(out: Path, name: str) -> set[str]:
    """The file names a manifest in ``out`` lists, each checked to be a plain file name
    of the folder; ExportError for anything else."""
    manifest = out / name
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        listed = [entry["name"] for entry in data["files"]]
    except FileNotFoundError:
        return set()
    except (OSError, ValueError, KeyError, TypeError):
        raise ExportError(
            f"{manifest} is not the manifest of an export; use another folder"
        ) from None
    for entry in listed:
        _check_listed(out, manifest, entry)
    return set(listed)


def _check_listed(out: Path, manifest: Path, name: object) -> None:
    """An export only ever lists plain names of regular files in its folder."""
    if not isinstance(name, str) or not _PLAIN_NAME.fullmatch(name) or name == MANIFEST:
        raise ExportError(
            f"{manifest} lists {name!r}, which is not a file name an export writes "
            "(no folders, no paths); nothing was replaced or removed: use another folder"
        )
    path = out / name
    if path.exists() and not path.is_file() and not path.is_symlink():
        raise ExportError(
            f"{manifest} lists {name!r}, which is a folder or a special file, not a file "
            "an export wrote; nothing was replaced or removed: use another folder"
        )


def _tidy_killed_export(out: Path, listed: set[str]) -> None:
    """Remove what an export killed midway left: the files only its pending manifest
    lists (the finished manifest does not describe them), and every ``.part`` file."""
    for name in sorted(_listed_files(out, MANIFEST + PART) - listed):
        (out / name).unlink(missing_ok=True)
    if _remove_parts(out):
        logger.info("export tidied dir=%s: an earlier export had been cut short", out)


def _move_into_place(out: Path, names: list[str]) -> None:
    for name in names:
        os.replace(out / (name + PART), out / name)


def _remove_parts(out: Path) -> int:
    """Remove the ``.part`` files of this tool in ``out``; how many there were."""
    if not out.is_dir():
        return 0
    parts = [p for p in out.iterdir() if p.name.endswith(PART)]
    ours = [p for p in parts if _EXPORT_NAME.fullmatch(p.name[: -len(PART)])]
    for path in ours:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return len(ours)


def _remove_stale(out: Path, names: set[str]) -> None:
    for name in sorted(names):
        (out / name).unlink(missing_ok=True)


def _make_dir(out: Path) -> bool:
    """Make the folder if needed; True when this call made it."""
    existed = out.is_dir()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {out}: {exc.strerror}") from None
    return not existed


def _counted(rows: Iterator, progress: Progress | None) -> Iterator:
    for row in rows:
        yield row
        if progress is not None:
            progress(1)


def build_manifest(options: ExportOptions, state: dict, files: list[FileEntry]) -> dict:
    """What was asked, the archive's state, the counts, and every file's size and hash."""
    return {
        "exporter": f"kremlin-archive {__version__}",
        "format": options.format,
        "all_versions": options.all_versions,
        "since": options.since.isoformat() if options.since else None,
        "archive": state,
        "counts": {"files": len(files), "records": sum(f.records for f in files)},
        "files": [f.to_dict() for f in files],
    }


# --------------------------------------------------------------------------- records


def render_record(record: Record) -> dict[str, Any]:
    """One export record: COLUMNS, in order."""
    data = record.to_dict()
    return {name: data.get(name) for name in COLUMNS}


def render_csv_line(values: list[Any]) -> str:
    """One CSV line as RFC 4180 and csv.writer (QUOTE_MINIMAL) write it, only faster on
    long fields: quoted when a value holds a comma, a quote or a line break."""
    return ",".join(_csv_cell(value) for value in values) + "\r\n"


def _csv_cell(value: Any) -> str:
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False)
    text = "" if value is None else str(value)
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _json_line(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False) + "\n"


def txt_name(record: Record, all_versions: bool) -> str:
    """A safe file name: ``<id>.txt`` on en.kremlin.ru, ``<site>-<id>.txt`` elsewhere,
    ``-v<N>`` before ``.txt`` with all versions. Nothing from the data can add a path."""
    stem = str(int(record.event_id))
    if record.site != DEFAULT_SITE_HOST:
        stem = f"{_UNSAFE.sub('_', record.site).strip('._') or 'site'}-{stem}"
    if all_versions:
        stem += f"-v{int(record.version.seq)}"
    return stem + ".txt"


# --------------------------------------------------------------------------- writers


class HashingWriter:
    """A file written as ``<name>.part``, hashed and counted as it goes; ``close`` leaves
    it there, for the export to move into place with the others."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = path.with_name(path.name + PART)
        try:  # never through a link planted under the .part name
            fd = os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            self._raw = os.fdopen(fd, "wb")
        except OSError as exc:
            raise ExportError(f"cannot write {self.part}: {exc.strerror}") from None
        self._sha = hashlib.sha256()
        self.entry = FileEntry(path.name)

    def write(self, text: str) -> int:
        self.write_bytes(text.encode("utf-8"))
        return len(text)

    def write_bytes(self, data: bytes) -> None:
        self._raw.write(data)
        self._sha.update(data)
        self.entry.bytes += len(data)

    def close(self) -> FileEntry:
        self._raw.close()
        self.entry.sha256 = self._sha.hexdigest()
        return self.entry

    def abort(self) -> None:
        """Drop the file; quietly, since on a full disk closing fails as writing did."""
        with contextlib.suppress(OSError):
            self._raw.close()
        self.part.unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> FileEntry:
    return _stream(path, lambda out: out.write_bytes(data))


def _stream(path: Path, fill: Callable[[HashingWriter], None]) -> FileEntry:
    """Fill one file (as ``.part``); an OS error (disk full…) is an ExportError."""
    writer = HashingWriter(path)
    try:
        fill(writer)
        return writer.close()
    except BaseException as exc:
        writer.abort()
        if isinstance(exc, OSError):
            raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def write_jsonl(rows: Iterator[Record], options: ExportOptions) -> list[FileEntry]:
    def fill(out: HashingWriter) -> None:
        for record in rows:
            out.write(_json_line(render_record(record)))
            out.entry.records += 1

    return [_stream(options.out / f"{_stem(options)}.jsonl", fill)]


def write_csv(rows: Iterator[Record], options: ExportOptions) -> list[FileEntry]:
    def fill(out: HashingWriter) -> None:
        out.write(render_csv_line(list(COLUMNS)))
        for record in rows:
            data = render_record(record)
            out.write(render_csv_line([data[name] for name in COLUMNS]))
            out.entry.records += 1

    return [_stream(options.out / f"{_stem(options)}.csv", fill)]


def write_turns(rows: Iterator[Record], options: ExportOptions) -> list[FileEntry]:
    def fill(out: HashingWriter) -> None:
        for record in rows:
            turns = record.version.fields.get("turns") or []
            for number, (speaker, text) in enumerate(turns, 1):
                out.write(_json_line(_turn(record, number, speaker, text)))
                out.entry.records += 1

    return [_stream(options.out / "turns.jsonl", fill)]


def _turn(record: Record, number: int, speaker: str, text: str) -> dict:
    """One turn: the columns of the archive's ``turns`` view (without the URL)."""
    return {
        "site": record.site,
        "event_id": record.event_id,
        "date": record.version.fields.get("date"),
        "version": record.version.seq,
        "turn": number,
        "speaker": speaker,
        "text": text,
    }


def write_txt(rows: Iterator[Record], options: ExportOptions) -> list[FileEntry]:
    entries = []
    for record in rows:
        path = options.out / txt_name(record, options.all_versions)
        entry = _write_atomic(path, record.version.text.encode("utf-8"))
        entry.records = 1
        entries.append(entry)
    return entries


def write_warc_export(
    archive: Archive, options: ExportOptions, state: dict, progress: Progress | None
) -> list[FileEntry]:
    """Every capture (of events since ``--since``) into one WARC file: see ``warc.py``."""
    captures = _counted(archive.iter_captures(_day(options)), progress)

    def fill(out: HashingWriter) -> None:
        out.entry.records = write_warc(
            _BinaryOut(out), captures, archive.raw_body, filename=WARC_FILE,
            info=warcinfo_fields(state), date=state["last_captured_at"] or _EPOCH,
        )  # fmt: skip

    with contextlib.closing(captures):  # a failed write ends the cursor in the snapshot
        return [_stream(options.out / WARC_FILE, fill)]


class _BinaryOut:
    """A HashingWriter seen as the binary stream warcio writes to."""

    def __init__(self, out: HashingWriter) -> None:
        self.out = out

    def write(self, data: bytes) -> int:
        self.out.write_bytes(data)
        return len(data)

    def flush(self) -> None:
        pass


def _day(options: ExportOptions) -> str | None:
    return options.since.isoformat() if options.since else None


_EPOCH = "1970-01-01T00:00:00Z"
_JSON_WRITE_SIZE = 1 << 16


def _stem(options: ExportOptions) -> str:
    return "versions" if options.all_versions else "events"


WRITERS: dict[str, Callable[[Iterator[Record], ExportOptions], list[FileEntry]]] = {
    "jsonl": write_jsonl,
    "csv": write_csv,
    "txt": write_txt,
    "turns": write_turns,
}
