"""The only module that speaks SQL: migrations, dedup, versions, history, every read.

Every query of the project is a method here, under one error translation (a locked
database is DatabaseBusy, a full disk an ArchiveError that says so). The archive never
parses a page: captures come with their transcript, and re-normalization
(``renormalize``) drives the re-derivation of versions over the read and write API below
(:meth:`Archive.transaction`, :meth:`Archive.good_captures`, :meth:`Archive.raw_body`,
:meth:`Archive.add_version`, :meth:`Archive.mark_normalized`). What tells two versions
apart, and their change records, come from the pure ``changeset`` module.

One SQLite file (WAL, foreign keys on, a busy timeout, ``BEGIN IMMEDIATE`` for every write
so that two writers queue instead of failing). ``synchronous = NORMAL``: in WAL mode the
file is never corrupted and a killed process loses nothing it committed; only a power
loss or an OS crash can take back the last transactions (the WAL is synced at each
checkpoint, not at each commit), and a crawl re-fetches such pages on its next run.

The schema, applied by registered ``sqlite_utils.Migrations`` (table
``_sqlite_migrations``)::

    pages                      one row per (site, event_id)
    ├── id, site, event_id     site = canonical host: en.kremlin.ru / kremlin.ru
    ├── url                    canonical URL of the last capture
    ├── status, gone_at        "live" / "gone" (404 or 410 seen at gone_at)
    ├── first_seen_at, last_checked_at, last_changed_at
    ├── feed_updated(_utc)     the feed's <updated> its last capture saw
    ├── etag, last_modified    validators of the last answer, for a conditional GET
    └── normalizer_version     the normalizer the current version was last checked with
          │
          ├──< captures         every fetch attempt, small (no body)
          │    id, page_id, run_id -> runs, captured_at, source (live/replica/import),
          │    http_status, outcome (OUTCOMES), status_change ("gone"/"back"/NULL),
          │    raw_sha256 -> raw_pages, bytes, error, version_id -> versions,
          │    source_url, fetched_url, http_headers (JSON), site_updated_at
          │
          └──< versions         append-only; seq 1, 2, 3… per page, never updated
               id, page_id, seq, origin ("site" edit / "renormalize"), captured_at,
               created_at, title, text, text_sha256, fields (JSON), fields_sha256,
               normalizer_version, raw_sha256 -> raw_pages,
               changed_fields (JSON list), body_changes (JSON),
               search_key (generated: the event's day, then id)
               └── versions_fts    FTS5 over title and text (content table, rowid search_key)

    raw_pages    sha256 (of the body as received), bytes, compression, body, first_seen_at,
                 base_sha256, dict_id, depth (how it is encoded: see rawcodec),
                 sha1_base32 (the digest a Wayback CDX index gives the same body)
    raw_dicts    id, created_at, samples, bytes, dict: the trained zstd dictionaries
    rederivations     id, page_id, run_id, rederived_at, capture_id, reason, old_versions,
                      new_versions: a page's version chain worked out again
    retired_versions  the versions rows a re-derivation replaced, with its id
    wayback_cursors   query, resume_key, updated_at: where a CDX query of a backfill stopped
    runs         id, trigger, pid, started_at, finished_at, discovered, new, changed,
                 unchanged, not_modified, gone, failed, error, already_archived, skipped
    frontier_entries   pages a walk found and no capture settled yet (site, event_id, url,
                       section, kind, day, feed_updated(_utc), found_at, attempts)
    frontier_walks     walks that stopped before their end: kind, source (feed/listing),
                       next_url, number, end_number, since, oldest_day, reason

    notifications  one row per message the service tried to send after a run that found
                 changes: id, run_id -> runs, created_at, finished_at, status ("sent" /
                 "failed"), attempts, changes, targets (URLs with secrets masked), error

    views        current_transcripts (each page's latest version), changes (every
                 version after the first, newest first), turns (site, event_id, date,
                 version, turn, speaker, text, url: the speaker turns of each page's
                 latest version), attachments (site, event_id, date, version, position,
                 title, format, size, url): plain names for Datasette

Identity and dedup: a page is (site, event_id); a raw page is the SHA-256 of its body and
is stored once; a version is kept only when the text, white space folded
(``text_sha256``), the compared fields (``fields_sha256``) or the speaker turns and
attachments differ from the current one (``changeset.Content.same_as``).
Saving the same capture twice (same page, time, source, status and body) is a no-op that
returns the outcome stored the first time, so an interrupted import or crawl can be
replayed. Each capture is one transaction.

History in capture-time order: a page's versions read in the order of their capture
times, each compared with its chronological predecessor, whatever order the captures were
saved in. A good capture older than its page's last one is saved by
``save_past_capture`` (no version, no page state moved but the first and last change);
``chronology`` then derives the page's chain again and ``settle_chain`` writes it in the
same transaction where it differs: the rows it replaces go to ``retired_versions`` and the
re-derivation is logged in ``rederivations``, so nothing stored is lost.

Outcomes stay within OUTCOMES; a page coming back after being gone keeps its outcome
(new / changed / unchanged / not-modified) and its capture carries
``status_change = "back"`` (``"gone"`` on the capture that saw it go).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from sqlite_utils import Database, Migrations

from . import rawcodec
from .changeset import Change, Content, Link, TranscriptLike, canonical_json, sha256_hex
from .errors import ArchiveError, BadSearchQuery, DatabaseBusy, NotAnArchive, NotArchived
from .timeutil import utc_now

logger = logging.getLogger(__name__)

OUTCOMES = ("new", "changed", "unchanged", "not-modified", "gone", "error")
RUN_COUNTS = ("discovered", "new", "changed", "unchanged", "not_modified", "gone", "failed")
#: The run count each capture outcome adds to.
OUTCOME_COUNTS = dict(zip(OUTCOMES, RUN_COUNTS[1:], strict=True))
RUN_IMPORT_COUNTS = ("already_archived", "skipped")  # an import's, NULL for a crawl
GONE_STATUSES = (404, 410)

migrations = Migrations("kremlin_archive")


@migrations(name="001_initial_schema")
def _migration_001(db: Database) -> None:
    for statement in _SCHEMA_001:
        db.execute(statement)
    db["versions"].enable_fts(["title", "text"], fts_version="FTS5", create_triggers=True)


@migrations(name="002_drop_captures_raw_index")
def _migration_002(db: Database) -> None:
    """Nothing looks captures up by raw page; the index cost ~70 bytes per capture."""
    db.execute("DROP INDEX IF EXISTS captures_raw")


@migrations(name="003_pages_feed_updated")
def _migration_003(db: Database) -> None:
    """The feed's <updated> of the page when it was last captured, as given and as UTC:
    a later value in the feed means the site edited the page since."""
    db.execute("ALTER TABLE pages ADD COLUMN feed_updated TEXT")
    db.execute("ALTER TABLE pages ADD COLUMN feed_updated_utc TEXT")


@migrations(name="004_browsing_views")
def _migration_004(db: Database) -> None:
    """Views with plain names for Datasette and other browsers of the file."""
    db.execute(
        """CREATE VIEW current_transcripts AS
        SELECT p.site, p.event_id, p.url, p.status,
               json_extract(v.fields, '$.date') AS date, v.title,
               v.seq AS version, v.captured_at, v.origin, v.text_sha256, v.text
        FROM pages p JOIN versions v ON v.page_id = p.id
        WHERE v.seq = (SELECT max(seq) FROM versions w WHERE w.page_id = p.id)"""
    )
    db.execute(
        """CREATE VIEW changes AS
        SELECT v.captured_at, p.site, p.event_id, v.title, v.seq AS version, v.origin,
               v.changed_fields, v.body_changes, v.text_sha256, p.url
        FROM versions v JOIN pages p ON p.id = v.page_id
        WHERE v.seq > 1
        ORDER BY v.captured_at DESC, v.id DESC"""
    )


@migrations(name="005_capture_provenance")
def _migration_005(db: Database) -> None:
    """Where each capture's bytes came from, so that a capture read from the Wayback
    Machine, a WARC file or a saved file can be traced and re-exported: the address read
    (``source_url``) when it is not the page URL, the URL actually requested
    (``fetched_url``), the HTTP status line and headers received (``http_headers``, JSON)
    and the page's own "Last updated at" stamp (``site_updated_at``, ISO UTC)."""
    for column in ("source_url", "fetched_url", "http_headers", "site_updated_at"):
        db.execute(f"ALTER TABLE captures ADD COLUMN {column} TEXT")


@migrations(name="013_captures_by_run")
def _migration_013(db: Database) -> None:
    """The recheck budget counts each site's recheck requests of the last day, and status
    lists the failures of the last run: both look captures up by run."""
    db.execute("CREATE INDEX IF NOT EXISTS captures_run ON captures (run_id)")


@migrations(name="005w_walk_frontier")
def _migration_005w(db: Database) -> None:
    """The discovery walk's frontier, so that no run forgets what an earlier one found:
    pages seen in a feed or listing but not yet captured (``frontier_entries``), and walks
    that stopped before their end (``frontier_walks``: the next page to read, how far the
    walk goes, the oldest day it reached and why it stopped)."""
    db.execute(
        """CREATE TABLE frontier_entries (
        site TEXT NOT NULL, event_id INTEGER NOT NULL, url TEXT NOT NULL,
        section TEXT NOT NULL, kind TEXT NOT NULL, day TEXT,
        feed_updated TEXT, feed_updated_utc TEXT, found_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (site, event_id))"""
    )
    db.execute(
        """CREATE TABLE frontier_walks (
        id INTEGER PRIMARY KEY, site TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('incremental', 'backfill', 'since')),
        source TEXT NOT NULL CHECK (source IN ('feed', 'listing')),
        next_url TEXT NOT NULL, number INTEGER NOT NULL, end_number INTEGER, since TEXT,
        oldest_day TEXT, reason TEXT, started_at TEXT NOT NULL, updated_at TEXT NOT NULL)"""
    )


@migrations(name="012_notifications")
def _migration_012(db: Database) -> None:
    """What became of each notification the service sent after a run that found changes,
    so that a failed one is on record, not only in the log."""
    db.execute(
        """CREATE TABLE notifications (
        id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES runs(id),
        created_at TEXT NOT NULL, finished_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
        attempts INTEGER NOT NULL, changes INTEGER NOT NULL, targets TEXT NOT NULL,
        error TEXT)"""
    )


@migrations(name="010_wayback_and_chronology")
def _migration_010(db: Database) -> None:
    """A Wayback backfill and captures that arrive out of time order.

    ``raw_pages.sha1_base32``: the SHA-1 of the body in base 32, the digest the Wayback CDX
    gives, so that a capture whose body the archive holds is archived without fetching.
    ``wayback_cursors``: where each CDX query stopped (its resume key), so a backfill cut
    short continues there. ``rederivations`` and ``retired_versions``: when a capture lands
    before a page's last one, the page's versions are worked out again in capture-time
    order; the rows they replace are kept in ``retired_versions`` with the re-derivation."""
    db.execute("ALTER TABLE raw_pages ADD COLUMN sha1_base32 TEXT")
    rows = db.execute("SELECT sha256, body FROM raw_pages").fetchall()
    for sha, body in rows:
        digest = sha1_base32(rawcodec.decode("zlib", body))  # before 014 all are zlib
        db.execute("UPDATE raw_pages SET sha1_base32 = ? WHERE sha256 = ?", (digest, sha))
    for statement in _SCHEMA_010:
        db.execute(statement)


_SCHEMA_010 = (
    """CREATE TABLE wayback_cursors (
        query TEXT PRIMARY KEY, resume_key TEXT NOT NULL, updated_at TEXT NOT NULL)""",
    """CREATE TABLE rederivations (
        id INTEGER PRIMARY KEY, page_id INTEGER NOT NULL REFERENCES pages(id),
        run_id INTEGER REFERENCES runs(id), rederived_at TEXT NOT NULL,
        capture_id INTEGER REFERENCES captures(id), reason TEXT NOT NULL,
        old_versions INTEGER NOT NULL, new_versions INTEGER NOT NULL)""",
    """CREATE TABLE retired_versions (
        rederivation_id INTEGER NOT NULL REFERENCES rederivations(id),
        id INTEGER NOT NULL, page_id INTEGER NOT NULL, seq INTEGER NOT NULL,
        origin TEXT NOT NULL, captured_at TEXT NOT NULL, created_at TEXT NOT NULL,
        title TEXT NOT NULL, text TEXT NOT NULL, text_sha256 TEXT NOT NULL,
        fields TEXT NOT NULL, fields_sha256 TEXT NOT NULL, normalizer_version INTEGER,
        raw_sha256 TEXT, changed_fields TEXT NOT NULL, body_changes TEXT)""",
    "CREATE INDEX rederivations_page ON rederivations (page_id)",
)
_GOOD_CAPTURE = "raw_sha256 IS NOT NULL AND outcome IN ('new', 'changed', 'unchanged')"
_VERSION_COLUMNS = (
    "id", "page_id", "seq", "origin", "captured_at", "created_at", "title", "text",
    "text_sha256", "fields", "fields_sha256", "normalizer_version", "raw_sha256",
    "changed_fields", "body_changes",
)  # fmt: skip
#: The stored columns of a version row, for SELECT (not the generated ``search_key``).
_VERSION_SELECT = ", ".join(f"v.{name}" for name in _VERSION_COLUMNS)


def sha1_base32(data: bytes) -> str:
    """The digest a Wayback CDX index gives a body: its SHA-1 in base 32."""
    return base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


@migrations(name="008_turns_views")
def _migration_008(db: Database) -> None:
    """Who said what, for SQL and Datasette: one row per speaker turn (``turns``) and per
    attached file (``attachments``) of each page's current version, read from the version's
    fields, e.g. ``select speaker, count(*) from turns group by speaker``."""
    db.execute(
        """CREATE VIEW turns AS
        SELECT p.site, p.event_id, json_extract(v.fields, '$.date') AS date,
               v.seq AS version, t.key + 1 AS turn,
               json_extract(t.value, '$[0]') AS speaker, json_extract(t.value, '$[1]') AS text,
               p.url
        FROM pages p JOIN versions v ON v.page_id = p.id, json_each(v.fields, '$.turns') t
        WHERE v.seq = (SELECT max(seq) FROM versions w WHERE w.page_id = p.id)"""
    )
    db.execute(
        """CREATE VIEW attachments AS
        SELECT p.site, p.event_id, json_extract(v.fields, '$.date') AS date,
               v.seq AS version, a.key + 1 AS position,
               json_extract(a.value, '$.title') AS title,
               json_extract(a.value, '$.format') AS format,
               json_extract(a.value, '$.size') AS size, json_extract(a.value, '$.url') AS url
        FROM pages p JOIN versions v ON v.page_id = p.id,
             json_each(v.fields, '$.attachments') a
        WHERE v.seq = (SELECT max(seq) FROM versions w WHERE w.page_id = p.id)"""
    )


@migrations(name="014_raw_page_codecs")
def _migration_014(db: Database) -> None:
    """Raw pages stored with zstd (``rawcodec``): alone with a dictionary trained from the
    archive's own pages (``raw_dicts``, one row per version of it), or as a delta against
    another raw page (``base_sha256``, ``depth`` deltas deep). zlib rows stay readable;
    ``kremlin-archive compact`` converts them."""
    db.execute(
        """CREATE TABLE raw_dicts (
        id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, samples INTEGER NOT NULL,
        bytes INTEGER NOT NULL, dict BLOB NOT NULL)"""
    )
    db.execute("ALTER TABLE raw_pages ADD COLUMN base_sha256 TEXT REFERENCES raw_pages(sha256)")
    db.execute("ALTER TABLE raw_pages ADD COLUMN dict_id INTEGER REFERENCES raw_dicts(id)")
    db.execute("ALTER TABLE raw_pages ADD COLUMN depth INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX raw_pages_base ON raw_pages (base_sha256)")


@migrations(name="007_run_import_counts")
def _migration_007(db: Database) -> None:
    """What an import did besides new versions: files already in the archive as they are
    (a repeated import stores nothing and must not count them as new), and files skipped
    (not an event page, older than the archive's last capture)."""
    for column in RUN_IMPORT_COUNTS:
        db.execute(f"ALTER TABLE runs ADD COLUMN {column} INTEGER")


@migrations(name="014s_versions_by_date")
def _migration_014s(db: Database) -> None:
    """Versions by the event's date (the expression ``current_transcripts`` and ``list``
    read): ``list --since`` reads the days asked for instead of every version's fields
    (benchmarks/scale.py: 89 ms on 1,000 pages, growing with the archive, against 1 ms)."""
    db.execute("CREATE INDEX versions_date ON versions (json_extract(fields, '$.date'))")


@migrations(name="015_search_newest_first")
def _migration_015(db: Database) -> None:
    """Search reads its matches newest event first and stops at its limit, whatever the
    size of the archive. Each version gets a sort key (``search_key``: the Julian day
    number of the event's date, 0 when undated, times 2^34 plus the version id), a
    generated column computed from the row, so no row is rewritten; a unique index
    holds it. The full-text index is rebuilt with ``search_key`` as its rowid, so FTS5
    hands out matches in the order they are shown (``ORDER BY rowid DESC``) instead of
    every match being read and sorted (benchmarks/scale.py: a 3-word query matching
    every page took 7.1 s for 20 matches on 160,000 pages)."""
    for trigger in ("versions_ai", "versions_ad", "versions_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    db.execute("DROP TABLE IF EXISTS versions_fts")
    db.execute(f"ALTER TABLE versions ADD COLUMN search_key INTEGER AS ({_SEARCH_KEY})")
    db.execute("CREATE UNIQUE INDEX versions_search_key ON versions (search_key)")
    db.execute(
        "CREATE VIRTUAL TABLE versions_fts USING fts5"
        "(title, text, content=[versions], content_rowid=[search_key])"
    )
    db.execute("INSERT INTO versions_fts (versions_fts) VALUES ('rebuild')")
    for statement in _SEARCH_TRIGGERS:
        db.execute(statement)


#: Bits of the search key below the day: ``key >> 34`` is the day, ``day << 34`` its
#: smallest key.
SEARCH_DAY_SHIFT = 34
#: The search sort key of a version row (see migration 015): day first, then the row id.
_SEARCH_KEY = (
    "(coalesce(CAST(julianday(json_extract(fields, '$.date')) AS INTEGER), 0)"
    f" << {SEARCH_DAY_SHIFT}) | id"
)
_FTS_ROW = "(rowid, title, text) VALUES (new.search_key, new.title, new.text)"
_FTS_DELETE = (
    "(versions_fts, rowid, title, text) VALUES ('delete', old.search_key, old.title, old.text)"
)
_SEARCH_TRIGGERS = (
    f"CREATE TRIGGER versions_ai AFTER INSERT ON versions BEGIN"
    f" INSERT INTO versions_fts {_FTS_ROW}; END",
    f"CREATE TRIGGER versions_ad AFTER DELETE ON versions BEGIN"
    f" INSERT INTO versions_fts {_FTS_DELETE}; END",
    f"CREATE TRIGGER versions_au AFTER UPDATE ON versions BEGIN"
    f" INSERT INTO versions_fts {_FTS_DELETE}; INSERT INTO versions_fts {_FTS_ROW}; END",
)


@migrations(name="016_changes_by_time")
def _migration_016(db: Database) -> None:
    """``changes --since`` reads the versions and the removals and returns captured since
    then, by time, instead of every version and capture (benchmarks/scale.py: 54 ms for
    a week on 10,000 pages, growing with the archive). The versions' index holds what the
    list shows: a version's change record sits behind its text and fields, in the row's
    overflow pages, so reading it walked some 20 kB a version (160,000 pages: a week's
    4,278 changes took 2.3 s with a cold cache through an index of the time alone). The
    captures' index holds only those that moved a page (``status_change``), a few."""
    db.execute(
        "CREATE INDEX versions_changes ON versions (captured_at, seq, origin, page_id, title,"
        " changed_fields, body_changes)"
    )
    db.execute(
        "CREATE INDEX captures_moves ON captures (captured_at) WHERE status_change IS NOT NULL"
    )


_NEWEST_FULL_RAW = (
    "SELECT sha256 FROM raw_pages WHERE base_sha256 IS NULL ORDER BY first_seen_at DESC LIMIT ?"
)
_CURRENT_VERSION = "v.seq = (SELECT max(seq) FROM versions w WHERE w.page_id = v.page_id)"
_RUN_OUTCOME = """CASE WHEN finished_at IS NULL THEN 'unfinished' WHEN error IS NOT NULL
    THEN 'error' WHEN failed > 0 THEN 'partial' ELSE 'ok' END"""
#: How SQLite words the errors of an FTS5 query it cannot read (not of the database).
_FTS_QUERY_ERRORS = (
    "fts5: syntax error",
    "no such column",
    "unterminated string",
    "unknown special query",
)


_PAGE_ROW = (
    "SELECT p.*, (SELECT v.id FROM versions v WHERE v.page_id = p.id ORDER BY v.seq DESC"
    " LIMIT 1) AS version_id FROM pages p WHERE p.site = ? AND p.event_id = ?"
)

_RECHECK_SQL = """
SELECT p.site, p.event_id,
    coalesce((SELECT json_extract(v.fields, '$.date') FROM versions v WHERE v.page_id = p.id
              ORDER BY v.seq DESC LIMIT 1), p.first_seen_at) AS born_at,
    coalesce((SELECT max(c.captured_at) FROM captures c WHERE c.page_id = p.id),
             p.last_checked_at) AS last_checked_at,
    p.status = 'gone' AS gone,
    (SELECT max(v.captured_at) FROM versions v
     WHERE v.page_id = p.id AND v.seq > 1 AND v.origin = 'site') AS last_edit_at
FROM pages p"""

_SINCE = (
    "WHERE (? IS NULL OR (SELECT json_extract(v.fields, '$.date') FROM versions v"
    " WHERE v.page_id = p.id ORDER BY v.seq DESC LIMIT 1) >= ?)"
)

_SCHEMA_001 = (
    """CREATE TABLE pages (
        id INTEGER PRIMARY KEY, site TEXT NOT NULL, event_id INTEGER NOT NULL,
        url TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'live'
        CHECK (status IN ('live', 'gone')), gone_at TEXT,
        first_seen_at TEXT NOT NULL, last_checked_at TEXT, last_changed_at TEXT,
        etag TEXT, last_modified TEXT, normalizer_version INTEGER,
        UNIQUE (site, event_id))""",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY, trigger TEXT NOT NULL, pid INTEGER,
        started_at TEXT NOT NULL, finished_at TEXT,
        discovered INTEGER, new INTEGER, changed INTEGER, unchanged INTEGER,
        not_modified INTEGER, gone INTEGER, failed INTEGER, error TEXT)""",
    """CREATE TABLE raw_pages (
        sha256 TEXT PRIMARY KEY, bytes INTEGER NOT NULL, compression TEXT NOT NULL,
        body BLOB NOT NULL, first_seen_at TEXT NOT NULL)""",
    """CREATE TABLE versions (
        id INTEGER PRIMARY KEY, page_id INTEGER NOT NULL REFERENCES pages(id),
        seq INTEGER NOT NULL, origin TEXT NOT NULL CHECK (origin IN ('site', 'renormalize')),
        captured_at TEXT NOT NULL, created_at TEXT NOT NULL,
        title TEXT NOT NULL, text TEXT NOT NULL, text_sha256 TEXT NOT NULL,
        fields TEXT NOT NULL, fields_sha256 TEXT NOT NULL, normalizer_version INTEGER,
        raw_sha256 TEXT REFERENCES raw_pages(sha256),
        changed_fields TEXT NOT NULL, body_changes TEXT,
        UNIQUE (page_id, seq))""",
    """CREATE TABLE captures (
        id INTEGER PRIMARY KEY, page_id INTEGER NOT NULL REFERENCES pages(id),
        run_id INTEGER REFERENCES runs(id), captured_at TEXT NOT NULL, source TEXT NOT NULL,
        http_status INTEGER, outcome TEXT NOT NULL, status_change TEXT,
        raw_sha256 TEXT REFERENCES raw_pages(sha256), bytes INTEGER, error TEXT,
        version_id INTEGER REFERENCES versions(id))""",
    "CREATE INDEX captures_page ON captures (page_id, captured_at)",
    "CREATE INDEX captures_raw ON captures (raw_sha256)",
    "CREATE INDEX captures_version ON captures (version_id)",
    "CREATE INDEX versions_raw ON versions (raw_sha256)",
)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Capture:
    """One fetch attempt of one event page, as the crawl hands it over."""

    site: str  # canonical host, e.g. en.kremlin.ru
    event_id: int
    url: str  # canonical URL
    captured_at: str  # ISO-8601 UTC
    source: str  # "live", "replica" or "import"
    status: int | None = None  # HTTP status; None when nothing came back
    body: bytes | None = None  # raw body of a 200, kept also when the page was refused
    etag: str | None = None
    last_modified: str | None = None
    transcript: TranscriptLike | None = None  # set for a 200 that normalized
    error: str | None = None  # set for an error capture
    normalizer_version: int | None = None  # normalize.NORMALIZER_VERSION that made it
    feed_updated: str | None = None  # the feed entry's <updated> that led to this capture
    feed_updated_utc: str | None = None
    source_url: str | None = None  # where the bytes were read, when not ``url``
    fetched_url: str | None = None  # the URL actually requested
    http_headers: str | None = None  # JSON {"status_line": ..., "headers": [[name, value]]}
    site_updated_at: str | None = None  # the page's "Last updated at", ISO-8601 UTC
    prepared: Prepared | None = None  # the work on body and transcript done ahead


@dataclass(frozen=True)
class Prepared:
    """What saving a capture does with its body and transcript that needs no database,
    done ahead (by a worker process, in bulk work), so the one writer only stores: the
    body's hashes, the body compressed alone with the dictionary that was the archive's
    newest then (used when it still is and no delta is smaller), the transcript's Content."""

    body_sha256: str
    body_sha1_base32: str
    alone: rawcodec.Encoded
    content: Content | None


def prepare_capture(
    body: bytes, transcript: TranscriptLike | None, dictionary: tuple[int, bytes] | None
) -> Prepared:
    """The ``Capture.prepared`` of a capture of ``body`` and ``transcript``, with the
    archive's newest dictionary (``Archive.dictionary()``) as it stands."""
    content = Content.of(transcript) if transcript is not None else None
    alone = rawcodec.encode_full(body, dictionary)
    return Prepared(sha256_hex(body), sha1_base32(body), alone, content)


def _content(capture: Capture) -> Content:
    if capture.prepared is not None and capture.prepared.content is not None:
        return capture.prepared.content
    return Content.of(capture.transcript)


def _body_sha256(capture: Capture) -> str | None:
    if capture.body is None:
        return None
    return capture.prepared.body_sha256 if capture.prepared else sha256_hex(capture.body)


def render_http_headers(status_line: str, headers: Iterable[tuple[str, str]]) -> str:
    """The ``http_headers`` column: {"status_line": ..., "headers": [[name, value], ...]}."""
    pairs = [[name, value] for name, value in headers]
    return json.dumps({"status_line": status_line, "headers": pairs}, ensure_ascii=False)


def parse_http_headers(stored: str | None) -> tuple[str, list[tuple[str, str]]] | None:
    """(status line, [(name, value), ...]) of an ``http_headers`` column, None if unset."""
    if not stored:
        return None
    data = json.loads(stored)
    return data["status_line"], [(name, value) for name, value in data["headers"]]


@dataclass(frozen=True)
class PageState:
    site: str
    event_id: int
    url: str
    status: str  # "live" or "gone"
    etag: str | None
    last_modified: str | None
    last_checked_at: str | None
    last_changed_at: str | None
    versions: int
    page_id: int = 0
    first_seen_at: str | None = None
    gone_at: str | None = None
    normalizer_version: int | None = None
    feed_updated: str | None = None
    feed_updated_utc: str | None = None


@dataclass(frozen=True)
class FrontierEntry:
    """A page a walk found and no capture has settled yet."""

    site: str
    event_id: int
    url: str  # canonical
    section: str
    kind: str  # "event", "act" or "misc"
    day: str | None = None  # the event's day as the feed or listing gave it (ISO date)
    feed_updated: str | None = None  # the feed entry's <updated>, as given and as UTC
    feed_updated_utc: str | None = None
    found_at: str = ""
    attempts: int = 0  # captures of it that failed


@dataclass(frozen=True)
class WalkState:
    """A walk of a site's feed or listing pages, as far as it got.

    ``number`` is the page number of ``next_url`` (1 is the newest page); ``end_number``
    the last page the walk reads (a backfill, a first walk), None for a walk that ends on
    known ground (incremental) or on reaching past ``since``. ``oldest_day`` is the oldest
    event day it has seen, where a walk that cannot go on by the feed picks up the
    listing."""

    site: str
    kind: str  # "incremental", "backfill" or "since"
    source: str  # "feed" or "listing": what next_url is
    next_url: str
    number: int = 1
    end_number: int | None = None
    since: str | None = None  # ISO date
    oldest_day: str | None = None  # ISO date
    reason: str | None = None  # why it stopped where it is
    started_at: str = ""
    id: int | None = None


@dataclass(frozen=True)
class GoodCapture:
    """A capture whose raw page normalized: what re-derivation reads a version from."""

    id: int
    captured_at: str
    source: str
    raw_sha256: str


@dataclass(frozen=True)
class RederiveSource:
    """What re-deriving a page's current version reads: the raw page of its newest good
    capture, and the current version's id, hashes and fields (``Content.same_as`` tells
    whether the raw page still reads as that version)."""

    raw_sha256: str
    version_id: int
    text_sha256: str
    fields_sha256: str
    fields: dict

    @property
    def url(self) -> str | None:
        return self.fields.get("url")


@dataclass(frozen=True)
class RefusedCapture:
    """A 200 whose page did not normalize when it came, its body kept."""

    id: int
    page_id: int
    event_id: int
    url: str
    captured_at: str
    raw_sha256: str
    error: str | None


@dataclass(frozen=True)
class PastCapture:
    """A good capture saved in the past of its page, its outcome not yet settled
    (``capture_id`` None: the same capture was saved before, with ``outcome``)."""

    page_id: int
    capture_id: int | None
    outcome: str


@dataclass(frozen=True)
class Version:
    """One stored version of a page (``fields`` and the change record decoded)."""

    id: int
    page_id: int
    seq: int
    origin: str  # "site" or "renormalize"
    captured_at: str
    created_at: str
    title: str
    text: str
    text_sha256: str
    fields: dict
    fields_sha256: str
    normalizer_version: int | None
    raw_sha256: str | None
    changed_fields: list[str] = field(default_factory=list)
    body_changes: dict | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Version:
        data = {name: row[name] for name in _VERSION_COLUMNS}
        data["fields"] = json.loads(data["fields"])
        data["changed_fields"] = json.loads(data["changed_fields"])
        data["body_changes"] = json.loads(data["body_changes"] or "null")
        return cls(**data)


# --------------------------------------------------------------------------- connection


def _connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are opened explicitly. WAL is set
    by :func:`_use_wal`, once the file is known to be an archive (it rewrites the header)."""
    conn = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _use_wal(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")


def _connect_read_only(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A connection that cannot write (``mode=ro``, ``query_only``). On read-only media,
    where SQLite cannot make the WAL's shared-memory file, the file is opened as
    immutable: nothing can change it there anyway."""
    uri = f"file:{quote(str(path.absolute()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        if os.access(path.parent, os.W_OK) and os.access(path, os.W_OK):
            raise
        uri += "&immutable=1"
        conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    conn.execute("PRAGMA query_only = ON")
    return conn


def _translated(exc: sqlite3.Error, path: Path, busy_timeout: float) -> ArchiveError:
    """The project error for an sqlite3 error, with a message a user can act on."""
    message = str(exc)
    code = getattr(exc, "sqlite_errorname", "")  # a lock met inside FTS5 reads otherwise
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in message:
        return DatabaseBusy(
            f"the archive {path} stayed locked by another process for more than "
            f"{busy_timeout:g} s ({message}); try again, or raise database.busy_timeout"
        )
    if "full" in message:
        return ArchiveError(
            f"the disk holding {path} is full ({message}): the change in hand was not"
            " written; everything saved before it is kept. Free some space and run again"
        )
    if "file is not a database" in message:
        return NotAnArchive(f"{path} is not a kremlin-archive archive (not an SQLite file)")
    return ArchiveError(f"archive {path}: {message}")


class Archive:
    """One SQLite archive file. Open with ``Archive(path)``; use as a context manager."""

    def __init__(
        self, path: str | Path, *, busy_timeout: float = 30.0, read_only: bool = False
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        self.run_id: int | None = None  # stamped on captures until finish_run
        self._depth = 0  # nesting of transaction()
        with self._errors():
            connect = _connect_read_only if read_only else _connect
            self.conn = connect(self.path, busy_timeout)
            self.db = Database(self.conn)
            try:
                self._check_schema()
                if not read_only:
                    _use_wal(self.conn)
                    self._migrate()
            except BaseException:
                self.conn.close()
                raise

    def _check_schema(self) -> None:
        """Refuse a file this version cannot use: not an SQLite file (sqlite3 says so),
        not an archive (a reader; a writer makes an archive of an empty file), an archive
        made by a newer kremlin-archive, or (a reader, who never migrates) an older one."""
        tables = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master")}
        if not (self.read_only or tables):
            return
        if "pages" not in tables or migrations.migrations_table not in tables:
            what = "an empty file" if not tables else "an SQLite file without its tables"
            raise NotAnArchive(f"{self.path} is not a kremlin-archive archive ({what})")
        known = {m.name for m in migrations.pending(Database(memory=True))}  # all of them
        unknown = [m.name for m in migrations.applied(self.db) if m.name not in known]
        if unknown:
            raise NotAnArchive(
                f"{self.path} was made by a newer kremlin-archive (migration {unknown[-1]}):"
                " upgrade kremlin-archive to use it"
            )
        pending = migrations.pending(self.db)
        if self.read_only and pending:
            raise NotAnArchive(
                f"{self.path} was made by an older kremlin-archive (migration "
                f"{pending[0].name} not applied); a writing command (crawl, import, "
                "renormalize) brings it up to date"
            )

    @classmethod
    def over(cls, conn: sqlite3.Connection, path: str | Path) -> Archive:
        """An archive for reading over a connection opened elsewhere (a Datasette one):
        no migration, nothing written; rows must come back as ``sqlite3.Row``."""
        archive = cls.__new__(cls)
        archive.path, archive.busy_timeout = Path(path), 0.0
        archive.run_id, archive.conn, archive.db = None, conn, Database(conn)
        archive.read_only = True
        archive._depth = 0
        return archive

    def _migrate(self) -> None:
        """Apply pending migrations under the write lock (two openers cannot race)."""
        if not migrations.pending(self.db):
            return
        with self.transaction():
            migrations.apply(self.db)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise _translated(exc, self.path, self.busy_timeout) from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction, taken with BEGIN IMMEDIATE (waits for the lock). Nested
        uses join the outer one: everything inside commits, or nothing does."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with self._errors():
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0

    def _all(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._errors():
            return self.conn.execute(sql, params).fetchall()

    # -- saving captures

    def save_capture(self, capture: Capture) -> str:
        """Store one capture atomically; returns its outcome (one of OUTCOMES).

        200 with a transcript: "new" (first version), "changed" (a new version from a site
        edit) or "unchanged"; 304: "not-modified"; 404 / 410: "gone" (the page is marked
        gone, its versions stay); anything else, or ``error`` set: "error". The raw body,
        the version, the capture row and the page state are written in one transaction.
        """
        raw_sha = _body_sha256(capture)
        with self.transaction():
            page = self._ensure_page(capture)
            stored = self._stored_outcome(page["id"], capture, raw_sha)
            if stored is not None:
                return stored
            return self._record(page, capture, raw_sha)

    def _ensure_page(self, capture: Capture) -> sqlite3.Row:
        """The page's row, with the id of its current version as ``version_id`` (NULL
        when it has none); a page seen for the first time is inserted."""
        key = (capture.site, capture.event_id)
        page = self.conn.execute(_PAGE_ROW, key).fetchone()
        if page is not None:
            return page
        self.conn.execute(
            "INSERT INTO pages (site, event_id, url, first_seen_at) VALUES (?, ?, ?, ?)",
            (*key, capture.url, capture.captured_at),
        )
        return self.conn.execute(_PAGE_ROW, key).fetchone()

    def stored_outcome(self, capture: Capture) -> str | None:
        """The outcome this very capture got when it was saved before (same page, time,
        source, status and body), or None when the archive does not hold it: saving it
        again would change nothing. An import asks first, to count such files apart."""
        raw_sha = _body_sha256(capture)
        with self._errors():
            page = self.conn.execute(_PAGE_ROW, (capture.site, capture.event_id)).fetchone()
            return self._stored_outcome(page["id"], capture, raw_sha) if page else None

    def _stored_outcome(self, page_id: int, capture: Capture, raw_sha: str | None) -> str | None:
        """The outcome of the same capture saved before (a replay), or None."""
        row = self.conn.execute(
            "SELECT outcome FROM captures WHERE page_id = ? AND captured_at = ? AND source = ?"
            " AND http_status IS ? AND raw_sha256 IS ?",
            (page_id, capture.captured_at, capture.source, capture.status, raw_sha),
        ).fetchone()
        return row["outcome"] if row else None

    def _record(self, page: sqlite3.Row, capture: Capture, raw_sha: str | None) -> str:
        if raw_sha is not None:
            self._save_raw(raw_sha, capture, page["id"])
        outcome, version_id, error = self._classify(page, capture, raw_sha)
        past = _before(capture.captured_at, page["last_checked_at"])
        change = None if past else _status_change(page["status"], outcome)
        self._insert_capture(page["id"], capture, raw_sha, outcome, change, version_id, error)
        if past:
            self._update_past(page["id"], capture.captured_at)
        else:
            self._update_page(page, capture, outcome, change)
        self._count_in_run(OUTCOME_COUNTS[outcome])
        logger.debug("saved capture url=%s outcome=%s", capture.url, outcome)
        return outcome

    def _classify(
        self, page: sqlite3.Row, capture: Capture, raw_sha: str | None
    ) -> tuple[str, int | None, str | None]:
        """(outcome, version id, error text) of a capture; writes a version if one is due."""
        if capture.error is not None:
            return "error", None, capture.error
        if capture.status in GONE_STATUSES:
            return "gone", None, None
        if capture.status == 304:
            return "not-modified", page["version_id"], None
        if capture.status == 200 and capture.transcript is not None:
            return (*self._save_version(page, capture, raw_sha), None)
        return "error", None, _error_text(capture.status)

    def _save_raw(self, sha: str, capture: Capture, page_id: int) -> None:
        """Store a raw body once: alone with the archive's dictionary, or as a delta
        against the page's newest raw page when that is smaller (a re-capture whose
        chrome changed costs little). The first pages of an archive train its dictionary."""
        exists = self.conn.execute("SELECT 1 FROM raw_pages WHERE sha256 = ?", (sha,)).fetchone()
        if exists:
            return
        body, prepared = capture.body, capture.prepared
        alone = prepared.alone if prepared else None
        encoded = rawcodec.encode(body, self._delta_base(page_id), self.dictionary(), alone)
        sha1 = prepared.body_sha1_base32 if prepared else sha1_base32(body)
        self._insert_raw(sha, body, encoded, capture.captured_at, sha1)
        self._train_when_due()

    def _insert_raw(
        self, sha: str, body: bytes, encoded: rawcodec.Encoded, seen_at: str, sha1: str
    ) -> None:
        self.conn.execute(
            "INSERT INTO raw_pages (sha256, bytes, compression, body, first_seen_at,"
            " base_sha256, dict_id, depth, sha1_base32) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sha,
                len(body),
                encoded.compression,
                encoded.body,
                seen_at,
                *_codec_columns(encoded),
                sha1,
            ),  # fmt: skip
        )

    def _delta_base(self, page_id: int) -> rawcodec.Base | None:
        """The page's newest raw page (by capture time), which a new one may be a delta
        of; where its chain is as deep as allowed, the whole page at the chain's root (so a
        page re-captured every day never has to be stored whole again)."""
        row = self.conn.execute(
            "SELECT r.sha256, r.depth FROM captures c JOIN raw_pages r ON r.sha256 = c.raw_sha256"
            " WHERE c.page_id = ? ORDER BY c.captured_at DESC, c.id DESC LIMIT 1",
            (page_id,),
        ).fetchone()
        if row is None:
            return None
        sha, depth = row["sha256"], row["depth"]
        if depth >= rawcodec.MAX_DELTA_DEPTH:
            sha, depth = self._chain_root(sha), 0
        return rawcodec.Base(sha, self._decoded(sha), depth)

    def _chain_root(self, sha: str) -> str:
        """The whole page a delta chain starts from."""
        for _ in range(rawcodec.MAX_DELTA_DEPTH + 2):
            row = self.conn.execute(
                "SELECT base_sha256 FROM raw_pages WHERE sha256 = ?", (sha,)
            ).fetchone()
            if row is None or row["base_sha256"] is None:
                return sha
            sha = row["base_sha256"]
        raise ArchiveError(f"raw page {sha} in {self.path}: its delta chain loops")

    def dictionary(self) -> tuple[int, bytes] | None:
        """The newest trained dictionary (id, bytes), read once per connection."""
        if not hasattr(self, "_newest_dict"):
            row = self.conn.execute(
                "SELECT id, dict FROM raw_dicts ORDER BY id DESC LIMIT 1"
            ).fetchone()
            self._newest_dict = (row["id"], row["dict"]) if row else None
        return self._newest_dict

    def _train_when_due(self) -> None:
        """Train the archive's first dictionary once it holds enough raw pages."""
        if self.dictionary() is not None:
            return
        if not hasattr(self, "_raw_count"):
            self._raw_count = self.conn.execute("SELECT count(*) FROM raw_pages").fetchone()[0]
        else:
            self._raw_count += 1
        if self._raw_count >= rawcodec.DICT_SAMPLES:
            self.train_dictionary(self.conn.execute(_NEWEST_FULL_RAW, (rawcodec.DICT_SAMPLES,)))

    def train_dictionary(self, rows: Iterable[sqlite3.Row]) -> int | None:
        """Train a new dictionary from the raw pages named by ``rows`` (``sha256``) and
        store it; later raw pages use it. None when the pages are too few to train one."""
        samples = [self._decoded(row["sha256"]) for row in rows]
        try:
            data = rawcodec.train_dictionary(samples)
        except rawcodec.CodecError as exc:
            logger.info("no dictionary trained pages=%d reason=%s", len(samples), exc)
            return None
        row = {"created_at": utc_now(), "samples": len(samples), "bytes": len(data), "dict": data}
        dict_id = self._insert("raw_dicts", row)
        self._newest_dict = (dict_id, data)
        logger.info("dictionary trained id=%d pages=%d bytes=%d", dict_id, len(samples), len(data))
        return dict_id

    def _save_version(
        self, page: sqlite3.Row, capture: Capture, raw_sha: str | None
    ) -> tuple[str, int]:
        current = self.current_version(page["id"]) if page["version_id"] else None
        content = _content(capture)
        if current is not None and content.same_as(current):
            return "unchanged", current.id
        version = self.add_version(
            page["id"],
            current,
            content,
            origin="site",
            captured_at=capture.captured_at,
            raw_sha256=raw_sha,
            normalizer_version=capture.normalizer_version,
        )
        return ("changed" if current else "new"), version.id

    def add_version(
        self,
        page_id: int,
        current: Version | None,
        content: Content,
        *,
        origin: str,
        captured_at: str,
        raw_sha256: str | None,
        normalizer_version: int | None,
    ) -> Version:
        """Append ``content`` to the page's versions after ``current``, its change
        counted against ``current``; returns the new version. Joins the caller's
        transaction (so a whole chain can be written in one)."""
        change = Change.between(current, content)
        row = {
            "page_id": page_id,
            "seq": current.seq + 1 if current else 1,
            "origin": origin,
            "captured_at": captured_at,
            "created_at": utc_now(),
            "title": content.title,
            "text": content.text,
            "text_sha256": content.text_sha256,
            "fields": canonical_json(content.fields),
            "fields_sha256": content.fields_sha256,
            "normalizer_version": normalizer_version,
            "raw_sha256": raw_sha256,
            "changed_fields": json.dumps(change.fields),
            "body_changes": json.dumps(change.body) if change.body is not None else None,
        }
        with self.transaction():
            self._insert("versions", row)
            return self.current_version(page_id)

    def _insert(self, table: str, row: dict) -> int:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
        return self.conn.execute(sql, tuple(row.values())).lastrowid

    def _insert_capture(
        self,
        page_id: int,
        capture: Capture,
        raw_sha: str | None,
        outcome: str,
        change: str | None,
        version_id: int | None,
        error: str | None,
    ) -> int:
        row = {
            "page_id": page_id,
            "run_id": self.run_id,
            "captured_at": capture.captured_at,
            "source": capture.source,
            "http_status": capture.status,
            "outcome": outcome,
            "status_change": change,
            "raw_sha256": raw_sha,
            "bytes": len(capture.body) if capture.body is not None else None,
            "error": error,
            "version_id": version_id,
            "source_url": capture.source_url,
            "fetched_url": capture.fetched_url,
            "http_headers": capture.http_headers,
            "site_updated_at": capture.site_updated_at or _site_updated(capture.transcript),
        }
        return self._insert("captures", row)

    def _update_page(
        self, page: sqlite3.Row, capture: Capture, outcome: str, change: str | None
    ) -> None:
        """Move the page state on; an error capture changes nothing but the log."""
        if outcome == "error":
            return
        values = {"last_checked_at": capture.captured_at, "url": capture.url}
        if capture.status == 200:
            values["normalizer_version"] = capture.normalizer_version
        if outcome in ("new", "changed"):
            values["last_changed_at"] = capture.captured_at
        if outcome != "gone":
            values |= {"etag": capture.etag, "last_modified": capture.last_modified}
        if capture.feed_updated_utc is not None:
            values |= {"feed_updated": capture.feed_updated}
            values |= {"feed_updated_utc": capture.feed_updated_utc}
        if change is not None:
            values |= {"status": "gone" if change == "gone" else "live"}
            values["gone_at"] = capture.captured_at if change == "gone" else None
        self._update("pages", page["id"], values)

    def _update(self, table: str, row_id: int, values: dict) -> None:
        assignments = ", ".join(f"{name} = ?" for name in values)
        sql = f"UPDATE {table} SET {assignments} WHERE id = ?"
        self.conn.execute(sql, (*values.values(), row_id))

    # -- re-derivation (driven by renormalize, which parses; the archive never does)

    def pages_to_renormalize(self, normalizer_version: int, force: bool = False) -> list[int]:
        """Ids of the pages with a version not yet checked with ``normalizer_version``
        (every page with a version, with ``force``), in id order."""
        sql = "SELECT id FROM pages WHERE EXISTS (SELECT 1 FROM versions WHERE page_id = pages.id)"
        if not force:
            sql += " AND normalizer_version IS NOT ?"
        rows = self._all(sql + " ORDER BY id", () if force else (normalizer_version,))
        return [row["id"] for row in rows]

    def good_captures(self, page_id: int) -> list[GoodCapture]:
        """The page's captures whose raw page normalized (its good 200s), in capture-time
        order (captures of one second in the order they were saved)."""
        rows = self._all(
            "SELECT id, captured_at, source, raw_sha256 FROM captures WHERE page_id = ?"
            " AND raw_sha256 IS NOT NULL AND outcome IN ('new', 'changed', 'unchanged')"
            " ORDER BY captured_at, id",
            (page_id,),
        )
        return [GoodCapture(r["id"], r["captured_at"], r["source"], r["raw_sha256"]) for r in rows]

    def rederive_source(self, page_id: int) -> RederiveSource | None:
        """The raw page of the page's newest good capture (the last of
        :meth:`good_captures`) and its current version without the text, in one query;
        None for a page without a version or a good capture."""
        rows = self._all(
            "SELECT c.raw_sha256, v.id, v.text_sha256, v.fields_sha256, v.fields FROM captures c,"
            " (SELECT id, text_sha256, fields_sha256, fields FROM versions WHERE page_id = ?"
            " ORDER BY seq DESC LIMIT 1) v WHERE c.page_id = ? AND c.raw_sha256 IS NOT NULL"
            " AND c.outcome IN ('new', 'changed', 'unchanged')"
            " ORDER BY c.captured_at DESC, c.id DESC LIMIT 1",
            (page_id, page_id),
        )
        if not rows:
            return None
        sha, version_id, text_sha, fields_sha, fields = rows[0]
        return RederiveSource(sha, version_id, text_sha, fields_sha, json.loads(fields))

    def refused_captures(self) -> list[RefusedCapture]:
        """Every 200 that was refused (no transcript) but whose body was kept, by page and
        capture time: what a later normalizer may read."""
        rows = self._all(
            "SELECT c.id, c.page_id, c.captured_at, c.raw_sha256, c.error, p.event_id, p.url"
            " FROM captures c JOIN pages p ON p.id = c.page_id WHERE c.outcome = 'error'"
            " AND c.http_status = 200 AND c.raw_sha256 IS NOT NULL"
            " ORDER BY c.page_id, c.captured_at, c.id"
        )
        return [RefusedCapture(**dict(row)) for row in rows]

    def accept_refused(self, refused: RefusedCapture) -> PastCapture:
        """Turn a refused capture that now normalizes into a good one of the past (outcome
        "unchanged", no version yet, its old error dropped): the caller derives the page's
        chain again and settles it with :meth:`settle_chain` in the same transaction."""
        with self.transaction():
            self._update("captures", refused.id, {"outcome": "unchanged", "error": None})
            self._update_past(refused.page_id, refused.captured_at)
        return PastCapture(refused.page_id, refused.id, "unchanged")

    def mark_normalized(self, page_id: int, normalizer_version: int) -> None:
        """Record that the page's current version was checked with this normalizer."""
        with self.transaction():
            self._update("pages", page_id, {"normalizer_version": normalizer_version})

    # -- captures of the past (driven by chronology, which derives the chain)

    def arrives_early(self, capture: Capture) -> bool:
        """A good 200 taken before its page's last good capture: its place in the page's
        history is in the past, not at the end (one of the same second comes after)."""
        if capture.error is not None or capture.status != 200 or capture.transcript is None:
            return False
        row = self.conn.execute(
            "SELECT max(c.captured_at) AS last FROM captures c JOIN pages p"
            f" ON p.id = c.page_id WHERE p.site = ? AND p.event_id = ? AND c.{_GOOD_CAPTURE}",
            (capture.site, capture.event_id),
        ).fetchone()
        return row["last"] is not None and capture.captured_at < row["last"]

    def save_past_capture(self, capture: Capture) -> PastCapture:
        """Store a good capture of the past: raw page and capture row ("unchanged", no
        version yet), no page state moved but the first and last change. The caller
        settles its outcome with :meth:`settle_chain` in the same transaction. A capture
        saved before comes back with its stored outcome and no id."""
        raw_sha = _body_sha256(capture)
        with self.transaction():
            page = self._ensure_page(capture)
            stored = self._stored_outcome(page["id"], capture, raw_sha)
            if stored is not None:
                return PastCapture(page["id"], None, stored)
            self._save_raw(raw_sha, capture, page["id"])
            capture_id = self._insert_capture(
                page["id"], capture, raw_sha, "unchanged", None, None, None
            )
            self._update_past(page["id"], capture.captured_at)
            return PastCapture(page["id"], capture_id, "unchanged")

    def settle_chain(
        self,
        past: PastCapture,
        chain: list[Link[GoodCapture]] | None,
        normalizer_version: int,
        reason: str,
    ) -> str:
        """Make ``chain`` (the page's versions derived in capture-time order) the page's
        version chain where it differs from the stored one, and settle the capture's
        outcome: "new" or "changed" where it begins a version of a new chain, else
        "unchanged". ``chain`` None (it could not be derived) keeps the stored versions."""
        with self.transaction():
            stored = self._page_versions(past.page_id)
            outcome = "unchanged"
            if chain and not _same_chain(stored, chain):
                self._replace_chain(past, stored, chain, normalizer_version, reason)
                starts = [link.key.id for link in chain]
                if past.capture_id in starts:
                    outcome = "new" if starts[0] == past.capture_id else "changed"
            version_id = self._version_at(past.page_id, self._capture_time(past.capture_id))
            self._update(
                "captures", past.capture_id, {"outcome": outcome, "version_id": version_id}
            )
            self._update_past(past.page_id, None)
            self._count_in_run(OUTCOME_COUNTS[outcome])
            return outcome

    def _page_versions(self, page_id: int) -> list[Version]:
        rows = self._all(
            f"SELECT {_VERSION_SELECT} FROM versions v WHERE page_id = ? ORDER BY seq", (page_id,)
        )
        return [Version.from_row(row) for row in rows]

    def _capture_time(self, capture_id: int) -> str:
        row = self.conn.execute("SELECT captured_at FROM captures WHERE id = ?", (capture_id,))
        return row.fetchone()["captured_at"]

    def _replace_chain(
        self,
        past: PastCapture,
        stored: list[Version],
        chain: list[Link[GoodCapture]],
        normalizer_version: int,
        reason: str,
    ) -> None:
        """Swap the page's versions for ``chain``: the rows replaced go to retired_versions
        under one rederivations row; the captures point at the new versions."""
        page_id = past.page_id
        rederivation_id = self._insert(
            "rederivations",
            {
                "page_id": page_id, "run_id": self.run_id, "rederived_at": utc_now(),
                "capture_id": past.capture_id, "reason": reason,
                "old_versions": len(stored), "new_versions": len(chain),
            },
        )  # fmt: skip
        columns = ", ".join(_VERSION_COLUMNS)
        self.conn.execute(
            f"INSERT INTO retired_versions (rederivation_id, {columns})"
            f" SELECT ?, {columns} FROM versions WHERE page_id = ?",
            (rederivation_id, page_id),
        )
        self.conn.execute("UPDATE captures SET version_id = NULL WHERE page_id = ?", (page_id,))
        self.conn.execute("DELETE FROM versions WHERE page_id = ?", (page_id,))
        current = None
        for link in chain:
            current = self.add_version(
                page_id,
                current,
                link.content,
                origin="site",
                captured_at=link.key.captured_at,
                raw_sha256=link.key.raw_sha256,
                normalizer_version=normalizer_version,
            )
        self._relink_captures(page_id)
        self._update("pages", page_id, {"normalizer_version": normalizer_version})
        logger.info(
            "re-derived page_id=%s versions=%d->%d reason=%s",
            page_id, len(stored), len(chain), reason,
        )  # fmt: skip

    def _relink_captures(self, page_id: int) -> None:
        """Every capture that saw a version (good 200s, 304s) points at the version in
        force at its time."""
        rows = self.conn.execute(
            "SELECT id, captured_at FROM captures WHERE page_id = ?"
            " AND outcome IN ('new', 'changed', 'unchanged', 'not-modified')",
            (page_id,),
        ).fetchall()
        for row in rows:
            version_id = self._version_at(page_id, row["captured_at"])
            self._update("captures", row["id"], {"version_id": version_id})

    def _version_at(self, page_id: int, captured_at: str) -> int | None:
        """The version in force at a time: the last one taken then or before (else the
        first one)."""
        row = self.conn.execute(
            "SELECT id FROM versions WHERE page_id = ?"
            " ORDER BY captured_at > ?, CASE WHEN captured_at > ? THEN seq ELSE -seq END"
            " LIMIT 1",
            (page_id, captured_at, captured_at),
        ).fetchone()
        return row["id"] if row else None

    def _update_past(self, page_id: int, captured_at: str | None) -> None:
        """A capture of the past moves no page state but the first and last change."""
        self.conn.execute(
            "UPDATE pages SET first_seen_at = min(first_seen_at, coalesce(?, first_seen_at)),"
            " last_changed_at = coalesce((SELECT max(captured_at) FROM versions"
            " WHERE page_id = ?), last_changed_at) WHERE id = ?",
            (captured_at, page_id, page_id),
        )

    # -- what a backfill asks before fetching

    def has_body_capture(self, site: str, event_id: int, captured_at: str, source: str) -> bool:
        """A capture of the page at that time from that source, with its body, is stored
        (one whose fetch failed has no body, and is tried again)."""
        row = self.conn.execute(
            "SELECT 1 FROM captures c JOIN pages p ON p.id = c.page_id"
            " WHERE p.site = ? AND p.event_id = ? AND c.captured_at = ? AND c.source = ?"
            " AND c.raw_sha256 IS NOT NULL LIMIT 1",
            (site, event_id, captured_at, source),
        ).fetchone()
        return row is not None

    def raw_with_digest(self, site: str, event_id: int, sha1_b32: str) -> str | None:
        """The SHA-256 of a raw page of this page whose base-32 SHA-1 (the CDX digest) is
        ``sha1_b32``, or None: the archive holds that body for the page already."""
        row = self.conn.execute(
            "SELECT r.sha256 FROM captures c JOIN pages p ON p.id = c.page_id"
            " JOIN raw_pages r ON r.sha256 = c.raw_sha256"
            " WHERE p.site = ? AND p.event_id = ? AND r.sha1_base32 = ? LIMIT 1",
            (site, event_id, sha1_b32),
        ).fetchone()
        return row["sha256"] if row else None

    def wayback_cursor(self, query: str) -> str | None:
        """The resume key where a CDX query stopped, or None (start from the beginning)."""
        row = self.conn.execute(
            "SELECT resume_key FROM wayback_cursors WHERE query = ?", (query,)
        ).fetchone()
        return row["resume_key"] if row else None

    def save_wayback_cursor(self, query: str, resume_key: str | None) -> None:
        """Remember where a CDX query goes on; None: the query is done (forgotten)."""
        with self.transaction():
            if resume_key is None:
                self.conn.execute("DELETE FROM wayback_cursors WHERE query = ?", (query,))
                return
            self.conn.execute(
                "INSERT INTO wayback_cursors (query, resume_key, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (query) DO UPDATE SET resume_key = excluded.resume_key,"
                " updated_at = excluded.updated_at",
                (query, resume_key, utc_now()),
            )

    # -- runs

    def start_run(self, trigger: str, started_at: str) -> int:
        """Record the start of a run; captures saved until finish_run carry its id and
        are counted in it as they are saved, so a run killed or failed midway keeps real
        counts."""
        with self.transaction():
            row = {"trigger": trigger, "pid": os.getpid(), "started_at": started_at}
            self.run_id = self._insert("runs", row | dict.fromkeys(RUN_COUNTS, 0))
        return self.run_id

    def count_discovered(self, pages: int) -> None:
        """Add ``pages`` to the current run's discovered count (as discovery goes)."""
        with self.transaction():
            self._count_in_run("discovered", pages)

    def _count_in_run(self, name: str, by: int = 1) -> None:
        if self.run_id is not None and by:
            self.conn.execute(
                f"UPDATE runs SET {name} = coalesce({name}, 0) + ? WHERE id = ?",
                (by, self.run_id),
            )

    def finish_run(
        self, run_id: int, finished_at: str, counts: dict[str, int], error: str | None
    ) -> None:
        """Record the end of a run: its counts (keys of RUN_COUNTS and RUN_IMPORT_COUNTS;
        others are ignored)."""
        names = RUN_COUNTS + RUN_IMPORT_COUNTS
        values = {name: counts[name] for name in names if name in counts}
        with self.transaction():
            self._update("runs", run_id, {"finished_at": finished_at, "error": error, **values})
        if self.run_id == run_id:
            self.run_id = None

    def runs(self, limit: int = 20) -> list[dict]:
        """The newest runs first, as dicts of the runs columns."""
        rows = self._all("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(row) for row in rows]

    # -- the discovery walk's frontier

    def frontier_entries(self, site: str) -> list[FrontierEntry]:
        """The pages of a site found by a walk and not yet settled, newest id first."""
        rows = self._all(
            "SELECT * FROM frontier_entries WHERE site = ? ORDER BY event_id DESC", (site,)
        )
        return [FrontierEntry(**dict(row)) for row in rows]

    def save_frontier_entries(self, entries: list[FrontierEntry]) -> None:
        """Add found pages (one transaction); a page already there keeps its attempts and
        takes the newer feed stamps."""
        with self.transaction():
            for e in entries:
                self.conn.execute(
                    "INSERT INTO frontier_entries (site, event_id, url, section, kind, day,"
                    " feed_updated, feed_updated_utc, found_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (site, event_id) DO UPDATE SET"
                    " feed_updated = coalesce(excluded.feed_updated, feed_updated),"
                    " feed_updated_utc = coalesce(excluded.feed_updated_utc, feed_updated_utc),"
                    " day = coalesce(excluded.day, day)",
                    (e.site, e.event_id, e.url, e.section, e.kind, e.day, e.feed_updated,
                     e.feed_updated_utc, e.found_at),
                )  # fmt: skip

    def drop_frontier_entry(self, site: str, event_id: int) -> None:
        with self.transaction():
            self.conn.execute(
                "DELETE FROM frontier_entries WHERE site = ? AND event_id = ?", (site, event_id)
            )

    def count_frontier_attempt(self, site: str, event_id: int) -> None:
        """One more failed capture of a found page (it stays in the frontier)."""
        with self.transaction():
            self.conn.execute(
                "UPDATE frontier_entries SET attempts = attempts + 1"
                " WHERE site = ? AND event_id = ?",
                (site, event_id),
            )

    def frontier_walks(self, site: str) -> list[WalkState]:
        """The walks of a site that stopped before their end, oldest first."""
        rows = self._all("SELECT * FROM frontier_walks WHERE site = ? ORDER BY id", (site,))
        fields = [dict(row) for row in rows]
        return [WalkState(**{k: v for k, v in f.items() if k != "updated_at"}) for f in fields]

    def frontier_summary(self) -> dict:
        """What the frontier holds, for ``status``: found pages not yet fetched, by site,
        and the kept walks (oldest first) with their position and why they stopped."""
        pages = self._all("SELECT site, count(*) AS n FROM frontier_entries GROUP BY site")
        walks = self._all(
            "SELECT site, kind, source, next_url, number, end_number, since, oldest_day,"
            " reason, updated_at FROM frontier_walks ORDER BY id"
        )
        return {"pages": {r["site"]: r["n"] for r in pages}, "walks": [dict(r) for r in walks]}

    def save_frontier_walk(self, walk: WalkState, updated_at: str) -> int:
        """Keep a walk's position (a new row, or the walk's own row); returns its id."""
        row = {
            "site": walk.site, "kind": walk.kind, "source": walk.source,
            "next_url": walk.next_url, "number": walk.number, "end_number": walk.end_number,
            "since": walk.since, "oldest_day": walk.oldest_day, "reason": walk.reason,
            "started_at": walk.started_at or updated_at, "updated_at": updated_at,
        }  # fmt: skip
        with self.transaction():
            if walk.id is None:
                return self._insert("frontier_walks", row)
            self._update("frontier_walks", walk.id, row)
            return walk.id

    def drop_frontier_walk(self, walk_id: int) -> None:
        """A walk that reached its end."""
        with self.transaction():
            self.conn.execute("DELETE FROM frontier_walks WHERE id = ?", (walk_id,))

    def sites(self) -> list[str]:
        """The canonical hosts the archive holds pages of."""
        return [row["site"] for row in self._all("SELECT DISTINCT site FROM pages ORDER BY site")]

    def runs_after(self, run_id: int, trigger: str, pid: int) -> list[int]:
        """The ids of the ``trigger`` runs process ``pid`` recorded after run ``run_id``."""
        sql = "SELECT id FROM runs WHERE trigger = ? AND pid = ? AND id > ? ORDER BY id"
        return [row["id"] for row in self._all(sql, (trigger, pid, run_id))]

    # -- notifications

    def save_notification(self, record: dict) -> int:
        """Record what became of one notification (the columns of ``notifications``)."""
        with self.transaction():
            return self._insert("notifications", record)

    def notification_summary(self) -> dict:
        """How many notifications were sent and failed, and the newest failed one."""
        counts = dict(self._all("SELECT status, count(*) FROM notifications GROUP BY status"))
        last = self._all(
            "SELECT * FROM notifications WHERE status = 'failed' ORDER BY id DESC LIMIT 1"
        )
        return {
            "sent": counts.get("sent", 0),
            "failed": counts.get("failed", 0),
            "last_failed": dict(last[0]) if last else None,
        }

    def notifications(self, limit: int = 20) -> list[dict]:
        """The newest notifications first, as dicts of the notifications columns."""
        rows = self._all("SELECT * FROM notifications ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(row) for row in rows]

    # -- changes

    def change_rows(
        self,
        *,
        since: str | None = None,
        site: str | None = None,
        run_ids: list[int] | None = None,
        include_renormalize: bool = False,
        limit: int | None = None,
        before: dict | None = None,
    ) -> list[dict]:
        """Every edit, removal and return (and re-normalization, if asked), newest first.

        A first version is no change, nor is a page that answered 404 before any version:
        a removal or return is a capture that moved a page with a version. ``since``: ISO
        UTC stamp (``YYYY-MM-DDTHH:MM:SSZ``), ``site``: canonical host, ``run_ids``: only
        what these runs found. Each row: at, kind (edit / renormalization / removal /
        return), site, event_id, url, title, version, changed_fields, body_changes,
        http_status, run_id, and its place in the list: capture_id (0 for none), row_id
        (the version's id, or the capture's). ``before``: a place (at, capture_id, kind,
        row_id); only the rows listed after it."""
        runs = json.dumps(run_ids) if run_ids is not None else None
        params = {"renormalize": int(include_renormalize), "since": since, "site": site}
        params |= {"runs": runs, "limit": limit or -1}
        params |= {f"before_{name}": value for name, value in (before or {}).items()}
        sql = _CHANGES_SQL.format(
            edits_since=" AND v.captured_at >= :since" if since else "",
            moves_since=" AND c.captured_at >= :since" if since else "",
            wanted=_CHANGES_WANTED.format(before=_CHANGES_BEFORE if before else ""),
            order=_CHANGES_ORDER,
        )
        return [dict(row) for row in self._all(sql, params)]

    # -- reading

    def recheck_candidates(self) -> list[sqlite3.Row]:
        """Every page with what the recheck policy needs: ``born_at`` (the event's date,
        else when it was first seen), ``last_checked_at`` (its last fetch attempt),
        ``gone`` and ``last_edit_at`` (the capture time of its last site edit)."""
        return self._all(_RECHECK_SQL)

    def count_recheck_requests(self, site: str, since: str) -> int:
        """Requests recheck runs sent for a site's pages since ``since`` (one per capture)."""
        sql = (
            "SELECT count(*) FROM runs r JOIN captures c ON c.run_id = r.id"
            " JOIN pages p ON p.id = c.page_id WHERE r.trigger = 'recheck'"
            " AND coalesce(r.finished_at, '9') >= ? AND c.captured_at >= ? AND p.site = ?"
        )
        return self._all(sql, (since, since, site))[0][0]

    def page_state(self, site: str, event_id: int) -> PageState | None:
        """The state of one page, or None when it was never captured."""
        rows = self._page_rows("p.site = ? AND p.event_id = ?", (site, event_id))
        return rows[0] if rows else None

    def has_pages(self, site: str) -> bool:
        """Whether the archive holds any page of a site."""
        return bool(self._all("SELECT 1 FROM pages WHERE site = ? LIMIT 1", (site,)))

    def _page_rows(self, where: str, params: tuple) -> list[PageState]:
        sql = (
            "SELECT p.*, (SELECT count(*) FROM versions v WHERE v.page_id = p.id) AS versions"
            f" FROM pages p WHERE {where} ORDER BY p.site, p.event_id"
        )
        return [_page_state(row) for row in self._all(sql, params)]

    def get_page(self, event_id: int, site: str | None = None) -> PageState:
        """A page by event id (``site`` narrows it); raises NotArchived. Read what a user
        typed with ``lookup.parse_ref``."""
        where, params = ("p.event_id = ?", (event_id,))
        if site:
            where, params = ("p.site = ? AND p.event_id = ?", (site, event_id))
        found = self._page_rows(where, params)
        if not found:
            named = f"{site} event {event_id}" if site else f"event {event_id}"
            raise NotArchived(f"{named} is not in the archive {self.path}")
        if len(found) > 1:
            sites = ", ".join(state.site for state in found)
            raise NotArchived(
                f"event {event_id} is archived for several sites ({sites}); "
                "name the site or give the URL"
            )
        return found[0]

    def versions(self, site: str, event_id: int) -> list[Version]:
        """Every version of a page, oldest first (empty when there is none)."""
        rows = self._all(
            f"SELECT {_VERSION_SELECT} FROM versions v JOIN pages p ON p.id = v.page_id"
            " WHERE p.site = ? AND p.event_id = ? ORDER BY v.seq",
            (site, event_id),
        )
        return [Version.from_row(row) for row in rows]

    def captures(self, site: str, event_id: int, limit: int | None = None) -> list[dict]:
        """The capture log of a page, newest first, as dicts of the captures columns."""
        rows = self._all(
            "SELECT c.* FROM captures c JOIN pages p ON p.id = c.page_id"
            " WHERE p.site = ? AND p.event_id = ? ORDER BY c.captured_at DESC, c.id DESC"
            " LIMIT ?",
            (site, event_id, -1 if limit is None else limit),
        )
        return [dict(row) for row in rows]

    def rederivations(self, site: str, event_id: int) -> list[dict]:
        """The times a page's versions were derived again (a capture placed in its past),
        oldest first, as dicts of the rederivations columns."""
        rows = self._all(
            "SELECT r.* FROM rederivations r JOIN pages p ON p.id = r.page_id"
            " WHERE p.site = ? AND p.event_id = ? ORDER BY r.rederived_at, r.id",
            (site, event_id),
        )
        return [dict(row) for row in rows]

    def iter_captures(self, since: str | None = None) -> Iterator[dict]:
        """Every capture with its page's ``site``, ``event_id`` and ``page_url``, page by
        page (site, event id), in capture-time order within a page, streamed. ``since``
        (a day): pages whose current version is of an event of that day or later."""
        sql = (
            "SELECT c.*, p.site, p.event_id, p.url AS page_url"
            f" FROM pages p JOIN captures c ON c.page_id = p.id {_SINCE}"
            " ORDER BY p.site, p.event_id, c.captured_at, c.id"
        )
        with self._errors():
            for row in self.conn.execute(sql, (since, since)):
                yield dict(row)

    def count_captures(self, since: str | None = None) -> int:
        """How many captures :meth:`iter_captures` yields."""
        sql = f"SELECT count(*) FROM pages p JOIN captures c ON c.page_id = p.id {_SINCE}"
        return self._all(sql, (since, since))[0][0]

    def raw_body(self, sha256: str) -> bytes:
        """A stored raw body, decompressed; raises NotArchived, or ArchiveError when the
        stored bytes cannot be decoded."""
        with self._errors():
            return self._decoded(sha256)

    def _decoded(self, sha256: str, hops: int = rawcodec.MAX_DELTA_DEPTH + 2) -> bytes:
        row = self.conn.execute(
            "SELECT compression, body, base_sha256, dict_id FROM raw_pages WHERE sha256 = ?",
            (sha256,),
        ).fetchone()
        if row is None:
            raise NotArchived(f"no raw page {sha256} in {self.path}")
        base = None
        if row["base_sha256"] is not None:
            if hops <= 0:
                raise ArchiveError(f"raw page {sha256} in {self.path}: its delta chain loops")
            base = self._decoded(row["base_sha256"], hops - 1)
        dictionary = self._dict_bytes(row["dict_id"]) if row["dict_id"] is not None else None
        try:
            return rawcodec.decode(row["compression"], row["body"], base, dictionary)
        except rawcodec.CodecError as exc:
            raise ArchiveError(
                f"raw page {sha256} in {self.path} cannot be read back: {exc}; "
                "run kremlin-archive verify to check the others"
            ) from None

    def _dict_bytes(self, dict_id: int) -> bytes:
        cache = self.__dict__.setdefault("_dicts", {})
        if dict_id not in cache:
            row = self.conn.execute("SELECT dict FROM raw_dicts WHERE id = ?", (dict_id,))
            found = row.fetchone()
            if found is None:
                raise ArchiveError(f"dictionary {dict_id} is missing from {self.path}")
            cache[dict_id] = found["dict"]
        return cache[dict_id]

    # -- raw page maintenance (verify, compact)

    def iter_raw_page_facts(self) -> Iterator[sqlite3.Row]:
        """Every raw page's sha256, size, encoding and stored size, in hash order."""
        with self._errors():
            yield from self.conn.execute(
                "SELECT sha256, bytes, compression, length(body) AS stored, dict_id, depth,"
                " base_sha256 FROM raw_pages ORDER BY sha256"
            )

    def raw_pages_to_compact(self) -> list[sqlite3.Row]:
        """Raw pages not in the newest encoding (zlib, or zstd without the newest
        dictionary), with the page whose previous capture may serve as a delta base and
        whether other raw pages are deltas of them; in capture order."""
        newest = self.dictionary()
        sql = """
            SELECT r.sha256, r.compression, r.dict_id,
                   EXISTS (SELECT 1 FROM raw_pages d WHERE d.base_sha256 = r.sha256) AS used,
                   (SELECT c.page_id FROM captures c WHERE c.raw_sha256 = r.sha256
                    ORDER BY c.captured_at, c.id LIMIT 1) AS page_id,
                   (SELECT min(c.captured_at) FROM captures c WHERE c.raw_sha256 = r.sha256)
                    AS captured_at
            FROM raw_pages r
            WHERE r.compression = 'zlib' OR (r.compression = 'zstd' AND r.dict_id IS NOT ?)
            ORDER BY captured_at, r.sha256"""
        return self._all(sql, (newest[0] if newest else None,))

    def full_base_before(self, page_id: int, captured_at: str, sha256: str) -> rawcodec.Base | None:
        """The page's raw page captured just before ``captured_at`` when it is stored whole
        (a delta against it cannot make a chain or a loop), else None."""
        row = self._all(
            "SELECT r.sha256 FROM captures c JOIN raw_pages r ON r.sha256 = c.raw_sha256"
            " WHERE c.page_id = ? AND c.captured_at < ? AND r.sha256 != ?"
            " ORDER BY c.captured_at DESC, c.id DESC LIMIT 1",
            (page_id, captured_at, sha256),
        )
        if not row or self._all("SELECT depth FROM raw_pages WHERE sha256 = ?", (row[0][0],))[0][0]:
            return None
        return rawcodec.Base(row[0][0], self.raw_body(row[0][0]), 0)

    def raw_stored(self, sha256: str) -> bytes:
        """The stored (encoded) bytes of a raw page."""
        found = self._all("SELECT body FROM raw_pages WHERE sha256 = ?", (sha256,))
        if not found:
            raise NotArchived(f"no raw page {sha256} in {self.path}")
        return found[0]["body"]

    def reencode_raw_page(self, sha256: str, encoded: rawcodec.Encoded) -> None:
        """Store a raw page anew in ``encoded`` (its bytes decode to the same body)."""
        with self.transaction():
            self.conn.execute(
                "UPDATE raw_pages SET compression = ?, body = ?, base_sha256 = ?, dict_id = ?,"
                " depth = ? WHERE sha256 = ?",
                (encoded.compression, encoded.body, *_codec_columns(encoded), sha256),
            )

    def sample_raw_pages(self, count: int) -> list[sqlite3.Row]:
        """Up to ``count`` whole raw pages spread over the archive (for training)."""
        total = self._all("SELECT count(*) FROM raw_pages WHERE base_sha256 IS NULL")[0][0]
        step = max(1, total // max(1, count))
        return self._all(
            "SELECT sha256 FROM (SELECT sha256, row_number() OVER (ORDER BY sha256) AS n"
            " FROM raw_pages WHERE base_sha256 IS NULL) WHERE n % ? = 0 LIMIT ?",
            (step, count),
        )

    def train_new_dictionary(self, count: int) -> int | None:
        """Train and store a dictionary from ``count`` raw pages spread over the archive."""
        with self.transaction():
            return self.train_dictionary(self.sample_raw_pages(count))

    def vacuum(self) -> None:
        """Give the space freed by re-encoded pages back to the file system."""
        with self._errors():
            self.conn.execute("VACUUM")

    # -- reading for the read commands: list, export, status

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: everything read inside sees the archive as it was at its
        first read, whatever another process writes meanwhile (an export is never half
        old, half new)."""
        with self._errors():
            self.conn.execute("BEGIN")
            try:
                yield
            finally:
                self.conn.execute("COMMIT")

    def _iter(self, sql: str, params: tuple | dict = ()) -> Iterator[sqlite3.Row]:
        """Rows streamed from a cursor, under the error translation."""
        with self._errors():
            yield from self.conn.execute(sql, params)

    def content_state(self) -> dict:
        """What identifies the archive's content: counts, last capture, schema version."""
        row = self._all(
            "SELECT (SELECT count(*) FROM pages) AS pages,"
            " (SELECT count(*) FROM versions) AS versions,"
            " (SELECT count(*) FROM captures) AS captures,"
            " (SELECT max(captured_at) FROM captures) AS last_captured_at"
        )[0]
        with self._errors():
            applied = [m.name for m in migrations.applied(self.db)]
        return dict(row) | {"schema_version": len(applied), "schema_migrations": applied}

    def iter_current_pages(self, since_day: str | None = None) -> Iterator[sqlite3.Row]:
        """Each page with a version, newest event first: site, event_id, url, date, title,
        versions, status, first_seen_at, last_changed_at. ``since_day``: events of that
        ISO day or later."""
        sql = """
            SELECT c.site, c.event_id, c.url, c.date, c.title, c.version AS versions, c.status,
                   p.first_seen_at, p.last_changed_at
            FROM current_transcripts c JOIN pages p USING (site, event_id)
            WHERE ? IS NULL OR c.date >= ?
            ORDER BY c.date DESC, c.event_id DESC, c.site"""
        return self._iter(sql, (since_day, since_day))

    def iter_version_rows(
        self, all_versions: bool = False, since_day: str | None = None
    ) -> Iterator[sqlite3.Row]:
        """Every page's current version (or every version), by site, event id and number:
        the page's ``page_site``, ``page_event_id``, ``page_url`` and the version's columns.
        ``since_day``: events of that ISO day or later."""
        where, params = _versions_where(all_versions, since_day)
        sql = (
            "SELECT p.site AS page_site, p.event_id AS page_event_id, p.url AS page_url, "
            f"{_VERSION_SELECT}"
            f" FROM versions v JOIN pages p ON p.id = v.page_id {where}"
            " ORDER BY p.site, p.event_id, v.seq"
        )
        return self._iter(sql, params)

    def count_version_rows(self, all_versions: bool = False, since_day: str | None = None) -> int:
        """How many rows :meth:`iter_version_rows` yields."""
        where, params = _versions_where(all_versions, since_day)
        return self._all(f"SELECT count(*) FROM versions v {where}", params)[0][0]

    def last_run_id(self) -> int:
        """The newest run's id, 0 when there is none."""
        return self._all("SELECT coalesce(max(id), 0) FROM runs")[0][0]

    def page_counts(self) -> dict[str, int]:
        """Pages, pages never archived (no version), versions, gone pages."""
        row = self._all(
            "SELECT (SELECT count(*) FROM pages) AS pages,"
            " (SELECT count(*) FROM pages WHERE NOT EXISTS"
            "  (SELECT 1 FROM versions WHERE page_id = pages.id)) AS never_archived,"
            " (SELECT count(*) FROM versions) AS versions,"
            " (SELECT count(*) FROM pages WHERE status = 'gone') AS gone"
        )[0]
        return dict(row)

    def run_outcomes(self) -> list[tuple[str, str, int | None, int]]:
        """(trigger, outcome, pid, runs) by trigger, outcome and pid; the outcome is
        "ok", "partial" (pages failed), "error" or "unfinished" (no end recorded)."""
        sql = f"SELECT trigger, {_RUN_OUTCOME}, pid, count(*) FROM runs GROUP BY 1, 2, 3"
        return [tuple(row) for row in self._all(sql)]

    def last_runs(self) -> list[dict]:
        """The last run of each trigger, oldest first: its columns and its ``outcome``."""
        sql = (
            f"SELECT *, {_RUN_OUTCOME} AS outcome FROM runs"
            " WHERE id IN (SELECT max(id) FROM runs GROUP BY trigger) ORDER BY id"
        )
        return [dict(row) for row in self._all(sql)]

    def last_run_failures(self, limit: int = 20) -> dict | None:
        """The newest run (run, trigger, failed, error) and up to ``limit`` of the pages
        that failed in it (url, error); None when there is no run."""
        runs = self._all("SELECT id, trigger, failed, error FROM runs ORDER BY id DESC LIMIT 1")
        if not runs:
            return None
        run = runs[0]
        sql = (
            "SELECT p.url, c.error FROM captures c JOIN pages p ON p.id = c.page_id"
            " WHERE c.run_id = ? AND c.outcome = 'error' ORDER BY c.id LIMIT ?"
        )
        pages = [dict(row) for row in self._all(sql, (run["id"], limit))]
        head = {"run": run["id"], "trigger": run["trigger"], "failed": run["failed"] or 0}
        return head | {"error": run["error"], "pages": pages}

    def search(
        self, match: str, all_versions: bool = False, limit: int | None = None
    ) -> Iterator[sqlite3.Row]:
        """Versions whose title or text match the FTS5 expression ``match``, newest event
        first, streamed: the page's site, event id and URL (``page_site``, ``page_event_id``,
        ``page_url``), the version's columns and a ``snippet`` with the match in brackets.
        Only the current versions unless ``all_versions``. BadSearchQuery when FTS5 cannot
        read ``match``; other database errors as ArchiveError (DatabaseBusy when locked).
        With a ``limit`` the cost is that of the matches shown, not of every match."""
        current = "" if all_versions else f" AND {_CURRENT_VERSION}"
        params = {"match": match, "limit": -1 if limit is None else limit, "floor": 0}
        try:
            if limit is not None:
                params["floor"] = self._search_floor(current, params)
            sql = _SEARCH_SQL.format(current=current, columns=_VERSION_SELECT)
            yield from self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            if exc.sqlite_errorname == "SQLITE_ERROR" and str(exc).startswith(_FTS_QUERY_ERRORS):
                raise BadSearchQuery(str(exc)) from None
            raise _translated(exc, self.path, self.busy_timeout) from exc

    def _search_floor(self, current: str, params: dict) -> int:
        """The smallest search key among the first ``limit`` matches, rounded down to
        the first key of its day: every match shown has a key at or above it. FTS5 reads
        the matches in key order (newest day first) and stops at ``limit``, so this
        costs the matches shown, not every match; the matches of that last day are then
        sorted in full by :data:`_SEARCH_SQL`."""
        sql = f"""
            SELECT min(key) FROM (
                SELECT versions_fts.rowid AS key FROM versions_fts
                JOIN versions v ON v.search_key = versions_fts.rowid
                WHERE versions_fts MATCH :match{current}
                ORDER BY versions_fts.rowid DESC LIMIT :limit)"""
        lowest = self.conn.execute(sql, params).fetchone()[0]
        return 0 if lowest is None else lowest >> SEARCH_DAY_SHIFT << SEARCH_DAY_SHIFT

    def current_version(self, page_id: int) -> Version | None:
        """The page's latest version (None when it has none)."""
        rows = self._all(
            f"SELECT {_VERSION_SELECT} FROM versions v WHERE page_id = ? ORDER BY seq DESC LIMIT 1",
            (page_id,),
        )
        return Version.from_row(rows[0]) if rows else None


#: Matches of ``:match`` with a search key at or above ``:floor``, newest event day
#: first, then event id and version number, each with its snippet; ``{current}``
#: narrows them to current versions. The snippets are made after the sort and the
#: limit, for the rows shown only: a snippet costs far more than a match (with a term
#: repeated 100 times, seconds). CROSS JOIN keeps the hits the outer loop, each looked
#: up in the index by its key: left to itself the planner read every match again.
_SEARCH_SQL = f"""
WITH hits AS (
    SELECT versions_fts.rowid AS key, v.id, versions_fts.rowid >> {SEARCH_DAY_SHIFT} AS day_number,
           p.event_id, v.seq
    FROM versions_fts JOIN versions v ON v.search_key = versions_fts.rowid
    JOIN pages p ON p.id = v.page_id
    WHERE versions_fts MATCH :match AND versions_fts.rowid >= :floor{{current}}
    ORDER BY day_number DESC, p.event_id DESC, v.seq DESC LIMIT :limit)
SELECT p.site AS page_site, p.event_id AS page_event_id, p.url AS page_url, {{columns}},
       snippet(versions_fts, -1, '[', ']', '…', 12) AS snippet
FROM hits CROSS JOIN versions_fts CROSS JOIN versions v CROSS JOIN pages p
WHERE versions_fts.rowid = hits.key AND versions_fts MATCH :match
  AND v.id = hits.id AND p.id = v.page_id
ORDER BY hits.day_number DESC, hits.event_id DESC, hits.seq DESC"""


#: The change list; ``{edits_since}`` and ``{moves_since}`` hold the ``since`` filter,
#: inside each half so that each reads its index by time (migration 016) from ``since``
#: on, not every version and capture of the archive.
_CHANGES_SQL = """
WITH edits AS (
    SELECT v.captured_at AS at,
           CASE v.origin WHEN 'site' THEN 'edit' ELSE 'renormalization' END AS kind,
           p.site, p.event_id, p.url, v.title, v.seq AS version, v.changed_fields,
           v.body_changes, NULL AS http_status, c.run_id, coalesce(c.id, 0) AS capture_id,
           v.id AS row_id
    FROM versions v JOIN pages p ON p.id = v.page_id
    LEFT JOIN captures c ON c.version_id = v.id AND c.outcome IN ('new', 'changed')
    WHERE v.seq > 1 AND (v.origin = 'site' OR :renormalize){edits_since}
), moves AS (
    SELECT c.captured_at AS at,
           CASE c.status_change WHEN 'gone' THEN 'removal' ELSE 'return' END AS kind,
           p.site, p.event_id, p.url, w.title, w.seq AS version, NULL AS changed_fields,
           NULL AS body_changes, c.http_status, c.run_id, c.id AS capture_id, c.id AS row_id
    FROM captures c JOIN pages p ON p.id = c.page_id
    JOIN versions w ON w.id = (
        SELECT d.version_id FROM captures d
        WHERE d.page_id = c.page_id AND d.id < c.id AND d.version_id IS NOT NULL
        ORDER BY d.id DESC LIMIT 1)
    WHERE c.status_change IS NOT NULL{moves_since}
)
SELECT at, kind, site, event_id, url, title, version, changed_fields, body_changes,
       http_status, run_id, capture_id, row_id
FROM (SELECT * FROM (SELECT * FROM edits WHERE {wanted} ORDER BY {order} LIMIT :limit)
      UNION ALL
      SELECT * FROM (SELECT * FROM moves WHERE {wanted} ORDER BY {order} LIMIT :limit))
ORDER BY {order}
LIMIT :limit
"""
#: The change list's order, newest first; each half gives its first ``:limit`` in it
#: (reading its index by time from the newest, not sorting every change), then the two
#: are merged.
_CHANGES_ORDER = "at DESC, capture_id DESC, kind, row_id DESC"
_CHANGES_WANTED = """(:site IS NULL OR site = :site)
  AND (:runs IS NULL OR run_id IN (SELECT value FROM json_each(:runs))){before}"""
# the rows listed after a place in the order above (keyset paging)
_CHANGES_BEFORE = """
  AND at <= :before_at AND ((at, capture_id) < (:before_at, :before_capture_id)
       OR ((at, capture_id) = (:before_at, :before_capture_id)
           AND (kind > :before_kind OR (kind = :before_kind AND row_id < :before_row_id))))"""


def _codec_columns(encoded: rawcodec.Encoded) -> tuple:
    return (encoded.base_sha256, encoded.dict_id, encoded.depth)


def _site_updated(transcript: object | None) -> str | None:
    """The page's own "Last updated at", which the normalizer read beside the article."""
    return getattr(transcript, "site_updated_at", None)


def _versions_where(all_versions: bool, since_day: str | None) -> tuple[str, tuple]:
    where = "WHERE (? IS NULL OR json_extract(v.fields, '$.date') >= ?)"
    return where + ("" if all_versions else f" AND {_CURRENT_VERSION}"), (since_day, since_day)


def _error_text(status: int | None) -> str:
    if status is None:
        return "no response"
    return "no transcript for a 200 answer" if status == 200 else f"HTTP {status}"


def _status_change(status: str, outcome: str) -> str | None:
    """ "gone" when a live page answers 404 / 410, "back" when a gone page answers again."""
    if outcome == "gone":
        return "gone" if status == "live" else None
    if status == "gone" and outcome in ("new", "changed", "unchanged", "not-modified"):
        return "back"
    return None


def _page_state(row: sqlite3.Row) -> PageState:
    return PageState(
        site=row["site"],
        event_id=row["event_id"],
        url=row["url"],
        status=row["status"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_checked_at=row["last_checked_at"],
        last_changed_at=row["last_changed_at"],
        versions=row["versions"],
        page_id=row["id"],
        first_seen_at=row["first_seen_at"],
        gone_at=row["gone_at"],
        normalizer_version=row["normalizer_version"],
        feed_updated=row["feed_updated"],
        feed_updated_utc=row["feed_updated_utc"],
    )


def _same_chain(stored: list[Version], chain: list[Link[GoodCapture]]) -> bool:
    """The stored versions are the chain already: same times and contents."""
    if len(stored) != len(chain):
        return False
    return all(
        v.origin == "site" and v.captured_at == link.key.captured_at and link.content.same_as(v)
        for v, link in zip(stored, chain, strict=True)
    )


def _before(stamp: str, other: str | None) -> bool:
    return other is not None and stamp < other
