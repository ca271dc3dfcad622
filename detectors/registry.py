"""The detector registry: every built-in detector, by name, listed here and nowhere else.

`DetectorSuite.from_config` builds detectors by name from `REGISTRY`; a detector class
that is not in `DETECTORS` cannot be enabled. The list is explicit on purpose (it used
to fill by side-effect imports, so a detector missing from the import list passed its
unit tests and failed in production); tests/unit/detectors/test_registry.py checks
that every `Detector` subclass defined in `detectors/` is listed.

Adding a detector: write the class in `detectors/<name>.py`, import it here and add it
to `DETECTORS`. Order does not matter: the suite orders by phase and `refine_order`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from detectors.amplification import AmplificationDetector
from detectors.base import Detector, DetectorConfigError
from detectors.burst import BurstDetector
from detectors.calendar import CalendarDetector
from detectors.claims import ClaimsDetector
from detectors.learned import LearnedDetector
from detectors.lookalike import LookalikeDetector
from detectors.narrative import NarrativeDetector
from detectors.reputation import ReputationDetector
from detectors.threat import ThreatDetector
from hybridwatch.events import describe_validation_error

DETECTORS: tuple[type[Detector], ...] = (
    AmplificationDetector,
    BurstDetector,
    CalendarDetector,
    ClaimsDetector,
    LearnedDetector,
    LookalikeDetector,
    NarrativeDetector,
    ReputationDetector,
    ThreatDetector,
)


def _by_name(classes: tuple[type[Detector], ...]) -> Mapping[str, type[Detector]]:
    out: dict[str, type[Detector]] = {}
    for cls in classes:
        if not cls.name:
            raise TypeError(f"{cls.__qualname__} needs a name")
        if cls.name in out:
            raise TypeError(
                f"detector name {cls.name!r} used by {out[cls.name].__qualname__} "
                f"and {cls.__qualname__}"
            )
        out[cls.name] = cls
    return MappingProxyType(out)


REGISTRY: Mapping[str, type[Detector]] = _by_name(DETECTORS)
"""Detector name -> class, read-only."""


def registry() -> Mapping[str, type[Detector]]:
    return REGISTRY


def build(name: str, options: Mapping[str, Any] | None = None) -> Detector:
    """The detector `name` with validated options; DetectorConfigError names the
    detector and the option (`detectors.options.<name>: ...`)."""
    cls = REGISTRY.get(name)
    if cls is None:
        known = ", ".join(sorted(REGISTRY)) or "none"
        raise DetectorConfigError(f"unknown detector {name!r} (known: {known})")
    if options is not None and not isinstance(options, Mapping):
        raise DetectorConfigError(
            f"detectors.options.{name}: expected a mapping of option: value, "
            f"got {type(options).__name__}"
        )
    try:
        opts = cls.Options.model_validate(dict(options or {}))
    except ValidationError as err:
        raise DetectorConfigError(
            f"detectors.options.{name}: {describe_validation_error(err)}"
        ) from err
    try:
        return cls(opts)
    except (ValueError, OSError) as err:  # a data file the options name cannot be used
        prefix = f"detectors.options.{name}"
        if str(err).startswith(prefix):
            raise
        raise DetectorConfigError(f"{prefix}: {err}") from err
