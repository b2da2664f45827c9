"""The command line: a click group of thin commands. The only module that prints.

Errors of the project's own tree become ``click.ClickException`` here and nowhere else:
exit 1 for a failed run or a refused page, 2 for usage and configuration errors.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from . import __version__
from .config import DEFAULT_SITE, Config, load_config, render_defaults, with_base_url
from .errors import ConfigError, KremlinArchiveError
from .parallel import default_jobs
from .progress import NO_PROGRESS
from .terminal import COLOR_MODES, LOG_FORMAT, color_for, colour_diff, progress_bar


class Failure(click.ClickException):
    """A run or a command that failed for a reason the user can act on (exit 1)."""

    exit_code = 1


class BadConfig(click.ClickException):
    """A configuration file or option is wrong (exit 2, like a usage error)."""

    exit_code = 2


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the project's exceptions into click exceptions with the message as it is."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            raise BadConfig(str(exc)) from None
        except KremlinArchiveError as exc:
            raise Failure(str(exc)) from None

    return wrapper


CONFIG_ENV = "KREMLIN_ARCHIVE_CONFIG"
DB_ENV = "KREMLIN_ARCHIVE_DB"
#: Matches ``search`` shows unless told otherwise, as a search box shows a first page:
#: two lines each, about a screen.
SEARCH_LIMIT = 20


def config_file_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_path",
        envvar=CONFIG_ENV,
        show_envvar=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="TOML config file (default: config/kremlin.toml when present).",
    )(func)


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--config``, ``--db`` and ``--log-level``, shared by every command that reads them.
    The first two fall back on KREMLIN_ARCHIVE_CONFIG and KREMLIN_ARCHIVE_DB."""
    func = click.option(
        "--log-level",
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
        help="Log level on stderr (default: the config's log.level).",
    )(func)
    func = click.option(
        "--db",
        "db_path",
        envvar=DB_ENV,
        show_envvar=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="SQLite archive file (default: the config's database.path).",
    )(func)
    return config_file_option(func)


def _given_by(name: str, flag: str, env: str) -> str | None:
    """Who set a parameter of the running command: its flag, its variable, or nobody."""
    source = click.get_current_context().get_parameter_source(name)
    if source is ParameterSource.COMMANDLINE:
        return flag
    return env if source is ParameterSource.ENVIRONMENT else None


def load_cli_config(
    config_path: Path | None, db_path: Path | None = None, db_by: str = "", **overrides: Any
) -> Config:
    """The config file (flag, variable, or config/kremlin.toml here), then the command line;
    ``origins`` names the flag or variable that set the file and the database path."""
    file_by = _given_by("config_path", "--config", CONFIG_ENV)
    if config_path is not None and not config_path.exists():
        raise ConfigError(f"config file not found: {config_path} (given by {file_by})")
    config = load_config(config_path, database__path=str(db_path) if db_path else None, **overrides)
    origins = dict(config.origins)
    if file_by:
        origins["config"] = file_by
    if db_path is not None:
        origins["database.path"] = db_by or _given_by("db_path", "--db", DB_ENV) or "--db"
    return replace(config, origins=origins)


def make_config(
    config_path: Path | None,
    db_path: Path | None,
    *,
    needs_archive: bool = False,
    **overrides: Any,
) -> Config:
    """Load the config, apply the command line, and set up logging from it. With
    ``needs_archive``, a missing archive is an error saying which path was tried and why."""
    config = load_cli_config(config_path, db_path, **overrides)
    logging.basicConfig(level=config.log.level, format=LOG_FORMAT, stream=sys.stderr, force=True)
    if needs_archive and not config.database.path.is_file():
        raise Failure(no_archive_message(config))
    return config


def no_archive_message(config: Config) -> str:
    """Which database path was tried, where it came from, and how to name another."""
    path = config.database.path
    origin = config.origins.get("database.path")
    if origin in ("--db", DB_ENV):
        why = f"given by {origin}"
    elif origin is not None:
        why = f"database.path in {origin}" + (
            f" (named by {config.origins['config']})" if "config" in config.origins else ""
        )
    else:
        why = "the default database.path" + (
            f" ({config.source} does not set it)" if config.source != "defaults" else ""
        )
    where = "" if path.is_absolute() else f", relative to the working directory {Path.cwd()}"
    return (
        f"no archive at {path} ({why}{where}); name the archive with --db PATH or "
        f"{DB_ENV}=PATH, or start one there with `kremlin-archive crawl`"
    )


def crawl_config(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    base_url: str | None,
    site: str | None,
    delay: float | None,
    **overrides: Any,
) -> Config:
    """The config of a crawl or the service: the file, then the command line (an explicit
    --delay is exact, without jitter; --base-url points one site's requests at a replica)."""
    jitter = 0.0 if delay is not None else None
    config = make_config(
        config_path,
        db_path,
        log__level=log_level,
        fetch__delay=delay,
        fetch__jitter=jitter,
        **overrides,
    )
    return with_base_url(config, base_url, site) if base_url else config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kremlin-archive")
def main() -> None:
    """Archive the event pages of the website of the President of Russia, with every
    version of every page, and read them back."""


@main.command()
@config_options
@click.option("--base-url", help="Fetch from this mirror or replica instead of the site.")
@click.option("--site", help="Which site --base-url stands in for (en or ru).")
@click.option("--limit", type=click.IntRange(min=0), help="Fetch at most N event pages.")
@click.option("--delay", type=click.FloatRange(min=0), help="Seconds between requests.")
@click.option(
    "--id",
    "ids",
    type=click.IntRange(min=1, max=2**63 - 1),
    multiple=True,
    help="Fetch this event id (repeatable).",
)
@click.option("--url", "urls", multiple=True, help="Fetch this event URL (repeatable).")
@click.option("--backfill", type=click.IntRange(min=1), help="Walk N feed/listing pages back.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Walk back to events of this day (YYYY-MM-DD).",
)
@handle_errors
def crawl(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    base_url: str | None,
    site: str | None,
    limit: int | None,
    delay: float | None,
    ids: tuple[int, ...],
    urls: tuple[str, ...],
    backfill: int | None,
    since: Any,
) -> None:
    """Run one crawl: discover new event pages, fetch, normalize and archive them.

    \b
    Example:
      kremlin-archive crawl --limit 20
      kremlin-archive crawl --id 53016 --id 17758
      kremlin-archive crawl --base-url http://127.0.0.1:8000 --delay 0
    """
    from .crawl import CrawlOptions, run_crawl, stop_on_signals

    config = crawl_config(config_path, db_path, log_level, base_url, site, delay)
    options = CrawlOptions(
        limit=limit,
        ids=ids,
        urls=urls,
        backfill=backfill or 0,
        since=since.date() if since else None,
        discover=not (ids or urls),
    )
    stop = threading.Event()
    with stop_on_signals(stop), progress_bar("crawl") as progress:
        result = run_crawl(config, options, stop=stop, progress=progress)
    click.echo(result.summary())
    for url, reason in result.failures:
        click.echo(f"failed {url}: {reason}", err=True)
    for url, reason in result.walk_failures:
        click.echo(f"failed walk page {url}: {reason}", err=True)
    for reason in result.stopped:
        click.echo(reason, err=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if not result.ok:
        sys.exit(1)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Print the fields and text as JSON.")
@click.option("--url", help="The page's URL, where the file does not name it.")
@handle_errors
def normalize(files: tuple[Any, ...], as_json: bool, url: str | None) -> None:
    """Print the transcript of saved event pages (FILE, or - for standard input).

    \b
    Example:
      kremlin-archive normalize page.html
      curl -s http://en.kremlin.ru/events/president/news/53016 | kremlin-archive normalize -
    """
    from .normalize import parse_event_page

    failed = 0
    for file in files:
        try:
            transcript = parse_event_page(file.read(), url)
        except KremlinArchiveError as exc:
            click.echo(f"{file.name}: {exc}", err=True)
            failed += 1
            continue
        if as_json:
            click.echo(json.dumps(transcript.to_dict(), ensure_ascii=False))
        else:
            click.echo(transcript.text)
    if failed:
        raise Failure(f"{failed} of {len(files)} file(s) are not event pages")


def jobs_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """--jobs N: worker processes that parse (one process writes the archive)."""
    return click.option(
        "--jobs",
        type=click.IntRange(min=1),
        help="Worker processes that parse pages (default: the number of cores).",
    )(func)


@main.command("import")
@config_options
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--captured-at",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]),
    help="When the pages were saved (UTC); default: each file's modification time. "
    "WARC records keep their own WARC-Date.",
)
@jobs_option
@handle_errors
def import_pages(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    paths: tuple[Path, ...],
    captured_at: Any,
    jobs: int | None,
) -> None:
    """Archive saved event pages (files, or folders searched for .html) and WARC / ARC
    files (.warc, .warc.gz, .arc, .arc.gz) without network.

    \b
    Example:
      kremlin-archive import saved/53016.html
      kremlin-archive import mirror/en.kremlin.ru --captured-at 2020-08-28
      kremlin-archive import crawl.warc.gz
      kremlin-archive import mirror/en.kremlin.ru --jobs 2
    """
    from .importer import run_import
    from .timeutil import format_utc

    config = make_config(config_path, db_path, log__level=log_level)
    stamp = format_utc(captured_at) if captured_at else None
    with progress_bar("import") as progress:
        result = run_import(config, paths, stamp, jobs=jobs or default_jobs(), progress=progress)
    click.echo(result.summary())
    for path, reason in result.skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    for problem in result.problems:
        click.echo(str(problem), err=True)
    if result.problems:
        raise Failure(
            f"{len(result.problems)} WARC record(s) could not be read (named above); the "
            "rest was imported. Check the file with `warcio check`, or get a sound copy"
        )


@main.command()
@config_options
@click.option("--site", type=click.Choice(["en", "ru"]), help="Only this site's captures.")
@click.option("--id", "ids", type=int, multiple=True, help="Only this event id (repeatable).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Captures from this day.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Captures to this day.")
@click.option("--limit", type=click.IntRange(min=0), help="Fetch at most N captures.")
@click.option("--delay", type=click.FloatRange(min=0), help="Seconds between two requests.")
@click.option("--base-url", help="A Wayback-compatible server (default: wayback.base_url).")
@handle_errors
def wayback(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    site: str | None,
    ids: tuple[int, ...],
    since: Any,
    until: Any,
    limit: int | None,
    delay: float | None,
    base_url: str | None,
) -> None:
    """Backfill from the Wayback Machine: every capture of the event pages it holds,
    archived at its capture time. A run cut short resumes where it stopped.

    \b
    Example:
      kremlin-archive wayback --site en --since 2019-01-01 --until 2019-12-31
      kremlin-archive wayback --id 53016 --limit 50
    """
    from .backfill import BackfillOptions, run_backfill
    from .crawl import stop_on_signals

    config = make_config(config_path, db_path, log__level=log_level)
    options = BackfillOptions(
        site=site,
        ids=ids,
        since=since.date() if since else None,
        until=until.date() if until else None,
        limit=limit,
    )
    stop = threading.Event()
    with stop_on_signals(stop):
        result = run_backfill(config, options, base_url=base_url, delay=delay, stop=stop)
    click.echo(result.summary())
    for where, reason in result.refused:
        click.echo(f"refused {where}: {reason}", err=True)
    for reason in result.stopped:
        click.echo(f"stopped {reason}", err=True)
    if not result.ok:
        sys.exit(1)


@main.command()
@config_options
@jobs_option
@click.option("--force", is_flag=True, help="Re-derive every page, not only the due ones.")
@handle_errors
def renormalize(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    jobs: int | None,
    force: bool,
) -> None:
    """Re-derive the current versions from the stored raw pages with this normalizer.

    No network. By default only the pages an older normalizer read; --force re-derives
    every page. Where the text changes, a version marked as re-normalization is added.
    Refused pages whose body was kept are read again too.

    \b
    Example:
      kremlin-archive renormalize --db archive/kremlin.db
      kremlin-archive renormalize --jobs 1
      kremlin-archive renormalize --force
    """
    from .chronology import reread_refused
    from .lookup import open_archive
    from .renormalize import INSTALLED, render_summary
    from .renormalize import renormalize as renormalize_archive

    config = make_config(config_path, db_path, log__level=log_level, needs_archive=True)
    db = config.database
    with (
        open_archive(db.path, db.busy_timeout, read_only=False) as archive,
        progress_bar("renormalize") as progress,
    ):
        counts = renormalize_archive(
            archive, force=force, jobs=jobs or default_jobs(), progress=progress
        )
        refused = reread_refused(archive, progress=progress)
        known = len(archive.pages_to_renormalize(INSTALLED.version, force=True))
    click.echo(render_summary(counts, refused, known - counts["pages"], INSTALLED.version))


@main.command()
@config_options
@handle_errors
def verify(config_path: Path | None, db_path: Path | None, log_level: str | None) -> None:
    """Read every stored raw page back and check its SHA-256 (exit 1 if any fails).

    \b
    Example:
      kremlin-archive verify --db archive/kremlin.db
    """
    from .lookup import open_archive
    from .maintenance import verify_raw_pages

    config = make_config(config_path, db_path, log__level=log_level, needs_archive=True)
    with open_archive(config.database.path, config.database.busy_timeout) as archive:
        result = verify_raw_pages(archive)
    for sha, problem in result.bad:
        click.echo(f"bad raw page {sha}: {problem}", err=True)
    click.echo(result.summary())
    if not result.ok:
        raise Failure(f"{len(result.bad)} raw pages do not read back as stored; see above")


@main.command()
@config_options
@click.option("--retrain", is_flag=True, help="Train a new dictionary from the archive first.")
@click.option("--no-vacuum", is_flag=True, help="Leave the freed space inside the file.")
@handle_errors
def compact(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    retrain: bool,
    no_vacuum: bool,
) -> None:
    """Store older raw pages anew: zstd with the archive's dictionary, deltas of re-captures.

    Every page is checked to read back the same before it replaces the old bytes; an
    interrupted compact resumes where it stopped.

    \b
    Example:
      kremlin-archive compact --db archive/kremlin.db
    """
    from .lookup import open_archive
    from .maintenance import compact_archive

    config = make_config(config_path, db_path, log__level=log_level, needs_archive=True)
    db = config.database
    with open_archive(db.path, db.busy_timeout, read_only=False) as archive:
        result = compact_archive(archive, retrain=retrain, vacuum=not no_vacuum)
    click.echo(result.summary())


@main.command("config")
@config_file_option
@click.option("--defaults", is_flag=True, help="Print the documented defaults as TOML.")
@handle_errors
def show_config(config_path: Path | None, defaults: bool) -> None:
    """Check a config file and print the settings in force (or the defaults).

    \b
    Example:
      kremlin-archive config --config config/kremlin.toml
      kremlin-archive config --defaults > my.toml
    """
    if defaults:
        click.echo(render_defaults(), nl=False)
        return
    db_path = Path(os.environ[DB_ENV]) if os.environ.get(DB_ENV) else None
    config = load_cli_config(config_path, db_path, db_by=DB_ENV)
    click.echo(json.dumps(_plain(config), indent=2, ensure_ascii=False))


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Path | date):
        return str(value)
    return value


@main.command()
@config_options
@click.option("--base-url", help="Fetch from this mirror or replica instead of the site.")
@click.option("--site", help="Which site --base-url stands in for (en or ru).")
@click.option("--delay", type=click.FloatRange(min=0), help="Seconds between requests.")
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=1),
    help="Seconds between two polls (exact, without jitter).",
)
@handle_errors
def serve(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    base_url: str | None,
    site: str | None,
    delay: float | None,
    poll_interval: float | None,
) -> None:
    """Run the background service: poll for new pages, re-check known ones, until stopped.

    SIGTERM or SIGINT (Ctrl-C) finishes the page in hand, records the run and exits 0.

    \b
    Example:
      kremlin-archive serve --config config/kremlin.toml
      kremlin-archive serve --base-url http://127.0.0.1:8000 --delay 0 --poll-interval 60
    """
    from .service import run_service

    poll_jitter = 0.0 if poll_interval is not None else None  # an explicit interval is exact
    config = crawl_config(
        config_path,
        db_path,
        log_level,
        base_url,
        site,
        delay,
        schedule__poll_interval=poll_interval,
        schedule__poll_jitter=poll_jitter,
    )
    run_service(config)


@main.command()
@config_options
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@handle_errors
def status(config_path: Path | None, db_path: Path | None, log_level: str | None, as_json: bool):
    """Show the archive's pages, versions and size, its runs, and the service's next runs.

    \b
    Example:
      kremlin-archive status
      kremlin-archive status --json --db archive/kremlin.db
    """
    from .status import gather_status, render_status

    config = make_config(config_path, db_path, log__level=log_level, needs_archive=True)
    info = gather_status(config)
    click.echo(json.dumps(info, indent=2, ensure_ascii=False) if as_json else render_status(info))


# --------------------------------------------------------------------------- reading


def site_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--site", help="The site an event ID is on (en or ru; default en). URLs name their site."
    )(func)


def _page(archive: Any, config: Config, ref: str, site: str | None) -> Any:
    """The archived page a user named by ID or URL, on the config's sites."""
    from .lookup import resolve

    names = {s.name: s for s in config.sites}
    if site is not None and site not in names:
        raise ConfigError(f"--site must be one of {', '.join(names)}, got {site!r}")
    default = names.get(site or DEFAULT_SITE) or config.sites[0]
    return resolve(archive, ref, default.host, {s.host: s.url for s in config.sites})


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    from .timeutil import parse_moment

    try:
        return parse_moment(value, day_end=True) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise click.BadParameter(f"not a date (YYYY-MM-DD): {value!r}") from None


def _json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False)


@main.command()
@config_options
@click.argument("ref", metavar="ID|URL")
@site_option
@click.option("--version", "seq", type=click.IntRange(min=1), help="Version number N.")
@click.option("--at", callback=_moment, help="The version current at DATETIME (ISO, UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print the fields and text as JSON.")
@handle_errors
def show(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    ref: str,
    site: str | None,
    seq: int | None,
    at: Any,
    as_json: bool,
) -> None:
    """Print an archived transcript exactly as stored (by default its latest version).

    --at takes an ISO date or datetime, UTC unless it names a zone; a date alone means the
    end of that day.

    \b
    Example:
      kremlin-archive show 53016
      kremlin-archive show http://en.kremlin.ru/events/president/news/53016/print --version 1
      kremlin-archive show 53016 --at 2016-10-05T12:00
    """
    from .lookup import Record, open_archive, version

    if seq is not None and at is not None:
        raise click.UsageError("give --version or --at, not both")
    config = make_config(config_path, db_path, log__level=log_level, needs_archive=True)
    with open_archive(config.database.path, config.database.busy_timeout) as archive:
        page = _page(archive, config, ref, site)
        found = version(archive, page, seq, at)
    if page.status == "gone":
        note = f"note: {page.site} event {page.event_id} is gone from the site since"
        click.echo(f"{note} {page.gone_at}; shown: v{found.seq} of {found.captured_at}", err=True)
    record = Record(page.site, page.event_id, page.url, found)
    click.echo(_json(record.to_dict()) if as_json else found.text)


@main.command()
@config_options
@click.argument("ref", metavar="ID|URL")
@site_option
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@handle_errors
def history(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    ref: str,
    site: str | None,
    as_json: bool,
) -> None:
    """List every version of a page (when, what changed, text hash, first capture, site
    edit or re-normalization), the captures that saw it go or come back, and the times its
    history was re-derived because an older capture came (a backfill, an import).

    \b
    Example:
      kremlin-archive history 53016
      kremlin-archive history --json http://en.kremlin.ru/events/president/news/53016
    """
    from .lookup import open_archive, page_history, render_history

    config = make_config(config_path, db_path, log__level=log_level, needs_archive=True)
    with open_archive(config.database.path, config.database.busy_timeout) as archive:
        page = _page(archive, config, ref, site)
        entries = page_history(archive, page)
    if as_json:
        data = {"site": page.site, "event_id": page.event_id, "url": page.url}
        data |= {"status": page.status, "history": [e.to_dict() for e in entries]}
        click.echo(_json(data))
    else:
        click.echo("\n".join(render_history(page, entries)))


@main.command()
@config_options
@click.argument("ref", metavar="ID|URL")
@click.argument("a", type=click.IntRange(min=1), required=False)
@click.argument("b", type=click.IntRange(min=1), required=False)
@site_option
@click.option("--word", is_flag=True, help="Mark changed words within lines.")
@click.option(
    "--color",
    type=click.Choice(COLOR_MODES),
    default="auto",
    show_default=True,
    help="Colour the diff: auto (on a terminal, unless NO_COLOR is set), always, never.",
)
@handle_errors
def diff(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    ref: str,
    a: int | None,
    b: int | None,
    site: str | None,
    word: bool,
    color: str,
) -> None:
    """Show what changed between versions A and B of a page as a unified line diff
    (default: the last two versions; A alone: A against the latest).

    \b
    Example:
      kremlin-archive diff 53016
      kremlin-archive diff 53016 1 3 --word
      kremlin-archive diff 53016 --color always | less -R
    """
    from .lookup import open_archive, pick_pair, render_diff

    config = make_config(config_path, db_path, log__level=log_level, needs_archive=True)
    with open_archive(config.database.path, config.database.busy_timeout) as archive:
        old, new = pick_pair(archive, _page(archive, config, ref, site), a, b)
    text = render_diff(old, new, word)
    if text and color_for(color, sys.stdout):
        click.echo(colour_diff(text, word), color=True)
    elif text:
        click.echo(text)


@main.command()
@config_options
@click.argument("query")
@click.option(
    "--fts", "raw", is_flag=True, help="QUERY is FTS5 syntax: phrases, AND/OR/NOT, NEAR, prefix*."
)
@click.option("--all-versions", is_flag=True, help="Search every version, not only the latest.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=SEARCH_LIMIT,
    show_default=True,
    help="Show at most N matches, newest first; 0 shows every match.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per match.")
@handle_errors
def search(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    query: str,
    raw: bool,
    all_versions: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Full-text search of titles and texts, newest event first, with a snippet around
    each match. QUERY is words (all must match; "a phrase" in double quotes); with --fts
    it is SQLite FTS5 syntax. Shows the newest 20 matches unless --limit says otherwise;
    when more match, says so on stderr.

    \b
    Example:
      kremlin-archive search COVID-19 vaccine
      kremlin-archive search --fts '"gala concert" AND Astana' --all-versions --json
    """
    from .lookup import open_archive, render_hit, search_versions

    config = make_config(config_path, db_path, log__level=log_level, needs_archive=True)
    with open_archive(config.database.path, config.database.busy_timeout) as archive:
        asked = limit + 1 if limit else None  # one more, to tell whether more match
        for n, hit in enumerate(search_versions(archive, query, all_versions, asked, raw=raw)):
            if limit and n == limit:
                click.echo(
                    f"the newest {limit} matches shown; more match: --limit 0 shows every match",
                    err=True,
                )
                break
            click.echo(_json(hit.to_dict()) if as_json else render_hit(hit))


@main.command("list")
@config_options
@click.option("--since", callback=_day, help="Only events of this day or later (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per event.")
@handle_errors
def list_events(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    since: date | None,
    as_json: bool,
) -> None:
    """List the archived events, newest first: ID, date, versions, status, title.

    \b
    Example:
      kremlin-archive list --since 2020-08-01
      kremlin-archive list --json | jq -r .url
    """
    from .lookup import list_pages, open_archive, render_listed

    config = make_config(config_path, db_path, log__level=log_level, needs_archive=True)
    with open_archive(config.database.path, config.database.busy_timeout) as archive:
        for item in list_pages(archive, since):
            click.echo(_json(item.to_dict()) if as_json else render_listed(item))


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from .changes import parse_since

    try:
        return parse_since(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@config_options
@click.option("--since", callback=_since, help="Only changes seen at or after DATETIME (UTC).")
@click.option("--site", help="Only changes of this site (en or ru).")
@click.option("--include-renormalize", is_flag=True, help="List re-normalizations too.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most the N newest changes.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per change.")
@click.option("--atom", is_flag=True, help="Print an Atom feed of the changes.")
@click.option("--web-url", help="Address of the web view for links (default notify.web_url).")
@handle_errors
def changes(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    since: str | None,
    site: str | None,
    include_renormalize: bool,
    limit: int | None,
    as_json: bool,
    atom: bool,
    web_url: str | None,
) -> None:
    """List every site edit, removal and return across the archive, newest first: when,
    page, versions, what changed, title. First captures are not changes.

    --since takes an ISO date (from its start) or datetime, UTC unless it names a zone.
    --atom prints an Atom 1.0 feed (at most notify.feed_entries entries unless --limit).

    \b
    Example:
      kremlin-archive changes --since 2024-05-01
      kremlin-archive changes --site en --json | jq .what
      kremlin-archive changes --atom --web-url http://archive.example.org > changes.atom
    """
    from .changes import list_changes, render_atom, render_change
    from .lookup import open_archive

    if as_json and atom:
        raise click.UsageError("give --json or --atom, not both")
    config = make_config(config_path, db_path, log__level=log_level)
    host = _site_host(config, site)
    if atom and limit is None:
        limit = config.notify.feed_entries
    with open_archive(config.database.path, config.database.busy_timeout) as archive:
        found = list_changes(
            archive, since=since, site=host, include_renormalize=include_renormalize, limit=limit
        )
    if atom:
        from .timeutil import utc_now

        feed = render_atom(found, web_url or config.notify.web_url, utc_now(), limit=limit)
        click.echo(feed, nl=False)
        return
    for change in found:
        click.echo(_json(change.to_dict()) if as_json else render_change(change))


def _site_host(config: Config, site: str | None) -> str | None:
    """The canonical host of a site named on the command line (None: every site)."""
    if site is None:
        return None
    names = {s.name: s.host for s in config.sites}
    if site not in names:
        raise ConfigError(f"--site must be one of {', '.join(names)}, got {site!r}")
    return names[site]


@main.command()
@config_options
@click.option("--port", type=click.IntRange(1, 65535), default=8001, show_default=True)
@handle_errors
def browse(config_path: Path | None, db_path: Path | None, log_level: str | None, port: int):
    """Browse the archive in Datasette on 127.0.0.1: event pages with their version
    timeline, word diffs between versions, the change list and its Atom feed, search, and
    the raw tables. Needs the web extra (pip install 'kremlin-archive[web]').

    \b
    Example:
      kremlin-archive browse                 # then open http://127.0.0.1:8001
      kremlin-archive browse --db archive/kremlin.db --port 8002
    """
    from .browse import prepare_browse, run_browse

    config = make_config(config_path, db_path, log__level=log_level)
    app = prepare_browse(config.database.path, config.database.busy_timeout)
    click.echo(f"browsing {config.database.path} at http://127.0.0.1:{port}/ (Ctrl-C stops)")
    run_browse(app, port)


@main.command()
@config_options
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["jsonl", "csv", "txt", "turns", "warc"]),
    help="jsonl, csv, txt (one file per event), turns (one line per speaker turn) or warc "
    "(every capture as a WARC record).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the files and manifest.json (created if missing).",
)
@click.option("--all-versions", is_flag=True, help="Every version, not only the latest.")
@click.option("--since", callback=_day, help="Only events of this day or later (YYYY-MM-DD).")
@handle_errors
def export(
    config_path: Path | None,
    db_path: Path | None,
    log_level: str | None,
    fmt: str,
    out: Path,
    all_versions: bool,
    since: date | None,
) -> None:
    """Write the archive to files in DIR, with manifest.json (counts, schema version,
    SHA-256 of every file). The same archive always gives the same bytes.

    \b
    Example:
      kremlin-archive export --format jsonl --out exports/
      kremlin-archive export --format txt --out texts/ --since 2020-01-01 --all-versions
    """
    from .export import ExportOptions, count_records, export_archive
    from .lookup import open_archive

    config = make_config(config_path, db_path, log__level=log_level, needs_archive=True)
    options = ExportOptions(fmt, out, all_versions, since)
    with (
        open_archive(config.database.path, config.database.busy_timeout) as archive,
        progress_bar("export") as progress,
    ):
        if progress is not NO_PROGRESS:
            progress.add_total(count_records(archive, options))
        manifest = export_archive(archive, options, progress.advance)
    counts = manifest["counts"]
    click.echo(f"exported {counts['records']} records in {counts['files']} files to {out}")
