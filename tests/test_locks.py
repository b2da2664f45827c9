"""The run lock and the service lock: one holder at a time, a wait that ends, clear refusals."""

from __future__ import annotations

import os
from contextlib import ExitStack

import pytest

from fakeclock import FakeClock
from kremlin_archive.errors import ArchiveError, RunLockHeld
from kremlin_archive.locks import (
    RUN_LOCK_BUSY,
    hold_lock,
    hold_service_lock,
    lock_path,
    read_state,
    write_state,
)


def test_second_service_on_a_database_is_refused_naming_the_first(tmp_path):
    db = tmp_path / "a.db"
    held = rf"pid={os.getpid()} since="
    with hold_service_lock(db), pytest.raises(RunLockHeld, match=held), hold_service_lock(db):
        pass
    with hold_service_lock(db):  # released: taken again
        pass


def test_a_held_lock_is_waited_for_until_the_wait_runs_out(tmp_path):
    path = lock_path(tmp_path / "a.db")
    clock = FakeClock()
    held = r"another crawl is running .*pid=\d+ since="
    waiting = hold_lock(path, 2.0, RUN_LOCK_BUSY, clock=clock, sleep=clock.sleep)
    with hold_lock(path, 0.0, RUN_LOCK_BUSY), pytest.raises(RunLockHeld, match=held), waiting:
        pass
    assert sum(clock.sleeps) == pytest.approx(2.0)
    assert max(clock.sleeps) <= 0.5  # tried again while waiting, not once at the end


def test_a_lock_released_during_the_wait_is_taken(tmp_path):
    path = lock_path(tmp_path / "a.db")
    clock = FakeClock()
    holder = ExitStack()
    holder.enter_context(hold_lock(path, 0.0, RUN_LOCK_BUSY))

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 3:
            holder.close()  # the other crawl finishes while this one waits

    with hold_lock(path, 60.0, RUN_LOCK_BUSY, clock=clock, sleep=sleep):
        assert f"pid={os.getpid()} " in path.read_text()
    assert len(clock.sleeps) == 3


def test_a_lock_whose_folder_cannot_be_made_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    lock = hold_lock(lock_path(blocker / "a.db"), 0.0, RUN_LOCK_BUSY)
    with pytest.raises(ArchiveError, match="cannot create .*check the database path"), lock:
        pass


def test_state_of_a_dead_service_is_ignored(tmp_path):
    path = tmp_path / "a.db.service.json"
    write_state(path, {"pid": os.getpid(), "next_run_at": {"poll": "2024-05-01T12:00:00Z"}})
    assert read_state(path)["next_run_at"]["poll"] == "2024-05-01T12:00:00Z"
    write_state(path, {"pid": 2**22 + 12345, "next_run_at": {}})  # above Linux's pid_max
    assert read_state(path) is None
    path.write_text("{half", encoding="utf-8")
    assert read_state(path) is None
