"""Run the real command line in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def kremlin(*args: str | Path, cwd: Path | None = None, timeout: float = 120):
    """``kremlin-archive ARGS`` in a child process; returns the CompletedProcess."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("HTTP_PROXY", None)
    env.pop("http_proxy", None)
    return subprocess.run(
        [sys.executable, "-m", "kremlin_archive", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )
