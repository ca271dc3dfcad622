"""A real Prometheus server for tests: the `prometheus` binary on 127.0.0.1 with a config
and a TSDB in a temp dir (never the system service), and the hybridwatch processes it
scrapes, each a real `python -m services.entrypoints.cli ROLE` subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.fixtures.kafka import clean_env

ROOT = Path(__file__).resolve().parents[3]


class Role:
    """`hybridwatch ROLE --config CFG` in a subprocess, its output in a log file."""

    def __init__(self, role: str, config: Path, log: Path, *args: str) -> None:
        self.role = role
        self.log = log
        self.cmd = [
            sys.executable,
            "-m",
            "services.entrypoints.cli",
            role,
            "--config",
            str(config),
            *args,
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Role:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.cmd, cwd=ROOT, env=clean_env(), stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return f"--- {self.role} ({self.log}):\n" + "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class Prometheus:
    """`prometheus` scraping `targets` ({job: "127.0.0.1:port"}) every second, with the
    repository's rules loaded."""

    def __init__(self, directory: Path, port: int, targets: dict[str, str], rules: Path) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise AssertionError("prometheus is not installed: run `make ops-tools` (apt-get)")
        directory.mkdir(parents=True, exist_ok=True)
        self.url = f"http://127.0.0.1:{port}"
        self.log = directory / "prometheus.log"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [target]}]}
                for job, target in targets.items()
            ],
        }
        cfg = directory / "prometheus.yml"
        cfg.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.cmd = [
            binary,
            f"--config.file={cfg}",
            f"--storage.tsdb.path={directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Prometheus:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT)
        wait_for(lambda: self._ready(), timeout, "Prometheus to be ready", [self.tail])
        return self

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def api(self, path: str, **params: str) -> Any:
        r = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = r.json()
        assert body.get("status") == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def targets(self) -> dict[str, str]:
        return {t["labels"]["job"]: t["health"] for t in self.api("targets")["activeTargets"]}

    def tail(self) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "--- prometheus:\n" + "\n".join(text.splitlines()[-20:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def wait_for(
    pred: Callable[[], bool],
    timeout: float,
    what: str,
    diagnostics: Sequence[Callable[[], str]] = (),
    roles: Sequence[Role] = (),
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        dead = [r for r in roles if not r.alive()]
        if dead:
            raise AssertionError(
                f"{', '.join(r.role for r in dead)} exited while waiting for {what}:\n"
                + "\n".join(r.tail() for r in dead)
            )
        time.sleep(1)
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what}\n"
        + "\n".join(d() for d in diagnostics)
        + "\n".join(r.tail(15) for r in roles)
    )
