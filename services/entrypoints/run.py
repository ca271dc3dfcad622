"""`hybridwatch run`: the embedded runtime (poll, detect, store, alert, serve) in one asyncio loop.

The parts come from `bootstrap.build_embedded`.

Shutdown (SIGINT/SIGTERM, or the end of `--once`) goes in dependency order: stop
polling, let the API finish in-flight requests, drain the pipeline queue (every
accepted batch is stored), persist detector state (already written per batch),
close the stores, exit 0. A batch the poller had fetched but not yet handed over is
not marked seen, so it is fetched again on the next start: nothing is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Iterator
from typing import Any

import services.demo as demo_mod
from hybridwatch.config import Settings
from services.embedded.offline import OfflineNotice
from services.entrypoints.bootstrap import Embedded, build_embedded, release_heap, settle_heap

log = logging.getLogger(__name__)


class _Server:
    """uvicorn.Server without its own signal handling: the runner owns the signals."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=5
        )
        self.server = Server(config)
        self.sock = sock

    async def serve(self) -> None:
        await self.server.serve(sockets=[self.sock])

    def stop(self) -> None:
        self.server.should_exit = True


def bind(host: str, port: int) -> socket.socket:
    """Bind the API socket up front so "port in use" is a clear error, not a crash."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise OSError(
            f"cannot serve the API on {host}:{port}: {err.strerror} "
            "(set api.port / HW_API__PORT, or run with --no-api)"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _report_line(report: dict[str, Any]) -> str:
    keys = ("sources_ok", "sources_failed", "articles_new")
    parts = [f"{k}={report[k]}" for k in keys if k in report]
    return "poll finished: " + (", ".join(parts) if parts else str(report))


def _print_poll_errors(report: dict[str, Any]) -> None:
    """One stderr line per failing (or warning) source: the operator sees which and why."""
    for o in report.get("outcomes", ()) or ():
        if not isinstance(o, dict):
            continue
        sid = o.get("source_id", "?")
        if o.get("error"):
            print(f"hybridwatch: source {sid}: error: {o['error']}", file=sys.stderr)
        elif o.get("warning"):
            print(f"hybridwatch: source {sid}: warning: {o['warning']}", file=sys.stderr)


POLL_GRACE_SECONDS = 5.0
"""On shutdown, in-flight polls get this long to finish; then they are cancelled.

Cancelling is safe: a poll marks items seen only after publish returned, so an
abandoned poll is simply fetched again on the next start. A second signal skips
the grace period.
"""


async def _stop_task(task: asyncio.Task[Any], grace: float, force: asyncio.Event) -> None:
    """Let `task` finish within `grace` seconds (or until `force`), else cancel it."""
    if not task.done():
        forced = asyncio.ensure_future(force.wait())
        try:
            await asyncio.wait({task, forced}, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
        finally:
            forced.cancel()
    if not task.done():
        log.warning("%s did not stop within %.0fs; cancelling it", task.get_name(), grace)
        task.cancel()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await task


async def _run(settings: Settings, once: bool, api: bool, demo: bool = False) -> int:
    # Bind first: a taken port is reported before anything is opened or loaded.
    sock = bind(settings.api.host, settings.api.port) if api and not once else None
    demo_articles: list[Any] = []
    try:
        if demo:
            settings, demo_articles = demo_mod.prepare(settings)
        rt: Embedded = build_embedded(settings)
    except BaseException:
        if sock is not None:
            sock.close()
        raise
    settle_heap()
    if demo:
        rt.banner = demo_mod.BANNER
    notice = None if demo else OfflineNotice(sum(1 for s in rt.sources if s.enabled)).install()
    if notice is not None:
        rt.poller.on_round = notice.on_round
    if settings.store.kind != "sqlite":
        print(
            f"hybridwatch: note: store.kind is {settings.store.kind!r} (HW_STORE_KIND?), but the "
            f"embedded runtime always stores in SQLite under {settings.data_dir}; "
            f"`hybridwatch search` with this configuration queries {settings.store.kind}",
            file=sys.stderr,
        )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    force = asyncio.Event()
    signals_seen: list[int] = []

    def on_signal(sig: int) -> None:
        signals_seen.append(sig)
        if stop.is_set():
            log.warning("second signal: abandoning in-flight polls, draining the queue")
            force.set()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)

    code = 0
    server: _Server | None = None
    server_task: asyncio.Task[None] | None = None
    poll_task: asyncio.Task[Any] | None = None
    feed_task: asyncio.Task[Any] | None = None
    try:
        await rt.pipeline.start()
        if sock is not None:
            from services.api.security import secure_app

            server = _Server(secure_app(rt.create_app(), settings), sock)
            host, port = sock.getsockname()[:2]
            server_task = asyncio.create_task(server.serve(), name="api")
            print(f"hybridwatch: live page and API on http://{host}:{port}/", file=sys.stderr)
        if demo:
            print(f"hybridwatch: {demo_mod.BANNER}", file=sys.stderr)
            feed_task = asyncio.create_task(
                demo_mod.replay(rt, demo_articles, rate=0.0 if once else demo_mod.DEFAULT_RATE),
                name="demo",
            )
            if once:
                await feed_task
        if once and demo:
            poll_task = None
        elif once:
            poll_task = asyncio.create_task(rt.poller.poll_once(), name="poll-once")
        else:
            poll_task = asyncio.create_task(rt.poller.run(stop), name="poller")
            what = (
                f"replaying {len(demo_articles)} synthetic article(s)"
                if demo
                else f"watching {len(rt.sources)} source(s)"
            )
            print(
                f"hybridwatch: {what}; data in {settings.data_dir}; Ctrl+C stops cleanly",
                file=sys.stderr,
            )
        stopper = asyncio.create_task(stop.wait(), name="stop")
        work = poll_task or feed_task
        assert work is not None  # one of them was started above
        watched: list[asyncio.Task[Any]] = [stopper, work]
        if server_task is not None:
            watched.append(server_task)
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if once and demo and feed_task in done:
            await rt.pipeline.drain_and_stop()
            print(
                f"hybridwatch: demo stored {rt.store.count_articles()} article(s) in "
                f"{settings.data_dir}",
                file=sys.stderr,
            )
        elif once and poll_task is not None and poll_task in done and poll_task.exception() is None:
            await rt.pipeline.drain_and_stop()
            report = poll_task.result()
            data = report.to_dict()
            if notice is not None:
                notice.on_round(report)
            if notice is None or not notice.all_failing:
                _print_poll_errors(data)
            for message in rt.pipeline.stats.errors:
                print(f"hybridwatch: pipeline: {message}", file=sys.stderr)
            print(
                f"hybridwatch: {_report_line(data)}; store holds {rt.store.count_articles()} "
                f"article(s) in {settings.data_dir}",
                file=sys.stderr,
            )
        else:
            for t in done:
                if t is stopper:
                    continue
                err = None if t.cancelled() else t.exception()
                if err is not None or not once:
                    print(
                        f"hybridwatch: {t.get_name()} stopped unexpectedly: {err!r}",
                        file=sys.stderr,
                    )
                    code = 1
    finally:
        stop.set()
        if server is not None and server_task is not None:
            server.stop()
            await _stop_task(server_task, 10.0, force)
        elif sock is not None:
            sock.close()  # never handed to a server (start-up failed before)
        if poll_task is not None:
            await _stop_task(poll_task, POLL_GRACE_SECONDS, force)
        if feed_task is not None:
            await _stop_task(feed_task, POLL_GRACE_SECONDS, force)
        if notice is not None:
            notice.uninstall()
        await rt.aclose()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    if signals_seen:
        print(
            f"hybridwatch: stopped on {signal.Signals(signals_seen[0]).name}; "
            f"store holds {_count(settings)} article(s)",
            file=sys.stderr,
        )
    return code


def _count(settings: Settings) -> str:
    from services.store.sqlite import SqliteStore

    try:
        store = SqliteStore.open(settings.data_dir)
    except Exception:
        return "?"
    try:
        return str(store.count_articles())
    finally:
        store.close()


def run(settings: Settings, once: bool = False, api: bool = True, demo: bool = False) -> int:
    try:
        return asyncio.run(_run(settings, once, api and settings.api.enabled, demo))
    finally:
        release_heap()


def main(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return run(
            settings, once=bool(args.once), api=not args.no_api, demo=bool(getattr(args, "demo", 0))
        )
    except OSError as err:
        print(f"hybridwatch: {err}", file=sys.stderr)
        return 1
