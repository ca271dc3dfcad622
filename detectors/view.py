"""An article prepared once for every detector: folded fields with offset maps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hybridwatch.events import Article
from hybridwatch.textfold import fold_aligned, fold_offsets, fold_with_offsets, source_span


class FoldedField:
    """A field's original and folded text; the folded->original offset map is lazy.

    Most articles match nothing, and building the per-character offset list costs
    more than folding itself, so it is computed on first use (when evidence is
    reported), and kept as a numpy array: a span needs two of its entries, not a
    Python int per character. `offsets` may still be passed in when already known.
    """

    __slots__ = ("_offsets", "_offsets_array", "aligned", "folded", "name", "original")

    def __init__(
        self,
        name: str,
        original: str,
        folded: str,
        offsets: list[int] | None = None,
        aligned: bool = False,
    ) -> None:
        self.name = name
        self.original = original
        self.folded = folded
        self._offsets = offsets
        self._offsets_array: Any = None
        self.aligned = aligned
        """True when folded index i comes from original index i (see `fold_aligned`)."""

    @property
    def offsets(self) -> list[int]:
        if self._offsets is None:
            self._offsets = fold_with_offsets(self.original)[1]
        return self._offsets

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original-text span of the folded span [start, end)."""
        if self._offsets is None:
            if self.aligned or self.original.isascii():
                # folded character for character: no offset map needed
                return (start, start) if end <= start else (start, end)
            if self._offsets_array is None:
                self._offsets_array = fold_offsets(self.original)
            array = self._offsets_array
            if array is not None:  # None: text outside the fold table, use the list
                if end <= start:
                    return int(array[start]), int(array[start])
                return int(array[start]), int(array[end - 1]) + 1
        return source_span(self.offsets, start, end)


@dataclass
class ArticleView:
    """Read-only view of an Article with lazily folded title and text.

    Detectors match on folded text and report evidence as spans of the original
    field, so `article.text[start:end] == evidence.text` always holds.
    """

    article: Article
    _cache: dict[str, FoldedField] = field(default_factory=dict, repr=False)
    memo: dict[str, Any] = field(default_factory=dict, repr=False)
    """Per-article features a detector computed for a whole batch (`Detector.prepare`),
    keyed by the detector's name; only ever a pure function of the article."""

    def folded(self, name: str) -> FoldedField:
        cached = self._cache.get(name)
        if cached is None:
            original = getattr(self.article, name)
            folded, aligned = fold_aligned(original)
            cached = FoldedField(name, original, folded, aligned=aligned)
            self._cache[name] = cached
        return cached

    @property
    def title(self) -> FoldedField:
        return self.folded("title")

    @property
    def text(self) -> FoldedField:
        return self.folded("text")

    @property
    def country(self) -> str:
        # a plain property: functools.cached_property takes a lock on every first
        # access (Python 3.11), which costs more than these two attribute reads
        return self.article.source.country
