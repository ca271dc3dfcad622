"""Loaders for the stateful detectors' data files: watch-list, reputable outlets, calendar.

The files live in detectors/data/ and are read once, when a detector is built
(never per article), so detectors stay free of I/O while they run. Each file is
validated with a pydantic model; a bad file raises DataFileError naming the file,
the entry index and the field, so whoever edits the YAML sees what to fix.
Adding an outlet or an event is a data change, never a code change.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hybridwatch.events import describe_validation_error

DATA_DIR = Path(__file__).resolve().parent / "data"
WATCHLIST_FILE = DATA_DIR / "watchlist.yaml"
REPUTABLE_FILE = DATA_DIR / "reputable-domains.yaml"
CALENDAR_FILE = DATA_DIR / "calendar.yaml"


class DataFileError(ValueError):
    """A data file is missing, is not YAML, or an entry breaks the schema."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _domain(value: str) -> str:
    v = value.strip().lower().rstrip(".")
    if not v or "/" in v or " " in v or "." not in v:
        raise ValueError(f"domain must be a bare host name such as example.rs, got {value!r}")
    return v


class Listing(_Model):
    """One reason an outlet is on the watch-list, with where it comes from."""

    name: str = Field(min_length=1)
    """The outlet's name as the source spells it."""
    reason: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    cases: int = Field(default=0, ge=0)
    """Number of EUvsDisinfo cases naming the outlet (0 for non-case listings)."""


class WatchlistEntry(_Model):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9.-]*$")
    outlet: str = Field(min_length=1)
    domains: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    """Outlet names matched (folded, whole string) when an article carries no domain match."""
    country: str | None = None
    category: Literal["state-affiliated", "case-listed"]
    listings: tuple[Listing, ...] = Field(min_length=1)

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_domain(d) for d in value)

    @property
    def max_cases(self) -> int:
        return max(listing.cases for listing in self.listings)


class Watchlist(_Model):
    version: int = 1
    note: str = ""
    entries: tuple[WatchlistEntry, ...]

    @field_validator("entries")
    @classmethod
    def _unique(cls, value: tuple[WatchlistEntry, ...]) -> tuple[WatchlistEntry, ...]:
        seen: set[str] = set()
        for e in value:
            if e.id in seen:
                raise ValueError(f"duplicate watch-list id {e.id!r}")
            seen.add(e.id)
        return value


class ReputableOutlet(_Model):
    brand: str = Field(min_length=2, pattern=r"^[a-z0-9-]+$")
    """The registrable label impersonators copy (bbc, reuters, n1info)."""
    name: str = Field(min_length=1)
    domains: tuple[str, ...] = Field(min_length=1)

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_domain(d) for d in value)


class ReputableDomains(_Model):
    version: int = 1
    note: str = ""
    outlets: tuple[ReputableOutlet, ...] = Field(min_length=1)
    known_distinct: tuple[str, ...] = ()
    """Real, unrelated domains that happen to look like a reputable one (rtv.rs vs rts.rs)."""

    @field_validator("known_distinct")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_domain(d) for d in value)


class CalendarEvent(_Model):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1)
    date: dt.date
    end_date: dt.date | None = None
    """Last day of a multi-day event; `date` is the first."""
    countries: tuple[str, ...] = Field(min_length=1)
    narratives: tuple[str, ...] = ()
    """Narrative ids the event makes more sensitive; empty means every narrative."""
    days_before: int = Field(default=14, ge=0, le=365)
    days_after: int = Field(default=7, ge=0, le=365)
    source: str = Field(min_length=1)
    """Where the date is documented, so anyone can check it."""

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for c in value:
            v = c.strip().upper()
            if len(v) != 2 or not v.isalpha():
                raise ValueError(f"country must be an ISO 3166-1 alpha-2 code, got {c!r}")
            out.append(v)
        return tuple(out)

    @property
    def last_day(self) -> dt.date:
        return self.end_date or self.date


class Calendar(_Model):
    version: int = 1
    note: str = ""
    events: tuple[CalendarEvent, ...]

    @field_validator("events")
    @classmethod
    def _unique(cls, value: tuple[CalendarEvent, ...]) -> tuple[CalendarEvent, ...]:
        seen: set[str] = set()
        for e in value:
            if e.id in seen:
                raise ValueError(f"duplicate event id {e.id!r}")
            if e.end_date is not None and e.end_date < e.date:
                raise ValueError(f"event {e.id!r}: end_date is before date")
            seen.add(e.id)
        return value


M = TypeVar("M", bound=BaseModel)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise DataFileError(f"{path}: cannot read data file ({err.strerror or err})") from err
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise DataFileError(f"{path}: not valid YAML: {err}") from err


def load_model(model: type[M], path: Path) -> M:
    """Read and validate one data file; errors name the file and the failing entry."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise DataFileError(f"{path}: expected a mapping at the top level")
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise DataFileError(f"{path}: {describe_validation_error(err)}") from err


def load_watchlist(path: str | Path | None = None) -> Watchlist:
    return load_model(Watchlist, Path(path) if path else WATCHLIST_FILE)


def load_reputable(path: str | Path | None = None) -> ReputableDomains:
    return load_model(ReputableDomains, Path(path) if path else REPUTABLE_FILE)


def load_calendar(path: str | Path | None = None) -> Calendar:
    return load_model(Calendar, Path(path) if path else CALENDAR_FILE)
