"""Build detectors/data/claims-euvsdisinfo-wb.json.gz, the known-claim index.

Input: the disinfo records of the EUvsDisinfo dev set (disproof records are the
fact-checkers' answers, not claims, and are skipped). Document frequencies come
from those claims plus the presumed-neutral news set, so n-grams common in
ordinary Balkan news weigh little. The output holds only derived numbers (sparse
TF-IDF vectors of character 4-grams) and each case's public URL, never the text.

    .venv/bin/python scripts/build_claim_index.py \
        --claims /work/shared/data/euvsdisinfo-wb-dev.jsonl \
        --background /work/shared/data/neutral-wb-dev.jsonl

Deterministic: the same inputs give a byte-identical file (sorted keys, fixed
gzip mtime), whose version is the sha256 of its content.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.claims import INDEX_FILE, INDEX_FORMAT, ngrams, weigh
from hybridwatch.textfold import fold

LEDE = 400


def read_jsonl(path: Path) -> list[dict[str, object]]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise SystemExit(f"{path}:{n}: not JSON: {err}") from err
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--claims", type=Path, default=Path("/work/shared/data/euvsdisinfo-wb-dev.jsonl")
    )
    ap.add_argument("--background", type=Path, action="append", default=None)
    ap.add_argument("--output", type=Path, default=INDEX_FILE)
    args = ap.parse_args(argv)
    background = args.background or [Path("/work/shared/data/neutral-wb-dev.jsonl")]

    claims = [r for r in read_jsonl(args.claims) if r.get("label") == "disinfo"]
    claim_grams = [ngrams(fold(str(r["text"])), LEDE) for r in claims]
    docs = list(claim_grams)
    for path in background:
        for r in read_jsonl(path):
            docs.append(ngrams(fold(f"{r.get('title') or ''} {r.get('text') or ''}"), LEDE))
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d)
    n = len(docs)
    vocab = set().union(*claim_grams)
    idf = {g: round(math.log((1 + n) / (1 + df[g])) + 1.0, 4) for g in sorted(vocab)}
    default_idf = round(math.log(1 + n) + 1.0, 4)
    entries = []
    for r, grams in zip(claims, claim_grams, strict=True):
        vec = weigh(grams, idf, default_idf)
        entries.append(
            {
                "case_id": r["case_id"],
                "record_id": r["id"],
                "date": r.get("date"),
                "text_field": r.get("text_field"),
                "vector": {g: round(w, 5) for g, w in sorted(vec.items())},
            }
        )
    body = {"format": INDEX_FORMAT, "claims": entries, "idf": idf, "default_idf": default_idf}
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")
    body["version"] = hashlib.sha256(raw).hexdigest()[:16]
    body["source"] = "EUvsDisinfo dev set (disinfo records), see scripts/build_claim_index.py"
    out = json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
        gz.write(out)
    print(
        f"wrote {args.output}: {len(entries)} claims, {len(idf)} n-grams, version {body['version']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
