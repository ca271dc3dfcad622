"""Chaos run (issue 15 item 4): faults injected while a replay streams through the Kafka path.

    .venv/bin/python bench/chaos.py [--n 100000] [--duration 360] [--outage 60] [--seed 1]
                                    [--kills 3] [--broker-restarts 2] [--max-s 1200]
                                    [--out .hybridwatch/chaos/result.json] [--keep]

Loopback only, and on PRIVATE servers: the harness starts its own Kafka broker
(`deploy/local/kafka.sh --dir <work>/kafka`) and its own OpenSearch node
(`deploy/local/search.sh`, `HW_SERVICES_DIR=<work>/services`) on free ports, so the
servers other people use are never touched, and stops both at the end.

1. N SYNTHETIC articles (tests/fixtures/synthetic_articles.py, seed 12, one every 37 s of
   event time) are written to a fresh archive.
2. Reference: the same archive, in replay order, through the in-process batch step
   (`services.pipeline.step.run_batch`, what the embedded runtime runs) with the same
   subscriptions: the signal ids, the alert ids per subscription and the article ids an
   uninterrupted run yields (ids are content hashes, so sets are compared).
3. Production path: `hybridwatch replay --to kafka` (isolated namespace, paced with
   `--rate N/duration` so it streams for `--duration` seconds) -> two `hybridwatch worker`
   (one group) -> `hybridwatch indexer` -> the engine, and `hybridwatch alerter` -> a
   webhook receiver on 127.0.0.1 (two subscriptions, each alert sent on its own).
4. While the replay streams, the fault schedule (`build_schedule`, printed first, every
   injection logged with its UTC time): kill -9 a worker (alternating) and the indexer
   `--kills` times each and start them again, restart the broker `--broker-restarts`
   times, stop the engine for `--outage` s, take the webhook receiver down for `--outage`
   s. A process that exits on its own (e.g. the worker's stall watchdog, status 75) is
   started again, as a supervisor would, and counted.
5. Once everything is consumed (or after `--max-s`): the engine's article, signal and
   alert id sets (with the count of documents per id) against the reference, and the
   receiver's `X-Hybridwatch-Delivery` keys per subscription (each key exactly once, the
   alerts delivered = the reference's). Result JSON at `--out`, one summary line on
   stdout; exit status 1 when any exactly-once check fails.

Every process is a real `hybridwatch` command in a subprocess; nothing is mocked.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# ---------------------------------------------------------------------------------------
# Pure parts: the fault schedule and the exactly-once comparisons (unit-tested)
# ---------------------------------------------------------------------------------------

KILL_WORKER = "kill-worker"
KILL_INDEXER = "kill-indexer"
RESTART_BROKER = "restart-broker"
ENGINE_OUTAGE = "engine-outage"
WEBHOOK_OUTAGE = "webhook-outage"

MIN_GAP_S = 20.0
"""Seconds between the end of one fault and the next fault on the same component."""

KILL_RESTART_S = 5.0
"""A killed process is started again this many seconds after the kill."""


@dataclass(frozen=True)
class Fault:
    """One injection: at `at` seconds after the replay started, `target` goes down for
    `down_s` seconds (a kill -9 or a stop), then it is started again."""

    at: float
    kind: str
    target: str
    down_s: float

    @property
    def ends(self) -> float:
        return self.at + self.down_s


def build_schedule(
    duration: float,
    seed: int = 1,
    *,
    workers: int = 2,
    kills: int = 3,
    broker_restarts: int = 2,
    outage_s: float = 60.0,
) -> list[Fault]:
    """The faults of one campaign over a replay of `duration` seconds, in time order.

    Worker kills (alternating between the workers) and indexer kills are spread over
    the first 90 % of the replay, broker restarts between 30 % and 72 %, the engine
    outage starts at ~38 % and the webhook outage at ~60 %; each time moves by up to
    2 % of the duration, drawn from `seed` (the same seed gives the same schedule).
    Raises ValueError when the duration cannot hold the outages inside the replay.
    """
    if workers < 1 or kills < 0 or broker_restarts < 0:
        raise ValueError(
            f"workers must be >= 1 and kills/broker_restarts >= 0 "
            f"(got workers={workers}, kills={kills}, broker_restarts={broker_restarts})"
        )
    if outage_s <= 0:
        raise ValueError(f"outage must be > 0 seconds (got {outage_s})")
    need = round(outage_s / 0.36 + 1, 1)  # the webhook outage starts at <= 62 %, must end by 98 %
    if duration < need:
        raise ValueError(
            f"duration {duration:g} s is too short for {outage_s:g} s outages inside the "
            f"replay: it must be at least {need:g} s (or shorten the outage)"
        )
    rng = random.Random(seed)

    def at(fraction: float) -> float:
        return round(max(0.0, duration * (fraction + rng.uniform(-0.02, 0.02))), 1)

    faults: list[Fault] = []
    for i in range(kills):
        faults.append(Fault(at(0.08 + 0.8 * i / kills), KILL_WORKER, f"worker{i % workers}", 5.0))
        faults.append(Fault(at(0.14 + 0.8 * i / kills), KILL_INDEXER, "indexer", 3.0))
    for j in range(broker_restarts):
        frac = 0.30 if broker_restarts == 1 else 0.30 + 0.42 * j / (broker_restarts - 1)
        faults.append(Fault(at(frac), RESTART_BROKER, "broker", 5.0))
    faults.append(Fault(at(0.38), ENGINE_OUTAGE, "engine", outage_s))
    faults.append(Fault(at(0.60), WEBHOOK_OUTAGE, "webhook", outage_s))
    faults.sort(key=lambda f: (f.at, f.kind, f.target))
    validate_schedule(faults, duration)
    return faults


def validate_schedule(faults: Sequence[Fault], duration: float) -> None:
    """Every fault ends inside the replay, and faults on one component are at least
    MIN_GAP_S apart (the component is back before it is hit again)."""
    last: dict[str, Fault] = {}
    for f in sorted(faults, key=lambda f: f.at):
        if f.at < 0 or f.ends > duration:
            raise ValueError(
                f"fault {f.kind} on {f.target} at {f.at:g} s (down {f.down_s:g} s) is not "
                f"inside the replay of {duration:g} s"
            )
        prev = last.get(f.target)
        if prev is not None and f.at < prev.ends + MIN_GAP_S:
            raise ValueError(
                f"faults on {f.target} overlap: {prev.kind} at {prev.at:g} s (down "
                f"{prev.down_s:g} s) and {f.kind} at {f.at:g} s; keep {MIN_GAP_S:g} s between"
            )
        last[f.target] = f


@dataclass(frozen=True)
class IdCheck:
    """Found ids (with how many documents / deliveries each) against the expected set."""

    expected: int
    found: int
    """Distinct ids found."""
    missing: int
    unexpected: int
    duplicates: int
    """Ids found more than once."""
    extra_copies: int
    """Documents / deliveries beyond the first of each id."""
    missing_sample: tuple[str, ...] = ()
    unexpected_sample: tuple[str, ...] = ()
    duplicate_sample: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.missing == self.unexpected == self.duplicates == 0


def compare_ids(expected: Iterable[str], found: Mapping[str, int], sample: int = 5) -> IdCheck:
    """Exactly once: every expected id found once, nothing else found."""
    want = set(expected)
    have = {k for k, n in found.items() if n > 0}
    missing = sorted(want - have)
    unexpected = sorted(have - want)
    dups = sorted(k for k, n in found.items() if n > 1)
    return IdCheck(
        expected=len(want),
        found=len(have),
        missing=len(missing),
        unexpected=len(unexpected),
        duplicates=len(dups),
        extra_copies=sum(n - 1 for n in found.values() if n > 1),
        missing_sample=tuple(missing[:sample]),
        unexpected_sample=tuple(unexpected[:sample]),
        duplicate_sample=tuple(dups[:sample]),
    )


@dataclass(frozen=True)
class Delivery:
    """One webhook request the receiver answered 2xx."""

    path: str
    key: str
    """X-Hybridwatch-Delivery."""
    kind: str
    """`alert` or `digest` (the body's `type`)."""
    alert_ids: tuple[str, ...]
    """The alert's id, or the ids of the digest's alerts."""


def parse_delivery(path: str, key: str, body: bytes) -> Delivery:
    """A webhook request as the receiver saw it; a body that is not a hybridwatch webhook
    message is kept with kind `invalid` (it fails the check)."""
    try:
        doc = json.loads(body)
        kind = str(doc["type"])
        if kind == "alert":
            ids: tuple[str, ...] = (str(doc["alert"]["id"]),)
        else:
            ids = tuple(str(a["id"]) for a in doc["alerts"])
    except (ValueError, KeyError, TypeError):
        return Delivery(path, key, "invalid", ())
    return Delivery(path, key, kind, ids)


@dataclass(frozen=True)
class DeliveryCheck:
    """One subscription's webhook: keys exactly once, alerts delivered = expected."""

    requests: int
    keys: IdCheck
    """Each X-Hybridwatch-Delivery key once (expected: nothing, only duplicates count)."""
    alerts: IdCheck
    """The alert ids delivered (alone or inside digests) against the reference."""
    digests: int
    mismatched: int
    """Alert messages whose key is not the alert's id, and invalid bodies."""

    @property
    def ok(self) -> bool:
        return self.keys.duplicates == 0 and self.alerts.ok and self.mismatched == 0


def check_deliveries(
    deliveries: Sequence[Delivery], expected_alerts: Iterable[str]
) -> DeliveryCheck:
    """The exactly-once verdict for the requests one subscription's webhook received."""
    keys = Counter(d.key for d in deliveries)
    alerts: Counter[str] = Counter()
    for d in deliveries:
        alerts.update(d.alert_ids)
    mismatched = sum(
        1
        for d in deliveries
        if d.kind == "invalid" or (d.kind == "alert" and d.alert_ids != (d.key,))
    )
    key_check = compare_ids(keys, keys)
    return DeliveryCheck(
        requests=len(deliveries),
        keys=key_check,
        alerts=compare_ids(expected_alerts, alerts),
        digests=sum(1 for d in deliveries if d.kind == "digest"),
        mismatched=mismatched,
    )


def summary_line(result: Mapping[str, Any]) -> str:
    """One line: verdict, what ran, and the exactly-once figures."""
    checks = result.get("checks", {})
    failed = sorted(name for name, c in checks.items() if not c.get("ok"))
    verdict = "PASS" if checks and not failed else "FAIL"
    parts = [
        f"chaos: {verdict}",
        f"n={result.get('n', 0):,}",
        f"faults injected {result.get('faults_injected', 0)}/{len(result.get('schedule', []))}",
    ]
    for name in ("articles", "signals", "alerts_indexed"):
        c = checks.get(name)
        if c:
            parts.append(
                f"{name} {c['found']:,}/{c['expected']:,} (missing {c['missing']}, "
                f"unexpected {c['unexpected']}, duplicated {c['duplicates']})"
            )
    for name, c in sorted(checks.items()):
        if name.startswith("webhook:"):
            parts.append(
                f"{name} {c['requests']:,} requests, {c['alerts']['found']:,}/"
                f"{c['alerts']['expected']:,} alerts, repeated keys {c['keys']['duplicates']}"
            )
    if checks and result.get("converged_at_s") is None:
        lag = result.get("lag_at_end", {})
        parts.append(
            f"not caught up when checked (lag: workers {lag.get('worker_group')}, "
            f"indexer {lag.get('indexer_group')})"
        )
    if failed:
        parts.append("failed: " + ", ".join(failed))
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------
# The campaign: private servers, processes, receiver, fault injection, checks
# ---------------------------------------------------------------------------------------


def _utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _script_env(**extra: str) -> dict[str, str]:
    """The environment for the deploy/local scripts and commands: no HW_* from the
    caller's shell (they would point at the shared servers), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HW_")}
    for keep in ("HW_CACHE_DIR", "HW_SEARCH_JAVA_HOME", "HW_KAFKA_VERSION", "HW_SEARCH_VERSION"):
        if keep in os.environ:
            env[keep] = os.environ[keep]
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _run_script(args: list[str], env: dict[str, str], timeout: float = 600) -> str:
    proc = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args[:2])} failed with status {proc.returncode}:\n{proc.stderr[-2000:]}"
        )
    return proc.stdout


def _env_value(out: str, key: str) -> str:
    for line in out.splitlines():
        if line.startswith(key + "="):
            return line.split("=", 1)[1].strip()
    raise RuntimeError(f"expected a {key}=... line, got: {out!r}")


class PrivateKafka:
    """A one-node broker of our own (deploy/local/kafka.sh --dir): restarts keep its ports
    and data, like a real broker restart."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.bootstrap = ""

    def _sh(self, cmd: str) -> str:
        script = str(ROOT / "deploy/local/kafka.sh")
        return _run_script([script, cmd, "--dir", str(self.run_dir)], _script_env())

    def start(self) -> str:
        self.bootstrap = _env_value(self._sh("start"), "HW_KAFKA_BOOTSTRAP")
        return self.bootstrap

    def stop(self) -> None:
        self._sh("stop")


class PrivateEngine:
    """An OpenSearch node of our own (deploy/local/search.sh with its own HW_SERVICES_DIR;
    the port is kept across restarts)."""

    def __init__(self, services_dir: Path) -> None:
        self.services_dir = services_dir
        self.url = ""

    def _sh(self, cmd: str) -> str:
        env = _script_env(HW_SERVICES_DIR=str(self.services_dir), HW_SEARCH_HEAP="768m")
        return _run_script([str(ROOT / "deploy/local/search.sh"), cmd], env)

    def start(self) -> str:
        self.url = _env_value(self._sh("start"), "HW_ES_URL").rstrip("/")
        return self.url

    def stop(self) -> None:
        self._sh("stop")


class Receiver:
    """A webhook receiver on 127.0.0.1 that can be taken down and brought back on the
    same port. Down means down: the listening socket is closed (connections refused) and
    a request arriving on a kept-alive connection is dropped without an answer. A request
    is recorded only when it is answered 200, so what it holds is what the alerter was
    told was delivered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.deliveries: list[Delivery] = []
        self.refused = 0
        self.up = False
        self.port = 0

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("X-Hybridwatch-Delivery") or ""
                with owner._lock:
                    if not owner.up:
                        owner.refused += 1
                        self.close_connection = True
                        return
                    owner.deliveries.append(parse_delivery(self.path, key, body))
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self.port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, name="receiver", daemon=True).start()
        with self._lock:
            self._server = server
            self.up = True

    def stop(self) -> None:
        with self._lock:
            self.up = False
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)


class Service:
    """A long-running `hybridwatch` command that faults kill and the supervisor restarts."""

    def __init__(self, name: str, args: list[str], log: Path) -> None:
        self.name = name
        self.args = args
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()
        self.held = False
        """A fault owns the process (killed, to be started by the fault)."""
        self.unplanned: list[dict[str, Any]] = []
        self.starts = 0

    def start(self) -> int:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args,
                cwd=ROOT,
                env=_script_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> int:
        assert self.proc is not None
        pid = self.proc.pid
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        return pid

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.entrypoints.cli", *args]


@dataclass
class Reference:
    """What an uninterrupted run yields for the archive (the in-process batch step)."""

    articles: set[str] = field(default_factory=set)
    signals: set[str] = field(default_factory=set)
    alerts: dict[str, set[str]] = field(default_factory=dict)
    """Alert ids per subscription id."""
    seconds: float = 0.0


def reference_run(archive_dir: Path, settings: Any, batch: int = 500) -> Reference:
    """The archive in replay order through `run_batch` with the configured subscriptions,
    state carried from batch to batch: the ids of an uninterrupted run."""
    from ingest.archive import Archive
    from services.alerts.subscriptions import all_subscriptions
    from services.entrypoints.bootstrap import build_suite
    from services.pipeline.step import run_batch

    t0 = time.perf_counter()
    suite = build_suite(settings)
    subs = all_subscriptions(settings)
    ref = Reference(alerts={s.id: set() for s in subs})
    state: dict[str, Any] = {}
    archive = Archive(archive_dir)
    pending: list[Any] = []

    def flush() -> None:
        result = run_batch(suite, subs, pending, state, True)
        result.state_changes.apply_to(state)
        if result.failures:
            raise RuntimeError(f"reference run: {len(result.failures)} articles failed a detector")
        for p in result.processed:
            ref.signals.update(s.id for s in p.detection.signals)
            for a in p.alerts:
                ref.alerts[a.subscription_id].add(a.id)
        pending.clear()

    try:
        for article in archive.read():
            ref.articles.add(article.id)
            pending.append(article)
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
    finally:
        archive.close()
    ref.seconds = round(time.perf_counter() - t0, 1)
    return ref


def engine_ids(url: str, index: str) -> Counter[str]:
    """Every document id in `index` (a pattern) with its number of documents."""
    import httpx

    out: Counter[str] = Counter()
    after: dict[str, Any] | None = None
    while True:
        comp: dict[str, Any] = {"size": 10_000, "sources": [{"id": {"terms": {"field": "id"}}}]}
        if after:
            comp["after"] = after
        body = {"size": 0, "aggs": {"ids": {"composite": comp}}}
        resp = httpx.post(f"{url}/{index}/_search", json=body, timeout=120)
        if resp.status_code == 404:
            return out
        resp.raise_for_status()
        agg = resp.json()["aggregations"]["ids"]
        for b in agg["buckets"]:
            out[b["key"]["id"]] += int(b["doc_count"])
        after = agg.get("after_key")
        if not agg["buckets"] or not after:
            return out


def _count(url: str, index: str) -> int | None:
    import httpx

    try:
        r = httpx.get(f"{url}/{index}/_count", timeout=10)
    except httpx.HTTPError:
        return None
    if r.status_code == 404:
        return 0
    return int(r.json()["count"]) if r.status_code == 200 else None


SUBSCRIPTIONS = (
    {"id": "chaos-mk", "min_severity": "high", "countries": ["MK"], "path": "/hook/mk"},
    {"id": "chaos-rs", "min_severity": "critical", "countries": ["RS"], "path": "/hook/rs"},
)
"""Webhook subscriptions of the run (budget at the maximum so each alert goes on its own)."""
BUDGET = 10_000
"""`max_per_hour` of the subscriptions (the configuration's upper bound)."""


class Campaign:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.t0 = 0.0
        self.events: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.injected: list[Fault] = []
        self._events_lock = threading.Lock()
        self.stopping = threading.Event()
        self.kafka = PrivateKafka(work / "kafka")
        self.engine = PrivateEngine(work / "services")
        self.receiver = Receiver()
        self.services: dict[str, Service] = {}

    def log(self, event: str, **extra: Any) -> None:
        rel = round(time.monotonic() - self.t0, 1) if self.t0 else None
        row = {"t": rel, "utc": _utc(), "event": event, **extra}
        with self._events_lock:
            self.events.append(row)
        print(f"  [{row['utc']} t={rel if rel is not None else '-'}s] {event}", flush=True)

    # -- fault injection -------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        if self.stopping.wait(max(0.0, self.t0 + fault.at - time.monotonic())):
            return
        try:
            if fault.kind in (KILL_WORKER, KILL_INDEXER):
                svc = self.services[fault.target]
                with svc.lock:
                    svc.held = True
                    pid = svc.kill9() if svc.alive() else None
                self.log(f"kill -9 {fault.target} (pid {pid})", fault=fault.kind)
                time.sleep(fault.down_s)
                with svc.lock:
                    new = svc.start()
                    svc.held = False
                self.log(f"started {fault.target} again (pid {new})", fault=fault.kind)
            elif fault.kind == RESTART_BROKER:
                self.log("broker: stopping", fault=fault.kind)
                self.kafka.stop()
                self.log("broker: stopped", fault=fault.kind)
                time.sleep(fault.down_s)
                self.kafka.start()
                self.log("broker: started again (ready)", fault=fault.kind)
            elif fault.kind == ENGINE_OUTAGE:
                self.engine.stop()
                self.log(f"engine: stopped for {fault.down_s:g} s", fault=fault.kind)
                time.sleep(fault.down_s)
                self.log("engine: starting", fault=fault.kind)
                self.engine.start()
                self.log("engine: ready again", fault=fault.kind)
            elif fault.kind == WEBHOOK_OUTAGE:
                self.receiver.stop()
                self.log(f"webhook receiver: down for {fault.down_s:g} s", fault=fault.kind)
                time.sleep(fault.down_s)
                self.receiver.start()
                self.log("webhook receiver: up again", fault=fault.kind)
            self.injected.append(fault)
        except Exception as err:  # reported in the result; the campaign fails
            self.errors.append(f"{fault.kind} on {fault.target} at {fault.at:g} s: {err}")
            self.log(f"FAULT INJECTION FAILED: {fault.kind}: {err}", fault=fault.kind)

    def supervise(self) -> None:
        """Start again any process that exited without a fault holding it."""
        for svc in self.services.values():
            with svc.lock:
                if svc.held or svc.alive():
                    continue
                code = svc.proc.returncode if svc.proc is not None else None
                svc.unplanned.append({"t": round(time.monotonic() - self.t0, 1), "exit": code})
                pid = svc.start()
            self.log(f"{svc.name} exited on its own (status {code}); started again (pid {pid})")

    # -- the run -----------------------------------------------------------------------

    def configure(self, archive_dir: Path) -> tuple[Any, dict[str, Any]]:
        import yaml

        from hybridwatch.config import load_settings
        from services.replay import kafka_namespace

        name = "chaos"
        base: dict[str, Any] = {
            "data_dir": str(self.work / "replay"),
            "archive": {"dir": str(archive_dir)},
            "kafka": {"bootstrap": self.kafka.bootstrap, "topic_prefix": "hwc.", "partitions": 6},
            "worker": {"app_id": "hwc", "web_port": 0},
            "store": {"kind": "opensearch", "url": self.engine.url, "index_prefix": "hwc-"},
            "indexer": {"max_backoff": 5.0},
            "alerts": {
                "console": False,
                "retry_seconds": 5,
                "subscriptions": [
                    {
                        "id": s["id"],
                        "min_severity": s["min_severity"],
                        "countries": s["countries"],
                        "webhook": {"url": self.receiver.url(str(s["path"])), "secret": "chaos"},
                        "max_per_hour": BUDGET,
                        "replays": True,
                    }
                    for s in SUBSCRIPTIONS
                ],
            },
        }
        replay_cfg = self.work / "replay.yaml"
        replay_cfg.write_text(yaml.safe_dump(base), encoding="utf-8")
        ns = kafka_namespace(load_settings(replay_cfg, environ={}), name)
        tree = {
            **base,
            "kafka": {**base["kafka"], "topic_prefix": ns.kafka.topic_prefix},
            "worker": {**base["worker"], "app_id": ns.worker.app_id},
            "store": {**base["store"], "index_prefix": ns.store.index_prefix},
            "indexer": {**base["indexer"], "group_id": ns.indexer.group_id},
            "alerts": {**base["alerts"], "group_id": ns.alerts.group_id},
        }
        return ns, tree

    def start_services(self, tree: dict[str, Any]) -> None:
        import yaml

        roles = [*(f"worker{i}" for i in range(self.args.workers)), "indexer", "alerter"]
        for role in roles:
            cfg = self.work / f"{role}.yaml"
            cfg.write_text(
                yaml.safe_dump({**tree, "data_dir": str(self.work / role)}), encoding="utf-8"
            )
            command = "worker" if role.startswith("worker") else role
            svc = Service(role, _cmd(command, "--config", str(cfg)), self.work / f"{role}.log")
            self.services[role] = svc
            svc.start()

    def run(self) -> dict[str, Any]:
        args = self.args
        result: dict[str, Any] = {
            "n": args.n,
            "command": " ".join(sys.argv),
            "started": _utc(),
            "load_start": _load(),
            "work_dir": str(self.work),
        }
        schedule = build_schedule(
            args.duration,
            args.seed,
            workers=args.workers,
            kills=args.kills,
            broker_restarts=args.broker_restarts,
            outage_s=args.outage,
        )
        result["schedule"] = [asdict(f) for f in schedule]
        print(f"chaos: n={args.n:,}, replay over {args.duration:g} s, load {_load()}, work dir "
              f"{self.work}", flush=True)  # fmt: skip
        print("chaos: fault schedule (seconds after the replay starts):", flush=True)
        for f in schedule:
            print(f"  {f.at:7.1f} s  {f.kind:15} {f.target:8} down {f.down_s:g} s", flush=True)

        from bench.replay_bench import build_archive

        archive_dir = self.work / "archive"
        secs, _ = build_archive(archive_dir, args.n)
        print(
            f"chaos: archive of {args.n:,} synthetic articles written in {secs:.1f} s", flush=True
        )

        print("chaos: starting a private Kafka broker and OpenSearch node", flush=True)
        self.kafka.start()
        self.engine.start()
        self.receiver.start()
        print(f"chaos: broker {self.kafka.bootstrap}, engine {self.engine.url}, receiver "
              f"127.0.0.1:{self.receiver.port}", flush=True)  # fmt: skip
        ns, tree = self.configure(archive_dir)

        from hybridwatch.config import load_settings

        ref_cfg = self.work / "reference.yaml"
        import yaml

        ref_cfg.write_text(yaml.safe_dump(tree), encoding="utf-8")
        print("chaos: reference run (in-process batch step, same archive and subscriptions)")
        ref = reference_run(archive_dir, load_settings(ref_cfg, environ={}))
        result["reference"] = {
            "articles": len(ref.articles),
            "signals": len(ref.signals),
            "alerts": {k: len(v) for k, v in ref.alerts.items()},
            "seconds": ref.seconds,
        }
        print(f"chaos: reference: {json.dumps(result['reference'])}", flush=True)
        for s in SUBSCRIPTIONS:
            if len(ref.alerts[str(s["id"])]) >= BUDGET:
                raise SystemExit(
                    f"chaos: subscription {s['id']} would get {len(ref.alerts[str(s['id'])]):,} "
                    f"alerts, more than its hourly budget {BUDGET:,}: lower --n"
                )

        from services.kafka.admin import ensure_topics

        ensure_topics(ns.kafka)
        self.start_services(tree)
        time.sleep(10)  # the workers join their group before the first record arrives
        rate = args.n / args.duration
        replay = subprocess.Popen(
            _cmd("replay", "--to", "kafka", "--name", "chaos", "--rate", f"{rate:.3f}",
                 "--config", str(self.work / "replay.yaml")),
            cwd=ROOT, env=_script_env(), stdout=(self.work / "replay.log").open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.t0 = time.monotonic()
        self.log(f"replay started ({rate:.0f} articles/s, pid {replay.pid})")
        threads = [
            threading.Thread(target=self.inject, args=(f,), name=f"fault-{f.kind}", daemon=True)
            for f in schedule
        ]
        for t in threads:
            t.start()
        try:
            result.update(self.watch(ns, ref, replay, threads))
        finally:
            self.stopping.set()
            for svc in self.services.values():
                svc.stop()
            if replay.poll() is None:
                replay.kill()
        result["replay_exit"] = replay.returncode
        result["faults_injected"] = len(self.injected)
        result["fault_events"] = [e for e in self.events if "fault" in e]
        result["events"] = self.events
        result["unplanned_restarts"] = {
            s.name: s.unplanned for s in self.services.values() if s.unplanned
        }
        result["fault_errors"] = self.errors
        result["load_end"] = _load()
        result["finished"] = _utc()
        return result

    def watch(
        self,
        ns: Any,
        ref: Reference,
        replay: subprocess.Popen[bytes],
        threads: list[threading.Thread],
    ) -> dict[str, Any]:
        from hybridwatch.topics import Topics
        from services.kafka.archiver import backlog

        prefix = ns.store.index_prefix
        topics = Topics(ns.kafka.topic_prefix)
        expected_alerts = sum(len(v) for v in ref.alerts.values())
        want_hooks = sum(len(ref.alerts[str(s["id"])]) for s in SUBSCRIPTIONS)
        samples: list[dict[str, Any]] = []
        max_load = 0.0
        converged_at: float | None = None
        stalled_since: float | None = None
        last_key: tuple[Any, ...] = ()
        while time.monotonic() - self.t0 < self.args.max_s:
            time.sleep(self.args.sample)
            self.supervise()
            t = round(time.monotonic() - self.t0, 1)
            try:
                wlag: int | None = backlog(ns, ns.worker.app_id, topics.articles)
                ilag: int | None = sum(
                    backlog(ns, ns.indexer.group_id, tp)
                    for tp in (topics.articles, topics.signals, topics.alerts)
                )
            except Exception:  # broker down or restarting
                wlag = ilag = None
            delivered = len({a for d in self.receiver.snapshot() for a in d.alert_ids})
            row: dict[str, Any] = {
                "t": t,
                "replay": "running" if replay.poll() is None else f"exit {replay.returncode}",
                "worker_lag": wlag,
                "indexer_lag": ilag,
                "articles": _count(self.engine.url, f"{prefix}articles-*"),
                "signals": _count(self.engine.url, f"{prefix}signals-*"),
                "alerts": _count(self.engine.url, f"{prefix}alerts-*"),
                "webhook_alerts": delivered,
                "load": _load(),
            }
            max_load = max(max_load, float(row["load"].split()[0]))
            samples.append(row)
            print(
                f"  t={t:6.1f}s replay {row['replay']:8} lag w={wlag} i={ilag} indexed "
                f"a={row['articles']} s={row['signals']} al={row['alerts']} webhook "
                f"{delivered}/{want_hooks} load {row['load']}",
                flush=True,
            )
            if replay.poll() not in (None, 0):
                self.errors.append(f"the replay exited with status {replay.returncode}")
                break
            finished = replay.poll() == 0 and not any(th.is_alive() for th in threads)
            reached = (
                row["articles"] == self.args.n
                and (row["signals"] or 0) >= len(ref.signals)
                and (row["alerts"] or 0) >= expected_alerts
                and delivered >= want_hooks
            )
            if finished and reached and wlag == 0 and ilag == 0:
                converged_at = t
                break
            # Either everything is indexed and delivered but the workers' group still shows
            # lag (committed offsets behind), or all is consumed and the figures stopped
            # short of the reference: after 60 s without change, check and report it.
            key = (row["articles"], row["signals"], row["alerts"], delivered, wlag)
            if finished and ilag == 0 and (reached or wlag == 0) and key[:4] == last_key[:4]:
                stalled_since = stalled_since or t
                if t - stalled_since >= 60:
                    self.log(
                        f"nothing moved for 60 s: worker group lag {wlag}, "
                        + ("every figure reached" if reached else "figures short of the reference")
                    )
                    break
            else:
                stalled_since = None
            last_key = key
        time.sleep(6)  # one more refresh interval: nothing may arrive after "done"
        self.log("checking")
        url = self.engine.url
        checks: dict[str, Any] = {}
        for name, index, expected in (
            ("articles", "articles", ref.articles),
            ("signals", "signals", ref.signals),
            ("alerts_indexed", "alerts", set().union(*ref.alerts.values())),
        ):
            c = compare_ids(expected, engine_ids(url, f"{prefix}{index}-*"))
            checks[name] = {**asdict(c), "ok": c.ok}
        deliveries = self.receiver.snapshot()
        for s in SUBSCRIPTIONS:
            mine = [d for d in deliveries if d.path == s["path"]]
            dc = check_deliveries(mine, ref.alerts[str(s["id"])])
            checks[f"webhook:{s['id']}"] = {**asdict(dc), "ok": dc.ok}
        strays = [d for d in deliveries if d.path not in {s["path"] for s in SUBSCRIPTIONS}]
        checks["faults_injected"] = {
            "ok": not self.errors and len(self.injected) == len(threads),
            "injected": len(self.injected),
            "scheduled": len(threads),
            "errors": list(self.errors),
        }
        return {
            "converged_at_s": converged_at,
            "lag_at_end": {
                "worker_group": samples[-1]["worker_lag"] if samples else None,
                "indexer_group": samples[-1]["indexer_lag"] if samples else None,
            },
            "samples": samples,
            "max_load_1m": max_load,
            "checks": checks,
            "webhook_requests_total": len(deliveries),
            "webhook_requests_dropped_while_down": self.receiver.refused,
            "webhook_stray_requests": len(strays),
        }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Chaos run on the Kafka path (issue 15 item 4)")
    ap.add_argument("--n", type=int, default=100_000, help="synthetic articles (default 100000)")
    ap.add_argument(
        "--duration", type=float, default=360.0, help="seconds the paced replay streams (360)"
    )
    ap.add_argument("--outage", type=float, default=60.0, help="engine/webhook outage seconds")
    ap.add_argument("--kills", type=int, default=3, help="kill -9 rounds of worker and indexer")
    ap.add_argument("--broker-restarts", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1, help="fault-schedule jitter seed")
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between progress lines")
    ap.add_argument(
        "--max-s", type=float, default=1200.0, help="give up waiting this long after the start"
    )
    ap.add_argument("--out", type=Path, default=ROOT / ".hybridwatch" / "chaos" / "result.json")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (data, logs)")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error(f"--n must be >= 1 (got {args.n})")
    try:
        build_schedule(
            args.duration, args.seed, workers=args.workers, kills=args.kills,
            broker_restarts=args.broker_restarts, outage_s=args.outage,
        )  # fmt: skip
    except ValueError as err:
        ap.error(str(err))
    work = Path(tempfile.mkdtemp(prefix="hw-chaos-"))
    campaign = Campaign(args, work)
    result: dict[str, Any] = {}
    try:
        result = campaign.run()
    finally:
        for stop in (campaign.receiver.stop, campaign.engine.stop, campaign.kafka.stop):
            try:
                stop()
            except Exception as err:
                print(f"chaos: cleanup: {err}", file=sys.stderr)
    ok = bool(result.get("checks")) and all(c.get("ok") for c in result["checks"].values())
    ok = ok and result.get("replay_exit") == 0
    result["ok"] = ok
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    logs = args.out.parent / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    for log in work.glob("*.log"):
        shutil.copy2(log, logs / log.name)
    print(f"chaos: process logs copied to {logs}", flush=True)
    if ok and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"chaos: work dir kept (logs, data): {work}", flush=True)
    print(f"chaos: result in {args.out}", flush=True)
    print(summary_line(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
