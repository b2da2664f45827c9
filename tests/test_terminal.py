"""Terminal output: one progress bar per long command with the log above it, plain log lines
when piped, coloured diffs. The terminal path runs the real CLI under a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakeclock import FakeClock
from fakesite import SHARED_HTML, FakeSite
from kremlin_archive.terminal import Bar, colour_diff
from runcli import kremlin

CLEAR = "\r\x1b[K"
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")


def in_pty(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 60):
    """``kremlin-archive ARGS`` with stderr on a pseudo-terminal (stdout piped): the exit
    code, stdout, and what the terminal received, its CR-LF turned back into LF."""
    master, slave = pty.openpty()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KREMLIN_ARCHIVE_")}
    env = dict(inherited, TERM="xterm", COLUMNS="120", **(env or {}))
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kremlin_archive", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    seen = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    proc.wait(timeout=10)
    return proc.returncode, stdout, seen.decode(errors="replace").replace("\r\n", "\n")


def screen_lines(terminal: str) -> list[str]:
    """Each terminal line as it ends up: the text after its last clear-line."""
    return [line.rsplit(CLEAR, 1)[-1] for line in terminal.split("\n")]


@pytest.fixture
def site():
    with FakeSite(n_pages=12, seed=21, extras=0) as site:
        yield site


def crawl_args(site: FakeSite, db: Path) -> list[str]:
    return ["crawl", "--db", str(db), "--base-url", site.url, "--delay", "0"]


def test_crawl_on_a_terminal_draws_one_bar_with_the_log_above_it(site, tmp_path):
    code, stdout, terminal = in_pty(*crawl_args(site, tmp_path / "k.db"), "--log-level", "DEBUG")
    assert code == 0, terminal
    assert stdout.startswith("discovered 12, new 12")
    lines = screen_lines(terminal)
    logs = [line for line in lines if " DEBUG " in line or " INFO " in line]
    assert sum("captured url=" in line for line in logs) == 12  # per page, at DEBUG
    assert all(STAMP.match(line) for line in logs), "a log line was written into the bar"
    bars = [line for line in lines if line.startswith("crawl [")]
    assert bars == [lines[-2]] and lines[-1] == ""  # the bar ends the output, once
    assert "12/12 100%" in bars[0] and "ETA 0:00" in bars[0]
    assert "0/12   0%" in terminal  # drawn as soon as the pages to fetch were known


def test_crawl_piped_has_no_bar_and_per_page_lines_only_at_debug(site, tmp_path):
    result = kremlin(*crawl_args(site, tmp_path / "k.db"))
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stderr and "crawl [" not in result.stderr
    assert "captured url=" not in result.stderr and "fetched url=" not in result.stderr
    finished = [line for line in result.stderr.splitlines() if "run finished" in line]
    assert len(finished) == 1 and " INFO " in finished[0] and "new=12" in finished[0]
    debug = kremlin(*crawl_args(site, tmp_path / "d.db"), "--log-level", "DEBUG")
    assert debug.stderr.count("captured url=") == 12


def test_the_progress_variable_forces_the_bar_or_turns_it_off(site, tmp_path):
    forced = kremlin(
        *crawl_args(site, tmp_path / "a.db"), env={"KREMLIN_ARCHIVE_PROGRESS": "always"}
    )
    assert forced.returncode == 0, forced.stderr
    assert "12/12 100%" in forced.stderr and "\x1b[K" in forced.stderr  # text mode reads \r as \n
    code, _, terminal = in_pty(
        *crawl_args(site, tmp_path / "b.db"), env={"KREMLIN_ARCHIVE_PROGRESS": "never"}
    )
    assert code == 0 and "crawl [" not in terminal and CLEAR not in terminal
    wrong = kremlin(
        *crawl_args(site, tmp_path / "c.db"), env={"KREMLIN_ARCHIVE_PROGRESS": "sometimes"}
    )
    assert wrong.returncode == 2
    assert "KREMLIN_ARCHIVE_PROGRESS must be one of auto, always, never" in wrong.stderr


def test_export_on_a_terminal_prints_its_log_line_above_the_bar(site, tmp_path):
    db = tmp_path / "k.db"
    assert kremlin(*crawl_args(site, db)).returncode == 0
    code, stdout, terminal = in_pty(
        "export", "--db", db, "--format", "jsonl", "--out", tmp_path / "x"
    )
    assert code == 0, terminal
    assert "exported 12 records" in stdout
    lines = screen_lines(terminal)
    assert not re.search(r"%\d{4}-", terminal)  # the old bar ran into the log: "100%2026-…"
    exported = [line for line in lines if "exported format=jsonl" in line]
    assert len(exported) == 1 and STAMP.match(exported[0])
    assert lines[-2].startswith("export [") and "12/12 100%" in lines[-2]


@pytest.mark.shared
def test_import_of_the_real_pages_on_a_terminal_shows_a_bar(tmp_path):
    if not SHARED_HTML.is_dir():
        pytest.skip(f"real pages not found at {SHARED_HTML}")
    files = len(list(SHARED_HTML.glob("*.htm*")))
    code, stdout, terminal = in_pty("import", SHARED_HTML, "--db", tmp_path / "k.db")
    assert code == 0, terminal
    assert stdout.startswith("imported ")
    lines = screen_lines(terminal)
    bars = [n for n, line in enumerate(lines) if line.startswith("import [")]
    assert len(bars) == 1 and f"{files}/{files} 100%" in lines[bars[0]]
    assert all(STAMP.match(line) for line in lines[: bars[0]])  # the log, above the bar
    after = [line for line in lines[bars[0] + 1 :] if line]
    assert after and all(line.startswith("skipped ") for line in after)  # then the skipped


def test_the_bar_shows_done_total_percent_elapsed_and_eta():
    clock = FakeClock(100.0)
    written: list[str] = []

    class Stream:
        def write(self, text: str) -> None:
            written.append(text)

        def flush(self) -> None:
            pass

    bar = Bar("crawl", Stream(), clock=clock, width=80)
    assert bar.render() == "crawl 0 0:00"
    bar.add_total(10)
    clock.sleep(30)
    bar.advance(3, "60014 new")
    assert bar.render() == "crawl [#######-----------------] 3/10  30% 0:30 ETA 1:10  60014 new"
    bar.write_above("a log line")
    assert written[-2] == CLEAR + "a log line\n" and written[-1].startswith(CLEAR + "crawl [")
    narrow = Bar("crawl", Stream(), clock=clock, width=20)
    assert len(narrow.render()) <= 19


# --------------------------------------------------------------------------- diff colours


@pytest.fixture
def edited(tmp_path):
    db = tmp_path / "k.db"
    with FakeSite(n_pages=2, seed=22, extras=0) as site:
        assert kremlin(*crawl_args(site, db)).returncode == 0
        event_id = site.ids[0]
        site.edit_page(event_id)
        assert kremlin(*crawl_args(site, db), "--id", str(event_id)).returncode == 0
    return db, event_id


def test_diff_colour_always_never_and_auto(edited):
    db, event_id = edited
    always = kremlin("diff", str(event_id), "--db", db, "--color", "always").stdout
    never = kremlin("diff", str(event_id), "--db", db, "--color", "never").stdout
    piped = kremlin("diff", str(event_id), "--db", db).stdout
    assert "\x1b[32m+Correction 2.\x1b[0m" in always
    assert "\x1b[" not in never and never == piped
    assert re.sub(r"\x1b\[[0-9;]*m", "", always) == never
    assert "+Correction 2." in never


def test_diff_on_a_terminal_is_coloured_unless_no_color(edited, tmp_path):
    db, event_id = edited
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    for extra, coloured in (({}, True), ({"NO_COLOR": "1"}, False)):
        proc = subprocess.run(
            [sys.executable, "-m", "kremlin_archive", "diff", str(event_id), "--db", str(db)],
            stdout=slave,
            stderr=subprocess.PIPE,
            env=env | extra,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        out = os.read(master, 65536).decode()
        assert ("\x1b[32m" in out) is coloured
    os.close(slave)
    os.close(master)


def test_word_diff_colours_the_marks_only():
    text = "--- v1\n+++ v2\n@@ -1,1 +1,1 @@\n- a list [-old-] {+new+} words"
    coloured = colour_diff(text, word=True)
    last = coloured.split("\n")[-1]
    assert last == "- a list \x1b[31m[-old-]\x1b[0m \x1b[32m{+new+}\x1b[0m words"
