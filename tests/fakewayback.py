"""A fake Wayback Machine on 127.0.0.1: a CDX index and ``id_`` replays of captures.

``/cdx/search/cdx`` answers like web.archive.org's CDX server for the parameters a backfill
sends: ``url`` with ``matchType=prefix``, ``output=json`` (a header row, then rows), ``filter``
(``[!]field:regex``, matched against the whole field), ``from`` / ``to`` (timestamp
prefixes), ``limit`` and ``showResumeKey`` (an empty row, then the resume key, when rows
remain), and ``resumeKey``. Rows come in SURT order (urlkey, then timestamp).

``/web/<timestamp>id_/<url>`` replays a capture: the original body, the original headers
as ``X-Archive-Orig-*`` (Content-Type as is), ``Memento-Datetime`` and a ``Link`` to the
original. A capture can instead replay badly, as real ones do: ``replay="error"`` (a
Wayback error page, no memento), ``replay="redirect"`` (a 302 to another capture of the
URL). Bodies that are a challenge page or another page's markup are plain captures: the
Wayback Machine archived what the site served.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs, quote_plus, unquote_plus, urlsplit

from fakesite import BaseSite, Reply

WAYBACK_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>Wayback Machine</title></head><body>"
    b"<h2>Hrm.</h2><p>The Wayback Machine has not archived that URL.</p></body></html>"
)
_REPLAY = re.compile(r"^/web/(\d{14})id_/(.+)$")


def cdx_digest(body: bytes) -> str:
    return base64.b32encode(hashlib.sha1(body).digest()).decode()


def surt(url: str) -> str:
    """``http://en.kremlin.ru/events/…`` -> ``ru,kremlin,en)/events/…``."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    host = (parts.hostname or "").removeprefix("www.")
    query = f"?{parts.query}" if parts.query else ""
    return ",".join(reversed(host.split("."))) + ")" + (parts.path or "/").lower() + query


def _bare(url: str) -> str:
    return url.split("://", 1)[-1].removeprefix("www.")


@dataclass
class Snapshot:
    """One capture in the index."""

    original: str
    timestamp: str  # 14 digits
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    statuscode: str = "200"
    mimetype: str = "text/html"
    replay: str = "memento"  # "memento", "error" or "redirect"
    digest: str = ""

    def __post_init__(self) -> None:
        self.digest = self.digest or cdx_digest(self.body)

    @property
    def urlkey(self) -> str:
        return surt(self.original)

    def row(self) -> list[str]:
        fields = [self.urlkey, self.timestamp, self.original, self.mimetype, self.statuscode]
        return [*fields, self.digest, str(len(self.body))]


class FakeWayback(BaseSite):
    """The index and the replays; ``snapshots`` may be added to between runs."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.snapshots: list[Snapshot] = []
        self._local = threading.local()

    def add(self, original: str, moment: datetime | str, body: bytes, **more) -> Snapshot:
        timestamp = moment if isinstance(moment, str) else moment.strftime("%Y%m%d%H%M%S")
        headers = more.pop("headers", None)
        if headers is None:
            headers = [
                ("Server", "nginx"),
                ("Content-Type", "text/html; charset=utf-8"),
                ("Date", _http_date(timestamp)),
            ]
        snapshot = Snapshot(original, timestamp, body, headers, **more)
        with self._lock:
            self.snapshots.append(snapshot)
        return snapshot

    def replays(self) -> list[str]:
        """The paths of the replay requests received."""
        return [r.path for r in self.requests if r.path.startswith("/web/")]

    def searches(self) -> list[str]:
        return [r.path for r in self.requests if r.path.startswith("/cdx/")]

    # serving

    def _handle(self, handler, head: bool = False) -> None:
        self._local.query = urlsplit(handler.path).query
        super()._handle(handler, head)

    def route(self, path: str, headers: dict[str, str]) -> Reply:
        if path == "/cdx/search/cdx":
            return self._search(parse_qs(self._local.query))
        match = _REPLAY.match(path)
        if match:
            return self._replay(match[1], match[2] + self._query_suffix())
        return Reply(404, WAYBACK_ERROR_PAGE)

    def _query_suffix(self) -> str:
        query = self._local.query
        return f"?{query}" if query else ""

    def _search(self, query: dict[str, list[str]]) -> Reply:
        prefix = _bare(query.get("url", [""])[0]).rstrip("*")
        if query.get("matchType", ["exact"])[0] != "prefix" or query.get("output") != ["json"]:
            return Reply(400, b"this fake answers prefix searches in JSON only")
        rows = sorted(
            (s for s in self.snapshots if _bare(s.original).startswith(prefix)),
            key=lambda s: (s.urlkey, s.timestamp),
        )
        rows = [s for s in rows if _passes(s, query)]
        resume = query.get("resumeKey", [None])[0]
        if resume:
            key, _, stamp = unquote_plus(resume).rpartition(" ")
            rows = [s for s in rows if (s.urlkey, s.timestamp) > (key, stamp)]
        limit = int(query.get("limit", ["10000"])[0])
        page, more = rows[:limit], len(rows) > limit
        data: list[list[str]] = []
        if page:
            data = [list(("urlkey", "timestamp", "original", "mimetype", "statuscode"))]
            data[0] += ["digest", "length"]
            data += [s.row() for s in page]
        if more and query.get("showResumeKey") == ["true"]:
            last = page[-1]
            data += [[], [quote_plus(f"{last.urlkey} {last.timestamp}")]]
        return Reply(200, json.dumps(data).encode(), "application/json")

    def _replay(self, timestamp: str, original: str) -> Reply:
        found = [
            s
            for s in self.snapshots
            if s.timestamp == timestamp and _bare(s.original) == _bare(original)
        ]
        if not found:
            return Reply(404, WAYBACK_ERROR_PAGE, headers={"X-Archive-Wayback-Runtime-Error": "x"})
        snapshot = found[0]
        if snapshot.replay == "error":
            error = {"X-Archive-Wayback-Runtime-Error": "java.io.IOException: cannot read"}
            return Reply(404, WAYBACK_ERROR_PAGE, headers=error)
        if snapshot.replay == "redirect":
            later = f"{int(timestamp) + 1:014d}"
            return Reply(302, b"", headers={"Location": f"/web/{later}id_/{snapshot.original}"})
        return self._memento(snapshot)

    def _memento(self, snapshot: Snapshot) -> Reply:
        moment = datetime.strptime(snapshot.timestamp, "%Y%m%d%H%M%S")
        headers = {f"X-Archive-Orig-{name}": value for name, value in snapshot.headers}
        headers["Memento-Datetime"] = format_datetime(moment.replace(tzinfo=UTC), usegmt=True)
        headers["Link"] = f'<{snapshot.original}>; rel="original"'
        content_type = dict((k.lower(), v) for k, v in snapshot.headers).get(
            "content-type", "text/html"
        )
        return Reply(int(snapshot.statuscode), snapshot.body, content_type, headers)


def _passes(snapshot: Snapshot, query: dict[str, list[str]]) -> bool:
    for rule in query.get("filter", []):
        negate = rule.startswith("!")
        name, _, pattern = rule.lstrip("!").partition(":")
        matched = re.fullmatch(pattern, getattr(snapshot, name, "")) is not None
        if matched == negate:
            return False
    since, until = query.get("from", [""])[0], query.get("to", [""])[0]
    if since and snapshot.timestamp[: len(since)] < since:
        return False
    return not (until and snapshot.timestamp[: len(until)] > until)


def _http_date(timestamp: str) -> str:
    moment = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return format_datetime(moment, usegmt=True)
