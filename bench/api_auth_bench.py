"""Cost of the API's security layer (services/api/security.py) per request.

Serves GET /healthz from a SqliteStore through Starlette's TestClient (in-process,
no sockets), once without and once with the security middleware (token check in the
token store, role, rate bucket, headers), alternating, and prints microseconds per
request of each. In-process, so the figure is the layer's cost, not network latency.

    .venv/bin/python bench/api_auth_bench.py [--requests 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from hybridwatch.config import ApiSettings, Settings
from services.api.app import create_app
from services.api.security import secure_app
from services.auth.tokens import TokenStore
from services.store.sqlite import SqliteStore


def _per_request(client: TestClient, token: str, n: int) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(50):  # warm-up
        client.get("/healthz", headers=headers)
    t0 = time.perf_counter()
    for _ in range(n):
        if client.get("/healthz", headers=headers).status_code != 200:
            raise SystemExit("unexpected status")
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="hw-auth-bench-"))
    store = SqliteStore.open(d)
    token, _ = TokenStore.open(d).create("bench", "analyst")
    api = ApiSettings(auth="tokens", rate_per_minute=10**6, rate_burst=10**6)
    plain = TestClient(create_app(store, lambda: [], None, started_at=0.0))
    secured = TestClient(
        secure_app(
            create_app(store, lambda: [], None, started_at=0.0),
            Settings(data_dir=d, api=api),
            out=io.StringIO(),
        )
    )
    open_us, auth_us = [], []
    for _ in range(args.rounds):
        open_us.append(_per_request(plain, token, args.requests))
        auth_us.append(_per_request(secured, token, args.requests))
    o, a = statistics.median(open_us), statistics.median(auth_us)
    print(
        f"GET /healthz in-process, median of {args.rounds} x {args.requests}: "
        f"without security {o:.0f} µs/request, with tokens {a:.0f} µs/request "
        f"(+{a - o:.0f} µs); load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
