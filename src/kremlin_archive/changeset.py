"""Pure: what tells two versions of a page apart, and what changed between them.

A version is kept only when its text, white space folded (``text_sha256``), its compared
fields (``fields_sha256``, COMPARED_FIELDS folded) or its derived fields (DERIVED_FIELDS:
speaker turns, attachments) differ from its predecessor's;
its change record names the fields that changed ("body" for the rest of the text) and
counts the paragraphs and speaker turns added, removed and edited (difflib opcodes).

No I/O, no database, no parser: the archive stores what this module computes, and the
re-normalization (``renormalize``) uses the same rules to re-derive a version chain.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

K = TypeVar("K")

#: Fields compared (white space folded) to tell versions apart; "body" is the rest.
COMPARED_FIELDS = (
    "title",
    "lead",
    "date",
    "time",
    "place",
    "announcement",
    "tags",
    "sections",
    "published",
    "photo_count",
    "kind",
)


#: What a version is called wherever it is shown (``history``, the change list, the web
#: view): version 1 is the page's first capture, never an edit; a later one is named by its
#: origin.
FIRST_CAPTURE = "first capture"
ORIGIN_NAMES = {"site": "site edit", "renormalize": "re-normalization"}


def version_name(seq: int, origin: str) -> str:
    """``first capture`` for version 1, else ``site edit`` or ``re-normalization``."""
    return FIRST_CAPTURE if seq == 1 else ORIGIN_NAMES.get(origin, origin)


#: Fields derived from the text (who said which lines, the files of the See also boxes):
#: compared by value, and kept out of ``fields_sha256`` so that the hashes stored by
#: earlier versions stay comparable. A change in them alone (a normalizer that reads the
#: same text better) still makes a new version.
DERIVED_FIELDS = ("turns", "attachments")


class TranscriptLike(Protocol):
    """What a version is made of: ``normalize.Transcript`` (or any rendering like it)."""

    title: str
    text: str

    def fields(self) -> dict: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fold(value: object) -> object:
    """White space folded to single spaces, inside strings, lists and dicts."""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list | tuple):
        return [fold(item) for item in value]
    if isinstance(value, dict):
        return {fold(key): fold(item) for key, item in value.items()}
    return value


def canonical_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def text_sha256(text: str) -> str:
    """Hash of the text with all white space folded: white-space noise is no edit."""
    return sha256_hex(fold(text).encode())


def fields_sha256(fields: dict) -> str:
    """Hash of the compared fields (COMPARED_FIELDS), white space folded."""
    compared = {name: fold(fields.get(name)) for name in COMPARED_FIELDS}
    return sha256_hex(canonical_json(compared).encode())


@dataclass(frozen=True)
class Content:
    """What a version stores of a transcript, with its two hashes, worked out once."""

    title: str
    text: str
    fields: dict
    text_sha256: str
    fields_sha256: str

    @classmethod
    def of(cls, transcript: TranscriptLike) -> Content:
        fields = transcript.fields()
        text = transcript.text
        return cls(transcript.title, text, fields, text_sha256(text), fields_sha256(fields))

    def same_as(self, other: Content | _Hashed) -> bool:
        """The same version: equal text, compared fields and derived fields, white space
        folded."""
        same_text = other.text_sha256 == self.text_sha256
        if not (same_text and other.fields_sha256 == self.fields_sha256):
            return False
        return not changed_derived(other.fields, self.fields)


class _Hashed(Protocol):
    text_sha256: str
    fields_sha256: str
    fields: dict


def changed_derived(old: dict, new: dict) -> list[str]:
    """The DERIVED_FIELDS that differ, white space folded (absent is empty)."""
    return [n for n in DERIVED_FIELDS if fold(old.get(n) or []) != fold(new.get(n) or [])]


class _Versioned(Protocol):
    text: str
    fields: dict


# --------------------------------------------------------------------------- change records


def count_edits(old: list[str], new: list[str]) -> dict[str, int]:
    """Items added, removed and edited between two sequences (difflib opcodes)."""
    counts = {"added": 0, "removed": 0, "edited": 0}
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        before, after = i2 - i1, j2 - j1
        if tag == "replace":
            counts["edited"] += min(before, after)
        if tag != "equal":
            counts["added"] += max(0, after - before)
            counts["removed"] += max(0, before - after)
    return counts


def _field_lines(fields: dict) -> set[str]:
    """Lines of the text that print a field (so that they do not count as body)."""
    lines = {fields.get(name) for name in ("title", "time", "place", "announcement")}
    lines.update((fields.get("lead") or "").split("\n"))
    for heading, tags in (fields.get("tags") or {}).items():
        lines.update([heading, *tags])
    return {fold(line) for line in lines if line}


def body_lines(fields: dict, text: str, other: dict) -> list[str]:
    """The paragraphs of a text: its lines minus those printing a field of either version."""
    skip = _field_lines(fields) | _field_lines(other)
    tails = [fields.get("published"), ", ".join(fields.get("sections") or [])]
    tails = [fold(tail) for tail in tails if tail]
    lines = (fold(line) for line in text.split("\n"))
    return [ln for ln in lines if ln and ln not in skip and not any(map(ln.endswith, tails))]


def body_changes(old: dict, old_text: str, new: dict, new_text: str) -> dict:
    """Paragraphs (and speaker turns, where a version has any) added, removed, edited."""
    changes = {
        "paragraphs": count_edits(body_lines(old, old_text, new), body_lines(new, new_text, old))
    }
    old_turns = [fold(f"{s}: {t}") for s, t in old.get("turns") or []]
    new_turns = [fold(f"{s}: {t}") for s, t in new.get("turns") or []]
    if old_turns or new_turns:
        changes["turns"] = count_edits(old_turns, new_turns)
    return changes


def changed_fields(old: dict, old_text: str, new: dict, new_text: str) -> tuple[list, dict]:
    """The names of the fields that changed ("body" for the rest) and the body changes."""
    names = [n for n in COMPARED_FIELDS if fold(old.get(n)) != fold(new.get(n))]
    if "attachments" in changed_derived(old, new):
        names.append("attachments")
    body = body_changes(old, old_text, new, new_text)
    if any(any(counts.values()) for counts in body.values()):
        names.append("body")
    return names, body


@dataclass(frozen=True)
class Change:
    """How a version differs from its predecessor (none for a first version)."""

    fields: list[str]
    body: dict | None

    @classmethod
    def between(cls, old: _Versioned | None, new: _Versioned) -> Change:
        """``new``'s change from ``old`` (a Content or a stored version)."""
        if old is None:
            return cls([], None)
        return cls(*changed_fields(old.fields, old.text, new.fields, new.text))


# --------------------------------------------------------------------------- chains


@dataclass(frozen=True)
class Link(Generic[K]):
    """One version of a chain: the item it came from, its content, its change."""

    key: K
    content: Content
    change: Change


def link_chain(items: Iterable[tuple[K, Content]]) -> list[Link[K]]:
    """The version chain of contents taken in the order given: one link for each content
    that differs from the last one kept, its change counted against that one."""
    chain: list[Link[K]] = []
    for key, content in items:
        previous = chain[-1].content if chain else None
        if previous is not None and content.same_as(previous):
            continue
        chain.append(Link(key, content, Change.between(previous, content)))
    return chain
