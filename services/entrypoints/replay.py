"""`hybridwatch replay`: archived articles, in event-time order, through the pipeline again.

    hybridwatch replay --since 2018-09-01 --until 2018-10-15            # -> Kafka or embedded
    hybridwatch replay --to embedded --since 2018-09-29 --until 2018-10-01
    hybridwatch replay --to kafka --rate 500                            # articles per second

By default a replay is isolated (`--target isolated`, services/replay): it writes
into a namespace of its own, named after the window (`--name` to choose), with fresh
detector state, and pages nobody - `<data_dir>/replays/<name>` for `--to embedded`,
the topics `<prefix>replay.<name>.*` for `--to kafka` (it prints the HW_* variables
that point a worker and an indexer at them). `--target live` re-publishes to
hw.articles / runs on the configured data_dir, through the live detector state, with
the `hw-replay` header / replay alerts. The default of `--to` is kafka when
kafka.bootstrap is set, else embedded. Ids come from content and windows from event time, and the
archive yields each day in (published, id) order, so a replay gives the same signals
every time. Progress goes to stderr; a summary JSON line to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import services.replay as namespaces
from hybridwatch.config import Settings
from hybridwatch.events import Article
from services.entrypoints.bootstrap import (
    build_replay_pipeline,
    kafka_publisher,
    open_archive,
    release_heap,
    require_kafka,
    settle_heap,
)

BATCH = 200


def _batches(articles: Iterator[Article], size: int) -> Iterator[list[Article]]:
    batch: list[Article] = []
    for a in articles:
        batch.append(a)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Pacer:
    """Progress lines and an optional articles-per-second cap."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        progress: Any = None,
    ) -> None:
        self.rate = rate
        self.progress = progress
        """services.progress.Progress: the bar on a terminal, the summary line at the end."""
        self._clock = clock
        self._sleep = sleep
        self.started = clock()
        self.last_report = self.started
        self.done = 0

    def after(self, batch: list[Article]) -> None:
        self.done += len(batch)
        now = self._clock()
        if self.rate > 0:
            ahead = self.done / self.rate - (now - self.started)
            if ahead > 0:
                self._sleep(ahead)
                now = self._clock()
        if self.progress is not None:
            self.progress.advance(len(batch), note=f"up to {batch[-1].published.date()}")


def _to_kafka(settings: Settings, articles: Iterator[Article], pacer: _Pacer) -> dict[str, Any]:
    publisher = kafka_publisher(settings, "replay --to kafka")
    try:
        for batch in _batches(articles, BATCH):
            publisher.publish_sync(batch, replay=True)
            pacer.after(batch)
    finally:
        publisher.close()
    return {"published": pacer.done}


def _to_embedded(settings: Settings, articles: Iterator[Article], pacer: _Pacer) -> dict[str, Any]:
    role = build_replay_pipeline(settings)
    settle_heap()
    pipeline = role.pipeline

    async def go() -> None:
        await pipeline.start()
        try:
            for batch in _batches(articles, BATCH):
                await pipeline.publish(batch)
                pacer.after(batch)
        finally:
            await pipeline.drain_and_stop()

    try:
        asyncio.run(go())
        stats = pipeline.stats
        return {"signals": stats.signals, "flagged": stats.flagged, "alerts_new": stats.alerts_new}
    finally:
        release_heap()
        role.close()


def main(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.archive import parse_day

    try:
        since: date | None = parse_day(args.since) if args.since else None
        until: date | None = parse_day(args.until) if args.until else None
    except ValueError as err:
        print(f"hybridwatch replay: {err}", file=sys.stderr)
        return 2
    if since and until and since > until:
        print(f"hybridwatch replay: --since {since} is after --until {until}", file=sys.stderr)
        return 2
    target = args.to or ("kafka" if settings.kafka.bootstrap else "embedded")
    if target == "kafka":
        require_kafka(settings, "replay --to kafka")
    from_kafka = getattr(args, "source", "archive") == "kafka"
    if from_kafka:
        require_kafka(settings, "replay --source kafka")
    elif not (settings.archive_dir / "articles").is_dir():
        print(f"hybridwatch replay: no archive in {settings.archive_dir}", file=sys.stderr)
        return 1
    isolated = getattr(args, "target", "isolated") != "live"
    name = namespaces.check_name(args.name) if getattr(args, "name", None) else None
    name = name or namespaces.default_name(since, until)
    where: dict[str, Any]
    if not isolated:
        run_settings = settings
        where = {"namespace": "live"}
    elif target == "kafka":
        from services.kafka.admin import ensure_topics

        run_settings = namespaces.kafka_namespace(settings, name)
        ensure_topics(run_settings.kafka)
        where = {"namespace": name, "topic_prefix": run_settings.kafka.topic_prefix}
    else:
        run_settings = namespaces.embedded_namespace(settings, name)
        namespaces.reset(Path(run_settings.data_dir))
        where = {"namespace": name, "data_dir": str(run_settings.data_dir)}
    with contextlib.ExitStack() as cleanup:
        if from_kafka:
            archive, source, read = _from_kafka(settings, since, until, cleanup)
            where["source"] = read
        else:
            archive, source = open_archive(settings), str(settings.archive_dir)
        return _replay(
            args, archive, source, run_settings, target, isolated, name, since, until, where
        )


def _from_kafka(
    settings: Settings, since: date | None, until: date | None, cleanup: contextlib.ExitStack
) -> tuple[Any, str, dict[str, Any]]:
    """The window's articles from the live articles topic, in a temporary archive."""
    from ingest.archive import Archive
    from services.progress import Progress
    from services.replay.kafka_source import collect

    tmp = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="hw-replay-kafka-")))
    archive = Archive(tmp)
    reading = Progress("replay: reading kafka", unit="records")
    try:
        got = collect(settings, since, until, archive, reading)
    except BaseException:
        archive.close()
        raise
    reading.finish(f"{got.records:,} records of {got.topic}, {got.in_window:,} in the window")
    for problem in got.problems:
        print(f"hybridwatch replay: {problem}", file=sys.stderr)
    read = {"kafka": got.topic, "records": got.records, "in_window": got.in_window}
    return archive, f"{got.topic} (by time)", read


def _replay(
    args: argparse.Namespace,
    archive: Any,
    source: str,
    run_settings: Settings,
    target: str,
    isolated: bool,
    name: str,
    since: date | None,
    until: date | None,
    where: dict[str, Any],
) -> int:
    from ingest.archive import ReadReport
    from services.progress import Progress

    report = ReadReport()
    progress = Progress("replay", total=archive.count(since, until))
    pacer = _Pacer(args.rate, progress=progress)
    print(f"replay: {source} -> {target} ({'live' if not isolated else name})", file=sys.stderr)
    try:
        articles = archive.read(since, until, report)
        extra = (
            _to_kafka(run_settings, articles, pacer)
            if target == "kafka"
            else _to_embedded(run_settings, articles, pacer)
        )
    finally:
        archive.close()
    if isolated and target == "kafka":
        env = " ".join(f"{k}={v}" for k, v in namespaces.namespace_env(run_settings).items())
        print(
            f"replay: detect and index the namespace with\n  {env} hybridwatch worker\n"
            f"  {env} hybridwatch indexer",
            file=sys.stderr,
        )
    progress.finish(f"{pacer.done:,} articles of {report.files} day(s)")
    for problem in report.problems:
        print(f"hybridwatch replay: {problem}", file=sys.stderr)
    summary = {
        "target": target,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "days": report.files,
        "articles": report.articles,
        "repeats_dropped": report.repeats,
        "problems": len(report.problems),
        **where,
        **extra,
    }
    print(f"replay: {json.dumps(summary, sort_keys=True)}", flush=True)
    return 0
