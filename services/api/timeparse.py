"""Parsing of user-given times (API query parameters and CLI flags).

Accepted: RFC 3339 (`2018-09-30T12:00:00Z`, offsets allowed; no offset means UTC) or a
bare date `YYYY-MM-DD`. A bare date as an *upper* bound means the end of that day, so
`--since 2018-09-30 --until 2018-09-30` is the whole of that day (store windows are
half-open: since <= t < until).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class TimeParseError(ValueError):
    pass


def parse_time(value: str, *, name: str, upper: bool = False) -> datetime:
    raw = value.strip()
    try:
        if _DATE.match(raw):
            d = date.fromisoformat(raw)
            start = datetime(d.year, d.month, d.day, tzinfo=UTC)
            return start + timedelta(days=1) if upper else start
        dt = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise TimeParseError(
            f"{name}: {value!r} is not a time; use RFC 3339 (2018-09-30T12:00:00Z) or a date (2018-09-30)"
        ) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def parse_optional(value: str | None, *, name: str, upper: bool = False) -> datetime | None:
    if value is None or not value.strip():
        return None
    return parse_time(value, name=name, upper=upper)
