"""Build the shipped known-claim index from the EUvsDisinfo training and dev files.

    from services.claims.build import build_claim_index
    stats = build_claim_index(train_path, dev_path, out_path)

reads every `label: disinfo` record of `train_path` (EUvsDisinfo cases that are
not Western Balkans cases) and of `dev_path` (the Western Balkans dev cases): the
record's `text` (a claim title, summary or original-language excerpt) and, when
present, its `title` (the case's claim title). Disproofs are the fact-checkers'
answers, not claims, and are left out. Document frequencies also count the
presumed-neutral training news next to `train_path` (`neutral-train.jsonl`,
`neutral-train-en.jsonl`), so n-grams of any ordinary article weigh little.

The file written holds derived numbers only (see `detectors/claim_index.py`) plus
each case's id, public EUvsDisinfo URL and date, and the sha256 of every input
file. It is byte-for-byte reproducible: inputs are sorted, no clock or random
number is read, and gzip's mtime is 0.

    .venv/bin/python -m services.claims.build   # rebuilds detectors/data/claims-euvsdisinfo.bin.gz
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from detectors.claim_index import ClaimIndex, ClaimText, build_index
from detectors.claims import INDEX_FILE

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
TRAIN = DATA / "train" / "euvsdisinfo-train.jsonl"
DEV = DATA / "euvsdisinfo-wb-dev.jsonl"
BACKGROUND_NAMES = ("neutral-train.jsonl", "neutral-train-en.jsonl")


class BuildError(ValueError):
    """An input file is missing or holds a line that is not a JSON object."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        fh = path.open(encoding="utf-8")
    except OSError as err:
        raise BuildError(f"{path}: cannot read ({err.strerror or err})") from err
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as err:
                raise BuildError(f"{path}:{n}: not JSON: {err}") from err
            if not isinstance(rec, dict):
                raise BuildError(f"{path}:{n}: expected a JSON object")
            yield rec


def claim_texts(records: Sequence[dict[str, Any]], source: str) -> list[ClaimText]:
    """The claim texts of the disinfo records: `text` (its `text_field` as kind) and `title`."""
    out: list[ClaimText] = []
    for r in records:
        if r.get("label") != "disinfo":
            continue
        cid = str(r.get("case_id") or r.get("id") or "")
        if not cid:
            continue
        url = r.get("euvsdisinfo_url") or None
        date = r.get("date") or None
        for kind, text in (
            ("title", r.get("title")),
            (r.get("text_field") or "text", r.get("text")),
        ):
            if isinstance(text, str) and text.strip():
                out.append(ClaimText(cid, text, str(kind), url, date, source))
    return out


def background_texts(paths: Sequence[Path]) -> list[str]:
    return [f"{r.get('title') or ''} {r.get('text') or ''}" for p in paths for r in read_jsonl(p)]


def build_claim_index(
    train_path: str | os.PathLike[str],
    dev_path: str | os.PathLike[str] | None,
    out_path: str | os.PathLike[str],
    background_paths: Sequence[str | os.PathLike[str]] | None = None,
) -> dict[str, Any]:
    """Build the claim index from the train (+ dev) disinfo claims; write it; return stats.

    `background_paths` default to `neutral-train.jsonl` and `neutral-train-en.jsonl`
    beside `train_path` (those that exist). Raises BuildError naming the file (and
    line) that cannot be read.
    """
    started = time.perf_counter()
    train = Path(train_path)
    dev = Path(dev_path) if dev_path else None
    if background_paths is None:
        bg = [train.parent / n for n in BACKGROUND_NAMES if (train.parent / n).exists()]
    else:
        bg = [Path(p) for p in background_paths]
    inputs = [train, *([dev] if dev else []), *bg]
    for p in inputs:
        if not p.is_file():
            raise BuildError(f"{p}: no such file")
    texts = claim_texts(list(read_jsonl(train)), "euvsdisinfo-train")
    if dev is not None:
        texts += claim_texts(list(read_jsonl(dev)), "euvsdisinfo-wb-dev")
    metadata = {
        "built_by": "services/claims/build.py",
        "inputs": {p.name: sha256_of(p) for p in inputs},
        "background": [p.name for p in bg],
        "licence": "derived numbers of EUvsDisinfo data (EEAS East StratCom Task Force); "
        "no claim text is stored",
    }
    data = build_index(texts, background_texts(bg), metadata)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    index = ClaimIndex.from_bytes(data)
    return {
        "path": str(out),
        "version": index.version,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "claims": len(index.claims),
        "vectors": index.n_vectors,
        "texts_read": len(texts),
        "features": len(index.feat_ids),
        "entries": len(index.vec_feat),
        "inputs": metadata["inputs"],
        "seconds": round(time.perf_counter() - started, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build the shipped known-claim index.")
    ap.add_argument("--train", type=Path, default=TRAIN)
    ap.add_argument("--dev", type=Path, default=DEV)
    ap.add_argument("--output", type=Path, default=INDEX_FILE)
    args = ap.parse_args(argv)
    try:
        stats = build_claim_index(args.train, args.dev, args.output)
    except BuildError as err:
        print(f"build_claim_index: {err}", file=sys.stderr)
        return 1
    print(json.dumps(stats, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
