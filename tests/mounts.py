"""Run the real CLI with private mounts (a read-only folder, a small full disk), in a mount
namespace of its own (``unshare -m``, as root), so nothing outside the test sees them."""

from __future__ import annotations

import functools
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@functools.cache
def why_no_private_mounts() -> str | None:
    """None when this machine lets a test mount in a private namespace; else why not."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "unshare or mount not installed"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"no private mounts here (unshare -m needs root): {probe.stderr.strip()}"
    return None


def skip_without_private_mounts() -> None:
    reason = why_no_private_mounts()
    if reason:
        pytest.skip(reason)


def cli_line(*args: str | Path) -> str:
    """``kremlin-archive ARGS`` as a shell command line."""
    return shlex.join([sys.executable, "-m", "kremlin_archive", *map(str, args)])


def run_with_mounts(mounts: str, then: str) -> subprocess.CompletedProcess:
    """Run the shell commands ``mounts`` then ``then`` in a private mount namespace."""
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", f"set -e; {mounts}; {then}"],
        capture_output=True,
        text=True,
        timeout=180,
    )


def read_only(folder: Path) -> str:
    q = shlex.quote(str(folder))
    return f"mount --bind {q} {q} && mount -o remount,bind,ro {q}"


def small_disk(folder: Path, kib: int) -> str:
    return f"mount -t tmpfs -o size={kib}k tmpfs {shlex.quote(str(folder))}"
