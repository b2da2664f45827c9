"""Notifications and the feed file: the service, after each run that found changes, sends
one Apprise message (here to a JSON webhook receiver on 127.0.0.1) and rewrites the feed.

The runs are real crawls of the fake site through ``Service``; only the clock and the
notifier's wait between retries are injected.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import pytest

from fakesite import FakeSite
from kremlin_archive.archive import Archive
from kremlin_archive.changes import Change, list_changes
from kremlin_archive.config import load_config, with_base_url
from kremlin_archive.notify import Notifier, masked, render_message
from kremlin_archive.service import Service, make_notifier
from kremlin_archive.status import gather_status, render_status
from runcli import kremlin

LATER = datetime(2031, 1, 1, tzinfo=UTC)  # every page is due for a recheck


class Receiver:
    """A JSON webhook on 127.0.0.1 that keeps what it is sent (Apprise's json:// form)."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite(n_pages=6, seed=5) as s:
        yield s


def closed_port() -> int:
    """A port on 127.0.0.1 that nobody listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_config(tmp_path: Path, site: FakeSite, urls: list[str]):
    config = load_config(
        path=None,
        database__path=str(tmp_path / "a.db"),
        fetch__delay=0.0,
        fetch__jitter=0.0,
        notify__urls=urls,
        notify__atom_path=str(tmp_path / "feed" / "changes.atom"),
        notify__web_url="http://archive.example.org",
        notify__backoff=30.0,
        notify__retries=3,
    )
    return with_base_url(config, site.url)


class FakeSleep:
    """The notifier's wait: records how long it was asked to wait; with ``hold`` set it
    blocks until released (a receiver that stays down for a long time)."""

    def __init__(self, hold: bool = False) -> None:
        self.waits: list[float] = []
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        assert self.release.wait(10), "never released"


def service_with(config, sleep: FakeSleep, now=lambda: LATER) -> Service:
    return Service(config, now=now, notifier=make_notifier(config, sleep=sleep))


def notifications(config) -> list[dict]:
    with Archive(config.database.path) as archive:
        return archive.notifications()


def cli_changes(config) -> list[Change]:
    with Archive(config.database.path) as archive:
        return list_changes(archive)


def test_two_runs_with_changes_send_two_messages_and_a_run_without_sends_none(
    tmp_path, site, receiver
):
    config = make_config(tmp_path, site, [receiver.url])
    service = service_with(config, FakeSleep())
    service.run_poll()  # the first crawl: every page new, which is no change
    service.notifier.join()
    assert receiver.received == []
    assert not config.notify.atom_path.exists()

    edited, gone, other = site.ids[0], site.ids[1], site.ids[2]
    site.edit_page(edited)
    assert service.run_poll().changed == 1
    service.notifier.join()
    assert len(receiver.received) == 1
    first = receiver.received[0]
    assert first["title"].startswith("kremlin-archive: 1 change (poll run")
    assert f"({edited} v1→v2)" in first["message"] and "1 paragraph added" in first["message"]
    assert (
        f"http://archive.example.org/-/event/en.kremlin.ru/{edited}/diff/1..2" in (first["message"])
    )

    result = service.run_poll()  # nothing new, nothing edited
    service.notifier.join()
    assert result.changed == 0 and len(receiver.received) == 1

    site.remove_page(gone)
    site.edit_page(other, title="Meeting on the budget, corrected")
    result = service.run_recheck()  # re-fetches every page: one gone, one edited
    service.notifier.join()
    assert (result.gone, result.changed) == (1, 1)
    assert len(receiver.received) == 2
    second = receiver.received[1]["message"]
    assert "2 changes (recheck run" in receiver.received[1]["title"]
    assert "removal: " in second and f"({gone} v1): gone (HTTP 410)" in second
    assert f"({other} v1→v2): title" in second
    assert f"({edited} " not in second  # only this run's changes

    sent = notifications(config)
    assert [(n["status"], n["attempts"], n["changes"]) for n in sent] == [
        ("sent", 1, 2),
        ("sent", 1, 1),
    ]
    feed = feedparser.parse(config.notify.atom_path.read_bytes())
    assert not feed.bozo and feed.version == "atom10"
    assert [e.id for e in feed.entries] == [c.id for c in cli_changes(config)]
    assert len(feed.entries) == 3


def test_a_receiver_that_is_down_delays_nothing_and_is_recorded(tmp_path, site, caplog):
    config = make_config(tmp_path, site, [f"json://127.0.0.1:{closed_port()}/hook"])
    sleep = FakeSleep(hold=True)  # the first backoff lasts until released
    service = service_with(config, sleep)
    service.run_poll()
    site.edit_page(site.ids[0])
    assert service.run_poll().changed == 1  # returns while the message waits to retry
    site.edit_page(site.ids[1])
    assert service.run_poll().changed == 1  # and the next job runs meanwhile
    with Archive(config.database.path) as archive:
        runs = archive.runs()
    assert [(r["trigger"], r["error"], r["changed"]) for r in runs] == [
        ("poll", None, 1),
        ("poll", None, 1),
        ("poll", None, 0),
    ]
    assert notifications(config) == []  # still trying
    assert config.notify.atom_path.exists()  # the feed does not wait for the message

    sleep.release.set()
    service.notifier.join()
    failed = notifications(config)
    assert [(n["status"], n["attempts"]) for n in failed] == [("failed", 4), ("failed", 4)]
    assert all(n["error"] and n["targets"].startswith("json://127.0.0.1") for n in failed)
    assert sleep.waits == [30.0, 60.0, 120.0] * 2  # backoff doubles, retries=3, per message
    assert "notify failed" in caplog.text
    shown = render_status(gather_status(config))
    assert "notify    0 sent, 2 failed; last failed " in shown
    assert f"(run {failed[0]['run_id']}): json://127.0.0.1:" in shown


def test_the_service_goes_on_when_the_notifier_breaks(tmp_path, site):
    def broken(urls, title, body):
        raise RuntimeError("plug-in exploded")

    config = make_config(tmp_path, site, ["json://127.0.0.1:9/hook"])
    notifier = make_notifier(config, sleep=FakeSleep(), send=broken)
    service = Service(config, now=lambda: LATER, notifier=notifier)
    service.run_poll()
    site.edit_page(site.ids[0])
    assert service.run_poll().changed == 1
    notifier.join()
    (record,) = notifications(config)
    assert record["status"] == "failed" and "plug-in exploded" in record["error"]


def test_a_message_lists_at_most_the_configured_changes_and_counts_the_rest():
    changes = [
        Change("2024-05-01T12:00:00Z", "edit", "en.kremlin.ru", 60000 + n, "u", f"T{n}", 2)
        for n in range(5)
    ]
    message = render_message(changes, "poll", 7, "http://h/", most=3)
    assert message.title == "kremlin-archive: 5 changes (poll run 7)"
    assert message.body.count("\n- ") == 2 and "… and 2 more: http://h/-/changes" in message.body
    assert "http://h/-/event/en.kremlin.ru/60000/diff/1..2" in message.body


def test_notification_urls_are_stored_without_their_secrets():
    assert "s3cret" not in masked("json://user:s3cret@127.0.0.1:8080/hook")
    assert "s3cret" not in masked("tgram://123456789:s3cretTOKENs3cretTOKENs3cretTOKEN12/987")


def test_a_notifier_retries_then_succeeds(tmp_path):
    answers = iter(["HTTP 500", "HTTP 502", None])
    records: list[dict] = []
    sleep = FakeSleep()
    notifier = Notifier(
        ["json://127.0.0.1/x"],
        record=records.append,
        retries=3,
        backoff=5.0,
        send=lambda urls, title, body: next(answers),
        sleep=sleep,
    )
    change = Change("2024-05-01T12:00:00Z", "removal", "en.kremlin.ru", 1, "u", "T", 1)
    notifier.submit(render_message([change], "recheck", 3, "http://h"))
    notifier.close(timeout=10)
    assert sleep.waits == [5.0, 10.0]
    assert [(r["status"], r["attempts"], r["run_id"]) for r in records] == [("sent", 3, 3)]


def test_an_unknown_notification_url_is_a_clear_config_error(tmp_path):
    from kremlin_archive.errors import ConfigError
    from kremlin_archive.notify import check_urls

    with pytest.raises(ConfigError, match="notify.urls: Apprise does not understand"):
        check_urls(["nosuchservice://whatever"])


def test_closing_the_notifier_tries_what_is_queued_without_waiting_out_the_backoff():
    records: list[dict] = []
    tries: list[str] = []

    def refused(urls, title, body):
        tries.append(title)
        return "HTTP 503"

    notifier = Notifier(
        ["json://127.0.0.1/x"], record=records.append, retries=2, backoff=3600.0, send=refused
    )
    change = Change("2024-05-01T12:00:00Z", "edit", "en.kremlin.ru", 1, "u", "T", 2)
    notifier.submit(render_message([change], "poll", 9, "http://h"))
    notifier.close(timeout=10)  # the hour-long backoff is cut short by the close
    assert not notifier._thread.is_alive()
    assert len(tries) == 3
    assert [(r["status"], r["attempts"]) for r in records] == [("failed", 3)]
    assert records[0]["error"] == "json://127.0.0.1/x: HTTP 503"


def test_a_retry_goes_only_to_the_receivers_that_missed_the_message(receiver):
    down = f"json://127.0.0.1:{closed_port()}/hook"
    records: list[dict] = []
    sleep = FakeSleep()
    notifier = Notifier([receiver.url, down], record=records.append, retries=2, sleep=sleep)
    change = Change("2024-05-01T12:00:00Z", "edit", "en.kremlin.ru", 1, "u", "T", 2)
    notifier.submit(render_message([change], "poll", 4, "http://h"))
    notifier.close(timeout=30)
    assert len(receiver.received) == 1  # not once per try
    (record,) = records
    assert (record["status"], record["attempts"]) == ("failed", 3)
    assert record["error"].startswith(f"json://127.0.0.1:{down.split(':')[2]}")
    assert receiver.url.removeprefix("json://").split("/")[0] not in record["error"]


def test_serve_refuses_a_notification_url_it_cannot_use_before_starting(tmp_path):
    config = tmp_path / "k.toml"
    config.write_text('[notify]\nurls = ["nosuchservice://whatever"]\n', encoding="utf-8")
    result = kremlin("serve", "--config", config, "--db", tmp_path / "a.db", timeout=60)
    assert result.returncode == 2
    assert "notify.urls: Apprise does not understand 'nosuchservice://…'" in result.stderr
    assert not (tmp_path / "a.db").exists()
