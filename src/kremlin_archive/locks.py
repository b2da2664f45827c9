"""What processes on one database tell each other: the run lock, the service lock, and
the running service's state file.

    <db>.lock           one crawl, import or recheck at a time (``hold_run_lock``)
    <db>.service.lock   one service per database (``hold_service_lock``)
    <db>.service.json   the running service's pid and next run times (``write_state``,
                        read by ``status``; a file left by a dead service is ignored)

Each is an exclusive ``flock`` on its file, so the kernel releases it when its holder
dies: a lock left by a killed process is simply taken over; the file's text only names
the holder for the message. The wait for a held lock reads ``clock`` and calls ``sleep``,
both injectable, so tests run the waiting path without waiting. Bottom tier: imports only
``errors`` and ``timeutil``.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from .errors import ArchiveError, RunLockHeld
from .timeutil import utc_now

RUN_LOCK_BUSY = (
    "another crawl is running on this database ({holder}); wait for it to finish, "
    "or stop it (lock file {path})"
)
SERVICE_LOCK_BUSY = (
    "a service is already running on this database ({holder}); stop it first (lock file {path})"
)
POLL_SECONDS = 0.5  # how often a waiting process tries the lock again


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def service_lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".service.lock")


def hold_run_lock(db_path: Path, wait: float = 0.0) -> AbstractContextManager[None]:
    """One crawl per database at a time, across processes (``<db>.lock``), waiting up to
    ``wait`` seconds for another one to finish."""
    return hold_lock(lock_path(db_path), wait, RUN_LOCK_BUSY)


def hold_service_lock(db_path: Path) -> AbstractContextManager[None]:
    """One service per database (``<db>.service.lock``), never waiting."""
    return hold_lock(service_lock_path(db_path), 0.0, SERVICE_LOCK_BUSY)


@contextmanager
def hold_lock(
    path: Path,
    wait: float,
    busy: str,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (its folder made if needed), tried again every
    POLL_SECONDS for up to ``wait`` seconds of ``clock``; else RunLockHeld with ``busy``,
    whose {holder} and {path} are filled."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ArchiveError(
            f"cannot create {path}: {exc.strerror}; check the database path (--db or "
            "database.path) and that its folder is writable"
        ) from None
    try:
        _acquire(fd, path, wait, busy, clock, sleep)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid={os.getpid()} since={utc_now()}\n".encode())
        yield
    finally:
        os.close(fd)


def _acquire(
    fd: int,
    path: Path,
    wait: float,
    busy: str,
    clock: Callable[[], float],
    sleep: Callable[[float], object],
) -> None:
    deadline = clock() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            left = deadline - clock()
            if left <= 0:
                holder = path.read_text(errors="replace").strip() or "unknown holder"
                raise RunLockHeld(busy.format(holder=holder, path=path)) from None
            sleep(min(POLL_SECONDS, left))


# the service's state file ------------------------------------------------------------------


def state_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".service.json")


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the state file in one step, so a reader never sees half of it."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def read_state(path: Path) -> dict[str, Any] | None:
    """The running service's state, or None when no live service wrote it."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
