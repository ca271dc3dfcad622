"""Content-Encoding decoding is bounded: a gzip bomb cannot inflate past the cap."""

from __future__ import annotations

import gzip
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
