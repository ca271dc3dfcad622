"""Source reputation: is the article's outlet on the watch-list, and why?

The watch-list (detectors/data/watchlist.yaml, built by scripts/build_watchlist.py)
holds outlets documented as state-affiliated and outlets named in EUvsDisinfo cases
aimed at Western Balkans audiences, each with its reason and citation.

A listing describes the outlet, not the article, so this signal is context for the
analyst and weight for other signals, never a flag by itself: every score here is
below the default flag threshold (0.5). Scores grow with the evidence behind the
listing, and one EUvsDisinfo case (which also names mainstream outlets) scores lowest:

  state-affiliated            medium  0.35
  case-listed, >= 10 cases    medium  0.30
  case-listed, 3-9 cases      low     0.20
  case-listed, 2 cases        low     0.10
  case-listed, 1 case         low     0.05

Matching is by host (the URL's, then source.domain; subdomains count) and, for
entries without a known domain, by the outlet's folded name equal to source.outlet.
"""

from __future__ import annotations

from pydantic import Field

from detectors.base import Detector, DetectorOptions, State
from detectors.domains import HostRef, article_hosts, under, url_evidence
from detectors.reference_data import Watchlist, WatchlistEntry, load_watchlist
from detectors.view import ArticleView
from hybridwatch.events import Evidence, Signal
from hybridwatch.textfold import fold


def listing_severity(entry: WatchlistEntry) -> tuple[str, float]:
    """(severity, score) of a watch-list entry; see the module docstring for the scale."""
    if entry.category == "state-affiliated":
        return "medium", 0.35
    cases = entry.max_cases
    if cases >= 10:
        return "medium", 0.30
    if cases >= 3:
        return "low", 0.20
    if cases == 2:
        return "low", 0.10
    return "low", 0.05


class ReputationOptions(DetectorOptions):
    watchlist_file: str | None = None
    """Path of an alternative watch-list YAML (default: the packaged one)."""
    min_cases: int = Field(default=1, ge=1)
    """Case-listed outlets named in fewer EUvsDisinfo cases are ignored."""
    match_names: bool = True
    """Also match entries that have no domain by the source's outlet name."""


class ReputationDetector(Detector):
    name = "reputation"
    Options = ReputationOptions

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        assert isinstance(options, ReputationOptions)
        self.opts = options
        wl: Watchlist = load_watchlist(options.watchlist_file)
        keep = [
            e
            for e in wl.entries
            if e.category == "state-affiliated" or e.max_cases >= options.min_cases
        ]
        # Longest domain first so a more specific entry wins over its parent domain.
        self._domains = sorted(
            ((d, e) for e in keep for d in e.domains), key=lambda de: (-len(de[0]), de[0])
        )
        self._exact = {d: e for d, e in self._domains}
        self._names = {fold(n).strip(): e for e in keep if not e.domains for n in e.names}
        self._cache: dict[str, WatchlistEntry | None] = {}

    def _by_host(self, host: str) -> WatchlistEntry | None:
        if host in self._cache:
            return self._cache[host]
        found = self._exact.get(host)
        if found is None:
            found = next((e for d, e in self._domains if under(host, d)), None)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[host] = found
        return found

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        a = article.article
        for ref in article_hosts(a):
            entry = self._by_host(ref.host)
            if entry is not None:
                return [self._signal(article, entry, ref)]
        if self.opts.match_names and a.source.outlet:
            entry = self._names.get(fold(a.source.outlet).strip())
            if entry is not None:
                return [self._signal(article, entry, None)]
        return []

    def _signal(self, article: ArticleView, entry: WatchlistEntry, ref: HostRef | None) -> Signal:
        a = article.article
        severity, score = listing_severity(entry)
        rule = f"reputation:{entry.category}:{entry.id}"
        details: dict[str, object] = {
            "watchlist_id": entry.id,
            "outlet": entry.outlet,
            "category": entry.category,
            "cases": entry.max_cases,
            "listings": [
                {"name": li.name, "reason": li.reason, "citation": li.citation, "cases": li.cases}
                for li in entry.listings
            ],
            "note": "a watch-list listing describes the outlet, not this article; "
            "it adds weight to other signals and never flags an article alone",
        }
        evidence: tuple[Evidence, ...] = ()
        if ref is None:
            details["matched_on"] = "source.outlet"
            details["no_span"] = (
                "matched by the source's outlet name, which is not an article field"
            )
        else:
            details["matched_on"] = ref.origin
            details["host"] = ref.host
            evidence = url_evidence(ref, a.url, rule)
            if not evidence:
                details["no_span"] = "the source's domain does not appear in the article URL"
        return Signal(
            id=Signal.make_id(a.id, self.name, None, entry.id),
            article_id=a.id,
            detector=self.name,
            country=article.country,
            severity=severity,
            score=score,
            evidence=evidence,
            event_time=a.published,
            details=details,
        )
