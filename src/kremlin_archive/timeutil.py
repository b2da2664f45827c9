"""Timestamps, defined once: ISO-8601 UTC with a ``Z`` (``2020-08-27T16:09:44Z``).

Every stamp the archive stores, compares or prints is made by :func:`format_utc` (or
:func:`utc_now`) and read back by :func:`parse_utc`. Pure, bottom tier: imports nothing of
the project.
"""

from __future__ import annotations

from datetime import UTC, datetime

STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_clock() -> datetime:
    """Now, as an aware UTC datetime (the clock the service and the locks are given)."""
    return datetime.now(UTC)


def utc_now() -> str:
    """Now, as a stamp."""
    return format_utc(utc_clock())


def format_utc(moment: datetime) -> str:
    """``moment`` as a stamp, to the second; a naive datetime is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(STAMP_FORMAT)


def parse_utc(stamp: str | None) -> datetime | None:
    """An ISO-8601 stamp or day as an aware UTC datetime, by its offset (none, or a bare
    day, counts as UTC); None when it is not one."""
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # 9999-12-31T23:59:59-23:59 has no UTC time
        return None


def parse_moment(text: str, *, day_end: bool = False) -> datetime:
    """A date or datetime a user typed (ISO, UTC unless it names a zone) as an aware UTC
    datetime; a date alone is the start of that day, or its last second with ``day_end``.
    ValueError naming the text for anything else."""
    text = text.strip()
    moment = parse_utc(text)
    if moment is None:
        raise ValueError(f"not an ISO date or datetime (years 1 to 9999, in UTC): {text!r}")
    if len(text) == 10 and day_end:
        return moment.replace(hour=23, minute=59, second=59)
    return moment


def to_utc(stamp: str | None) -> str | None:
    """Any ISO-8601 stamp as a UTC stamp: ``2020-08-27T20:09:44+04:00`` ->
    ``2020-08-27T16:09:44Z``; None when it is not a timestamp."""
    moment = parse_utc(stamp)
    return format_utc(moment) if moment is not None else None


def stamp_key(stamp: str) -> str:
    """A key that orders stored stamps by time: the stamp in UTC to the second, whatever
    zone or fraction it was written with (``…16:00:00.123+00:00`` -> ``…16:00:00Z``);
    text that is no stamp is its own key."""
    return to_utc(stamp) or stamp
