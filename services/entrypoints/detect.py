"""`hybridwatch detect`: JSONL articles in, one JSONL result per input line out.

The batch contract (DESIGN.md): each input line is an Article (only `id`, `title`
and `text` required; defaults in services/entrypoints/batch.py); each output line
is {"article_id", "flagged", "risk", "signals"} in input order. A malformed line
is reported on stderr with its line number and written as {"line": N, "error": ...}
so output line N always answers input line N; the run goes on. An article the
detectors fail on is handled by the batch step every runtime shares
(services/pipeline/step.py): it changes no detector state, and is reported like a
malformed line, as {"line": N, "article_id": ..., "error": "detector-error: ..."}
(the Kafka worker's dead letter, the embedded runtime's dead-letter table). The exit
status is 0 unless the input (or output) cannot be opened. Stateful detectors share
one state for the whole run, so the file is processed like a replayed stream.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any

from detectors.pipeline import DetectorSuite
from hybridwatch.config import Settings
from hybridwatch.events import Article
from services.entrypoints.batch import RecordError, article_from_record
from services.entrypoints.bootstrap import build_suite, release_heap, settle_heap
from services.pipeline.step import ArticleFailure, run_batch
from services.progress import Progress


def _open_in(path: str, stack: ExitStack) -> IO[str]:
    if path == "-":
        return sys.stdin
    return stack.enter_context(open(path, encoding="utf-8"))


def _open_out(path: str, stack: ExitStack) -> IO[str]:
    if path == "-":
        return sys.stdout
    return stack.enter_context(open(path, "w", encoding="utf-8"))


DEFAULT_BATCH = 256
"""Articles handed to the suite at once: state-free detectors run over a batch
detector by detector (detectors/pipeline.py), ~40 % more articles per second than
one at a time on bench/detect_bench.py; results are identical either way."""


@dataclass
class Counts:
    articles: int = 0
    """Lines that were articles (the detectors ran, or failed, on them)."""
    malformed: int = 0
    failed: int = 0
    """Articles the detectors raised on (reported, no state change kept)."""


def _line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False) + "\n"


def run(
    lines: IO[str],
    out: IO[str],
    err: IO[str],
    suite: DetectorSuite,
    batch: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> Counts:
    """Process every line and write one output line each, in input order.

    Results are written a batch at a time (`batch` 1: each line's answer as soon as it
    is read, for interactive pipes).
    """
    state: dict[str, Any] = {}
    counts = Counts()
    pending: list[tuple[int, Article | str]] = []  # (line number, Article or the error text)

    def flush() -> None:
        result = run_batch(suite, (), [a for _, a in pending if isinstance(a, Article)], state)
        result.state_changes.apply_to(state)
        outcomes = iter(result.outcomes)
        for n, item in pending:
            if isinstance(item, str):
                out.write(_line({"line": n, "error": item}))
                continue
            outcome = next(outcomes)
            if isinstance(outcome, ArticleFailure):
                counts.failed += 1
                print(f"hybridwatch detect: line {n}: {outcome.message}", file=err)
                out.write(_line({"line": n, "article_id": item.id, "error": outcome.message}))
            else:
                out.write(_line(outcome.detection.to_dict()))
        out.flush()
        if progress is not None:
            progress.advance(len(pending))
        pending.clear()

    articles = 0
    for n, line in enumerate(lines, 1):
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise RecordError(f"not valid JSON: {e.msg} at column {e.colno}") from e
            pending.append((n, article_from_record(record)))
            articles += 1
            counts.articles += 1
        except RecordError as e:
            counts.malformed += 1
            print(f"hybridwatch detect: line {n}: {e}", file=err)
            pending.append((n, str(e)))
        if articles >= batch:
            flush()
            articles = 0
    if pending:
        flush()
    return counts


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.claims.reload import ImportedClaims

    suite = build_suite(settings)
    ImportedClaims(settings.data_dir, suite.detectors).refresh()  # `claims import`ed ones
    settle_heap()
    with ExitStack() as stack:
        stack.callback(release_heap)
        try:
            src = _open_in(args.input, stack)
        except OSError as e:
            print(
                f"hybridwatch detect: cannot open input {args.input}: {e.strerror}", file=sys.stderr
            )
            return 1
        try:
            dst = _open_out(args.output, stack)
        except OSError as e:
            print(
                f"hybridwatch detect: cannot open output {args.output}: {e.strerror}",
                file=sys.stderr,
            )
            return 1
        # a bar with count and rate on a terminal; one summary line on stderr either way
        with Progress("hybridwatch detect", unit="lines") as progress:
            counts = run(src, dst, sys.stderr, suite, args.batch or DEFAULT_BATCH, progress)
            progress.finish(
                f"{counts.articles:,} articles, {counts.malformed} malformed, "
                f"{counts.failed} failed"
            )
    if counts.malformed or counts.failed:
        print(
            f"hybridwatch detect: {counts.articles} articles processed, "
            f"{counts.malformed} malformed line(s), {counts.failed} failed in the detectors",
            file=sys.stderr,
        )
    return 0
