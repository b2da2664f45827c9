"""Run the real command line in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def kremlin(
    *args: str | Path,
    cwd: Path | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    input: str | None = None,
):
    """``kremlin-archive ARGS`` in a child process (``input`` on its standard input);
    returns the CompletedProcess. ``env`` adds variables; the caller's KREMLIN_ARCHIVE_*
    variables are never inherited."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KREMLIN_ARCHIVE_")}
    env = dict(inherited, PYTHONUNBUFFERED="1", **(env or {}))
    env.pop("HTTP_PROXY", None)
    env.pop("http_proxy", None)
    return subprocess.run(
        [sys.executable, "-m", "kremlin_archive", *map(str, args)],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )
