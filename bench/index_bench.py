"""Bulk indexing throughput into the real search engine, against one request per document.

Articles are SYNTHETIC (tests/integration/search/synthetic.py: made-up texts mixing
Cyrillic and Latin words, ~60 words each, labelled synthetic). Both measurements
run in the same process, against the same engine, with the same templates and
analyzers (standard + folded + English sub-fields on title and text):

* bulk: `SearchEngineStore.index_documents` — the indexer's write path — in bulk
  requests of --batch documents, no refresh forced;
* baseline: one index request per document (PUT <index>/_doc/<id>), the design the
  issue rules out, on --single documents.

    .venv/bin/python bench/index_bench.py [--n 50000] [--batch 2000] [--single 2000]

Uses the engine at $HW_ES_URL ($HW_STORE_KIND, else detected), or starts a private
node with deploy/local/search.sh when it is unset. Prints docs/s for both, the ratio
and whether the target (>= 5,000 docs/s bulk) is met; checks that every document
arrived. Exit status 0 either way unless documents are missing: figures, not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hybridwatch.config import StoreSettings  # noqa: E402
from services.store import templates  # noqa: E402
from services.store.engine_client import detect_engine  # noqa: E402
from services.store.search_engine import SearchEngineStore, doc_of  # noqa: E402
from tests.integration.search.synthetic import make_articles  # noqa: E402

TARGET = 5_000


def _engine_pid(started: list[str] | None) -> int | None:
    """PID of a node started by deploy/local/search.sh (for its CPU time), if local."""
    run = (
        Path(started[0].split("=", 1)[1])
        if started
        else Path(os.environ.get("HW_SERVICES_DIR", ROOT / ".hybridwatch/services"))
    )
    try:
        pid = int((run / "search" / "pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"org.opensearch.bootstrap.OpenSearch" in cmdline else None


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _engine() -> tuple[str, str, list[str] | None]:
    """(url, kind, stop command or None) of the engine to measure."""
    url = os.environ.get("HW_ES_URL")
    if url:
        kind = os.environ.get("HW_STORE_KIND") or detect_engine(url).engine
        return url, kind, None
    run = tempfile.mkdtemp(prefix="hw-index-bench-")
    env = {**os.environ, "HW_SERVICES_DIR": run}
    out = subprocess.run(
        [str(ROOT / "deploy/local/search.sh"), "start"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return (
        values["HW_ES_URL"],
        values.get("HW_STORE_KIND", "opensearch"),
        [f"HW_SERVICES_DIR={run}"],
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=50_000, help="documents for the bulk run")
    ap.add_argument("--batch", type=int, default=2_000, help="documents per bulk request")
    ap.add_argument(
        "--single", type=int, default=2_000, help="documents for the one-request-each baseline"
    )
    ap.add_argument(
        "--warmup", type=int, default=6_000, help="documents indexed before timing starts"
    )
    args = ap.parse_args()

    url, kind, started = _engine()
    prefix = f"hwbench-{uuid.uuid4().hex[:8]}-"
    store = SearchEngineStore.open(
        StoreSettings(kind=kind, url=url, index_prefix=prefix), refresh_on_write=False
    )  # type: ignore[arg-type]
    try:
        info = detect_engine(url)
        print(f"engine: {info.engine} {info.version} at {url}")
        docs = [doc_of(a) for a in make_articles(args.n + args.single, seed=42, words=60)]
        bulk_docs, single_docs = docs[: args.n], docs[args.n :]
        size = sum(len(d.source) for d in bulk_docs) / len(bulk_docs)
        print(
            f"documents: {args.n} bulk + {args.single} single, {size:.0f} bytes of JSON each (synthetic)"
        )

        # warm-up: creates the monthly indices and lets the JVM JIT-compile the engine's
        # hot paths (a node started seconds ago indexes at less than half its sustained
        # rate); these documents are re-sent later, so the final count is unchanged
        for i in range(0, min(args.warmup, len(docs)), args.batch):
            store.index_documents(docs[i : min(i + args.batch, args.warmup)])

        pid = _engine_pid(started)
        load_before = os.getloadavg()[0]
        cpu0 = _cpu_seconds(pid)
        t0 = time.perf_counter()
        indexed = 0
        for i in range(0, len(bulk_docs), args.batch):
            result = store.index_documents(bulk_docs[i : i + args.batch])
            if result.retry or result.rejected:
                print(
                    f"bulk failures: {len(result.retry)} retryable, {len(result.rejected)} refused"
                )
                return 1
            indexed += result.indexed
        bulk_s = time.perf_counter() - t0
        bulk_cpu = _cpu_seconds(pid) - cpu0

        cpu0 = _cpu_seconds(pid)
        t0 = time.perf_counter()
        for d in single_docs:
            index = templates.index_name(prefix, d.kind, d.when)
            store.client.index_one(index, d.id, d.source)
        single_s = time.perf_counter() - t0
        single_cpu = _cpu_seconds(pid) - cpu0

        store.refresh()
        stored = store.count_articles()
        bulk_rate = indexed / bulk_s
        single_rate = len(single_docs) / single_s
        print(
            f"bulk ({args.batch}/request): {indexed} docs in {bulk_s:.2f}s = {bulk_rate:,.0f} docs/s"
        )
        print(
            f"one request per document:  {len(single_docs)} docs in {single_s:.2f}s = {single_rate:,.0f} docs/s"
        )
        print(f"ratio bulk / single: {bulk_rate / single_rate:.1f}x")
        if pid is not None:
            # CPU time is what other load on a shared machine does not distort
            per_doc = 1e6 * bulk_cpu / indexed
            print(
                f"engine CPU per document: bulk {per_doc:.0f} us, single "
                f"{1e6 * single_cpu / len(single_docs):.0f} us "
                f"(ratio {single_cpu / len(single_docs) / (bulk_cpu / indexed):.1f}x); "
                f"{os.cpu_count()} idle cores would index ~{(os.cpu_count() or 1) * 1e6 / per_doc:,.0f} docs/s"
            )
        print(
            f"load average before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        print(f"target >= {TARGET:,} docs/s bulk: {'met' if bulk_rate >= TARGET else 'NOT met'}")
        if stored != len(docs):
            print(f"ERROR: {stored} documents in the index, expected {len(docs)}")
            return 1
        print(f"all {stored} documents stored, no duplicates (ids = event ids)")
        return 0
    finally:
        store.drop_all()
        store.close()
        if started:
            subprocess.run(
                [str(ROOT / "deploy/local/search.sh"), "stop"],
                env={**os.environ, started[0].split("=", 1)[0]: started[0].split("=", 1)[1]},
                check=False,
            )


if __name__ == "__main__":
    sys.exit(main())
