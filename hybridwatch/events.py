"""Event contracts shared by every part of hybridwatch (see DESIGN.md).

Events are immutable, validated pydantic models. Every id is derived from the
event's identity (never from processing time) so that re-processing and replay
are idempotent end to end: the same input yields the same ids in every runtime.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

SCHEMA_VERSION = 1

WESTERN_BALKANS = ("RS", "MK", "BA", "XK", "ME", "AL", "HR")
"""ISO 3166-1 alpha-2 codes we watch (XK is the user-assigned code for Kosovo)."""

Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def sha256_hex(*parts: str) -> str:
    """Stable content hash of the given parts (unit-separator joined)."""
    h = hashlib.sha256()
    h.update("\x1f".join(parts).encode("utf-8"))
    return h.hexdigest()


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _country(value: str) -> str:
    v = value.strip().upper()
    if len(v) != 2 or not v.isalpha():
        raise ValueError(
            f"country must be an ISO 3166-1 alpha-2 code such as RS or MK, got {value!r}"
        )
    return v


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
CountryCode = Annotated[str, AfterValidator(_country)]


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a trailing Z, the only time format on the wire."""
    return _utc(value).isoformat().replace("+00:00", "Z")


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    def to_json(self) -> str:
        return self.model_dump_json()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.model_dump_json())
        return data


class Source(_Event):
    id: str = Field(min_length=1)
    outlet: str = ""
    domain: str = ""
    country: CountryCode
    tags: tuple[str, ...] = ()


class Article(_Event):
    """A normalised news item. `id` is sha256 of the canonical URL, else of the feed GUID."""

    schema_version: int = SCHEMA_VERSION
    id: str = Field(min_length=1)
    url: str = ""
    title: str = ""
    text: str = ""
    published: UtcDatetime
    published_estimated: bool = False
    """True when the feed gave no usable date and `published` is the fetch time."""
    fetched: UtcDatetime
    language: str = "und"
    source: Source
    countries: tuple[str, ...] = ()
    text_latn: str = ""

    @staticmethod
    def make_id(canonical_url: str | None, guid: str | None = None) -> str:
        if canonical_url:
            return sha256_hex("url", canonical_url)
        if guid:
            return sha256_hex("guid", guid)
        raise ValueError("an article needs a canonical URL or a feed GUID to derive its id")

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted({_country(c) for c in value}))


class Evidence(_Event):
    """A span of the article that made a detector fire; `text == article.<field>[start:end]`."""

    field: Literal["title", "text", "url"]
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    rule: str


class Signal(_Event):
    schema_version: int = SCHEMA_VERSION
    id: str
    article_id: str
    detector: str
    country: CountryCode
    narrative: str | None = None
    severity: Severity
    score: float = Field(ge=0.0, le=1.0)
    evidence: tuple[Evidence, ...] = ()
    event_time: UtcDatetime
    details: dict[str, Any] = Field(default_factory=dict)

    @staticmethod
    def make_id(article_id: str, detector: str, narrative: str | None, key: str = "") -> str:
        return sha256_hex("signal", article_id, detector, narrative or "", key)


class Alert(_Event):
    schema_version: int = SCHEMA_VERSION
    id: str
    subscription_id: str
    signals: tuple[str, ...]
    country: CountryCode
    severity: Severity
    summary: str
    event_time: UtcDatetime
    replay: bool = False

    @staticmethod
    def make_id(subscription_id: str, signal_ids: tuple[str, ...]) -> str:
        return sha256_hex("alert", subscription_id, *sorted(signal_ids))


class ContractError(ValueError):
    """Raised when bytes on the wire are not a valid event; the message is readable."""


def describe_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<root>"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


E = TypeVar("E", bound=_Event)


def decode(model: type[E], raw: bytes | str) -> E:
    """Parse and validate one event, raising ContractError with a readable reason."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as err:
        raise ContractError(f"invalid {model.__name__}: {describe_validation_error(err)}") from err


def json_schemas() -> dict[str, Any]:
    return {m.__name__: m.model_json_schema() for m in (Article, Signal, Alert)}
