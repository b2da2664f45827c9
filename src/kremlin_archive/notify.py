"""Telling people of changes: one message per service run that found any, and a feed file.

Messages go through Apprise (``notify.urls``: e-mail, Slack, Telegram, ntfy, JSON webhooks
…), from a thread of their own, so a slow or dead receiver never holds up a crawl. A message
that fails is retried ``notify.retries`` times, waiting ``notify.backoff`` seconds and twice
as long each time, then logged and recorded as failed in the ``notifications`` table; a sent
one is recorded too. The clock and the wait are injected, so tests never sleep.

After such a run the service also rewrites the Atom feed at ``notify.atom_path`` (written
beside it, then moved into place, so a reader never sees half a feed).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .changes import KIND_NAMES, Change
from .errors import ConfigError
from .timeutil import utc_now

logger = logging.getLogger(__name__)

Send = Callable[[Sequence[str], str, str], str | None]  # urls, title, body -> error or None
Record = Callable[[dict], None]


@dataclass(frozen=True)
class Message:
    """One notification: what a run found."""

    title: str
    body: str
    changes: int
    run_id: int | None = None


def render_message(
    changes: Sequence[Change], trigger: str, run_id: int | None, web_url: str, most: int = 50
) -> Message:
    """The message for the changes one run found: a title that counts them and one line per
    change (at most ``most``; the rest counted) with a link to its diff."""
    base = web_url.rstrip("/")
    noun = "change" if len(changes) == 1 else "changes"
    title = f"kremlin-archive: {len(changes)} {noun} ({trigger} run {run_id})"
    lines = []
    for change in changes[:most]:
        kind = KIND_NAMES.get(change.kind, change.kind)
        lines.append(
            f"- {kind}: {change.title} ({change.event_id} {change.versions_label()}): "
            f"{change.what()}\n  {base}{change.diff_path}"
        )
    if len(changes) > most:
        lines.append(f"… and {len(changes) - most} more: {base}/-/changes")
    return Message(title, "\n".join(lines), len(changes), run_id)


def masked(url: str) -> str:
    """A notification URL safe to log and store: Apprise's privacy form without its query
    (Apprise's own options), else the scheme alone."""
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    if not plugin:
        return url.split("://", 1)[0] + "://…"
    return plugin.url(privacy=True).split("?", 1)[0]


def check_urls(urls: Sequence[str]) -> None:
    """ConfigError naming the first URL Apprise does not understand."""
    import apprise

    for url in urls:
        if not apprise.Apprise().add(url):
            raise ConfigError(
                f"notify.urls: Apprise does not understand {masked(url)!r}; "
                "see the Apprise documentation for the URL of your service"
            )


def send_apprise(urls: Sequence[str], title: str, body: str) -> str | None:
    """Send one message to every URL; None when all took it, else what went wrong."""
    import apprise

    notifier = apprise.Apprise()
    notifier.add(list(urls))
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        ok = notifier.notify(body=body, title=title)
    if ok:
        return None
    said = " ".join(captured.getvalue().split())
    return said or "a notification service refused the message"


class Notifier:
    """Sends messages from a thread of its own, with retries, and records each outcome.

    ``send`` delivers one message (Apprise by default), ``record`` stores its outcome,
    ``sleep`` waits between tries (by default a wait that :meth:`close` cuts short)."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        record: Record,
        retries: int = 3,
        backoff: float = 30.0,
        send: Send = send_apprise,
        sleep: Callable[[float], object] | None = None,
        now: Callable[[], str] = utc_now,
    ) -> None:
        self.urls = tuple(urls)
        self.record = record
        self.retries = retries
        self.backoff = backoff
        self.send = send
        self.now = now
        self._closing = threading.Event()
        self.sleep = sleep or self._closing.wait
        self._queue: queue.Queue[Message | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="notify", daemon=True)
        self._thread.start()

    def submit(self, message: Message) -> None:
        """Queue a message; returns at once."""
        self._queue.put(message)

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued (without waiting between retries any more), then stop."""
        self._closing.set()
        self._queue.put(None)
        self._thread.join(timeout)

    def join(self) -> None:
        """Wait until every queued message is sent or recorded as failed."""
        self._queue.join()

    def _work(self) -> None:
        while True:
            message = self._queue.get()
            try:
                if message is None:
                    return
                self.deliver(message)
            finally:
                self._queue.task_done()

    def deliver(self, message: Message) -> bool:
        """Send with retries, each retry only to the URLs that have not taken the message
        yet (so that no receiver gets it twice); record and log the outcome. Never raises."""
        created_at, attempts = self.now(), 0
        pending: dict[str, str] = dict.fromkeys(self.urls, "not tried")  # url -> error
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            attempts += 1
            pending = {url: e for url in pending if (e := self._try(url, message)) is not None}
            if not pending:
                break
            logger.warning(
                "notify failed attempt=%d error=%s", attempts, "; ".join(pending.values())
            )
        error = "; ".join(f"{_safe_mask(url)}: {e}" for url, e in pending.items()) or None
        self._record(message, created_at, attempts, error)
        return error is None

    def _try(self, url: str, message: Message) -> str | None:
        try:
            return self.send([url], message.title, message.body)
        except Exception as exc:  # a broken service plug-in must not end the thread
            return f"{type(exc).__name__}: {exc}"

    def _record(self, message: Message, created_at: str, attempts: int, error: str | None):
        status = "sent" if error is None else "failed"
        log = logger.info if error is None else logger.error
        log(
            "notify %s run=%s changes=%d attempts=%d",
            status,
            message.run_id,
            message.changes,
            attempts,
        )
        targets = ", ".join(_safe_mask(url) for url in self.urls)
        row = {"run_id": message.run_id, "created_at": created_at, "finished_at": self.now()}
        row |= {"status": status, "attempts": attempts, "changes": message.changes}
        row |= {"targets": targets, "error": error}
        try:
            self.record(row)
        except Exception as exc:
            logger.error("notification not recorded run=%s error=%r", message.run_id, exc)


def _safe_mask(url: str) -> str:
    try:
        return masked(url)
    except Exception:  # masking is a courtesy; the record matters more
        return url.split("://", 1)[0] + "://…"


def write_feed(path: Path, feed: str) -> None:
    """Replace the feed file in one step (written beside it, then moved into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(feed, encoding="utf-8")
    os.replace(partial, path)
