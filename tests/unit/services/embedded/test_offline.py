"""OfflineNotice: one message when every source fails the first round, else the usual warnings."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field

import pytest

from services.embedded.offline import POLLER_LOGGER, OfflineNotice


@dataclass
class Outcome:
    source_id: str
    error: str | None = None


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def sources_ok(self) -> int:
        return sum(1 for o in self.outcomes if o.error is None)

    @property
    def sources_failed(self) -> int:
        return sum(1 for o in self.outcomes if o.error is not None)


def _fail(sid: str, error: str) -> None:
    logging.getLogger(POLLER_LOGGER).warning("source %s failed (%d in a row): %s", sid, 1, error)


@pytest.fixture
def notice() -> tuple[OfflineNotice, io.StringIO]:
    out = io.StringIO()
    n = OfflineNotice(3, out).install()
    yield n, out
    n.uninstall()


def test_every_source_failing_gives_one_message_and_quiet_retries(
    notice: tuple[OfflineNotice, io.StringIO], caplog: pytest.LogCaptureFixture
) -> None:
    n, out = notice
    with caplog.at_level(logging.WARNING, logger=POLLER_LOGGER):
        for i in range(3):
            _fail(f"s{i}", "cannot resolve feeds.example: Name or service not known")
        n.on_round(Report([Outcome(f"s{i}", "Name or service not known") for i in range(3)]))
        _fail("s0", "Name or service not known")  # a retry
    assert caplog.records == []
    text = out.getvalue()
    assert text.count("all 3 sources failed on the first poll") == 1
    assert "host name does not resolve: 3" in text
    n.on_round(Report([Outcome("s0")]))
    assert "answered again" in out.getvalue()


def test_some_sources_failing_lets_the_held_warnings_through_in_order(
    notice: tuple[OfflineNotice, io.StringIO], caplog: pytest.LogCaptureFixture
) -> None:
    n, out = notice
    with caplog.at_level(logging.WARNING, logger=POLLER_LOGGER):
        _fail("s1", "HTTP 500")
        _fail("s2", "timed out")
        assert caplog.records == []  # held until the round is over
        n.on_round(Report([Outcome("s0"), Outcome("s1", "HTTP 500"), Outcome("s2", "timed out")]))
        _fail("s1", "HTTP 500")
    assert [r.getMessage().split(" failed")[0] for r in caplog.records] == [
        "source s1",
        "source s2",
        "source s1",
    ]
    assert out.getvalue() == ""
