"""Importing this module registers every built-in detector."""

from detectors import narrative  # noqa: F401
