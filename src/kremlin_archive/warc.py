"""WARC (ISO 28500) and ARC files in and out, through warcio (Webrecorder).

Reading, for ``import``:

- :func:`iter_records` streams the records of a ``.warc``, ``.warc.gz``, ``.arc`` or
  ``.arc.gz`` file with warcio's ``ArchiveIterator``; only the bodies of event pages are
  read (at most ``fetch.max_bytes`` each), so a file of any size passes in flat memory. A
  record that cannot be read is reported as a :class:`Problem` naming the file and the
  offset, and reading goes on at the next record start found after it (the next gzip
  member of a ``.gz`` file, the next ``WARC/`` line of a plain one).
- :func:`capture_of` (pure) turns one record of an event page into a Capture, as the crawl
  would have made it from the same answer: a 200 with its transcript (or its refusal), a
  304, a gone page, an error.
- :class:`WarcImporter` feeds them to the archive: ``response`` records, ``revisit``
  records resolved to the record they repeat (by ``WARC-Refers-To``, else by payload
  digest, within the files of the run), and the ``metadata`` records this module writes
  for captures without a body. Every other record is counted, not imported.

Writing, for ``export --format warc`` (:func:`write_warc`): a ``warcinfo`` record first,
then every capture, page by page in capture-time order, gzip per record:

- a capture that kept its body: a ``response`` record (the status line and headers we
  received, the raw body), or, when the page's earlier record already holds the same
  body, a ``revisit`` record of profile identical-payload-digest;
- a 304: a ``revisit`` record of profile server-not-modified (its status line and headers),
  referring to the page's previous record;
- any other capture without a body (a gone page, an error): a ``metadata`` record holding
  its facts as JSON (``METADATA_TYPE``).

The bytes are deterministic: record ids are UUID 5 of the record's content and place, the
dates are the capture times, the warcinfo date is the archive's last capture time.
Headers: received ones are written as stored, except ``Transfer-Encoding`` and
``Content-Encoding`` (the body is kept decoded, as ``requests`` hands it over) and
``Content-Length`` (set to the kept body's length); a capture stored before headers were
kept gets a minimal block: its status line, ``Content-Type`` and ``Content-Length``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParserException
from warcio.warcwriter import WARCWriter

from . import __version__
from .archive import Archive, Capture, parse_http_headers, render_http_headers
from .chronology import save_capture
from .config import Config, SiteConfig
from .discover import EventRef, parse_event_url
from .errors import PageError
from .normalize import Transcript, parse_event_page
from .timeutil import to_utc

logger = logging.getLogger(__name__)

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
WARC_VERSION = "1.0"  # what wget and most replay tools write and read
PROFILE_BASE = f"http://netpreserve.org/warc/{WARC_VERSION}/revisit/"
IDENTICAL = PROFILE_BASE + "identical-payload-digest"
NOT_MODIFIED = PROFILE_BASE + "server-not-modified"
METADATA_TYPE = "application/json"
METADATA_KEY = "kremlin_archive_capture"  # marks the metadata records written here
DROPPED_HEADERS = ("transfer-encoding", "content-encoding")
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "kremlin-archive:warc")
_READ_ERRORS = (ArchiveLoadFailed, StatusAndHeadersParserException, zlib.error, EOFError)
_READ_ERRORS += (ValueError, IndexError, KeyError, UnicodeError)
_SCAN_BYTES = 1 << 20


def is_warc_path(path: Path) -> bool:
    return path.name.lower().endswith(WARC_SUFFIXES)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class WarcRecord:
    """What an import needs of one record."""

    rec_type: str  # response, revisit, metadata, request, warcinfo, resource…
    target_uri: str
    date: str  # ISO-8601 UTC, whole seconds
    offset: int  # of the record in its file
    record_id: str | None = None
    status_line: str | None = None  # "HTTP/1.1 200 OK" of a record with HTTP headers
    headers: tuple[tuple[str, str], ...] = ()
    payload_digest: str | None = None
    profile: str | None = None  # of a revisit
    refers_to: str | None = None  # WARC-Refers-To of a revisit
    content_type: str | None = None
    body: bytes | None = None  # read only for records an import may keep
    too_large: bool = False  # the body passed the size cap and was not read

    @property
    def status(self) -> int | None:
        parts = (self.status_line or "").split()
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for n, v in self.headers if n.lower() == lowered), None)


@dataclass(frozen=True)
class Problem:
    """A record that could not be read."""

    path: str
    offset: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: unreadable record at offset {self.offset}: {self.reason}"


def iter_records(path: Path, max_bytes: int) -> Iterator[WarcRecord | Problem]:
    """The records of one WARC or ARC file, streamed; a corrupt stretch is one Problem and
    reading resumes at the next record start after it."""
    with path.open("rb") as stream:
        gzipped = stream.read(2) == b"\x1f\x8b"
        stream.seek(0)
        unknown = _not_an_archive(stream, gzipped)
        if unknown:
            yield Problem(str(path), 0, unknown)
            return
        start: int | None = 0
        while start is not None:
            start = yield from _read_from(stream, path, start, gzipped, max_bytes)


def _not_an_archive(stream: BinaryIO, gzipped: bool) -> str | None:
    """Why a file is no WARC or ARC file (by its first bytes), or None."""
    head = stream.read(512)
    stream.seek(0)
    if gzipped:
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 64)
        except zlib.error as exc:
            return f"not a gzip file ({exc})"
    if head.lstrip(b"\r\n").startswith((b"WARC/", b"filedesc://")):
        return None
    return f"not a WARC or ARC file: it starts with {head[:40]!r}"


def _read_from(
    stream: BinaryIO, path: Path, start: int, gzipped: bool, max_bytes: int
) -> Iterator[WarcRecord | Problem]:
    """Records from ``start`` on; returns where to resume after a problem (None: done)."""
    stream.seek(start)
    records = ArchiveIterator(stream, arc2warc=True)
    try:
        for record in records:
            yield _read_record(record, records.offset, max_bytes)
    except _READ_ERRORS as exc:
        offset = max(records.offset, start)
        if gzipped:  # warcio reads ahead: the member that fails may be a later one
            offset = _broken_member(stream, offset)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        logger.warning("warc record unreadable file=%s offset=%d error=%s", path, offset, reason)
        yield Problem(str(path), offset, reason)
        return _next_start(stream, offset + 1, gzipped)
    finally:
        records.close()
    return None


def _broken_member(stream: BinaryIO, position: int) -> int:
    """The offset of the first gzip member from ``position`` on that does not decompress
    (``position`` itself when they all do: the fault is then in a record, not in gzip)."""
    start = position
    while (end := _member_end(stream, start)) is not None:
        if end == start:
            return position
        start = end
    return start


def _member_end(stream: BinaryIO, start: int) -> int | None:
    """Where the gzip member at ``start`` ends (``start`` at the end of the file), or None
    when it does not decompress; the output is thrown away as it comes."""
    stream.seek(start)
    member = zlib.decompressobj(16 + zlib.MAX_WBITS)
    read = 0
    try:
        while not member.eof:
            chunk = stream.read(_SCAN_BYTES)
            if not chunk:
                return start if read == 0 else None  # the end, or a member cut short
            read += len(chunk)
            member.decompress(chunk)
    except zlib.error:
        return None
    return start + read - len(member.unused_data)


def _next_start(stream: BinaryIO, position: int, gzipped: bool) -> int | None:
    """The offset of the next record start at or after ``position``, or None."""
    marker = b"\x1f\x8b\x08" if gzipped else b"\nWARC/"
    skip = 0 if gzipped else 1
    stream.seek(position)
    carried = b""
    base = position
    while chunk := stream.read(_SCAN_BYTES):
        data = carried + chunk
        found = data.find(marker)
        if found >= 0:
            return base - len(carried) + found + skip
        carried = data[-(len(marker) - 1) :]
        base += len(chunk)
    return None


def _read_record(record: ArcWarcRecord, offset: int, max_bytes: int) -> WarcRecord:
    headers = record.rec_headers
    http = record.http_headers
    facts = {
        "rec_type": record.rec_type,
        "target_uri": headers.get_header("WARC-Target-URI") or "",
        "date": iso_seconds(headers.get_header("WARC-Date") or ""),
        "offset": offset,
        "record_id": headers.get_header("WARC-Record-ID"),
        "payload_digest": headers.get_header("WARC-Payload-Digest"),
        "profile": headers.get_header("WARC-Profile"),
        "refers_to": headers.get_header("WARC-Refers-To"),
        "content_type": headers.get_header("Content-Type"),
    }
    if http is not None and http.protocol:
        facts["status_line"] = f"{http.protocol} {http.statusline}".strip()
        facts["headers"] = tuple((str(n), str(v)) for n, v in http.headers)
    if _body_wanted(record, facts):
        body = record.content_stream().read(max_bytes + 1)
        facts |= {"too_large": True} if len(body) > max_bytes else {"body": body}
    return WarcRecord(**facts)


def _body_wanted(record: ArcWarcRecord, facts: dict) -> bool:
    """Only a 200 of an event page, or one of our metadata records, is read."""
    if parse_event_url(facts["target_uri"], "http://any") is None:
        return False
    if record.rec_type == "response":
        return (facts.get("status_line") or "").split()[1:2] == ["200"]
    return record.rec_type == "metadata" and (facts["content_type"] or "") == METADATA_TYPE


def iso_seconds(warc_date: str) -> str:
    """A WARC-Date (fractions allowed) as the archive's ISO-8601 UTC in whole seconds."""
    stamp = to_utc(warc_date)
    if stamp is None:
        raise ValueError(f"WARC-Date {warc_date!r} is no date")
    return stamp


def payload_digest(body: bytes) -> str:
    """The WARC payload digest of a body as warcio writes it (SHA-1, base 32)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


# --------------------------------------------------------------------------- record -> capture


def capture_of(
    record: WarcRecord,
    site: SiteConfig,
    ref: EventRef,
    *,
    archived: bool,
    source_url: str,
    body: bytes | None = None,
    transcript: Transcript | None = None,
) -> Capture:
    """The capture one record of an event page stands for (pure): ``body`` and
    ``transcript`` are the page read (a revisit's from the record it repeats); ``archived``
    says whether the archive holds a version of the page (a 404 of a page never archived
    is an error, as in a crawl)."""
    status_line = record.status_line
    capture = Capture(
        site=site.host, event_id=ref.event_id, url=ref.url, captured_at=record.date,
        source="warc", status=record.status, etag=record.header("ETag"),
        last_modified=record.header("Last-Modified"), source_url=source_url,
        fetched_url=record.target_uri,
        http_headers=render_http_headers(status_line, record.headers) if status_line else None,
    )  # fmt: skip
    if record.rec_type == "metadata":
        return _from_metadata(capture, record.body or b"")
    if capture.status in (404, 410) and not archived:
        return _with(capture, error=f"HTTP {capture.status}: no such page on the site")
    if capture.status != 200:
        return capture
    return _with_page(capture, body, transcript)


def _with(capture: Capture, **values) -> Capture:
    return replace(capture, **values)


def _with_page(capture: Capture, body: bytes | None, transcript: Transcript | None) -> Capture:
    if body is None:
        return _with(capture, error="a 200 answer without a body")
    if transcript is None:
        try:
            transcript = parse_event_page(body, capture.url)
        except PageError as exc:
            return _with(capture, body=body, error=str(exc))
    if transcript.event_id not in (None, capture.event_id):
        error = f"the page holds event {transcript.event_id}, not {capture.event_id}"
        return _with(capture, body=body, error=error)
    return _with(capture, body=body, transcript=transcript)


def _from_metadata(capture: Capture, block: bytes) -> Capture:
    facts = json.loads(block)[METADATA_KEY]
    headers = facts.get("http_headers")
    stored = render_http_headers(headers["status_line"], headers["headers"]) if headers else None
    return _with(
        capture, status=facts.get("http_status"), error=facts.get("error"), http_headers=stored
    )


def is_our_metadata(record: WarcRecord) -> bool:
    try:
        return METADATA_KEY in json.loads(record.body or b"null")
    except (ValueError, TypeError):
        return False


# --------------------------------------------------------------------------- import


@dataclass
class WarcImport:
    """What an import of WARC files did."""

    outcomes: dict[str, int] = field(default_factory=dict)  # outcome -> captures
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file#offset, reason)
    other_records: int = 0  # records that are no capture of an event page
    problems: list[Problem] = field(default_factory=list)


@dataclass
class WarcImporter:
    """Imports WARC / ARC files into an archive, one record (one transaction) at a time.
    Bodies already imported are found again by record id and payload digest (so that a
    ``revisit`` gets the body it repeats) through the archive, not kept in memory."""

    config: Config
    archive: Archive
    result: WarcImport = field(default_factory=WarcImport)
    bodies_by_id: dict[str, str] = field(default_factory=dict)  # record id -> raw sha256
    bodies_by_digest: dict[str, str] = field(default_factory=dict)  # digest -> raw sha256
    sites_by_origin: dict[str, SiteConfig] = field(default_factory=dict)

    def import_file(self, path: Path) -> None:
        for item in iter_records(path, self.config.fetch.max_bytes):
            if isinstance(item, Problem):
                self.result.problems.append(item)
            else:
                self._import_record(path, item)

    def _import_record(self, path: Path, record: WarcRecord) -> None:
        where = f"{path.name}#{record.offset}"
        if not _may_be_capture(record):
            self.result.other_records += 1
            return
        try:
            capture = self._capture(record, where)
        except _Skip as skip:
            self.result.skipped.append((f"{path}#{record.offset}", str(skip)))
            return
        outcome = save_capture(self.archive, capture)
        self._remember(record, capture)
        self.result.outcomes[outcome] = self.result.outcomes.get(outcome, 0) + 1
        logger.info("imported warc=%s url=%s outcome=%s", where, capture.url, outcome)

    def _capture(self, record: WarcRecord, where: str) -> Capture:
        known = self._known_site(record)
        body = self._body(record)
        transcript = self._transcript(record, body, known)
        site = self._named_site(transcript, record) or known
        if site is None:
            raise _Skip(f"a page of {urlsplit(record.target_uri).netloc}, not a configured site")
        ref = parse_event_url(record.target_uri, site.url)
        # a record older than the archive's last capture takes its place in the history
        state = self.archive.page_state(site.host, ref.event_id)
        archived = bool(state and state.versions)
        return capture_of(
            record, site, ref, archived=archived, source_url=where, body=body,
            transcript=transcript,
        )  # fmt: skip

    def _body(self, record: WarcRecord) -> bytes | None:
        """The body the record holds, or repeats (a revisit's original)."""
        if record.too_large:
            raise _Skip(f"the body passes fetch.max_bytes ({self.config.fetch.max_bytes} bytes)")
        if record.rec_type == "revisit" and record.status == 200:
            return self.archive.raw_body(self._original(record))
        return record.body if record.rec_type == "response" else None

    def _transcript(
        self, record: WarcRecord, body: bytes | None, site: SiteConfig | None
    ) -> Transcript | None:
        """The transcript of a 200's body, None when it is refused (capture_of then
        records the refusal, with the body)."""
        if body is None or record.status != 200:
            return None
        ref = parse_event_url(record.target_uri, site.url) if site else None
        try:
            return parse_event_page(body, ref.url if ref else record.target_uri)
        except PageError:
            return None

    def _original(self, record: WarcRecord) -> str:
        found = self.bodies_by_id.get(record.refers_to or "")
        found = found or self.bodies_by_digest.get(record.payload_digest or "")
        if found is None:
            raise _Skip(
                "a revisit of a record not found in the files imported "
                f"(WARC-Refers-To {record.refers_to}, digest {record.payload_digest}); "
                "import the file holding the original with it"
            )
        return found

    def _named_site(self, transcript: Transcript | None, record: WarcRecord) -> SiteConfig | None:
        """The site of the canonical URL the page (or our metadata record) names; the host
        the record was fetched from is remembered as serving that site."""
        named = transcript.url if transcript else None
        if record.rec_type == "metadata":
            named = json.loads(record.body or b"{}")[METADATA_KEY].get("page_url")
        site = self.config.site_for_host(urlsplit(named).netloc) if named else None
        if site is not None:
            self.sites_by_origin.setdefault(_origin(record.target_uri), site)
        return site

    def _known_site(self, record: WarcRecord) -> SiteConfig | None:
        """The site of the host a record was fetched from: a site's own or mirror host, or
        a host that served one of the site's pages earlier in the import."""
        origin = _origin(record.target_uri)
        site = self.config.site_for_host(urlsplit(record.target_uri).netloc)
        site = site or self.sites_by_origin.get(origin)
        mirrors = (s for s in self.config.sites if s.mirror_url and _origin(s.mirror_url) == origin)
        return site or next(mirrors, None)

    def _remember(self, record: WarcRecord, capture: Capture) -> None:
        if capture.body is None:
            return
        raw_sha = hashlib.sha256(capture.body).hexdigest()
        if record.record_id:
            self.bodies_by_id[record.record_id] = raw_sha
        self.bodies_by_digest[record.payload_digest or payload_digest(capture.body)] = raw_sha


class _Skip(Exception):
    """A record of an event page that is not imported, with the reason."""


def _may_be_capture(record: WarcRecord) -> bool:
    if parse_event_url(record.target_uri, "http://any") is None:
        return False
    if record.rec_type == "response":
        return record.status is not None and not 300 <= record.status < 400
    if record.rec_type == "revisit":
        return record.status in (200, 304)
    return record.rec_type == "metadata" and is_our_metadata(record)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


# --------------------------------------------------------------------------- writing


@dataclass
class _PageRecords:
    """The records written so far for the page in hand (for revisits)."""

    key: tuple[str, int] | None = None
    by_sha: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)
    last: tuple[str, str, str, str | None] | None = None  # (id, uri, date, digest)
    count: int = 0


def write_warc(
    out: BinaryIO,
    captures: Iterator[dict],
    body_of: Callable[[str], bytes],
    *,
    filename: str,
    info: dict[str, str],
    date: str,
) -> int:
    """Write the warcinfo record and one record per capture (rows of the captures table
    with ``site``, ``event_id`` and ``page_url``) to ``out``; returns the records written."""
    writer = WARCWriter(out, gzip=True, warc_version=WARC_VERSION)
    warcinfo = warcinfo_record(writer, filename, info, date)
    writer.write_record(warcinfo)
    info_id = warcinfo.rec_headers.get_header("WARC-Record-ID")
    page = _PageRecords()
    written = 1
    for capture in captures:
        writer.write_record(_capture_record(writer, capture, body_of, page, info_id))
        written += 1
    return written


def warcinfo_record(writer: WARCWriter, filename: str, info: dict[str, str], date: str):
    record = writer.create_warcinfo_record(filename, info)
    key = "warcinfo " + filename + " " + json.dumps(info, sort_keys=True) + " " + date
    record.rec_headers.replace_header("WARC-Record-ID", record_id(key))
    record.rec_headers.replace_header("WARC-Date", date)
    return record


def record_id(key: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(_ID_NAMESPACE, key)}>"


def _capture_record(
    writer: WARCWriter,
    row: dict,
    body_of: Callable[[str], bytes],
    page: _PageRecords,
    info_id: str,
):
    key = (row["site"], row["event_id"])
    if page.key != key:
        page.key, page.by_sha, page.last, page.count = key, {}, None, 0
    page.count += 1
    uri = row["fetched_url"] or row["page_url"]
    date = row["captured_at"]
    place = f"{row['site']} {row['event_id']} {page.count} {uri} {date}"
    warc_headers = {"WARC-Record-ID": "", "WARC-Date": date, "WARC-Warcinfo-ID": info_id}
    if row["raw_sha256"] is not None:
        return _body_record(writer, row, body_of, page, uri, place, warc_headers)
    if row["http_status"] == 304:
        return _not_modified_record(writer, row, page, uri, place, warc_headers)
    return _metadata_record(writer, row, uri, place, warc_headers)


def _body_record(writer, row, body_of, page, uri, place, warc_headers):
    sha = row["raw_sha256"]
    earlier = page.by_sha.get(sha)
    if earlier is not None:
        rid, ref_uri, ref_date, digest = earlier
        warc_headers["WARC-Record-ID"] = record_id(f"revisit {place} {sha}")
        http = _http_headers(row, row["bytes"])
        record = writer.create_revisit_record(
            uri, digest, ref_uri, ref_date, http_headers=http, warc_headers_dict=warc_headers
        )
        record.rec_headers.add_header("WARC-Refers-To", rid)
        page.last = (warc_headers["WARC-Record-ID"], uri, row["captured_at"], digest)
        return record
    body = body_of(sha)
    warc_headers["WARC-Record-ID"] = record_id(f"response {place} {sha}")
    record = writer.create_warc_record(
        uri, "response", payload=io.BytesIO(body), length=len(body),
        http_headers=_http_headers(row, len(body)), warc_headers_dict=warc_headers,
    )  # fmt: skip
    digest = record.rec_headers.get_header("WARC-Payload-Digest")
    page.by_sha[sha] = (warc_headers["WARC-Record-ID"], uri, row["captured_at"], digest)
    page.last = page.by_sha[sha]
    return record


def _not_modified_record(writer, row, page, uri, place, warc_headers):
    warc_headers["WARC-Record-ID"] = record_id(f"revisit-304 {place}")
    record = writer.create_warc_record(
        uri, "revisit", http_headers=_http_headers(row, None), warc_headers_dict=warc_headers
    )
    record.rec_headers.add_header("WARC-Profile", NOT_MODIFIED)
    if page.last is not None:
        rid, ref_uri, ref_date, digest = page.last
        record.rec_headers.add_header("WARC-Refers-To", rid)
        record.rec_headers.add_header("WARC-Refers-To-Target-URI", ref_uri)
        record.rec_headers.add_header("WARC-Refers-To-Date", ref_date)
        if digest:
            record.rec_headers.add_header("WARC-Payload-Digest", digest)
    return record


def _metadata_record(writer, row, uri, place, warc_headers):
    stored = parse_http_headers(row["http_headers"])
    headers = {"status_line": stored[0], "headers": stored[1]} if stored else None
    facts = {"http_status": row["http_status"], "error": row["error"], "http_headers": headers}
    facts |= {"outcome": row["outcome"], "page_url": row["page_url"]}
    block = json.dumps({METADATA_KEY: facts}, ensure_ascii=False, sort_keys=True).encode()
    warc_headers["WARC-Record-ID"] = record_id(f"metadata {place} {block.decode()}")
    return writer.create_warc_record(
        uri, "metadata", payload=io.BytesIO(block), length=len(block),
        warc_content_type=METADATA_TYPE, warc_headers_dict=warc_headers,
    )  # fmt: skip


def _http_headers(row: dict, len_body: int | None) -> StatusAndHeaders:
    """The status line and headers received (framing headers made true of the kept body),
    or a minimal block for a capture stored without them."""
    stored = parse_http_headers(row["http_headers"])
    if stored is None:
        return minimal_headers(row["http_status"] or 200, len_body)
    status_line, headers = stored
    protocol, _, status = status_line.partition(" ")
    kept = [(n, v) for n, v in headers if n.lower() not in DROPPED_HEADERS]
    block = StatusAndHeaders(status, kept, protocol=protocol)
    if len_body is not None:
        block.replace_header("Content-Length", str(len_body))
    return block


def minimal_headers(status: int, len_body: int | None) -> StatusAndHeaders:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    headers = [("Content-Type", "text/html; charset=utf-8")] if status == 200 else []
    if len_body is not None:
        headers.append(("Content-Length", str(len_body)))
    return StatusAndHeaders(f"{status} {reason}".strip(), headers, protocol="HTTP/1.1")


def warcinfo_fields(state: dict) -> dict[str, str]:
    """The warcinfo block: the tool and version, the format, the archive's state."""
    import warcio

    return {
        "software": f"kremlin-archive/{__version__} (warcio/{_warcio_version(warcio)})",
        "format": f"WARC File Format {WARC_VERSION}",
        "conformsTo": "http://bibnum.bnf.fr/WARC/WARC_ISO_28500_version1_latestdraft.pdf",
        "description": (
            f"kremlin-archive export: {state['pages']} pages, {state['captures']} captures,"
            f" {state['versions']} versions, last capture {state['last_captured_at']}"
        ),
    }


def _warcio_version(module) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("warcio")
    except PackageNotFoundError:
        return getattr(module, "__version__", "unknown")
