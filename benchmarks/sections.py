"""Writing one benchmark's section into benchmarks/README.md, leaving the others alone."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, section: str, title: str, *, first: bool = False) -> None:
    """Replace the section headed ``title`` in ``path`` (up to the next ``## ``); a new one
    goes right after the file's title with ``first``, else at the end."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(title + "\n")
    if start >= 0:
        end = text.find("\n## ", start + len(title))
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    elif first:
        title_end = text.find("\n") + 1 if text.startswith("# ") else 0
        text = text[:title_end] + "\n" + section + "\n" + text[title_end:].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")
