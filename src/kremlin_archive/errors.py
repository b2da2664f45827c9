"""One exception tree for the whole project.

Every failure the program can explain to a user is one of these; the CLI turns them into
``click.ClickException`` at its edge and nowhere else::

    KremlinArchiveError
    ├── ConfigError              a config file or option is wrong (names file and key)
    ├── FetchError               the network side failed for one URL (``url`` attribute)
    │   ├── HostUnreachable      DNS, refused connection, no route: nothing came back
    │   ├── RobotsDisallowed     robots.txt forbids the URL
    │   ├── ForeignRedirect      a redirect pointed outside the configured hosts
    │   ├── ResponseTooLarge     the body passed the configured size cap
    │   ├── TruncatedResponse    fewer bytes than Content-Length, or a cut connection
    │   ├── ResponseTooSlow      the answer took longer than the request deadline
    │   ├── HTTPStatusError      a status we do not archive (``status`` attribute)
    │   ├── HostBlocked          the site throttles or refuses us: circuit breaker open
    │   └── FetchInterrupted     a stop was asked for while waiting or reading a body
    ├── PageError                a body is not what it should be
    │   ├── NotAnEventPage       not a whole event page (listing, photos tab, challenge, cut)
    │   ├── MarkupRefused        nested too deep or too many elements to parse safely
    │   └── FeedError            a feed or listing page that cannot be read
    ├── ArchiveError             the database side
    │   ├── NotArchived          no page with that id or URL in the archive
    │   ├── NotAnArchive         the file is no archive this version can use
    │   ├── BadSearchQuery       FTS5 cannot read a search query (its reason attached)
    │   ├── RunLockHeld          another crawl holds the database's run lock
    │   └── DatabaseBusy         the database stayed locked past the busy timeout
    └── ExportError              an export could not be written
"""

from __future__ import annotations


class KremlinArchiveError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(KremlinArchiveError):
    """A configuration file, key, value or command-line option is wrong."""


class FetchError(KremlinArchiveError):
    """Fetching one URL failed."""

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class HostUnreachable(FetchError):
    """The host could not be reached at all (DNS, refused connection, no route)."""


class RobotsDisallowed(FetchError):
    """robots.txt of the host forbids fetching the URL."""


class ForeignRedirect(FetchError):
    """The server redirected to a host that is not configured."""


class ResponseTooLarge(FetchError):
    """The response body is larger than the configured cap."""


class TruncatedResponse(FetchError):
    """The response body ended before Content-Length, or the connection was cut."""


class ResponseTooSlow(FetchError):
    """The answer was still coming when the request's deadline (fetch.deadline) passed."""


class HTTPStatusError(FetchError):
    """The server answered with a status that is neither a page nor retryable."""

    def __init__(self, message: str, url: str | None = None, status: int = 0) -> None:
        super().__init__(message, url)
        self.status = status


class HostBlocked(FetchError):
    """The host refused or throttled us repeatedly; the run stops asking it."""


class FetchInterrupted(FetchError):
    """The run was asked to stop (a signal) while waiting for its turn or for a retry, or
    while a body was coming in (the read is cut short)."""


class PageError(KremlinArchiveError):
    """A fetched or given body is not what it should be."""


class NotAnEventPage(PageError):
    """The HTML is not one whole event page; ``reason`` says why."""

    def __init__(self, reason: str, url: str | None = None) -> None:
        where = f" ({url})" if url else ""
        super().__init__(f"not an event page{where}: {reason}")
        self.reason = reason
        self.url = url


class MarkupRefused(PageError):
    """The markup is nested too deep, or holds too many elements, to be parsed in bounded
    time and memory (``htmlguard``); refused before any parse."""


class FeedError(PageError):
    """A feed or listing page cannot be read."""


class ArchiveError(KremlinArchiveError):
    """The archive database cannot do what was asked."""


class NotArchived(ArchiveError):
    """No page with that id or URL is in the archive."""


class BadSearchQuery(ArchiveError):
    """SQLite's full-text search cannot read the query; the message is SQLite's reason."""


class NotAnArchive(ArchiveError):
    """The file is not an archive (empty, another database), or one made by a newer
    kremlin-archive, or (for a reader, who never migrates) by an older one."""


class RunLockHeld(ArchiveError):
    """Another process holds the run lock of the database."""


class DatabaseBusy(ArchiveError):
    """The database stayed locked by another process past the busy timeout."""


class ExportError(KremlinArchiveError):
    """An export could not be written."""
