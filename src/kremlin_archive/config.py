"""Settings: one defaults table with help text, TOML files over it, frozen dataclasses out.

``SETTINGS`` is the single source of defaults. ``load_config`` reads a TOML file (by default
``config/kremlin.toml`` when it exists), checks every key and type against the table, and
applies command-line overrides last. Unknown keys and wrong types raise ``ConfigError``
naming the file and the key.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .urls import site_host, url_host

DEFAULT_CONFIG_PATH = Path("config/kremlin.toml")
CONTACT_URL = "https://github.com/kremlin-archive/kremlin-archive"
DEFAULT_USER_AGENT = f"kremlin-archive/0.1 (+{CONTACT_URL}; research archive)"


@dataclass(frozen=True)
class Setting:
    default: Any
    help: str


def _site(url: str, enabled: bool, lang: str) -> dict[str, Setting]:
    return {
        "enabled": Setting(enabled, "crawl this site"),
        "url": Setting(url, "canonical address: the archive keys pages by it"),
        "mirror_url": Setting("", "fetch from this address instead (a replica or proxy)"),
        "language": Setting(lang, "language code stored with every page"),
        "feeds": Setting(
            ["/events/president/news/feed"],
            'Atom feeds read first, in order ("/events/all/feed" adds acts and misc)',
        ),
        "listings": Setting(
            ["/events/president/news"],
            "listing pages (PATH/page/N) used when a feed fails and for backfill",
        ),
    }


SETTINGS: dict[str, dict[str, Any]] = {
    "database": {
        "path": Setting("archive/kremlin.db", "SQLite file of the archive"),
        "busy_timeout": Setting(30.0, "seconds to wait for another process's write"),
    },
    "sites": {
        "en": _site("http://en.kremlin.ru", True, "en"),
        "ru": _site("http://kremlin.ru", False, "ru"),
    },
    "discover": {
        "include_acts": Setting(False, "also archive /acts/… entries of the feeds"),
        "include_misc": Setting(False, "also archive /misc/… entries of the feeds"),
        "max_pages": Setting(50, "most feed or listing pages one run walks"),
    },
    "fetch": {
        "user_agent": Setting(DEFAULT_USER_AGENT, "honest User-Agent with a contact URL"),
        "delay": Setting(5.0, "minimum seconds between two requests to one host"),
        "jitter": Setting(2.0, "random seconds added to the delay (0 to this)"),
        "timeout": Setting(30.0, "seconds to connect and to wait for each read"),
        "deadline": Setting(120.0, "most seconds one request may take, body included"),
        "retries": Setting(4, "retries after a connection error, timeout, 5xx or 429"),
        "backoff": Setting(5.0, "first retry wait in seconds, doubled each retry"),
        "max_backoff": Setting(600.0, "longest wait before a retry, Retry-After included"),
        "max_bytes": Setting(8_000_000, "largest body accepted, in bytes"),
        "robots": Setting(True, "honour robots.txt (fetched once per run)"),
        "breaker_threshold": Setting(5, "consecutive 403/429 answers that stop the run"),
        "proxy": Setting("", "proxy URL; empty uses HTTP_PROXY / HTTPS_PROXY if set"),
    },
    "schedule": {
        "poll_interval": Setting(900.0, "seconds between two polls for new pages"),
        "poll_jitter": Setting(120.0, "random seconds added to each poll"),
        "recheck_interval": Setting(3600.0, "seconds between two recheck jobs"),
        "recheck_per_day": Setting(
            4000, "request budget a day for each site: rechecks plus extra feed pages"
        ),
        "recheck_batch": Setting(
            0, "most pages one recheck job re-fetches (0: its share of recheck_per_day)"
        ),
        "feed_scan_pages": Setting(
            3, "feed pages each poll reads for the <updated> stamps of recent pages"
        ),
        "recheck_young_days": Setting(2.0, "pages younger than this are 'young'"),
        "recheck_young_every": Setting(2.0, "hours between rechecks of a young page"),
        "recheck_recent_days": Setting(30.0, "pages younger than this are 'recent'"),
        "recheck_recent_every": Setting(24.0, "hours between rechecks of a recent page"),
        "recheck_old_every": Setting(720.0, "hours between rechecks of an older page"),
        "misfire_grace": Setting(600.0, "seconds a late job may still start"),
        "lock_wait": Setting(0.0, "seconds a crawl waits for another one's run lock"),
    },
    "notify": {
        "urls": Setting(
            [],
            "Apprise URLs told of each service run that found changes "
            "(mailto://, slack://, tgram://, ntfy://, json://host/path …)",
        ),
        "atom_path": Setting("", "Atom feed of changes the service rewrites after such a run"),
        "web_url": Setting(
            "http://127.0.0.1:8001", "address of the web view (browse), for links to diffs"
        ),
        "feed_entries": Setting(100, "most changes in an Atom feed, newest first"),
        "message_changes": Setting(50, "most changes listed in one message (the rest counted)"),
        "retries": Setting(3, "retries of a notification that failed"),
        "backoff": Setting(30.0, "first retry wait in seconds, doubled each retry"),
    },
    "log": {
        "level": Setting("INFO", "DEBUG, INFO, WARNING or ERROR"),
    },
    "wayback": {
        "base_url": Setting(
            "https://web.archive.org", "Wayback-compatible server: /cdx/search/cdx and /web/"
        ),
        "prefixes": Setting(
            [
                "/events/president/news/",
                "/events/president/transcripts/",
                "/events/president/trips/",
            ],
            "URL prefixes of each site searched in the CDX index",
        ),
        "cdx_per_second": Setting(0.4, "most CDX searches a second (80 % of the 30/min limit)"),
        "memento_per_second": Setting(1.0, "most replays a second (the hard limit is 10)"),
        "page_size": Setting(500, "CDX rows asked for per request (then the resume key)"),
    },
}


#: The site an event id names when no site is given (``--site``'s default).
DEFAULT_SITE = "en"
#: Each site's canonical host in the defaults table, and the default one: the archive
#: keys pages by these, and names pages off the default site with their host.
SITE_URLS = {name: spec["url"].default for name, spec in SETTINGS["sites"].items()}
SITE_URLS_BY_LANGUAGE = {
    spec["language"].default: spec["url"].default for spec in SETTINGS["sites"].values()
}
DEFAULT_SITE_HOST = url_host(SITE_URLS[DEFAULT_SITE])


@dataclass(frozen=True)
class SiteConfig:
    name: str
    enabled: bool
    url: str
    mirror_url: str
    language: str
    feeds: tuple[str, ...]
    listings: tuple[str, ...]

    @property
    def host(self) -> str:
        """The canonical host: what the archive keys the site's pages by."""
        return url_host(self.url)

    @property
    def fetch_url(self) -> str:
        """Where requests go: the mirror when one is set, else the canonical site."""
        return (self.mirror_url or self.url).rstrip("/")


@dataclass(frozen=True)
class DatabaseConfig:
    path: Path
    busy_timeout: float


@dataclass(frozen=True)
class DiscoverConfig:
    include_acts: bool
    include_misc: bool
    max_pages: int


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str
    delay: float
    jitter: float
    timeout: float
    deadline: float
    retries: int
    backoff: float
    max_backoff: float
    max_bytes: int
    robots: bool
    breaker_threshold: int
    proxy: str


@dataclass(frozen=True)
class ScheduleConfig:
    poll_interval: float
    poll_jitter: float
    recheck_interval: float
    recheck_per_day: int
    recheck_batch: int
    feed_scan_pages: int
    recheck_young_days: float
    recheck_young_every: float
    recheck_recent_days: float
    recheck_recent_every: float
    recheck_old_every: float
    misfire_grace: float
    lock_wait: float


@dataclass(frozen=True)
class NotifyConfig:
    urls: tuple[str, ...]
    atom_path: Path | None
    web_url: str
    feed_entries: int
    message_changes: int
    retries: int
    backoff: float


@dataclass(frozen=True)
class LogConfig:
    level: str


@dataclass(frozen=True)
class WaybackConfig:
    base_url: str
    prefixes: tuple[str, ...]
    cdx_per_second: float
    memento_per_second: float
    page_size: int


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig
    sites: tuple[SiteConfig, ...]
    discover: DiscoverConfig
    fetch: FetchConfig
    schedule: ScheduleConfig
    log: LogConfig
    notify: NotifyConfig
    wayback: WaybackConfig
    source: str = field(default="defaults", compare=False)
    #: Where each key not left at its default was set: "section.key" -> a file or "command line".
    origins: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def enabled_sites(self) -> tuple[SiteConfig, ...]:
        return tuple(s for s in self.sites if s.enabled)

    def site_for_host(self, host: str) -> SiteConfig | None:
        """The site whose canonical host is ``host`` (with or without "www.")."""
        wanted = site_host(f"http://{host}")
        return next((s for s in self.sites if site_host(s.url) == wanted), None)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Config:
    """Defaults, then the TOML file at ``path`` (or ``config/kremlin.toml`` if present),
    then ``overrides`` given as ``section__key=value`` (``None`` values are ignored)."""
    values = _defaults(SETTINGS)
    source = "defaults"
    origins: dict[str, str] = {}
    file = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    if path is not None or file.exists():
        given = _read_toml(file)
        _merge(values, SETTINGS, given, str(file), "")
        source = str(file)
        origins |= dict.fromkeys(_dotted(given), source)
    for name, value in overrides.items():
        if value is None:
            continue
        section, _, key = name.partition("__")
        _merge(values, SETTINGS, {section: {key: value}}, "command line", "")
        origins[f"{section}.{key}"] = "command line"
    return replace(_build(values, source), origins=origins)


def _dotted(given: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted names of the keys a TOML table sets: ``{"fetch": {"delay": 1}}`` ->
    ``["fetch.delay"]``."""
    names: list[str] = []
    for key, value in given.items():
        name = f"{prefix}{key}"
        names += _dotted(value, f"{name}.") if isinstance(value, dict) else [name]
    return names


def with_base_url(config: Config, base_url: str, site: str | None = None) -> Config:
    """Point one site's requests at ``base_url`` (a replica, mirror or proxy)."""
    candidates = [s for s in config.enabled_sites if site is None or s.name == site]
    if len(candidates) != 1:
        names = ", ".join(s.name for s in config.enabled_sites) or "none"
        raise ConfigError(
            f"--base-url needs exactly one enabled site (enabled: {names}); name it with --site"
        )
    if not _is_url(base_url, ("http", "https")):
        raise ConfigError(f"--base-url must be an http(s) URL, got {base_url!r}")
    chosen = replace(candidates[0], mirror_url=base_url.rstrip("/"))
    sites = tuple(chosen if s.name == chosen.name else s for s in config.sites)
    return replace(config, sites=sites)


def _defaults(table: dict[str, Any]) -> dict[str, Any]:
    return {k: v.default if isinstance(v, Setting) else _defaults(v) for k, v in table.items()}


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {file}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{file}: not UTF-8 text (TOML files are UTF-8; was it saved as UTF-16?)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None


def _merge(values: dict, table: dict, given: dict, origin: str, prefix: str) -> None:
    for key, value in given.items():
        name = f"{prefix}{key}"
        if key not in table:
            known = ", ".join(sorted(table))
            raise ConfigError(f"{origin}: unknown key '{name}' (known here: {known})")
        spec = table[key]
        if isinstance(spec, Setting):
            values[key] = _check_type(value, spec.default, origin, name)
        elif isinstance(value, dict):
            _merge(values[key], spec, value, origin, f"{name}.")
        else:
            raise ConfigError(f"{origin}: '{name}' must be a table, got {_kind(value)}")


def _check_type(value: Any, default: Any, origin: str, name: str) -> Any:
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise ConfigError(f"{origin}: '{name}' must be a list of strings, got {_kind(value)}")
    if type(value) is not expected:
        raise ConfigError(f"{origin}: '{name}' must be {_kind(default)}, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _build(values: dict[str, Any], source: str) -> Config:
    sites = tuple(
        SiteConfig(
            name=name,
            enabled=s["enabled"],
            url=s["url"].rstrip("/"),
            mirror_url=s["mirror_url"].rstrip("/"),
            language=s["language"],
            feeds=tuple(s["feeds"]),
            listings=tuple(s["listings"]),
        )
        for name, s in values["sites"].items()
    )
    level = values["log"]["level"].upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"{source}: 'log.level' must be one of {', '.join(LOG_LEVELS)}")
    _check_ranges(values, source)
    db = values["database"]
    return Config(
        database=DatabaseConfig(path=Path(db["path"]), busy_timeout=db["busy_timeout"]),
        sites=sites,
        discover=DiscoverConfig(**values["discover"]),
        fetch=FetchConfig(**values["fetch"]),
        schedule=ScheduleConfig(**values["schedule"]),
        log=LogConfig(level=level),
        notify=_notify(values["notify"]),
        wayback=_wayback(values["wayback"], source),
        source=source,
    )


def _notify(values: dict[str, Any]) -> NotifyConfig:
    atom_path = Path(values["atom_path"]) if values["atom_path"] else None
    return NotifyConfig(
        **(values | {"urls": tuple(values["urls"]), "atom_path": atom_path}),
    )


def _wayback(values: dict[str, Any], source: str) -> WaybackConfig:
    if "://" not in values["base_url"]:
        raise ConfigError(f"{source}: 'wayback.base_url' must be an http(s) URL")
    if values["page_size"] < 1:
        raise ConfigError(f"{source}: 'wayback.page_size' must be at least 1")
    return WaybackConfig(
        base_url=values["base_url"].rstrip("/"),
        prefixes=tuple(values["prefixes"]),
        cdx_per_second=values["cdx_per_second"],
        memento_per_second=values["memento_per_second"],
        page_size=values["page_size"],
    )


def _check_ranges(values: dict[str, Any], source: str) -> None:
    for section in ("fetch", "schedule", "discover", "database", "notify", "wayback"):
        for key, value in values[section].items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            if not math.isfinite(value):
                raise ConfigError(f"{source}: '{section}.{key}' must be a finite number")
            if value < 0:
                raise ConfigError(f"{source}: '{section}.{key}' must not be negative")
    for name in ("fetch.timeout", "fetch.deadline", "schedule.poll_interval"):
        section, key = name.split(".")
        if values[section][key] <= 0:
            raise ConfigError(f"{source}: '{name}' must be positive")
    _check_texts(values, source)


def _check_texts(values: dict[str, Any], source: str) -> None:
    if not values["database"]["path"].strip():
        raise ConfigError(f"{source}: 'database.path' must name a file, got an empty string")
    agent = values["fetch"]["user_agent"]
    if not agent.strip() or any(ord(c) < 32 or ord(c) == 127 for c in agent):
        raise ConfigError(
            f"{source}: 'fetch.user_agent' must be one line of printable text "
            "(a name and a contact URL)"
        )
    for name, site in values["sites"].items():
        for key in ("url", "mirror_url"):
            if site[key] or key == "url":
                _check_url(site[key], f"sites.{name}.{key}", source)
    if values["fetch"]["proxy"]:
        _check_url(values["fetch"]["proxy"], "fetch.proxy", source, schemes=_PROXY_SCHEMES)


_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h", "socks4", "socks4a")


def _check_url(
    value: str, name: str, source: str, schemes: tuple[str, ...] = ("http", "https")
) -> None:
    """An absolute URL with one of ``schemes`` and a host, without white space."""
    if not _is_url(value, schemes):
        raise ConfigError(
            f"{source}: '{name}' must be an absolute URL ({', '.join(schemes)}) "
            f"such as http://en.kremlin.ru, got {value!r}"
        )


def _is_url(value: str, schemes: tuple[str, ...]) -> bool:
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # a broken port or [host]
        return False
    return parts.scheme.lower() in schemes and bool(host) and not any(map(str.isspace, value))


CONFIG_HEADER = """\
# kremlin-archive configuration: every setting with its default.
# A file only needs the keys it changes; unknown keys and wrong types are errors.
# Regenerate with: kremlin-archive config --defaults > config/kremlin.toml"""


def render_defaults() -> str:
    """The defaults table as a commented TOML file (what ``config/kremlin.toml`` holds)."""
    lines: list[str] = [CONFIG_HEADER]
    _render(SETTINGS, "", lines)
    return "\n".join(lines).strip() + "\n"


def _render(table: dict[str, Any], prefix: str, lines: list[str]) -> None:
    leaves = {k: v for k, v in table.items() if isinstance(v, Setting)}
    if leaves:
        lines.append(f"\n[{prefix.rstrip('.')}]")
        for key, spec in leaves.items():
            lines.append(f"# {spec.help}")
            lines.append(f"{key} = {_toml_value(spec.default)}")
    for key, sub in table.items():
        if not isinstance(sub, Setting):
            _render(sub, f"{prefix}{key}.", lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, int):
        return f"{value:_}" if value >= 10_000 else str(value)
    return repr(value)
