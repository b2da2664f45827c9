"""``python -m kremlin_archive``: the same command line as ``kremlin-archive``."""

from .cli import main

main(prog_name="kremlin-archive")
