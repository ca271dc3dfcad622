"""One plain message instead of one warning per source when no source can be reached.

On a machine without internet access every bundled feed fails to resolve, and the
poller logs one warning per source (233 of them) and again at every retry. The
runner installs `OfflineNotice` on the poller's logger: it holds the per-source
failure warnings back until the first polling round is over, then

* if every source failed: drops them, prints ONE message saying so, with the
  commonest errors and the next step (`--demo`, `sources_file`,
  `ingest.allow_networks`), and keeps the repeats quiet until a source answers
  (`hybridwatch sources` and the live page still show every error);
* otherwise: lets the held warnings through, in order, and gets out of the way.
"""

from __future__ import annotations

import logging
import re
import sys
from collections import Counter
from typing import Any, Protocol, TextIO

POLLER_LOGGER = "ingest.poller"
FAILED_PREFIX = "source %s failed"


class _Report(Protocol):
    @property
    def sources_ok(self) -> int: ...

    @property
    def sources_failed(self) -> int: ...

    @property
    def outcomes(self) -> Any: ...


def _kind(error: str) -> str:
    """A short family of an error message, for the summary ("name resolution", ...)."""
    e = error.lower()
    if "name or service not known" in e or "resolve" in e or "nodename" in e or "getaddrinfo" in e:
        return "host name does not resolve"
    if "refused" in e or "cannot connect" in e or "connection attempts failed" in e:
        return "cannot connect"
    if "timed out" in e or "timeout" in e:
        return "timed out"
    if "ssrf" in e or "not allowed" in e or "private" in e or "blocked" in e:
        return "address refused by the SSRF guard"
    return re.sub(r"\s+", " ", error)[:80]


class OfflineNotice(logging.Filter):
    def __init__(self, sources: int, out: TextIO | None = None) -> None:
        super().__init__()
        self.sources = sources
        self.out = out
        self.held: list[logging.LogRecord] = []
        self.holding = True
        self.all_failing = False
        self.announced = False
        self._logger = logging.getLogger(POLLER_LOGGER)

    # -- logging.Filter ------------------------------------------------------------

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str) or not record.msg.startswith(FAILED_PREFIX):
            return True
        if self.holding:
            self.held.append(record)
            return False
        return not self.all_failing

    def install(self) -> OfflineNotice:
        self._logger.addFilter(self)
        return self

    def uninstall(self) -> None:
        self._logger.removeFilter(self)

    # -- Poller.on_round -----------------------------------------------------------

    def on_round(self, report: _Report) -> None:
        ok, failed = report.sources_ok, report.sources_failed
        if self.holding:
            self.holding = False
            held, self.held = self.held, []
            if ok == 0 and failed > 0 and failed >= self.sources:
                self.all_failing = True
                self._announce(report)
            else:
                for record in held:
                    for handler in self._handlers():
                        if record.levelno >= handler.level:
                            handler.handle(record)
            return
        if self.all_failing and ok > 0:
            self.all_failing = False
            print(
                f"hybridwatch: {ok} source(s) answered again; per-source errors are reported "
                "as usual from now on",
                file=self.out or sys.stderr,
            )

    def _handlers(self) -> list[logging.Handler]:
        logger: logging.Logger | None = self._logger
        found: list[logging.Handler] = []
        while logger is not None:
            found.extend(logger.handlers)
            if not logger.propagate:
                break
            logger = logger.parent
        return found

    def _announce(self, report: _Report) -> None:
        kinds: Counter[str] = Counter()
        for o in report.outcomes:
            error = getattr(o, "error", None)
            if error:
                kinds[_kind(str(error))] += 1
        common = ", ".join(f"{k}: {n}" for k, n in kinds.most_common(3))
        self.announced = True
        print(
            f"hybridwatch: all {report.sources_failed} sources failed on the first poll "
            f"({common}). This machine probably cannot reach them (no internet access?).\n"
            "  Next step, one of:\n"
            "    hybridwatch run --demo          see the product work on bundled synthetic "
            "data, no network needed (make demo)\n"
            "    sources_file: my-feeds.yaml     in hybridwatch.yaml: feeds you can reach "
            "(see hybridwatch.example.yaml)\n"
            "    ingest.allow_networks: [10.0.0.0/8]   if your feeds are on a private/local "
            "network (the SSRF guard refuses those by default)\n"
            "  Retries continue quietly; `hybridwatch sources` and the live page show each "
            "source's error.",
            file=self.out or sys.stderr,
            flush=True,
        )
