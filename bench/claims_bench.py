"""Known-claim matching at database scale: speed at 1k/5k/20k claims, and match quality.

Speed (default): indexes of 1,000, 5,000 and 20,000 claim texts are built here from
`../shared/data` (EUvsDisinfo training claims; to reach 20,000, the training
disproofs and article excerpts cut into ~200-character pieces are added: same
English register, so the inverted lists are as long as a real database's would
be). Probes are title + lede (250 characters) of real news and claims: the neutral
training and dev news (sr-Cyrl, sr-Latn, sq, hr, en) and the dev claims, mixed.
For each size it prints the CPU microseconds per article of
`ClaimIndex.search_many` on batches of 256 (the detector's path, at its thresholds
0.45 / 0.6), and of a naive exact baseline measured in the same run on a sample:
`brute_force` (cosine and coverage of the article against every claim text, one
numpy pass over every entry, no inverted lists). Both find the same matches (the
unit tests check it); the ratio is the point.

Quality (`--quality`): false-match rates on the training and dev negatives at a grid
of thresholds, grouped cross-validation by case (folds by case date) and the own-case
rate (a case's summary or excerpt against its own title).

    .venv/bin/python bench/claims_bench.py [--sizes 1000,5000,20000] [--repeat 3]
    .venv/bin/python bench/claims_bench.py --quality

CPU time of this single-threaded process (`time.process_time`), so other load on a
shared machine counts less; note `uptime` beside the figures. Exit 0 either way.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.claim_index import (  # noqa: E402
    ClaimIndex,
    ClaimText,
    build_index,
    gram_features,
    stem_features,
)
from detectors.claims import ClaimsOptions  # noqa: E402
from detectors.matcher import token_stream  # noqa: E402
from hybridwatch.textfold import fold  # noqa: E402
from services.claims.build import claim_texts  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAIN = DATA / "train"
LEDE = ClaimsOptions().lede_chars
THRESHOLD = ClaimsOptions().threshold
COVERAGE = ClaimsOptions().min_coverage


def read(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def probe_of(title: str | None, text: str | None) -> str:
    """What the detector compares: folded title plus the first LEDE characters of the text."""
    t = fold(title or "")
    x = fold(text or "")[:LEDE]
    return f"{t} {x}" if t else x


def background() -> list[str]:
    rows = read(TRAIN / "neutral-train.jsonl") + read(TRAIN / "neutral-train-en.jsonl")
    return [f"{r.get('title') or ''} {r.get('text') or ''}" for r in rows]


# --------------------------------------------------------------------------- speed


def scale_texts(train: list[dict[str, Any]], n: int) -> list[ClaimText]:
    """`n` claim texts: the training claims, then disproofs and excerpt pieces."""
    texts = claim_texts(train, "train")
    by_text: dict[str, ClaimText] = {}
    for t in texts:
        by_text.setdefault(t.text, t)
    pool = list(by_text.values())
    extra: list[ClaimText] = []
    for r in train:
        body = str(r.get("text") or "")
        if r["label"] == "disproof":
            for k in range(0, len(body), 200):
                extra.append(ClaimText(f"{r['id']}@{k}", body[k : k + 200], "disproof"))
        elif r.get("text_field") == "article_abstract":
            for k in range(400, len(body), 200):
                extra.append(ClaimText(f"{r['id']}@{k}", body[k : k + 200], "piece"))
    rng = random.Random(20)
    rng.shuffle(pool)
    rng.shuffle(extra)
    return (pool + extra)[:n]


def probes_for_speed() -> list[str]:
    rows = read(TRAIN / "neutral-train.jsonl")[:1500] + read(TRAIN / "neutral-train-en.jsonl")[:500]
    rows += read(DATA / "neutral-wb-dev.jsonl")
    out = [probe_of(r.get("title"), r.get("text")) for r in rows]
    out += [probe_of(None, r["text"]) for r in read(DATA / "euvsdisinfo-wb-dev.jsonl")]
    random.Random(3).shuffle(out)
    return out


def cpu(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def speed(sizes: Sequence[int], repeat: int, naive_n: int) -> None:
    train = read(TRAIN / "euvsdisinfo-train.jsonl")
    bg = background()
    probes = probes_for_speed()
    streams = [token_stream(p) for p in probes[:naive_n]]
    features = [(gram_features(s), stem_features(s)) for s in streams]
    print(f"{len(probes)} probes (title + {LEDE}-char lede), batches of 256, thresholds "
          f"{THRESHOLD} / {COVERAGE}; naive baseline on {naive_n} of them")  # fmt: skip
    print(f"{'claim texts':>12} {'claims':>7} {'build s':>8} {'load ms':>8} "
          f"{'µs/article':>11} {'naive µs':>9} {'ratio':>6} {'matched':>8}")  # fmt: skip
    for n in sizes:
        texts = scale_texts(train, n)
        t0 = time.process_time()
        blob = build_index(texts, bg, {"bench": n})
        built = time.process_time() - t0
        t0 = time.process_time()
        index = ClaimIndex.from_bytes(blob)
        loaded = time.process_time() - t0
        found: list[list[Any]] = []

        def run(index: ClaimIndex = index, found: list[list[Any]] = found) -> None:
            found.clear()
            for i in range(0, len(probes), 256):
                found.extend(
                    index.search_many(probes[i : i + 256], min_sim=THRESHOLD, min_coverage=COVERAGE)
                )

        fast = cpu(run, repeat) / len(probes)

        def naive(index: ClaimIndex = index) -> None:
            for grams, stems in features:
                index.brute_force(grams, stems)

        slow = cpu(naive, 1) / len(features)
        print(
            f"{index.n_vectors:>12,} {len(index.claims):>7,} {built:>8.1f} {loaded * 1e3:>8.0f} "
            f"{fast * 1e6:>11.1f} {slow * 1e6:>9.0f} {slow / fast:>5.0f}x "
            f"{sum(1 for f in found if f):>8}"
        )


# --------------------------------------------------------------------------- quality

GRID = [(0.35, 0.5), (0.4, 0.5), (0.4, 0.6), (0.45, 0.5), (0.45, 0.6), (0.45, 0.7), (0.5, 0.6)]


def best_matches(
    index: ClaimIndex, probes: Sequence[str], own: Sequence[str | None]
) -> list[list[tuple[float, float]]]:
    """(similarity, coverage) of the candidates of each probe, its own case left out."""
    out = []
    for i in range(0, len(probes), 256):
        for k, found in enumerate(
            index.search_many(probes[i : i + 256], top=50, min_sim=0.35, min_coverage=0.5)
        ):
            mine = own[i + k]
            out.append(
                [(m.similarity, m.coverage) for m in found if index.claims[m.claim]["id"] != mine]
            )
    return out


def rates(name: str, found: list[list[tuple[float, float]]]) -> None:
    cells = []
    for t, c in GRID:
        hit = sum(1 for f in found if any(s >= t and v >= c for s, v in f))
        cells.append(f"{hit / max(len(found), 1):.4f}")
    print(f"{name:<44} {len(found):>6} " + " ".join(f"{x:>9}" for x in cells))


def grid_header() -> None:
    print(
        f"{'probes (own case excluded)':<44} {'n':>6} "
        + " ".join(f"{t:.2f}/{c:.1f}".rjust(9) for t, c in GRID)
    )


def index_of(texts: Iterable[ClaimText], bg: Sequence[str]) -> ClaimIndex:
    return ClaimIndex.from_bytes(build_index(list(texts), bg))


def quality(folds: int) -> None:
    train = read(TRAIN / "euvsdisinfo-train.jsonl")
    dev = read(DATA / "euvsdisinfo-wb-dev.jsonl")
    bg = background()
    shipped = index_of(claim_texts(train, "train") + claim_texts(dev, "dev"), bg)
    train_only = index_of(claim_texts(train, "train"), bg)
    print(f"shipped-equivalent index: {len(shipped.claims):,} claims, {shipped.n_vectors:,} texts")
    print("share of probes matching at least one claim, at cosine / coverage thresholds:")
    grid_header()
    neutral = read(TRAIN / "neutral-train.jsonl")
    neutral_en = read(TRAIN / "neutral-train-en.jsonl")
    neutral_dev = read(DATA / "neutral-wb-dev.jsonl")
    for name, rows in (
        ("neutral-train (sr, sq, hr news)", neutral),
        ("neutral-train-en (English news sentences)", neutral_en),
    ):
        rates(
            name,
            best_matches(
                shipped, [probe_of(r.get("title"), r.get("text")) for r in rows], [None] * len(rows)
            ),
        )
    rates(
        "neutral-wb-dev",
        best_matches(shipped, [probe_of(r.get("title") if r.get("title") != r.get("text") else None, r.get("text")) for r in neutral_dev], [None] * len(neutral_dev)),
    )  # fmt: skip
    dp = [r for r in train if r["label"] == "disproof"]
    rates(
        "train disproofs",
        best_matches(shipped, [probe_of(None, r["text"]) for r in dp], [r["case_id"] for r in dp]),
    )
    dd = [r for r in dev if r["label"] == "disproof"]
    rates(
        "dev disproofs",
        best_matches(shipped, [probe_of(None, r["text"]) for r in dd], [r["case_id"] for r in dd]),
    )
    di = [r for r in dev if r["label"] == "disinfo"]
    rates(
        "dev disinfo vs train-only index (other cases)",
        best_matches(train_only, [probe_of(None, r["text"]) for r in di], [r["case_id"] for r in di]),
    )  # fmt: skip
    # grouped cross-validation by case, folds by case date
    cases = sorted(
        {r["case_id"]: str(r.get("date") or "") for r in train}.items(),
        key=lambda kv: (kv[1], kv[0]),
    )
    fold_of = {cid: k * folds // len(cases) for k, (cid, _) in enumerate(cases)}
    held: list[list[tuple[float, float]]] = []
    held_dp: list[list[tuple[float, float]]] = []
    for f in range(folds):
        rest = [r for r in train if fold_of[r["case_id"]] != f]
        out = [r for r in train if fold_of[r["case_id"]] == f]
        index = index_of(claim_texts(rest, "train"), bg)
        dis = [r for r in out if r["label"] == "disinfo"]
        held += best_matches(index, [probe_of(None, r["text"]) for r in dis], [None] * len(dis))
        dps = [r for r in out if r["label"] == "disproof"]
        held_dp += best_matches(index, [probe_of(None, r["text"]) for r in dps], [None] * len(dps))
    rates(f"CV {folds} folds: held-out claims vs other cases", held)
    rates(f"CV {folds} folds: held-out disproofs", held_dp)
    # own case: summaries and excerpts against an index of the titles
    titles = [t for t in claim_texts(train, "train") if t.kind == "title"]
    tindex = index_of(titles, bg)
    title_of = {t.claim_id: fold(t.text) for t in titles}
    own_rows = [
        r for r in train
        if r["label"] == "disinfo" and r.get("text_field") in ("summary", "article_abstract")
        and r["case_id"] in title_of and fold(r["text"]) != title_of[r["case_id"]]
    ]  # fmt: skip
    for field in ("summary", "article_abstract"):
        rows = [r for r in own_rows if r["text_field"] == field]
        hits = []
        for i in range(0, len(rows), 256):
            chunk = rows[i : i + 256]
            found = tindex.search_many(
                [probe_of(None, r["text"]) for r in chunk], top=50, min_sim=0.35, min_coverage=0.5
            )
            hits += [
                [
                    (m.similarity, m.coverage)
                    for m in f
                    if tindex.claims[m.claim]["id"] == r["case_id"]
                ]
                for r, f in zip(chunk, found, strict=True)
            ]
        rates(f"own case: {field} -> its own title", hits)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,5000,20000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--naive-n", type=int, default=200)
    ap.add_argument("--quality", action="store_true", help="match-quality figures instead")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    if args.quality:
        quality(args.folds)
    else:
        speed([int(s) for s in args.sizes.split(",")], args.repeat, args.naive_n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
