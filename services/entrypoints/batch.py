"""Turning loose JSON records into Articles for the batch commands (detect, eval).

The batch contract only requires `id`, `title` and `text`; everything else gets a
documented, deterministic default so the same file always gives the same result:

* `published`: the record's `published`, else its `date` (YYYY-MM-DD means
  midnight UTC), else 1970-01-01T00:00:00Z - never the current time;
* `fetched`: equal to `published`;
* `source`: the record's `source` object, else {"id": "batch", "country": C} where
  C is the record's `country`, else its first Western Balkans entry of
  `countries`, else "XX" (ISO's user-assigned "unknown");
* `countries`: ISO codes, or English country names of the region (Serbia, Kosovo,
  North Macedonia, ...) mapped to codes; other names are ignored;
* `language`: the record's `language` when it is a string, else "und".
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from hybridwatch.events import Article, describe_validation_error

EPOCH = "1970-01-01T00:00:00Z"
UNKNOWN_COUNTRY = "XX"
COUNTRY_NAMES = {
    "serbia": "RS",
    "kosovo": "XK",
    "montenegro": "ME",
    "bosnia and herzegovina": "BA",
    "bosnia": "BA",
    "north macedonia": "MK",
    "macedonia": "MK",
    "albania": "AL",
    "croatia": "HR",
}
ARTICLE_FIELDS = ("url", "published_estimated", "text_latn")


class RecordError(ValueError):
    """A record is not a usable article; the message names the field and the problem."""


def country_codes(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list | tuple):
        return ()
    out: list[str] = []
    for v in values:
        if not isinstance(v, str):
            continue
        code = v.strip().upper() if len(v.strip()) == 2 else COUNTRY_NAMES.get(v.strip().lower())
        if code and code.isalpha() and code not in out:
            out.append(code)
    return tuple(out)


def _time(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        return EPOCH
    v = value.strip()
    return f"{v}T00:00:00Z" if len(v) == 10 else v


def article_from_record(record: Any, *, title: str | None = None) -> Article:
    """Validate one batch record into an Article (see module docstring for defaults)."""
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    for key in ("id", "title", "text"):
        if key not in record:
            raise RecordError(f"missing required field {key!r}")
    if not isinstance(record["id"], str) or not record["id"]:
        raise RecordError("field 'id' must be a non-empty string")
    for key in ("title", "text"):
        if record[key] is not None and not isinstance(record[key], str):
            raise RecordError(f"field {key!r} must be a string")
    countries = country_codes(record.get("countries"))
    source = record.get("source")
    if not isinstance(source, dict):
        country = record.get("country")
        if not isinstance(country, str) or not country:
            country = countries[0] if countries else UNKNOWN_COUNTRY
        source = {"id": "batch", "country": country}
    published = _time(record.get("published") or record.get("date"))
    data: dict[str, Any] = {
        "id": record["id"],
        "title": (record["title"] or "") if title is None else title,
        "text": record["text"] or "",
        "published": published,
        "fetched": _time(record.get("fetched")) if record.get("fetched") else published,
        "language": record["language"] if isinstance(record.get("language"), str) else "und",
        "source": source,
        "countries": countries,
    }
    for key in ARTICLE_FIELDS:
        if record.get(key) is not None:  # null means "not given": keep the default
            data[key] = record[key]
    try:
        return Article.model_validate(data)
    except ValidationError as err:
        raise RecordError(describe_validation_error(err)) from err
