"""The worker's Faust Worker keeps the root logger at the level asked for (quirk 9 in
docs/kafka.md): Faust's terminal spinner would set it to DEBUG, and every debug call of
Faust, aiokafka and ours would build a record only to drop it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import faust
import pytest

from services.worker.faust_adapter import faust_worker


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield root
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_worker_logging_set_up_at_warning_leaves_debug_off(root_logger: logging.Logger) -> None:
    app = faust.App("hw-test-logging", broker="kafka://127.0.0.1:9", web_enabled=False)
    worker = faust_worker(app, "warning")
    worker._setup_logging()  # what Worker.execute_from_commandline does first
    assert root_logger.level == logging.WARNING
    assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("faust.topics").isEnabledFor(logging.DEBUG)


def test_faust_itself_would_have_set_the_root_logger_to_debug(root_logger: logging.Logger) -> None:
    """The behaviour the adapter works around, so the test above cannot pass vacuously."""
    from faust.worker import Worker

    app = faust.App("hw-test-logging-2", broker="kafka://127.0.0.1:9", web_enabled=False)
    worker = Worker(app, loglevel="warning", redirect_stdouts=False, quiet=True)
    worker._setup_logging()
    assert root_logger.level == logging.DEBUG
