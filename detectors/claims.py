"""Known-claim matching: does an article restate a claim already debunked?

The index (``detectors/data/claims-euvsdisinfo-wb.json.gz``, built by
``scripts/build_claim_index.py`` from the disinfo records of the EUvsDisinfo dev
set) holds, per debunked claim, a sparse TF-IDF vector of character 4-grams of
its folded text (binary tf) - derived numbers, not the text itself - plus the case URL.

Why character n-grams over folded text: they survive inflection (Slavic and
Albanian case endings change only the last letters), script (Cyrillic and Latin
fold to the same letters) and small rewordings, with no language-specific
stemmer. Claims are short statements, so the article side is its title plus the
lede (first `lede_chars` of the text), where a claim is normally stated; the
whole body would dilute the cosine.

A match is a signal with the case id and the cosine similarity as evidence. In
evaluation on the dev set itself the option `exclude_same_case` stops a record
matching its own case (leave-one-case-out), otherwise the figures would be leakage.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field

from detectors.base import Detector, DetectorConfigError, DetectorOptions, State, register
from detectors.matcher import token_stream, token_streams, words
from detectors.narrative import severity_for
from detectors.view import ArticleView
from hybridwatch.events import Evidence, Signal

INDEX_FILE = Path(__file__).resolve().parent / "data" / "claims-euvsdisinfo-wb.json.gz"
NGRAM = 4
INDEX_FORMAT = 2


def ngrams(folded: str, limit: int) -> set[str]:
    """The set of character 4-grams of the folded text's words joined by single spaces.

    Binary (presence) weights: claims and ledes are a few hundred characters, where
    an n-gram rarely repeats, and a set keeps the run-time match in C (set
    intersection) instead of a Python loop over every n-gram.
    """
    s = " " + " ".join(words(folded[:limit])) + " "
    return {s[i : i + NGRAM] for i in range(len(s) - NGRAM + 1)}


def weigh(grams: set[str], idf: dict[str, float], default_idf: float) -> dict[str, float]:
    """idf weights of the present n-grams, L2-normalised."""
    vec = {g: idf.get(g, default_idf) for g in grams}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {g: v / norm for g, v in vec.items()}


@dataclass(frozen=True)
class ClaimIndex:
    """Claims as columns of a dense (n-gram x claim) matrix.

    Matching an article: its n-grams looked up in the vocabulary, one row gather
    and one vector-matrix product (numpy). The article's norm needs the idf of
    every n-gram it has; unknown ones all have `default_idf`, so it is computed
    from the known ones plus a count.

    An ASCII 4-gram is four bytes, i.e. one uint32 (big-endian, so numeric order is
    the string order): for an ASCII probe (nearly every folded article) the n-grams,
    their de-duplication and the vocabulary lookup are a few numpy operations
    (`gram_ids` sorted, `searchsorted`) rather than ~300 Python strings in a set.
    Other probes take the set path; both give the same floats.
    """

    version: str
    claims: tuple[dict[str, Any], ...]
    default_idf: float
    rows: dict[str, int]
    idf: dict[str, float]
    matrix: Any  # float32 (len(rows), len(claims)) claim weights
    vocab: frozenset[str]
    gram_ids: Any = None  # uint32, sorted: the ASCII vocabulary n-grams as numbers
    gram_rows: Any = None  # int64: matrix row of each `gram_ids` entry
    row_idf: Any = None  # float64: idf per matrix row
    max_claim_norm: float = 1.0  # largest L2 norm of a claim column (1 up to rounding)
    gram_ids_end: Any = None  # `gram_ids` and a sentinel (0xFFFFFFFF is no ASCII n-gram)
    gram_sq: Any = None  # float64: idf**2 of each `gram_ids` entry (idf * idf)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClaimIndex:
        import numpy as np

        if data.get("format") != INDEX_FORMAT:
            raise ValueError(f"claim index format {data.get('format')!r}, expected {INDEX_FORMAT}")
        claims = tuple(data["claims"])
        idf = {str(g): float(v) for g, v in data["idf"].items()}
        rows = {g: i for i, g in enumerate(sorted(idf))}
        matrix = np.zeros((len(rows), len(claims)), dtype=np.float32)
        for j, c in enumerate(claims):
            for g, w in c["vector"].items():
                matrix[rows[g], j] = float(w)
        ascii_grams = sorted(g for g in rows if g.isascii() and len(g) == NGRAM)
        gram_ids = np.array([_gram_id(g) for g in ascii_grams], dtype=np.uint32)
        gram_rows = np.array([rows[g] for g in ascii_grams], dtype=np.int64)
        row_idf = np.array([idf[g] for g in sorted(idf)], dtype=np.float64)
        norms = np.sqrt((matrix.astype(np.float64) ** 2).sum(axis=0)) if claims else [1.0]
        gram_idf = row_idf[gram_rows]
        return cls(
            str(data["version"]),
            claims,
            float(data["default_idf"]),
            rows,
            idf,
            matrix,
            frozenset(rows),
            gram_ids,
            gram_rows,
            row_idf,
            float(np.max(norms)),
            np.append(gram_ids, np.uint32(0xFFFFFFFF)),
            gram_idf * gram_idf,
        )

    def search(
        self, folded: str, limit: int, top: int = 5, min_sim: float = 0.0
    ) -> list[tuple[int, float]]:
        """Up to `top` (claim index, cosine) pairs with a positive cosine, best first.

        With `min_sim` > 0 the result is [] whenever no claim can reach `min_sim`:
        by Cauchy-Schwarz a cosine is at most sqrt(known part of |article|^2 /
        |article|^2) (times the largest claim norm, 1 up to rounding), and the
        article's n-grams unknown to the index carry the highest idf, so ordinary
        text is ruled out before the matrix product.
        """
        import numpy as np

        stream = token_stream(folded[:limit])
        if not stream.isascii():
            return self._search_set(ngrams(folded, limit), top, min_sim)
        if len(stream) < NGRAM or not len(self.gram_ids):
            return []
        raw = stream.encode("ascii")
        # every 4-gram as a big-endian uint32: an overlapping strided view of the bytes
        view = np.ndarray((len(raw) - NGRAM + 1,), dtype=">u4", buffer=raw, strides=(1,))
        ids = view.astype(np.uint32)
        ids.sort()
        first = ids[1:] != ids[:-1]  # the first of each run of equal n-grams
        pos = self.gram_ids.searchsorted(ids)
        # `gram_ids_end` is `gram_ids` plus a sentinel no ASCII n-gram equals, so a
        # position past the end needs no clipping
        known = self.gram_ids_end.take(pos) == ids
        known[1:] &= first
        at = pos[known]  # distinct known n-grams, ascending = string order
        if not len(at):
            return []
        unknown = int(np.count_nonzero(first)) + 1 - len(at)
        # sequential float64 sum (cumsum) of idf**2, the same floats as the set path's
        # sum(); the bound is checked before the rows and weights are gathered
        known_sq = float(self.gram_sq.take(at).cumsum()[-1])
        if min_sim > 0.0 and self._cannot_reach(known_sq, unknown, min_sim):
            return []
        rows = self.gram_rows.take(at)
        return self._top(self.row_idf.take(rows), rows, known_sq, unknown, top, min_sim)

    def search_many(
        self, probes: Sequence[str], top: int = 5, min_sim: float = 0.0
    ) -> list[list[tuple[int, float]]]:
        """`search(p, len(p), top, min_sim)` for every probe, equal result for result.

        The ASCII probes' n-grams, their de-duplication, the vocabulary lookup and
        the Cauchy-Schwarz bound run once for the whole batch (article number in the
        high 32 bits of a uint64 key, so one sort groups and orders every probe's
        n-grams); only the probes the bound cannot rule out then take the exact
        per-probe path, so their floats are those of `search`. The bound is summed
        in another order here, which its slack (`_BOUND_SLACK`) covers many times over.
        """
        import numpy as np

        if len(probes) < 4:  # the batch path's fixed cost only pays off over several
            return [self.search(p, len(p), top, min_sim) for p in probes]
        out: list[list[tuple[int, float]]] = [[] for _ in probes]
        streams = token_streams(probes)
        batch = [i for i, st in enumerate(streams) if st.isascii() and len(st) >= NGRAM]
        for i, st in enumerate(streams):
            if not st.isascii():
                out[i] = self._search_set(ngrams(probes[i], len(probes[i])), top, min_sim)
        if not batch or not len(self.gram_ids):
            return out
        raws = [streams[i].encode("ascii") for i in batch]
        buf = b"".join(raws)
        lens = np.array([len(r) for r in raws], dtype=np.int64)
        begins = np.cumsum(lens) - lens
        view = np.ndarray((len(buf) - NGRAM + 1,), dtype=">u4", buffer=buf, strides=(1,))
        # n-gram positions inside each probe (none straddles two probes)
        counts = lens - NGRAM + 1
        owner = np.repeat(np.arange(len(batch), dtype=np.uint64), counts)
        starts = np.repeat(begins - (np.cumsum(counts) - counts), counts) + np.arange(
            int(counts.sum())
        )
        keys = (owner << np.uint64(32)) | view[starts].astype(np.uint64)
        keys.sort()
        ids = (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        probe_of = (keys >> np.uint64(32)).astype(np.int64)
        first = np.ones(keys.size, dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        pos = self.gram_ids.searchsorted(ids)
        known = (self.gram_ids_end.take(pos) == ids) & first
        n = len(batch)
        distinct = np.bincount(probe_of[first], minlength=n)
        at = pos[known]
        at_probe = probe_of[known]
        n_known = np.bincount(at_probe, minlength=n)
        if min_sim > 0.0:
            approx_sq = np.bincount(at_probe, weights=self.gram_sq.take(at), minlength=n)
            bound = min_sim - _BOUND_SLACK
            sq = approx_sq + (distinct - n_known) * self.default_idf**2
            alive = ~(approx_sq * self.max_claim_norm**2 < bound * bound * sq) | (bound <= 0.0)
        else:
            alive = np.ones(n, dtype=bool)
        alive &= n_known > 0
        seg = np.concatenate(([0], np.cumsum(n_known))).tolist()
        unknown = (distinct - n_known).tolist()
        for j in np.flatnonzero(alive).tolist():
            mine = at[seg[j] : seg[j + 1]]
            known_sq = float(self.gram_sq.take(mine).cumsum()[-1])
            if min_sim > 0.0 and self._cannot_reach(known_sq, unknown[j], min_sim):
                continue
            rows = self.gram_rows.take(mine)
            found = self._top(self.row_idf.take(rows), rows, known_sq, unknown[j], top, min_sim)
            out[batch[j]] = found
        return out

    def _cannot_reach(self, known_sq: float, unknown: int, min_sim: float) -> bool:
        """True when no claim's cosine can reach `min_sim` (Cauchy-Schwarz bound)."""
        bound = min_sim - _BOUND_SLACK
        if bound <= 0.0:
            return False
        sq = known_sq + unknown * self.default_idf**2
        return known_sq * self.max_claim_norm**2 < bound * bound * sq

    def _search_set(self, grams: set[str], top: int, min_sim: float) -> list[tuple[int, float]]:
        known = sorted(grams & self.vocab)  # fixed order: same floats every run
        if not known:
            return []
        idf = self.idf
        weights = [idf[g] for g in known]
        known_sq = sum(w * w for w in weights)
        rows = [self.rows[g] for g in known]
        return self._top(weights, rows, known_sq, len(grams) - len(known), top, min_sim)

    def _top(
        self, weights: Any, rows: Any, known_sq: float, unknown: int, top: int, min_sim: float
    ) -> list[tuple[int, float]]:
        import numpy as np

        if min_sim > 0.0 and self._cannot_reach(known_sq, unknown, min_sim):
            return []
        sq = known_sq + unknown * self.default_idf**2
        sims = (np.asarray(weights, dtype=np.float32) @ self.matrix[rows]) / math.sqrt(sq)
        if min_sim > 0.0 and float(np.maximum.reduce(sims)) < min_sim:
            return []
        values = sims.tolist()
        order = np.argsort(-sims, kind="stable")[:top].tolist()
        return [(i, values[i]) for i in order if values[i] > 0.0]


_BOUND_SLACK = 1e-3
"""Margin for rounding in the cosine upper bound (the cosines are float32, ~1e-7
relative error), so the bound never rules out a claim that does reach `min_sim`."""


def _gram_id(gram: str) -> int:
    return int.from_bytes(gram.encode("ascii"), "big")


@lru_cache(maxsize=4)
def load_index(path: Path = INDEX_FILE) -> ClaimIndex:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return ClaimIndex.from_json(json.load(fh))


class ClaimsOptions(DetectorOptions):
    index_file: str | None = None
    threshold: float = Field(default=0.4, gt=0.0, le=1.0)
    """Cosine similarity from which a claim counts as restated."""
    lede_chars: int = Field(default=250, ge=50, le=20000)
    exclude_same_case: bool = False
    """Evaluation only: skip claims whose case id equals the article id up to '#'."""


@register
class ClaimsDetector(Detector):
    name = "claims"
    Options = ClaimsOptions

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        assert isinstance(options, ClaimsOptions)
        self.opts = options
        path = Path(options.index_file) if options.index_file else INDEX_FILE
        try:
            self.index = load_index(path)
        except (OSError, ValueError, KeyError) as err:
            raise DetectorConfigError(
                f"detectors.options.claims: cannot load {path}: {err}"
            ) from err

    def _probe(self, article: ArticleView) -> str:
        """Title plus lede: where a claim is normally stated."""
        title = article.title.folded
        lede = article.text.folded[: self.opts.lede_chars]
        return f"{title} {lede}" if title else lede

    def prepare(self, articles: Sequence[ArticleView]) -> None:
        """The index search of every article of the batch at once (`search_many`)."""
        min_sim = self.opts.threshold
        found = self.index.search_many([self._probe(v) for v in articles], min_sim=min_sim)
        for v, f in zip(articles, found, strict=True):
            v.memo[self.name] = (min_sim, f)

    def best_match(
        self, article: ArticleView, min_sim: float = 0.0
    ) -> tuple[dict[str, Any], float, str] | None:
        """The most similar known claim, its similarity and the field compared.

        With `min_sim` > 0, None may also mean "nothing reaches `min_sim`" (the
        index then skips the cosine for articles that cannot match).
        """
        title = article.title.folded
        text = article.text.folded
        fname = "title" if title and not text else "text"
        memo = article.memo.get(self.name)
        if memo is not None and memo[0] == min_sim:
            found = memo[1]
        else:
            probe = self._probe(article)
            found = self.index.search(probe, len(probe), min_sim=min_sim)
        own = article.article.id.split("#", 1)[0]
        for i, sim in found:
            claim = self.index.claims[i]
            if self.opts.exclude_same_case and claim["case_id"] == own:
                continue
            return claim, sim, fname
        return None

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        found = self.best_match(article, self.opts.threshold)
        if found is None or found[1] < self.opts.threshold:
            return []
        claim, sim, _ = found
        art = article.article
        evidence: list[Evidence] = []
        for fname in ("title", "text"):
            original = article.folded(fname).original
            if not original:
                continue
            end = len(original) if fname == "title" else min(len(original), self.opts.lede_chars)
            evidence.append(
                Evidence(
                    field=fname,
                    start=0,
                    end=end,
                    text=original[:end],
                    rule=f"claim:{claim['case_id']}",
                )
            )
        score = round(_score(sim, self.opts.threshold), 4)
        return [
            Signal(
                id=Signal.make_id(art.id, self.name, None, claim["case_id"]),
                article_id=art.id,
                detector=self.name,
                country=article.country,
                narrative=None,
                severity=severity_for(score),
                score=score,
                evidence=tuple(evidence),
                event_time=art.published,
                details={
                    "claim_id": claim["case_id"],
                    "similarity": round(sim, 4),
                    "claim_date": claim.get("date"),
                    "index_version": self.index.version,
                },
            )
        ]


def _score(sim: float, threshold: float) -> float:
    """Similarity at the threshold scores 0.5 (flags), rising linearly to 0.95 at 1.0."""
    if sim >= 1.0 or threshold >= 1.0:
        return 0.95
    return min(0.95, 0.5 + 0.45 * (sim - threshold) / (1.0 - threshold))
