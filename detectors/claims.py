"""Known-claim matching: does an article restate a claim already debunked?

The shipped index (``detectors/data/claims-euvsdisinfo.bin.gz``, built by
``services/claims/build.py`` from every disinformation claim of the EUvsDisinfo
training file plus the Western Balkans dev cases, ~12,000 cases) holds per claim
text hashed character 4-grams and word stems - derived numbers, never the text -
plus the case's id and public URL. Features, search and file format are in
``detectors/claim_index.py``.

An article is compared on its title plus lede (the first `lede_chars` of its
text), where a claim is normally stated; the whole body would dilute the cosine.
A claim matches when two things hold:

- **similarity**: cosine of the idf-weighted 4-gram sets >= `threshold`;
- **coverage**: the article holds >= `min_coverage` of the claim's word stems,
  weighted by idf, so a shared frame ("... is doing everything to destroy ...") or
  two shared names ("NATO", "Serbia") is not enough: the claim's own rare content
  words must be there too.

Both work on folded text, so Cyrillic and Latin spellings and inflected forms meet;
a claim translated into another language does not match (that is the learned and
narrative detectors' job).

Operators' own fact-check databases (``hybridwatch claims import``) become a second
index. Detectors do no I/O while running: the runtime loads the imported index and
hands it over with `use_imported` between batches (``services/claims/reload.py``).

In evaluation on data the index was built from, `exclude_same_case` stops a record
matching its own case (leave-one-case-out): its id up to '#' is the case id.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field

from detectors.base import Detector, DetectorConfigError, DetectorOptions, State
from detectors.claim_index import MIN_WORD, ClaimIndex, ClaimIndexError, Match, stem_code
from detectors.matcher import WORD
from detectors.narrative import severity_for
from detectors.view import ArticleView
from hybridwatch.events import Evidence, Signal

INDEX_FILE = Path(__file__).resolve().parent / "data" / "claims-euvsdisinfo.bin.gz"
MAX_SPANS = 4
"""Evidence spans per field: runs of the claim's words in the title / lede."""
GAP_WORDS = 3
"""Two matched words at most this many words apart join into one evidence span."""


def read_index(path: Path) -> ClaimIndex:
    """Load an index file; ClaimIndexError / OSError name the problem."""
    return ClaimIndex.from_bytes(path.read_bytes())


@lru_cache(maxsize=4)
def load_index(path: Path = INDEX_FILE) -> ClaimIndex:
    return read_index(path)


class ClaimsOptions(DetectorOptions):
    index_file: str | None = None
    threshold: float = Field(default=0.45, ge=0.3, le=1.0)
    """Cosine similarity (4-grams) from which a claim counts as restated."""
    min_coverage: float = Field(default=0.6, ge=0.0, le=1.0)
    """Share of the claim's idf-weighted word stems the article must contain."""
    lede_chars: int = Field(default=250, ge=50, le=20000)
    exclude_same_case: bool = False
    """Evaluation only: skip claims whose id equals the article id up to '#'."""


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
        except (OSError, ClaimIndexError) as err:
            raise DetectorConfigError(
                f"detectors.options.claims: cannot load claim index {path}: {err}"
            ) from err
        self.imported: ClaimIndex | None = None

    def use_imported(self, index: ClaimIndex | None) -> None:
        """Search `index` (an operator's imported claims) too from the next batch on.

        Called by the runtime between batches, never during one; None drops it.
        """
        self.imported = index

    @property
    def indexes(self) -> tuple[tuple[str, ClaimIndex], ...]:
        shipped = (("shipped", self.index),)
        return shipped if self.imported is None else (*shipped, ("imported", self.imported))

    def _probe(self, article: ArticleView) -> str:
        """Title plus lede: where a claim is normally stated."""
        title = article.title.folded
        lede = article.text.folded[: self.opts.lede_chars]
        return f"{title} {lede}" if title else lede

    def _key(self) -> tuple[Any, ...]:
        versions = tuple(ix.version for _, ix in self.indexes)
        return (self.opts.threshold, self.opts.min_coverage, versions)

    def prepare(self, articles: Sequence[ArticleView]) -> None:
        """The index search of every article of the batch at once (`search_many`)."""
        probes = [self._probe(v) for v in articles]
        per_index = [
            ix.search_many(probes, min_sim=self.opts.threshold, min_coverage=self.opts.min_coverage)
            for _, ix in self.indexes
        ]
        key = self._key()
        for k, v in enumerate(articles):
            v.memo[self.name] = (key, [found[k] for found in per_index])

    def _candidates(self, article: ArticleView) -> list[list[Match]]:
        memo = article.memo.get(self.name)
        if memo is not None and memo[0] == self._key():
            return list(memo[1])
        probe = self._probe(article)
        o = self.opts
        return [
            ix.search(probe, min_sim=o.threshold, min_coverage=o.min_coverage)
            for _, ix in self.indexes
        ]

    def best_match(self, article: ArticleView) -> tuple[str, ClaimIndex, Match, float] | None:
        """The most similar claim passing similarity and coverage: (index name, index,
        match, coverage), or None."""
        own = article.article.id.split("#", 1)[0]
        best: tuple[str, ClaimIndex, Match, float] | None = None
        for (name, ix), found in zip(self.indexes, self._candidates(article), strict=True):
            for m in found:
                if self.opts.exclude_same_case and ix.claims[m.claim]["id"] == own:
                    continue
                if best is None or m.similarity > best[2].similarity:
                    best = (name, ix, m, m.coverage)
                break
        return best

    def _evidence(self, article: ArticleView, claim_stems: set[int], rule: str) -> list[Evidence]:
        """Spans of the title and lede made of the claim's words (runs, small gaps joined)."""
        out: list[Evidence] = []
        for fname in ("title", "text"):
            field = article.folded(fname)
            folded = field.folded if fname == "title" else field.folded[: self.opts.lede_chars]
            runs: list[list[int]] = []
            last_word = -(10**9)
            for n, m in enumerate(WORD.finditer(folded)):
                w = m.group()
                if len(w) < MIN_WORD or stem_code(w) not in claim_stems:
                    continue
                if runs and n - last_word <= GAP_WORDS:
                    runs[-1][1] = m.end()
                else:
                    runs.append([m.start(), m.end()])
                last_word = n
            for start, end in runs[:MAX_SPANS]:
                s, e = field.span(start, end)
                out.append(
                    Evidence(field=fname, start=s, end=e, text=field.original[s:e], rule=rule)
                )
        return out

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        found = self.best_match(article)
        if found is None:
            return []
        index_name, ix, m, cov = found
        claim = ix.claims[m.claim]
        art = article.article
        rule = f"claim:{claim['id']}"
        stems = {int(s) for s in ix.vector_stems(m.vector).tolist()}
        evidence = self._evidence(article, stems, rule)
        score = round(_score(m.similarity, self.opts.threshold), 4)
        return [
            Signal(
                id=Signal.make_id(art.id, self.name, None, claim["id"]),
                article_id=art.id,
                detector=self.name,
                country=article.country,
                narrative=None,
                severity=severity_for(score),
                score=score,
                evidence=tuple(evidence),
                event_time=art.published,
                details={
                    "claim_id": claim["id"],
                    "claim_url": claim.get("url"),
                    "claim_date": claim.get("date"),
                    "claim_source": claim.get("source"),
                    "matched_text": ix.kind_of(m.vector),
                    "similarity": round(m.similarity, 4),
                    "coverage": round(cov, 4),
                    "index": index_name,
                    "index_version": ix.version,
                },
            )
        ]


def _score(sim: float, threshold: float) -> float:
    """Similarity at the threshold scores 0.5 (flags), rising linearly to 0.95 at 1.0."""
    if sim >= 1.0 or threshold >= 1.0:
        return 0.95
    return min(0.95, 0.5 + 0.45 * (sim - threshold) / (1.0 - threshold))
