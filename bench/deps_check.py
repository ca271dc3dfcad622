"""Why defusedxml and datasketch are not dependencies and why orjson is.

    .venv/bin/pip install defusedxml datasketch   # only to re-run this comparison
    .venv/bin/python bench/deps_check.py

Compares, in one run, the project's own code with the library that could replace it:

* ingest/xmlsafety.check_xml (regex scan of the DOCTYPEs) vs a defusedxml SAX parse
  (forbid_entities) on the feed fixtures, and whether each accepts the harmless
  `<!ENTITY nbsp "&#160;">` declaration some RSS 0.91 feeds carry;
* detectors/minhash (one-permutation MinHash, numpy) vs datasketch.MinHash on synthetic
  300-word texts (64 permutations, 3-word shingles);
* faust-streaming's JSON with orjson (what it uses when orjson is installed) vs its
  stdlib fallback, on a synthetic detector-state shard like a changelog record.

Not a *_bench.py: `make bench` does not run it (the two libraries are not installed).
Prints best-of-5 timings; note the load average beside any figure you quote.
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors import minhash  # noqa: E402
from ingest.xmlsafety import check_xml  # noqa: E402

NBSP = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;">]>'
    b'<rss version="0.91"><channel><title>a&nbsp;b</title></channel></rss>'
)


def best_us(fn: Callable[[Any], Any], arg: Any, n: int) -> float:
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn(arg)
        rounds.append((time.perf_counter() - t0) / n * 1e6)
    return min(rounds)


def xml_safety() -> None:
    try:
        import xml.sax.handler

        import defusedxml.sax
    except ImportError:
        print("xml: defusedxml not installed, skipped")
        return

    def defused(body: bytes) -> None:
        with contextlib.suppress(Exception):  # refused or ill-formed: the cost is the same
            defusedxml.sax.parseString(
                body, xml.sax.handler.ContentHandler(), forbid_dtd=False, forbid_entities=True
            )

    def accepts(fn: Callable[[bytes], None], body: bytes) -> bool:
        try:
            fn(body)
        except Exception:
            return False
        return True

    def strict(body: bytes) -> None:
        defusedxml.sax.parseString(body, xml.sax.handler.ContentHandler())

    feed = max(
        sorted((ROOT / "tests/fixtures/feeds").glob("*.xml")), key=lambda p: p.stat().st_size
    )
    body = feed.read_bytes()
    print(
        f"xml ({feed.name}, {len(body)} bytes): check_xml {best_us(check_xml, body, 2000):.1f} us, "
        f"defusedxml SAX parse {best_us(defused, body, 300):.1f} us"
    )
    ours = accepts(check_xml, NBSP)
    print(f"xml: nbsp declaration accepted by check_xml={ours}, defusedxml={accepts(strict, NBSP)}")
    assert not accepts(check_xml, (ROOT / "tests/fixtures/feeds/billion-laughs.xml").read_bytes())


def minhashes() -> None:
    try:
        from datasketch import MinHash
    except ImportError:
        print("minhash: datasketch not installed, skipped")
        return
    rng = random.Random(1)
    vocab = [f"rijec{i}" for i in range(5000)]
    texts = [" ".join(rng.choice(vocab) for _ in range(300)) for _ in range(200)]

    def ours(batch: list[str]) -> None:
        for t in batch:
            minhash.signature(minhash.shingle_hashes(minhash.word_hashes(t), 3), 64)

    def theirs(batch: list[str]) -> None:
        for t in batch:
            ws = t.split()
            m = MinHash(num_perm=64)
            m.update_batch([" ".join(ws[i : i + 3]).encode() for i in range(len(ws) - 2)])

    n = len(texts)
    print(
        f"minhash (300 words, 64 perm): detectors.minhash {best_us(ours, texts, 1) / n:.0f} us, "
        f"datasketch {best_us(theirs, texts, 1) / n:.0f} us per text"
    )


def faust_json() -> None:
    import faust.utils.json as fj

    rng = random.Random(3)
    shard: dict[str, Any] = {
        f"burst|RS|narr{i}": {
            "buckets": [[1538352000 + 3600 * j, rng.randint(0, 9)] for j in range(48)],
            "ewma": rng.random(),
            "n": i,
        }
        for i in range(40)
    }
    shard.update(
        {
            f"amplification|RS|{i}": ["AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" * 4, "u", 1.5]
            for i in range(60)
        }
    )
    if fj.orjson is None:
        print("json: orjson not installed, faust uses stdlib json")
        return

    def stdlib(o: Any) -> str:
        return json.dumps(o, cls=fj.JSONEncoder)

    text = fj.dumps(shard)
    print(
        f"faust json ({len(text)} bytes state shard): orjson dumps {best_us(fj.dumps, shard, 200):.0f} us"
        f" loads {best_us(fj.loads, text, 200):.0f} us; stdlib fallback dumps "
        f"{best_us(stdlib, shard, 50):.0f} us loads {best_us(json.loads, text, 200):.0f} us"
    )


if __name__ == "__main__":
    xml_safety()
    minhashes()
    faust_json()
