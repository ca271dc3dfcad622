"""Checks shared by the compose and Helm tests: a container's command is a real
`hybridwatch` command line, and the HW_* variables it sets are real settings."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence

from hybridwatch.config import ConfigError, load_settings
from services.entrypoints.cli import build_parser


def command_problem(args: Sequence[str]) -> str | None:
    """None when the hybridwatch CLI parses `args`, else argparse's message."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            build_parser().parse_args(list(args))
    except SystemExit as exit_:
        return f"{list(args)}: exit {exit_.code}: {err.getvalue().strip()}"
    return None


def settings_problem(env: Mapping[str, str]) -> str | None:
    """None when the HW_* variables of `env` load as Settings (unknown keys are errors)."""
    hw = {k: str(v) for k, v in env.items() if k.startswith("HW_")}
    try:
        load_settings(None, environ=hw)
    except ConfigError as err:
        return str(err)
    return None
