"""Content-Encoding decoding is bounded: a gzip bomb cannot inflate past the cap."""

from __future__ import annotations

import gzip
import itertools
import zlib

import pytest

from ingest.fetch import _Decoder, host_key


def test_gzip_bomb_output_is_bounded_per_call() -> None:
    bomb = gzip.compress(b"\0" * (20 * 2**20))  # 20 MiB of zeros, ~20 KB compressed
    out = _Decoder("gzip").feed(bomb, 1024 + 1)
    assert len(out) == 1025  # stopped at the limit instead of inflating 20 MiB


def test_gzip_stream_decodes_across_chunks_and_concatenated_members() -> None:
    data = gzip.compress(b"prvi ") + gzip.compress(b"drugi")
    dec = _Decoder("gzip")
    out = b"".join(dec.feed(data[i : i + 7], 10_000) for i in range(0, len(data), 7))
    dec.finish()
    assert out == b"prvi drugi"


def test_raw_deflate_without_zlib_header_is_accepted() -> None:
    comp = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    data = comp.compress(b"vijesti") + comp.flush()
    assert _Decoder("deflate").feed(data, 100) == b"vijesti"


def test_truncated_gzip_is_an_error() -> None:
    data = gzip.compress(b"x" * 1000)[:-12]
    dec = _Decoder("gzip")
    dec.feed(data, 10_000)
    with pytest.raises(zlib.error, match="truncated"):
        dec.finish()


def test_politeness_key_is_host_and_port() -> None:
    assert host_key("http://127.0.0.1:8001/a") != host_key("http://127.0.0.1:8002/a")
    assert host_key("https://RTS.rs/rss") == "rts.rs:443"


async def test_requests_to_one_host_are_spaced_and_limited_but_other_hosts_are_not() -> None:
    import asyncio

    from hybridwatch.config import IngestSettings
    from ingest.fetch import Fetcher

    fetcher = Fetcher(IngestSettings(politeness_delay=0.2, per_host_concurrency=2, concurrency=8))
    loop = asyncio.get_running_loop()
    starts: dict[str, list[float]] = {"a": [], "b": []}
    inside = {"a": 0, "b": 0}
    peak = {"a": 0, "b": 0}

    async def one(host: str) -> None:
        async with fetcher._slot(f"http://{host}.example:80/rss"):
            starts[host].append(loop.time())
            inside[host] += 1
            peak[host] = max(peak[host], inside[host])
            await asyncio.sleep(0.5)
            inside[host] -= 1

    try:
        await asyncio.gather(*(one("a") for _ in range(4)), one("b"))
    finally:
        await fetcher.aclose()
    a = sorted(starts["a"])
    gaps = [later - earlier for earlier, later in itertools.pairwise(a)]
    assert all(g >= 0.2 - 1e-3 for g in gaps), (
        gaps
    )  # politeness: a lower bound, never a speed threshold
    assert peak["a"] == 2  # per-host concurrency
    assert starts["b"][0] < a[1]  # another host does not wait for host a's politeness
