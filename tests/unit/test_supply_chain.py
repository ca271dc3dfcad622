"""requirements.lock (deployments) agrees with pyproject.toml, and the libraries whose
APIs we lean on have lower and upper bounds (docs/security.md, "Supply chain")."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
BOUNDED = ("kafka-python", "faust-streaming", "httpx", "elasticsearch", "opensearch-py")


def _deps() -> list[Requirement]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [Requirement(d) for d in data["project"]["dependencies"]]


def _locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name)] = version.split(";")[0].strip()
    return pins


def test_every_dependency_is_pinned_in_the_lock_within_its_bounds() -> None:
    pins = _locked()
    for req in _deps():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} missing from requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {req.name}=={pins[name]}, outside pyproject's {req.specifier}"
        )


def test_libraries_we_lean_on_have_lower_and_upper_bounds() -> None:
    by_name = {canonicalize_name(r.name): r for r in _deps()}
    for lib in BOUNDED:
        spec = by_name[lib].specifier
        ops = {s.operator for s in spec}
        assert ops & {">=", "=="} and ops & {"<", "<=", "=="}, f"{lib}: {spec} needs both bounds"
    assert by_name["kafka-python"].specifier.contains("2.2.0")
    assert not by_name["kafka-python"].specifier.contains("2.1.0")


def _audit(monkeypatch: pytest.MonkeyPatch, report: dict[str, Any], strict: bool) -> int:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import audit_lock
    finally:
        sys.path.pop(0)

    def fake_run(*a: Any, **k: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(a, 0, json.dumps(report), "")

    monkeypatch.setattr(audit_lock.subprocess, "run", fake_run)
    monkeypatch.setenv("HW_AUDIT_STRICT", "1" if strict else "0")
    return int(audit_lock.main())


def test_audit_fails_on_a_known_vulnerability(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vuln = {"id": "PYSEC-0000-1", "fix_versions": ["9.9"]}
    report = {"dependencies": [{"name": "x", "version": "1.0", "vulns": [vuln]}]}
    assert _audit(monkeypatch, report, strict=False) == 1
    assert "VULNERABLE x==1.0: PYSEC-0000-1 (fixed in: 9.9)" in capsys.readouterr().out


def test_audit_says_loudly_when_packages_went_unaudited(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = {"dependencies": [{"name": "x", "skip_reason": "Dependency not found on PyPI"}]}
    assert _audit(monkeypatch, report, strict=False) == 0
    assert "AUDIT INCOMPLETE" in capsys.readouterr().err
    assert _audit(monkeypatch, report, strict=True) == 3
