"""bootstrap.wait_for_engine: a role started while its search engine is unreachable waits
for it (bounded, with back-off) instead of exiting at once; configuration errors are not
waited on. The indexer gives up after indexer.startup_wait with one line and status 1."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hybridwatch.config import ConfigError
from services.entrypoints.bootstrap import wait_for_engine
from services.entrypoints.cli import main
from services.retry import Backoff
from services.store.engine_client import EngineRefused, EngineUnavailable


class Clock:
    """A fake monotonic clock that `sleep` advances (no real waiting in unit tests)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_an_engine_that_comes_up_is_opened_after_backing_off() -> None:
    clock = Clock()
    calls: list[float] = []

    def open_store() -> str:
        calls.append(clock.now)
        if len(calls) < 4:
            raise EngineUnavailable("search engine at http://e:9200 is not reachable")
        return "store"

    got = wait_for_engine(
        open_store, "http://e:9200", "the indexer", 300, Backoff(1.0, 30), clock.sleep, clock
    )
    assert got == "store"
    assert clock.sleeps == [1.0, 2.0, 4.0]  # exponential back-off between attempts
    assert len(calls) == 4


def test_it_gives_up_after_the_wait_naming_the_role_and_the_attempts() -> None:
    clock = Clock()

    def never() -> str:
        raise EngineUnavailable("search engine at http://e:9200 is not reachable")

    with pytest.raises(
        EngineUnavailable, match=r"the indexer gave up after waiting 10 s \(\d+ attempts\)"
    ):
        wait_for_engine(
            never, "http://e:9200", "the indexer", 10, Backoff(1.0, 30), clock.sleep, clock
        )
    assert clock.now == pytest.approx(10.0)  # the last pause is cut to the deadline
    assert max(clock.sleeps) <= 10


def test_zero_wait_gives_up_at_once() -> None:
    clock = Clock()

    def never() -> str:
        raise EngineUnavailable("down")

    with pytest.raises(EngineUnavailable, match=r"after waiting 0 s \(1 attempt\)"):
        wait_for_engine(never, "u", "the indexer", 0, Backoff(1.0, 30), clock.sleep, clock)
    assert clock.sleeps == []


def test_refused_credentials_are_not_waited_on() -> None:
    clock = Clock()

    def refused() -> str:
        raise EngineRefused("search engine at u refused the credentials (HTTP 401 to GET /)", 401)

    with pytest.raises(ConfigError, match="refused the credentials"):
        wait_for_engine(refused, "u", "the indexer", 300, Backoff(1.0, 30), clock.sleep, clock)
    assert clock.sleeps == []


def test_the_indexer_against_an_unreachable_engine_exits_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "hw.yaml"
    cfg.write_text(
        f"data_dir: {tmp_path}\n"
        "kafka: {bootstrap: '127.0.0.1:9'}\n"
        f"store: {{kind: opensearch, url: 'http://127.0.0.1:{port}'}}\n"
        "indexer: {startup_wait: 0}\n",
        encoding="utf-8",
    )
    assert main(["indexer", "--once", "--config", str(cfg)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]]  # one line, no traceback
    assert f"127.0.0.1:{port} is not reachable" in err[0]
    assert "the indexer gave up after waiting 0 s" in err[0]
