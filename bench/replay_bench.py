"""Replay end to end: archived articles through the embedded runtime and the production path.

    .venv/bin/python bench/replay_bench.py [--n 1000000] [--workers 2] [--skip-embedded]
                                           [--skip-kafka] [--sample 5] [--soak]

Needs $HW_KAFKA_BOOTSTRAP and $HW_ES_URL (+ $HW_STORE_KIND) for the production path, as
`source deploy/local/services.sh env` exports them. Input: N SYNTHETIC articles
(tests/fixtures/synthetic_articles.py, one every 37 s of event time) written by the
bench into a fresh archive (its write rate is reported too).

1. Embedded: `hybridwatch replay --to embedded` (archive -> detectors -> SQLite, one
   process): articles/s, wall time, peak RSS.
2. Production: an isolated Kafka replay (`hybridwatch replay --to kafka`, namespace
   topics) -> `--workers` `hybridwatch worker` processes (one group, the namespace's app
   id) -> `hybridwatch indexer` -> the search engine. Timed from the replay's start until
   the engine holds all N articles and every signal; lag of the workers' and the
   indexer's groups sampled every `--sample` s; peak RSS (VmHWM) of every process.
3. Exactly once: the engine's article count must be N and its signal count the number
   of distinct signals the embedded run stored (same detectors, same order per
   country) -- or, without an embedded run (`--skip-embedded`, `--soak`), the number
   of distinct signal ids in the namespace's signals topic, read back after the run;
   50 random article ids and 50 signal ids are looked up by id.

Soak mode (`--soak`, `make soak`): the production path only (no embedded run), and every
sample also holds the resident set (VmRSS) and open file descriptors of each process;
the samples are written as CSV and plotted (PNG) under `--out` (docs/img by default),
with a verdict on memory after warm-up (first 20 % of the run) in the result.

Every process is a real `hybridwatch` command in a subprocess; nothing is mocked.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import yaml  # noqa: E402

from hybridwatch.config import load_settings  # noqa: E402
from hybridwatch.topics import Topics  # noqa: E402
from ingest.archive import Archive  # noqa: E402
from services.kafka.archiver import backlog  # noqa: E402
from services.replay import kafka_namespace  # noqa: E402
from tests.fixtures.kafka import drop_topics  # noqa: E402
from tests.fixtures.synthetic_articles import START, synthetic_articles  # noqa: E402

TARGET_SECONDS = 600.0
"""Issue 12: 1M articles through Kafka + Faust + the search engine in <= 10 minutes."""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HW_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.entrypoints.cli", *args]


def _status_kb(pid: int, field: str) -> int:
    """A /proc/PID/status memory field (VmHWM: peak, VmRSS: now) in KB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _hwm_kb(pid: int) -> int:
    """Peak resident set (VmHWM) of a running process, in KB (0 once it is gone)."""
    return _status_kb(pid, "VmHWM")


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a running process has used (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _open_fds(pid: int) -> int:
    """Open file descriptors of a running process (0 once it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def detectors_fingerprint() -> str:
    """sha256 of every file under detectors/: the code and data both runs must share."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted((ROOT / "detectors").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _config(path: Path, tree: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


def listener_pid(hostport: str) -> int | None:
    """The pid of the process listening on `host:port` (the broker, the engine), via `ss`."""
    port = hostport.rstrip("/").rsplit(":", 1)[-1]
    try:
        out = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for part in out.split("pid=")[1:]:
        digits = part.split(",", 1)[0]
        if digits.isdigit():
            return int(digits)
    return None


def machine_busy_s() -> float:
    """CPU-seconds the whole machine has been busy (all cores, /proc/stat), for the budget:
    two cores give 1,200 CPU-s in the 10 minutes of the target."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ticks = [int(x) for x in fields]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Proc:
    """A subprocess whose peak RSS is sampled until it exits."""

    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.peak_kb = 0
        self.cpu_s = 0.0

    def sample(self) -> None:
        self.peak_kb = max(self.peak_kb, _hwm_kb(self.proc.pid))
        self.cpu_s = max(self.cpu_s, _cpu_s(self.proc.pid))

    def usage(self) -> dict[str, float]:
        """Resident set now (MB) and open file descriptors, for the soak samples."""
        return {
            f"{self.name}_rss_mb": round(_status_kb(self.proc.pid, "VmRSS") / 1024),
            f"{self.name}_fds": _open_fds(self.proc.pid),
            f"{self.name}_cpu_s": round(self.cpu_s, 1),
        }

    def stop(self) -> None:
        self.sample()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def build_archive(root: Path, n: int) -> tuple[float, int]:
    archive = Archive(root)
    t0 = time.perf_counter()
    batch = []
    try:
        for i, a in enumerate(synthetic_articles(n, seed=12)):
            batch.append(a.model_copy(update={"published": START + timedelta(seconds=37 * i)}))
            if len(batch) >= 5000:
                archive.append(batch)
                batch = []
        archive.append(batch)
    finally:
        archive.close()
    return time.perf_counter() - t0, n


def run_embedded(tmp: Path, archive_dir: Path, n: int, sample: float) -> dict[str, Any]:
    data = tmp / "embedded"
    cfg = _config(
        tmp / "embedded.yaml",
        {"data_dir": str(data), "archive": {"dir": str(archive_dir)}, "alerts": {"console": False}},
    )
    t0 = time.perf_counter()
    p = Proc(
        "replay-embedded",
        _cmd("replay", "--to", "embedded", "--config", str(cfg)),
        tmp / "embedded.log",
        _env(),
    )
    while p.proc.poll() is None:
        p.sample()
        time.sleep(min(sample, 1.0))
    wall = time.perf_counter() - t0
    p.stop()
    out = (tmp / "embedded.log").read_text().strip().splitlines()
    if p.proc.returncode != 0:
        raise SystemExit("embedded replay failed:\n" + "\n".join(out[-20:]))
    summary = json.loads(out[-1].removeprefix("replay: "))
    return {
        "articles": summary["articles"],
        "signals_emitted": summary.get("signals"),
        "wall_s": round(wall, 1),
        "articles_per_s": round(n / wall),
        "peak_rss_mb": round(p.peak_kb / 1024),
        "namespace_dir": summary.get("data_dir"),
    }


def _distinct_signals(folder: Path) -> tuple[int, list[str]]:
    from services.store.base import SignalQuery
    from services.store.sqlite import SqliteStore

    store = SqliteStore.open(folder)
    try:
        ids = [s.id for s in store.get_signals(SignalQuery(limit=50_000))]
        return store.count_all_signals(), ids
    finally:
        store.close()


def _count(url: str, index: str, body: dict[str, Any] | None = None) -> int:
    r = httpx.post(f"{url}/{index}/_count", json=body or {"query": {"match_all": {}}}, timeout=60)
    if r.status_code == 404:
        return 0
    r.raise_for_status()
    return int(r.json()["count"])


def run_kafka(
    tmp: Path,
    archive_dir: Path,
    n: int,
    workers: int,
    sample: float,
    expected_signals: int | None,
    max_s: float = 6 * 3600,
) -> dict[str, Any]:
    bootstrap = os.environ["HW_KAFKA_BOOTSTRAP"]
    url = os.environ["HW_ES_URL"].rstrip("/")
    kind = os.environ.get("HW_STORE_KIND", "opensearch")
    name = f"bench{uuid.uuid4().hex[:8]}"
    base: dict[str, Any] = {
        "data_dir": str(tmp / "kafka"),
        "archive": {"dir": str(archive_dir)},
        "kafka": {"bootstrap": bootstrap, "topic_prefix": f"hwb{name}.", "partitions": 6},
        "worker": {"app_id": f"hwb-{name}", "web_port": 0},
        "store": {"kind": kind, "url": url, "index_prefix": f"hwb-{name}-"},
        "alerts": {"console": False},
    }
    replay_cfg = _config(tmp / "replay-kafka.yaml", base)
    ns = kafka_namespace(load_settings(replay_cfg, environ={}), name)
    from services.kafka.admin import ensure_topics

    ensure_topics(ns.kafka)
    topics = Topics(ns.kafka.topic_prefix)
    ns_tree = {
        **base,
        "kafka": {**base["kafka"], "topic_prefix": ns.kafka.topic_prefix},
        "worker": {**base["worker"], "app_id": ns.worker.app_id},
        "store": {**base["store"], "index_prefix": ns.store.index_prefix},
        "indexer": {"group_id": ns.indexer.group_id},
    }
    procs: list[Proc] = []
    for i in range(workers):
        tree = {**ns_tree, "data_dir": str(tmp / f"worker{i}")}
        cfg = _config(tmp / f"worker{i}.yaml", tree)
        procs.append(
            Proc(f"worker{i}", _cmd("worker", "--config", str(cfg)), tmp / f"worker{i}.log", _env())
        )
    icfg = _config(tmp / "indexer.yaml", {**ns_tree, "data_dir": str(tmp / "indexer")})
    procs.append(
        Proc("indexer", _cmd("indexer", "--config", str(icfg)), tmp / "indexer.log", _env())
    )
    time.sleep(10)  # workers join their group before the first record arrives
    articles_idx = f"{ns.store.index_prefix}articles-*"
    signals_idx = f"{ns.store.index_prefix}signals-*"
    lag: list[dict[str, Any]] = []
    servers = {
        "kafka": listener_pid(bootstrap.split(",")[0]),
        "search engine": listener_pid(url),
    }
    servers_cpu0 = {k: _cpu_s(pid) for k, pid in servers.items() if pid}
    busy0 = machine_busy_s()
    t0 = time.perf_counter()
    replay = Proc(
        "replay-kafka",
        _cmd("replay", "--to", "kafka", "--name", name, "--config", str(replay_cfg)),
        tmp / "replay-kafka.log",
        _env(),
    )
    procs.append(replay)
    done_at = None
    try:
        deadline = t0 + max_s
        while time.perf_counter() < deadline:
            time.sleep(sample)
            for p in procs:
                p.sample()
                if p is not replay and p.proc.poll() is not None:
                    raise SystemExit(f"{p.name} exited with {p.proc.returncode}; see {p.log.name}")
            t = round(time.perf_counter() - t0, 1)
            articles = _count(url, articles_idx)
            signals = _count(url, signals_idx)
            row = {
                "t": t,
                "worker_lag": backlog(ns, ns.worker.app_id, topics.articles),
                "indexer_lag": sum(
                    backlog(ns, ns.indexer.group_id, tp) for tp in (topics.articles, topics.signals)
                ),
                "indexed_articles": articles,
                "indexed_signals": signals,
                "load": _load(),
            }
            for p in procs:
                row.update(p.usage())
            lag.append(row)
            print(f"  {json.dumps(row)}", flush=True)
            finished = replay.proc.poll() is not None
            drained = finished and articles >= n and row["worker_lag"] == row["indexer_lag"] == 0
            if drained and (expected_signals is None or signals >= expected_signals):
                done_at = time.perf_counter()
                break
            # everything consumed, yet fewer signals than the embedded run: stop once the
            # count stops moving (the difference is reported, not waited for)
            if drained and len(lag) >= 3 and lag[-3]["indexed_signals"] == signals:
                done_at = t0 + lag[-3]["t"]  # when it stopped moving
                break
        wall = (done_at or time.perf_counter()) - t0
        busy = machine_busy_s() - busy0
        servers_cpu = {
            k: round(_cpu_s(pid) - servers_cpu0[k], 1)
            for k, pid in servers.items()
            if pid and k in servers_cpu0
        }
        time.sleep(6)  # one more refresh interval: nothing may arrive after "done"
        articles = _count(url, articles_idx)
        signals = _count(url, signals_idx)
    finally:
        for p in procs:
            p.stop()
    return {
        "namespace": name,
        "workers": workers,
        "completed": done_at is not None,
        "wall_s": round(wall, 1),
        "articles_per_s": round((n if done_at else articles) / wall),
        "indexed_articles": articles,
        "indexed_signals": signals,
        "peak_rss_mb": {p.name: round(p.peak_kb / 1024) for p in procs},
        "cpu_s": {p.name: round(p.cpu_s, 1) for p in procs},
        "servers_cpu_s": servers_cpu,
        "machine_busy_cpu_s": round(busy, 1),
        "lag": lag,
        "url": url,
        "index_prefix": f"hwb-{name}-",
        "topic_prefix": f"hwb{name}.",
        "signals_topic": topics.signals,
        "articles_index": articles_idx,
        "signals_index": signals_idx,
    }


def cleanup(url: str, index_prefix: str, topic_prefix: str) -> None:
    """Drop the bench's indices and topics from the shared servers.

    Topics: the namespace's (`topic_prefix`) and the workers' state changelog, which
    Faust names after the app id (`hwb-<name>-...-detector-state-changelog`, the same
    stem as `index_prefix`): a 1M run leaves ~250 MB of it otherwise.
    """
    httpx.delete(f"{url}/{index_prefix}*", timeout=120)
    drop_topics(os.environ["HW_KAFKA_BOOTSTRAP"], (topic_prefix, index_prefix))


WARM_UP = 0.2
"""Soak: the first fifth of the samples is warm-up (imports, caches, first windows)."""


def memory_growth(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """RSS of one process after warm-up: at its start, at its peak, at the end, and a verdict
    (flat = the peak after warm-up is within 10 % or 25 MB of the level at its start)."""
    series = [r[f"{name}_rss_mb"] for r in rows if r.get(f"{name}_rss_mb")]
    if len(series) < 5:
        return {"samples": len(series), "verdict": "too few samples"}
    after = series[int(len(series) * WARM_UP) :]
    start, peak, end = after[0], max(after), after[-1]
    flat = peak - start <= max(25, 0.1 * start)
    return {
        "samples": len(series),
        "after_warm_up_mb": start,
        "peak_mb": peak,
        "end_mb": end,
        "verdict": "flat" if flat else f"grows by {peak - start} MB after warm-up",
    }


def write_soak(rows: list[dict[str, Any]], names: list[str], out: Path, title: str) -> None:
    """The soak samples as CSV and a PNG (RSS, open fds, lag, indexed articles over time)."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    cols = ["t", "worker_lag", "indexer_lag", "indexed_articles", "indexed_signals", "load"]
    for n in names:
        cols += [f"{n}_rss_mb", f"{n}_fds", f"{n}_cpu_s"]
    with (out / "soak.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    t = [r["t"] for r in rows]
    fig, axes = plt.subplots(4, 1, figsize=(9, 11), sharex=True)
    for n in names:
        axes[0].plot(t, [r.get(f"{n}_rss_mb", 0) for r in rows], label=n)
        axes[1].plot(t, [r.get(f"{n}_fds", 0) for r in rows], label=n)
    axes[0].set_ylabel("RSS (MB)")
    axes[1].set_ylabel("open fds")
    axes[2].plot(t, [r["worker_lag"] for r in rows], label="workers' group")
    axes[2].plot(t, [r["indexer_lag"] for r in rows], label="indexer's group")
    axes[2].set_ylabel("consumer lag (records)")
    axes[3].plot(t, [r["indexed_articles"] for r in rows], label="articles")
    axes[3].plot(t, [r["indexed_signals"] for r in rows], label="signals")
    axes[3].set_ylabel("indexed documents")
    axes[3].set_xlabel("seconds since the replay started")
    for ax in axes:
        ax.legend(fontsize=8, loc="upper left")
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "soak.png", dpi=90)
    plt.close(fig)


def produced_signals(bootstrap: str, topic: str) -> tuple[int, list[str]]:
    """(records, distinct ids in first-seen order) of the namespace's signals topic.

    Without an embedded run this is the reference for "every signal indexed exactly
    once": the workers may produce a signal twice (a batch re-run after a restart), and
    the index must hold each distinct id once -- no more, no fewer.
    """
    from kafka import KafkaConsumer, TopicPartition

    from hybridwatch.events import Signal
    from services.kafka.codec import decode_event

    c = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=5000,
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        end = c.end_offsets(tps)
        records, ids = 0, dict[str, None]()
        while any(c.position(tp) < end[tp] for tp in tps):
            for batch in c.poll(timeout_ms=1000).values():
                for rec in batch:
                    records += 1
                    ids.setdefault(decode_event(Signal, rec.value, rec.headers).id, None)
        return records, list(ids)
    finally:
        c.close()


def spot_check(url: str, index: str, ids: list[str]) -> int:
    return _count(url, index, {"query": {"ids": {"values": ids}}})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sample", type=float, default=5.0, help="seconds between lag samples")
    ap.add_argument("--skip-embedded", action="store_true")
    ap.add_argument("--skip-kafka", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the topics and indices afterwards")
    ap.add_argument(
        "--soak",
        action="store_true",
        help="production path only; write the RSS/fd/lag samples as CSV + PNG under --out",
    )
    ap.add_argument(
        "--max-s",
        type=float,
        default=6 * 3600,
        help="stop the production run after this many seconds (reported as not completed)",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="soak output folder")
    args = ap.parse_args()
    if args.soak:
        args.skip_embedded, args.skip_kafka = True, False
    tmp = Path(tempfile.mkdtemp(prefix="hw-replay-bench-"))
    print(f"replay_bench: n={args.n:,}, load average {_load()}, work dir {tmp}", flush=True)
    archive_dir = tmp / "archive"
    secs, n = build_archive(archive_dir, args.n)
    print(
        f"archive: {n:,} synthetic articles written in {secs:.1f} s ({n / secs:,.0f}/s)", flush=True
    )
    result: dict[str, Any] = {"n": n, "archive_write_s": round(secs, 1), "load_start": _load()}
    before = detectors_fingerprint()
    expected: int | None = None
    signal_ids: list[str] = []
    if not args.skip_embedded:
        emb = run_embedded(tmp, archive_dir, n, args.sample)
        expected, signal_ids = _distinct_signals(Path(emb["namespace_dir"]))
        emb["distinct_signals"] = expected
        result["embedded"] = emb
        print(f"embedded: {json.dumps(emb)} (load {_load()})", flush=True)
    if not args.skip_kafka:
        k = run_kafka(tmp, archive_dir, n, args.workers, args.sample, expected, args.max_s)
        rng = random.Random(1)
        archive = Archive(archive_dir)
        try:
            sample_articles = [a.id for a in archive.read() if rng.random() < 50 / n][:50]
        finally:
            archive.close()
        k["spot_articles_found"] = (
            f"{spot_check(k['url'], k['articles_index'], sample_articles)}/{len(sample_articles)}"
        )
        if expected is None:
            # no embedded run: the signals the workers produced are the reference
            records, signal_ids = produced_signals(
                os.environ["HW_KAFKA_BOOTSTRAP"], k["signals_topic"]
            )
            expected = len(signal_ids)
            k["produced_signal_records"] = records
            k["produced_distinct_signals"] = expected
        picked = rng.sample(signal_ids, min(50, len(signal_ids)))
        k["spot_signals_found"] = (
            f"{spot_check(k['url'], k['signals_index'], picked)}/{len(picked)}"
        )
        k["exactly_once"] = k["indexed_articles"] == n and (
            expected is None or k["indexed_signals"] == expected
        )
        if detectors_fingerprint() != before:
            k["detectors_changed_during_run"] = True
            print(
                "replay_bench: detectors/ changed while the bench ran: the embedded and Kafka "
                "signal counts are not comparable",
                flush=True,
            )
        k["target_met"] = k["completed"] and k["wall_s"] <= TARGET_SECONDS * n / 1_000_000
        result["kafka"] = k
        if args.soak:
            names = list(k["peak_rss_mb"])
            k["memory"] = {
                name: memory_growth(k["lag"], name) for name in names if name != "replay-kafka"
            }
            write_soak(
                k["lag"],
                names,
                args.out,
                f"hybridwatch soak: {n:,} synthetic articles, {args.workers} workers + indexer, "
                f"{k['wall_s']} s, load at start {result['load_start']}",
            )
            print(f"soak: samples and plot in {args.out}/soak.csv, soak.png", flush=True)
        if not args.keep:
            cleanup(k["url"], k["index_prefix"], k["topic_prefix"])
        short = {key: v for key, v in k.items() if key != "lag"}
        print(f"kafka: {json.dumps(short)} (load {_load()})", flush=True)
    (tmp / "result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"replay_bench: full result with the lag series in {tmp / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
