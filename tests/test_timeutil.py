"""Timestamps: one format (ISO-8601 UTC with a Z), read back whatever zone they were given in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kremlin_archive.timeutil import format_utc, parse_moment, parse_utc, stamp_key, to_utc

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_stamps_parse_as_utc():
    assert parse_utc("2024-05-01T15:00:00+03:00") == NOW
    assert parse_utc("2024-05-01T12:00:00Z") == NOW
    assert parse_utc("2024-05-01") == NOW.replace(hour=0)
    assert parse_utc("soon") is None
    assert parse_utc(None) is None


def test_a_moment_is_written_in_utc_to_the_second():
    moscow = timezone(timedelta(hours=3))
    assert format_utc(datetime(2024, 5, 1, 15, 0, 0, 999, tzinfo=moscow)) == "2024-05-01T12:00:00Z"
    assert format_utc(datetime(2024, 5, 1, 12, 0)) == "2024-05-01T12:00:00Z"  # naive is UTC


def test_times_convert_to_utc_by_the_given_offset():
    assert to_utc("2020-08-27T20:09:44+04:00") == "2020-08-27T16:09:44Z"
    assert to_utc("2020-01-01T02:00:00+04:00") == "2019-12-31T22:00:00Z"
    assert to_utc("not a time") is None


def test_stamps_of_one_moment_written_differently_order_as_one():
    same = ["2020-08-27T16:00:00Z", "2020-08-27T16:00:00.123+00:00", "2020-08-27T19:00:00+03:00"]
    assert {stamp_key(s) for s in same} == {"2020-08-27T16:00:00Z"}
    assert stamp_key("2020-08-27T15:59:59Z") < stamp_key("2020-08-27T16:00:00+00:00")


@pytest.mark.parametrize(
    "stamp", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "2020-13-01T00:00:00"]
)
def test_a_stamp_with_no_utc_time_is_no_stamp(stamp):
    assert to_utc(stamp) is None


def test_a_typed_moment_is_utc_unless_it_names_a_zone_and_a_day_starts_or_ends():
    assert parse_moment("2024-05-01T15:00+03:00") == NOW
    assert parse_moment(" 2024-05-01T12:00 ") == NOW
    assert parse_moment("2024-05-01") == NOW.replace(hour=0)
    assert parse_moment("2024-05-01", day_end=True) == NOW.replace(hour=23, minute=59, second=59)
    with pytest.raises(ValueError, match=r"not an ISO date or datetime .*: 'soon'"):
        parse_moment("soon")
