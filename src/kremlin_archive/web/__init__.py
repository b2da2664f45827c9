"""The Datasette plugin of the web view (``kremlin-archive browse``; the ``web`` extra).

Pages it adds, beside Datasette's own views of the tables and views::

    /-/event/<site>/<id>                 title, date, status, version timeline, the text
    /-/event/<site>/<id>?version=N       the same with version N's text
    /-/event/<site>/<id>/diff/<a>..<b>   word diff of two versions (a permalink)
    /-/changes                           the change list; ?since= ?site= ?renormalize=1
                                         ?size=N a page, ?before=<place> the older ones
    /-/changes.atom                      the newest of them as an Atom feed
    /-/search?q=COVID-19                 search as the CLI does: words as typed

Datasette finds this package by its ``datasette`` entry point, its templates in
``templates/`` and its stylesheet in ``static/``. Every page reads the archive through the
project's own read functions (``lookup``, ``changes``) over one of Datasette's read-only
connections, so the pages say what the CLI says.
"""

from __future__ import annotations

import functools
import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from datasette import Response, hookimpl
from datasette.utils.asgi import NotFound
from markupsafe import Markup, escape

from ..archive import Archive
from ..changes import (
    KIND_NAMES,
    ChangeKey,
    describe_body_changes,
    list_changes,
    parse_since,
    render_atom,
)
from ..changeset import changed_fields, version_name
from ..config import SETTINGS
from ..errors import KremlinArchiveError, NotArchived
from ..lookup import REDERIVED, page_history, pick_pair, search_versions, version, word_segments
from ..timeutil import utc_now

CHANGES_SHOWN = 200  # changes on a page of /-/changes, unless ?size= (up to CHANGES_MOST)
CHANGES_MOST = 1000
FEED_ENTRIES = SETTINGS["notify"]["feed_entries"].default  # as `changes --atom` and the service
HITS_SHOWN = 50


# --------------------------------------------------------------------------- hooks


@hookimpl
def register_routes() -> list[tuple[str, Callable]]:
    event = r"^/-/event/(?P<site>[^/]+)/(?P<event_id>\d+)"
    return [
        (event + r"$", event_page),
        (event + r"/diff/(?P<a>\d+)\.\.(?P<b>\d+)$", diff_page),
        (event + r"/diff$", diff_form),
        (r"^/-/changes$", changes_page),
        (r"^/-/changes\.atom$", changes_feed),
        (r"^/-/search$", search_page),
    ]


@hookimpl
def extra_css_urls(datasette) -> list[str]:
    return [datasette.urls.static_plugins(_plugin_name(), "kremlin.css")]


@functools.cache
def _plugin_name() -> str:
    """The name Datasette files this plugin under: the distribution's when it is installed
    (``kremlin-archive``), else the module's; its static files are served under it."""
    from datasette.plugins import get_plugins

    ours = [p for p in get_plugins() if (p["static_path"] or "").endswith("web/static")]
    return ours[0]["name"] if ours else __name__


@hookimpl
def menu_links(datasette) -> list[dict]:
    return [
        {"href": datasette.urls.path("/-/changes"), "label": "Changes"},
        {"href": datasette.urls.path("/-/search"), "label": "Search transcripts"},
    ]


@hookimpl
def render_cell(row, value, column, table, datasette):
    """In a listing that names the site, an event id links to its event page, and in the
    ``changes`` view a version number to its diff against the version before."""
    if column not in ("event_id", "version") or not isinstance(value, int):
        return None
    try:
        site, event_id = row["site"], row["event_id"]
    except (KeyError, IndexError):
        return None
    if column == "event_id":
        href = f"/-/event/{site}/{value}"
    elif table == "changes" and value > 1:
        href = f"/-/event/{site}/{event_id}/diff/{value - 1}..{value}"
    else:
        return None
    return Markup(f'<a href="{escape(datasette.urls.path(href))}">{value}</a>')


# --------------------------------------------------------------------------- reading


async def _read(datasette, work: Callable[[Archive], Any]) -> Any:
    """Run ``work(archive)`` on a read-only connection of the first archive attached."""
    db = await _archive_database(datasette)

    def run(conn: sqlite3.Connection) -> Any:
        previous = conn.row_factory
        conn.row_factory = sqlite3.Row
        try:
            return work(Archive.over(conn, db.path or db.name))
        finally:
            conn.row_factory = previous

    try:
        return await db.execute_fn(run)
    except NotArchived as exc:
        raise NotFound(str(exc)) from None


async def _archive_database(datasette):
    for db in datasette.databases.values():
        if db.name.startswith("_"):
            continue
        if await db.table_exists("versions") and await db.table_exists("pages"):
            return db
    raise NotFound("no kremlin-archive database is attached")


async def _render(datasette, request, template: str, context: dict) -> Response:
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html)


# --------------------------------------------------------------------------- event page


async def event_page(request, datasette) -> Response:
    site, event_id = request.url_vars["site"], int(request.url_vars["event_id"])
    wanted = _int_arg(request, "version")

    def work(archive: Archive) -> dict:
        page = archive.get_page(event_id, site=site)
        entries = page_history(archive, page)
        shown = version(archive, page, wanted)
        versions = [e.version for e in entries if e.version is not None]
        return {"page": page, "entries": entries, "shown": shown, "versions": versions}

    data = await _read(datasette, work)
    shown, versions = data["shown"], data["versions"]
    context = {
        "page": data["page"],
        "timeline": [_timeline_row(entry, shown.seq) for entry in data["entries"]],
        "shown": shown,
        "latest": versions[-1].seq,
        "seqs": [v.seq for v in versions],
        "paragraphs": split_turns(shown.text, shown.fields.get("turns") or []),
        "speakers": Counter(s for s, _ in shown.fields.get("turns") or []).most_common(),
        "base": f"/-/event/{site}/{event_id}",
    }
    return await _render(datasette, request, "kremlin_event.html", context)


def _timeline_row(entry, shown_seq: int) -> dict:
    """One row of the version timeline: what happened, marked by its kind (named as
    ``history`` names it)."""
    if entry.rederivation is not None:
        what = f"{entry.rederivation.counts()}: {entry.rederivation.reason}"
        return {"at": entry.at, "kind": "rederivation", "label": REDERIVED, "what": what}
    if entry.version is None:
        kind = "removal" if entry.event == "gone" else "return"
        what = f"{'gone' if kind == 'removal' else 'back'} (HTTP {entry.http_status})"
        return {"at": entry.at, "kind": kind, "label": KIND_NAMES[kind], "what": what}
    v = entry.version
    kind = "first" if v.seq == 1 else ("edit" if v.origin == "site" else "renormalization")
    label = version_name(v.seq, v.origin)
    what = ""
    if v.seq > 1:
        what = ", ".join(v.changed_fields) or "text"
        counts = describe_body_changes(v.body_changes)
        what += f" ({counts})" if counts else ""
    row = {"at": entry.at, "kind": kind, "label": label, "what": what, "seq": v.seq}
    return row | {"shown": v.seq == shown_seq, "sha": v.text_sha256[:12]}


def split_turns(text: str, turns: list) -> list[dict]:
    """The text's lines; a line that opens a speaker turn carries the speaker apart, and
    the lines that go on with the turn say so (``turn`` is the speaker's turn number)."""
    lengths = {}
    for speaker, said in turns:
        first, *rest = said.split("\n")
        lengths.setdefault(f"{speaker}: {first}", (speaker, len(rest)))
    out, left, turn = [], 0, 0
    for line in text.split("\n"):
        head, sep, rest = line.partition(": ")
        if line in lengths:
            speaker, left = lengths[line]
            turn += 1
            out.append({"speaker": speaker, "text": rest, "turn": turn})
        elif left > 0:
            left -= 1
            out.append({"speaker": None, "text": line, "turn": turn})
        else:
            out.append({"speaker": None, "text": line, "turn": None})
    return out


def _int_arg(request, name: str) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise NotFound(f"{name} must be a whole number, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- diff page


async def diff_form(request, datasette) -> Response:
    """The compare form's target: redirect to the permalink of the two versions chosen."""
    site, event_id = request.url_vars["site"], request.url_vars["event_id"]
    a, b = _int_arg(request, "a"), _int_arg(request, "b")
    if a is None or b is None:
        raise NotFound("choose two versions to compare (a and b)")
    return Response.redirect(datasette.urls.path(f"/-/event/{site}/{event_id}/diff/{a}..{b}"))


async def diff_page(request, datasette) -> Response:
    site, event_id = request.url_vars["site"], int(request.url_vars["event_id"])
    a, b = int(request.url_vars["a"]), int(request.url_vars["b"])

    def work(archive: Archive) -> dict:
        page = archive.get_page(event_id, site=site)
        old, new = pick_pair(archive, page, a, b)
        seqs = [v.seq for v in archive.versions(page.site, page.event_id)]
        return {"page": page, "old": old, "new": new, "seqs": seqs}

    data = await _read(datasette, work)
    old, new = data["old"], data["new"]
    names, body = changed_fields(old.fields, old.text, new.fields, new.text)
    pieces = word_segments(old.text, new.text)
    context = data | {
        "pieces": pieces,
        "changed": ", ".join(names),
        "counts": describe_body_changes(body),
        "added": sum(len(t.split()) for tag, t in pieces if tag == "insert"),
        "removed": sum(len(t.split()) for tag, t in pieces if tag == "delete"),
        "base": f"/-/event/{site}/{event_id}",
        "version_name": version_name,
    }
    return await _render(datasette, request, "kremlin_diff.html", context)


# --------------------------------------------------------------------------- changes


def _change_filters(request) -> dict:
    since = request.args.get("since") or None
    try:
        stamp = parse_since(since) if since else None
    except ValueError as exc:
        raise NotFound(str(exc)) from None
    site = request.args.get("site") or None
    renormalize = request.args.get("renormalize") in ("1", "on", "true")
    return {"since": stamp, "site": site, "include_renormalize": renormalize}


def _page_place(request) -> tuple[int, ChangeKey | None]:
    """``?size=`` (changes on the page) and ``?before=`` (the place the page starts after)."""
    size = _int_arg(request, "size") or CHANGES_SHOWN
    if not 1 <= size <= CHANGES_MOST:
        raise NotFound(f"size must be from 1 to {CHANGES_MOST}, got {size}")
    token = request.args.get("before") or None
    try:
        return size, ChangeKey.parse(token) if token else None
    except ValueError as exc:
        raise NotFound(str(exc)) from None


def _changes_url(datasette, request, path: str, keep: tuple, **more: str) -> str:
    """``path`` with the query arguments of ``keep`` the request has, and ``more``."""
    pairs = [(name, request.args.get(name)) for name in keep] + list(more.items())
    query = urlencode([(name, value) for name, value in pairs if value])
    return datasette.urls.path(path) + (f"?{query}" if query else "")


_FILTERS = ("since", "site", "renormalize")


async def changes_page(request, datasette) -> Response:
    filters = _change_filters(request)
    size, before = _page_place(request)
    found, sites = await _read(
        datasette,
        lambda a: (list_changes(a, **filters, limit=size + 1, before=before), a.sites()),
    )
    shown = found[:size]
    keep = (*_FILTERS, "size")
    older = len(found) > size
    context = {
        "changes": shown,
        "sites": sites,
        "kind_names": KIND_NAMES,
        "filters": filters,
        "since_text": request.args.get("since") or "",
        "atom_url": _changes_url(datasette, request, "/-/changes.atom", _FILTERS),
        "feed_entries": FEED_ENTRIES,
        "size": size,
        "paged": before is not None,
        "older_url": _changes_url(
            datasette, request, "/-/changes", keep, before=shown[-1].key.token()
        )
        if older
        else None,
        "newest_url": _changes_url(datasette, request, "/-/changes", keep) if before else None,
    }
    return await _render(datasette, request, "kremlin_changes.html", context)


async def changes_feed(request, datasette) -> Response:
    filters = _change_filters(request)
    found = await _read(datasette, lambda a: list_changes(a, **filters, limit=FEED_ENTRIES))
    base = f"{request.scheme}://{request.host}" + datasette.urls.path("/").rstrip("/")
    feed = render_atom(found, base, utc_now(), limit=FEED_ENTRIES)
    return Response(feed, content_type="application/atom+xml; charset=utf-8")


# --------------------------------------------------------------------------- search


async def search_page(request, datasette) -> Response:
    query = (request.args.get("q") or "").strip()
    every = request.args.get("all") in ("1", "on", "true")
    hits, error = [], None
    if query:
        try:
            hits = await _read(datasette, lambda a: list(_search(a, query, every)))
        except KremlinArchiveError as exc:
            error = str(exc)
    context = {"query": query, "hits": hits, "error": error, "every": every}
    return await _render(datasette, request, "kremlin_search.html", context)


def _search(archive: Archive, query: str, every: bool):
    """Words as a person types them (``COVID-19``), as the CLI reads them."""
    return search_versions(archive, query, every, HITS_SHOWN)
