"""Test tooling the deploy tests run: Debian's promtool and docker-compose (`make ops-tools`)."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"


def require(tool: str) -> str:
    """The tool's path; fail (never skip) with how to install it."""
    path = shutil.which(tool)
    if path is None:
        raise AssertionError(f"{tool} is not installed: run `make ops-tools` (apt-get)")
    return path
