"""Coverage-guided fuzzing (atheris/libFuzzer) of the input boundaries, for `make fuzz`.

    python tests/fuzz/atheris_fuzz.py TARGET [libFuzzer flags, e.g. -max_total_time=60]

Targets: parse (feed parsing + normalisation), charset, url, codec, config. A target
may raise only its documented error (ParseError/EntryError, BadUrl, ContractError,
ConfigError); anything else, a hang beyond -timeout or memory beyond -rss_limit_mb is a
crash, written by libFuzzer as crash-*/timeout-*/oom-* in the working directory: turn
each into a regression test in tests/unit/fuzz/. Corpora: .hybridwatch/fuzz/corpus/<target>.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports():
    from hybridwatch.config import ConfigError, SourceConfig, load_settings
    from hybridwatch.events import Alert, Article, ContractError, Signal
    from ingest.canonical import BadUrl, canonical_url
    from ingest.charset import decode_feed
    from ingest.normalise import EntryError, normalise
    from ingest.parse import ParseError, parse_feed
    from services.kafka.codec import decode_event

SOURCE = SourceConfig(
    id="syn-fuzz", outlet="Fuzz", country="RS", language="sr", feed_url="https://f.example/rss"
)
FETCHED = datetime(2024, 1, 1, tzinfo=UTC)
CONTENT_TYPES = [None, "application/rss+xml", "text/xml; charset=windows-1251", "text/html"]
_CONFIG = Path(tempfile.mkdtemp(prefix="hw-fuzz-")) / "c.yaml"
SEEDS: dict[str, list[bytes]] = {
    "parse": [
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>a</title>'
        b"<link>https://e.example/a</link><description>&lt;b&gt;x&lt;/b&gt;</description>"
        b"<pubDate>Sun, 30 Sep 2018 10:00:00 +0200</pubDate></item></channel></rss>",
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>a</title>'
        b'<link href="https://e.example/b"/><id>urn:x</id></entry></feed>',
    ],
    "charset": [b'<?xml version="1.0" encoding="windows-1250"?>\xe8\x9a', b"\xef\xbb\xbf<rss/>"],
    "url": [b"https://E.example:443/a/../b?utm_source=x&b=2&a=1#f", b"//x.example/\xd0\xb2"],
    "codec": [b'{"schema_version": 1, "id": "x"}'],
    "config": [b"api: {port: 8686, auth: tokens}\nkafka: {security_protocol: SASL_SSL}\n"],
}


def _parse(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    ctype = CONTENT_TYPES[fdp.ConsumeIntInRange(0, len(CONTENT_TYPES) - 1)]
    try:
        feed = parse_feed(fdp.ConsumeBytes(fdp.remaining_bytes()), ctype)
    except ParseError:
        return
    for entry in feed.entries:
        with contextlib.suppress(EntryError):
            normalise(entry, SOURCE, FETCHED)


def _charset(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    ctype = CONTENT_TYPES[fdp.ConsumeIntInRange(0, len(CONTENT_TYPES) - 1)]
    decode_feed(fdp.ConsumeBytes(fdp.remaining_bytes()), ctype).text_utf8.decode("utf-8")


def _url(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        out = canonical_url(text, "https://base.example/d/")
    except BadUrl:
        return
    if canonical_url(out) != out:
        raise AssertionError(f"canonical_url not idempotent: {text!r} -> {out!r}")


def _codec(data: bytes) -> None:
    model: Any
    for model in (Article, Signal, Alert):
        with contextlib.suppress(ContractError):
            decode_event(model, data, [("hw-schema", data[:2])])


def _config(data: bytes) -> None:
    _CONFIG.write_bytes(data)
    with contextlib.suppress(ConfigError):
        load_settings(_CONFIG, environ={})


TARGETS = {"parse": _parse, "charset": _charset, "url": _url, "codec": _codec, "config": _config}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer flags]")
    name = sys.argv[1]
    corpus = Path(__file__).resolve().parents[2] / ".hybridwatch" / "fuzz" / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(SEEDS[name]):
        (corpus / f"seed-{i}").write_bytes(seed)
    atheris.Setup([sys.argv[0], *sys.argv[2:], str(corpus)], TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
