"""Importing this module registers every built-in detector."""

from detectors import (
    amplification,  # noqa: F401
    burst,  # noqa: F401
    calendar,  # noqa: F401
    claims,  # noqa: F401
    lookalike,  # noqa: F401
    narrative,  # noqa: F401
    reputation,  # noqa: F401
    threat,  # noqa: F401
)
