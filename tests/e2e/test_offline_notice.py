"""When every source fails the first poll, `hybridwatch run` says so once, with the next step.

Real processes; the sources point at host names that do not resolve (`.invalid`) and
at local ports nobody listens on, which is what a machine without internet access
sees. Instead of one warning per source, one message names the next step.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.embedded_support import HYBRIDWATCH, clean_env, cli, free_port

pytestmark = pytest.mark.e2e

SOURCES = 12


def _closed_port() -> int:
    """A local port with nothing listening (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path) -> Path:
    sources = []
    for i in range(SOURCES):
        url = (
            f"http://feeds-{i}.hybridwatch-offline.invalid/rss.xml"
            if i % 2
            else f"http://127.0.0.1:{_closed_port()}/rss.xml"
        )
        sources.append(
            {
                "id": f"unreachable-{i}",
                "outlet": f"Unreachable {i}",
                "country": "MK",
                "feed_url": url,
            }
        )
    config = {
        "data_dir": str(tmp_path / "data"),
        "sources": sources,
        "ingest": {"allow_networks": ["127.0.0.0/8"], "politeness_delay": 0, "connect_timeout": 2},
        "api": {"host": "127.0.0.1", "port": free_port()},
        "detectors": {"enabled": ["narrative"]},  # nothing is detected here; start fast
    }
    path = tmp_path / "hybridwatch.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _assert_one_notice(output: str) -> None:
    assert output.count(f"all {SOURCES} sources failed on the first poll") == 1, output
    assert "hybridwatch run --demo" in output
    assert "sources_file" in output
    assert "ingest.allow_networks" in output
    assert "host name does not resolve" in output
    assert "cannot connect" in output
    per_source = [line for line in output.splitlines() if "source unreachable-" in line]
    assert per_source == [], per_source


def test_run_says_once_that_every_source_fails_and_names_the_next_step(tmp_path: Path) -> None:
    config = _config(tmp_path)
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*HYBRIDWATCH, "run", "--config", str(config)],
            cwd=tmp_path,
            env=clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while "failed on the first poll" not in log_path.read_text():
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            time.sleep(3)  # retries keep failing; they must stay quiet
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    _assert_one_notice(log_path.read_text())


def test_run_once_prints_the_notice_instead_of_one_error_per_source(tmp_path: Path) -> None:
    done = cli("run", "--once", "--config", str(_config(tmp_path)), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _assert_one_notice(done.stderr)
