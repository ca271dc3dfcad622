"""Known-claim matching: does an article restate a claim already debunked?

The index (``detectors/data/claims-euvsdisinfo-wb.json.gz``, built by
``scripts/build_claim_index.py`` from the disinfo records of the EUvsDisinfo dev
set) holds, per debunked claim, a sparse TF-IDF vector of character 4-grams of
its folded text - derived numbers, not the text itself - plus the case URL.

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
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field

from detectors.base import Detector, DetectorConfigError, DetectorOptions, State, register
from detectors.matcher import words
from detectors.narrative import severity_for
from detectors.view import ArticleView
from hybridwatch.events import Evidence, Signal

INDEX_FILE = Path(__file__).resolve().parent / "data" / "claims-euvsdisinfo-wb.json.gz"
NGRAM = 4
INDEX_FORMAT = 1


def ngrams(folded: str, limit: int) -> Counter[str]:
    """Character 4-grams of the folded text's words joined by single spaces."""
    s = " " + " ".join(words(folded[:limit])) + " "
    return Counter(s[i : i + NGRAM] for i in range(len(s) - NGRAM + 1))


def weigh(counts: Counter[str], idf: dict[str, float], default_idf: float) -> dict[str, float]:
    """Sublinear tf * idf, L2-normalised."""
    vec = {g: (1.0 + math.log(c)) * idf.get(g, default_idf) for g, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {g: v / norm for g, v in vec.items()}


def _codes(s: str) -> Any:
    """Every 4-gram of `s` as one uint64 (16 bits per character), vectorised."""
    import numpy as np

    cps = np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cps = (cps & 0xFFFF).astype(np.uint64)
    if len(cps) < NGRAM:
        return np.zeros(0, dtype=np.uint64)
    return (cps[:-3] << 48) | (cps[1:-2] << 32) | (cps[2:-1] << 16) | cps[3:]


@dataclass(frozen=True)
class ClaimIndex:
    """Claims as columns of a dense (n-gram x claim) matrix: a few numpy calls per article.

    Why numpy: a Python loop over the ~450 n-grams of a lede cost ~0.3 ms per
    article, most of the suite's budget; encoding n-grams as integers and looking
    them up with searchsorted keeps the whole match in C.
    """

    version: str
    claims: tuple[dict[str, Any], ...]
    default_idf: float
    codes: Any  # sorted uint64 n-gram codes of the vocabulary
    idf: Any  # float32 idf per code
    matrix: Any  # float32 (len(codes), len(claims)) claim weights

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClaimIndex:
        import numpy as np

        if data.get("format") != INDEX_FORMAT:
            raise ValueError(f"claim index format {data.get('format')!r}, expected {INDEX_FORMAT}")
        claims = tuple(data["claims"])
        grams = sorted(data["idf"], key=lambda g: int(_codes(g)[0]))
        codes = np.array([int(_codes(g)[0]) for g in grams], dtype=np.uint64)
        row = {g: i for i, g in enumerate(grams)}
        idf = np.array([float(data["idf"][g]) for g in grams], dtype=np.float32)
        matrix = np.zeros((len(grams), len(claims)), dtype=np.float32)
        for j, c in enumerate(claims):
            for g, w in c["vector"].items():
                matrix[row[g], j] = float(w)
        return cls(str(data["version"]), claims, float(data["default_idf"]), codes, idf, matrix)

    def search(self, folded: str, limit: int, top: int = 5) -> list[tuple[int, float]]:
        """Up to `top` (claim index, cosine) pairs with a positive cosine, best first."""
        import numpy as np

        s = " " + " ".join(words(folded[:limit])) + " "
        grams, counts = np.unique(_codes(s), return_counts=True)
        if not len(grams) or not len(self.codes):
            return []
        pos = np.minimum(np.searchsorted(self.codes, grams), len(self.codes) - 1)
        known = self.codes[pos] == grams
        if not known.any():
            return []
        tf = 1.0 + np.log(counts.astype(np.float32))
        w = tf * np.where(known, self.idf[pos], np.float32(self.default_idf))
        norm = float(np.sqrt(np.dot(w, w)))
        sims = (w[known] @ self.matrix[pos[known]]) / norm
        order = np.argsort(-sims, kind="stable")[:top]
        return [(int(i), float(sims[i])) for i in order if sims[i] > 0.0]


@lru_cache(maxsize=4)
def load_index(path: Path = INDEX_FILE) -> ClaimIndex:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return ClaimIndex.from_json(json.load(fh))


class ClaimsOptions(DetectorOptions):
    index_file: str | None = None
    threshold: float = Field(default=0.4, gt=0.0, le=1.0)
    """Cosine similarity from which a claim counts as restated."""
    lede_chars: int = Field(default=400, ge=50, le=20000)
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

    def best_match(self, article: ArticleView) -> tuple[dict[str, Any], float, str] | None:
        """The most similar known claim, its similarity and the field compared."""
        title = article.title.folded
        text = article.text.folded
        fname = "title" if title and not text else "text"
        lede = text[: self.opts.lede_chars]
        probe = f"{title} {lede}" if title else lede
        limit = len(probe)
        own = article.article.id.split("#", 1)[0]
        for i, sim in self.index.search(probe, limit):
            claim = self.index.claims[i]
            if self.opts.exclude_same_case and claim["case_id"] == own:
                continue
            return claim, sim, fname
        return None

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        found = self.best_match(article)
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
