"""The Kafka clients run their per-record checksums in C, not in Python.

kafka-python verifies (consumer) and writes (producer) a CRC-32C per record batch and
falls back to a pure-Python implementation when the `crc32c` package is missing. That
fallback was ~32 % of the indexer's CPU and ~12 % of `replay --to kafka` in the 1M-article
replay bench (docs/kafka.md), so the dependency is part of the product, and this test
fails if an install loses it.
"""

from __future__ import annotations

import kafka.record.util as record_util


def test_kafka_python_uses_the_c_crc32c() -> None:
    assert record_util.crc32c_c is not None


def test_c_crc32c_gives_the_standard_check_value() -> None:
    # RFC 3720's check value: CRC-32C of the ASCII digits 1..9
    assert record_util.calc_crc32c(b"123456789") == 0xE3069283
