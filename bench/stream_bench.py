"""Throughput and latency of the production path: Kafka + Faust with the full detector suite.

    .venv/bin/python bench/stream_bench.py [--articles 20000] [--rate 200] [--seconds 20]
                                           [--workers 1]

Uses $HW_KAFKA_BOOTSTRAP (as `make bench` exports it) or starts a private broker with
deploy/local/kafka.sh. `--workers` `hybridwatch worker` subprocesses (one consumer
group, memory table store) read a fresh set of topics. Input: SYNTHETIC articles (tests/fixtures/synthetic_articles.py).

1. Sustained throughput: the worker is warm; N articles are published as fast as the
   publisher (acks=all) can; articles/s = N / (time from the first publish until the
   worker's hw_articles_out_total counted all N) -- publish, broker, Faust, detectors,
   signal emission and changelog writes included.
2. Latency at a fixed offered load (default 200 articles/s): produce->signal latency per
   article with signals = Kafka timestamp of its first signal minus that of the article
   (both producer CreateTime on this machine's clock), p50/p99.
3. Baseline in the same run: the detector suite in-process over a dict (the embedded
   runtime's core) on the same articles; the ratio shows what Kafka + Faust cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors.pipeline import DetectorSuite  # noqa: E402
from hybridwatch.topics import Topics  # noqa: E402
from services.kafka.producer import KafkaPublisher  # noqa: E402
from tests.fixtures.kafka import (  # noqa: E402
    LocalKafka,
    WorkerProcess,
    create_topics,
    drop_topics,
    kafka_settings,
    settings_tree,
)
from tests.fixtures.synthetic_articles import synthetic_articles  # noqa: E402
from tests.integration.kafka.helpers import free_port, metric_value  # noqa: E402

TARGET_RATE = 1500.0
TARGET_P99 = 1.0


def _wait(pred, timeout: float, what: str, workers: list[WorkerProcess]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        for w in workers:
            if not w.alive():
                raise SystemExit(f"worker died while waiting for {what}:\n{w.log_tail()}")
        time.sleep(0.05)
    tails = "\n".join(w.log_tail() for w in workers)
    raise SystemExit(f"timed out waiting for {what}:\n{tails}")


def baseline(articles: list, batch: int) -> float:  # type: ignore[type-arg]
    """In-process suite over a dict, in batches of the workers' size (as they call it)."""
    suite = DetectorSuite.from_config()
    state: dict = {}  # type: ignore[type-arg]
    t0 = time.perf_counter()
    for i in range(0, len(articles), batch):
        suite.process_all(articles[i : i + batch], state)
    return len(articles) / (time.perf_counter() - t0)


def _cpu_seconds(worker: WorkerProcess) -> float:
    """User + system CPU time of a worker process (what other load does not distort)."""
    if worker.proc is None:
        return 0.0
    try:
        fields = Path(f"/proc/{worker.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=20000)
    ap.add_argument("--rate", type=float, default=200.0, help="offered load for the latency run")
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of the latency run")
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--batch", type=int, default=500, help="worker.batch_max")
    ap.add_argument("--shards", type=int, default=128, help="worker.state_shards")
    ap.add_argument("--within", type=float, default=0.05, help="worker.batch_within (s)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes (one group)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="hw-stream-bench-"))
    kafka: LocalKafka | None = None
    bootstrap = os.environ.get("HW_KAFKA_BOOTSTRAP", "")
    if not bootstrap:
        kafka = LocalKafka(tmp / "kafka")
        bootstrap = kafka.start()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    n_lat = int(args.rate * args.seconds)
    warm = list(synthetic_articles(200, seed=1))
    bulk = list(synthetic_articles(args.articles, seed=2))
    paced = list(synthetic_articles(n_lat, seed=4))
    workers: list[WorkerProcess] = []
    try:
        create_topics(bootstrap, prefix, partitions=args.partitions)
        settings = kafka_settings(bootstrap, prefix, tmp / "pub", kafka__partitions=args.partitions)
        ports = [free_port() for _ in range(args.workers)]
        for i, port in enumerate(ports):
            tree = settings_tree(
                bootstrap,
                prefix,
                tmp / f"worker{i}",
                kafka__partitions=args.partitions,
                metrics__port=port,
                worker__batch_max=args.batch,
                worker__state_shards=args.shards,
                worker__batch_within=args.within,
            )
            # same app id (settings_tree derives it from the prefix): one consumer group
            workers.append(WorkerProcess.write_config(tree, tmp, f"worker{i}").start())
        pub = KafkaPublisher.create(settings.kafka)

        def processed() -> float:
            return sum(metric_value(port, "hw_articles_out_total") for port in ports)

        # warm-up: worker joined, tables restored, code paths hot
        asyncio.run(pub.publish(warm))
        _wait(lambda: processed() >= len(warm), 300, "warm-up", workers)

        # 1. sustained throughput
        start_count = processed()
        cpu_w0 = sum(_cpu_seconds(w) for w in workers)
        cpu_p0 = time.process_time()
        t0 = time.perf_counter()
        chunk = 2000
        for i in range(0, len(bulk), chunk):
            pub.publish_sync(bulk[i : i + chunk])
        t_pub = time.perf_counter() - t0
        at_pub = processed()
        _wait(lambda: processed() >= start_count + len(bulk), 1800, "bulk processing", workers)
        t_all = time.perf_counter() - t0
        worker_cpu = sum(_cpu_seconds(w) for w in workers) - cpu_w0
        publisher_cpu = time.process_time() - cpu_p0
        # the backlog left when publishing finished, drained by the worker alone
        drained = start_count + len(bulk) - at_pub
        drain_rate = (
            drained / max(1e-9, t_all - t_pub) if drained > 0.1 * len(bulk) else float("nan")
        )
        rate = len(bulk) / t_all

        # 2. latency at a fixed offered load, small batches every 50 ms
        from kafka import KafkaProducer

        lat_producer = KafkaProducer(
            bootstrap_servers=bootstrap.split(","), acks="all", enable_idempotence=True, linger_ms=0
        )
        from services.kafka.codec import encode

        per_tick = max(1, round(args.rate * 0.05))
        t_start = time.perf_counter()
        for i in range(0, n_lat, per_tick):
            due = t_start + (i / args.rate)
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            for a in paced[i : i + per_tick]:
                r = encode(a)
                lat_producer.send(topics.articles, key=r.key, value=r.value, headers=r.headers)
        lat_producer.flush(60)
        lat_producer.close()
        offered = n_lat / (time.perf_counter() - t_start)
        target_count = start_count + len(bulk) + n_lat
        _wait(lambda: processed() >= target_count, 600, "latency run", workers)

        from kafka import KafkaConsumer, TopicPartition

        def read_all(topic: str) -> list:  # type: ignore[type-arg]
            c = KafkaConsumer(
                bootstrap_servers=bootstrap.split(","),
                enable_auto_commit=False,
                consumer_timeout_ms=1000,
            )
            tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or [])]
            c.assign(tps)
            c.seek_to_beginning(*tps)
            ends = c.end_offsets(tps)
            out: list[Any] = []
            while any(c.position(tp) < ends[tp] for tp in tps):
                out.extend(m for m in c)
            c.close()
            return out

        paced_ids = {a.id for a in paced}
        produced_at = {
            json.loads(m.value)["id"]: m.timestamp
            for m in read_all(topics.articles)
            if json.loads(m.value)["id"] in paced_ids
        }
        first_signal: dict[str, int] = {}
        for m in read_all(topics.signals):
            aid = json.loads(m.value)["article_id"]
            if aid in produced_at:
                first_signal[aid] = min(first_signal.get(aid, m.timestamp), m.timestamp)
        lat = [(first_signal[a] - produced_at[a]) / 1000.0 for a in first_signal]
        # a full worker batch is split over the worker's partitions: that is the size
        # each suite.prepare call sees
        per_call = max(1, args.batch * args.workers // args.partitions)
        base = baseline(bulk[:5000], per_call)
    finally:
        for w in workers:
            w.stop()
        if kafka is not None:
            kafka.stop()
        else:
            drop_topics(bootstrap, (prefix, f"hw-{prefix.rstrip('.')}-"))

    p50, p99 = percentile(lat, 0.5), percentile(lat, 0.99)
    cores = os.cpu_count()
    print(
        f"stream_bench: Kafka + Faust + full detector suite, {cores} cores, "
        f"partitions={args.partitions}, workers={args.workers}, batch={args.batch}"
    )
    print(
        f"  sustained end to end : {rate:8.0f} articles/s ({len(bulk)} articles in {t_all:.1f} s; "
        f"publishing alone took {t_pub:.1f} s = {len(bulk) / t_pub:.0f}/s)  target >= {TARGET_RATE:.0f}: "
        f"{'MET' if rate >= TARGET_RATE else 'NOT MET'}"
    )
    print(
        f"  worker drain rate    : {drain_rate:8.0f} articles/s (the {drained:.0f} articles still "
        "queued when publishing ended, processed by the workers alone)"
    )
    print(
        f"  baseline in-process  : {base:8.0f} articles/s (DetectorSuite over a dict, same articles,"
        f" batches of {per_call})"
    )
    print(f"  ratio stream/baseline: {rate / base:8.2f} (drain/baseline {drain_rate / base:.2f})")
    per_article = 1e6 * worker_cpu / len(bulk)
    print(
        f"  CPU per article      : worker {per_article:.0f} us (suite alone {1e6 / base:.0f} us: "
        f"Faust + Kafka client + state {per_article - 1e6 / base:.0f} us), publisher "
        f"{1e6 * publisher_cpu / len(bulk):.0f} us; one idle core per worker would sustain "
        f"~{1e6 / per_article:.0f} articles/s"
    )
    print(
        f"  latency at {offered:.0f} articles/s offered ({n_lat} articles, {len(lat)} with signals): "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms  target p99 < {TARGET_P99 * 1000:.0f} ms: "
        f"{'MET' if p99 < TARGET_P99 else 'NOT MET'}"
    )
    print(f"  median latency {statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
