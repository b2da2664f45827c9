"""Wall time and peak RSS of one command, the command's own.

``ru_maxrss`` of a child (from ``os.wait4``) is not the child's own peak when the parent is
large: Linux carries the high-water mark of the memory a process had before ``exec`` into
the new program's ``ru_maxrss``, and a child made by ``fork`` or ``vfork`` has the parent's
memory until then. A benchmark that has just held 300 MB of search results would report
300 MB for a command that used 35. So the command is started by a small launcher (a fresh
Python importing only ``os``, ``sys`` and ``time``), which times it and reads its
``ru_maxrss``: what is carried over is then the launcher's few MB, under any command's own::

    measured = run_measured([sys.executable, "-c", "pass"])  # .seconds, .peak_mb, ...
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

#: Runs argv[1:] with stdout on /dev/null and stderr its own; prints "seconds maxrss_kB rc".
LAUNCHER = """
import os, sys, time
command = sys.argv[1:]
devnull = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
started = time.perf_counter()
pid = os.posix_spawn(command[0], command, os.environ, file_actions=devnull)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
print(seconds, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_mb: float
    returncode: int
    stderr: str


def run_measured(command: list[str]) -> Measured:
    """Run ``command`` (its stdout discarded) and return its wall seconds, its own peak
    RSS in MB, its exit code and its stderr."""
    launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER]
    done = subprocess.run([*launcher, *command], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the launcher failed: {done.stderr[-2000:]}")
    seconds, peak_kb, returncode = done.stdout.split()
    return Measured(float(seconds), int(peak_kb) / 1024, int(returncode), done.stderr)
