"""User-given times: RFC 3339 or a date; a date as upper bound covers the whole day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.api.timeparse import TimeParseError, parse_optional, parse_time


def test_rfc3339_with_z_offset_or_none_is_utc() -> None:
    assert parse_time("2018-09-30T12:00:00Z", name="since") == datetime(2018, 9, 30, 12, tzinfo=UTC)
    assert parse_time("2018-09-30T14:00:00+02:00", name="since") == datetime(
        2018, 9, 30, 12, tzinfo=UTC
    )
    assert parse_time("2018-09-30T12:00:00", name="since") == datetime(2018, 9, 30, 12, tzinfo=UTC)


def test_a_date_is_midnight_as_lower_bound_and_next_midnight_as_upper_bound() -> None:
    assert parse_time("2018-09-30", name="since") == datetime(2018, 9, 30, tzinfo=UTC)
    assert parse_time("2018-09-30", name="until", upper=True) == datetime(2018, 10, 1, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["yesterday", "2018-13-01", "30.09.2018", "2018-09-30T25:00Z"])
def test_bad_values_name_the_parameter(bad: str) -> None:
    with pytest.raises(TimeParseError, match=r"^--since: .* is not a time; use RFC 3339"):
        parse_time(bad, name="--since")


def test_missing_or_blank_is_no_bound() -> None:
    assert parse_optional(None, name="since") is None
    assert parse_optional("  ", name="since") is None
