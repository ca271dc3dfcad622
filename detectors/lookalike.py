"""Look-alike domains of reputable outlets (typosquats, homoglyphs, brand + other TLD).

Impersonation campaigns (the "Doppelganger" pattern) publish fabricated stories on
domains that pass a glance for a trusted outlet: bbc-news.mk, reuters.co.rs,
rn1info.rs, a Cyrillic "а" inside bbc.com. An analyst trusts the flag only if it
is rare and explained, so every rule is narrow and says which brand was imitated:

  homoglyph        the label's visual skeleton equals the brand's but the label differs
                   (Cyrillic/Greek letters, 0->o, 1->l, rn->m, vv->w)
  brand-hyphenated the brand is a hyphen-separated token of a longer label (bbc-news)
  brand-embedded   a label starts or ends with a brand of >= 5 letters (reutersnews)
  typosquat        skeleton edit distance 1..max_distance, scaled down for short brands
                   (<= 4 letters: never; 5-7: 1; >= 8: 2) because short labels collide
                   with real outlets (rtv.rs vs rts.rs)
  brand-subdomain  a reputable domain written in front of another one
                   (bbc.com.world-news.example)
  brand-other-tld  the exact brand label under a suffix the outlet does not use (bbc.mk)

Hosts on or under a reputable domain, or listed as known distinct, are never flagged.
"""

from __future__ import annotations

import unicodedata

from pydantic import Field

from detectors.base import Detector, DetectorOptions, State
from detectors.domains import HostRef, article_hosts, registrable, under, url_evidence
from detectors.reference_data import ReputableDomains, ReputableOutlet, load_reputable
from detectors.view import ArticleView
from hybridwatch.events import Signal

# Characters that render like a Latin letter or digit-as-letter (a small, explicit
# subset of Unicode's confusables: the ones used against Latin domains in practice).
_CONFUSABLE: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
    "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ո": "n", "ս": "u",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    # digits and lookalike Latin
    "0": "o", "1": "l", "3": "e", "5": "s", "ı": "i", "ɡ": "g", "ⅼ": "l",
}  # fmt: skip
_MULTI = (("rn", "m"), ("vv", "w"), ("cl", "d"))

RULE_SCORES: dict[str, tuple[str, float]] = {
    "homoglyph": ("high", 0.75),
    "brand-hyphenated": ("high", 0.7),
    "brand-embedded": ("high", 0.6),
    "typosquat": ("high", 0.6),
    "brand-subdomain": ("high", 0.6),
    "brand-other-tld": ("medium", 0.4),
}
"""rule -> (severity, score). Impersonation is rare and deliberate, so most rules flag alone;
the exact brand under another suffix may be a legitimate regional edition and does not."""


def skeleton(label: str) -> str:
    """Visual skeleton of a domain label: confusables folded to the Latin they imitate."""
    s = unicodedata.normalize("NFKC", label).lower()
    s = "".join(_CONFUSABLE.get(c, c) for c in s)
    s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    for a, b in _MULTI:
        s = s.replace(a, b)
    return s


def levenshtein(a: str, b: str, bound: int) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment), capped.

    Returns bound + 1 as soon as the distance must exceed `bound`. A swapped pair
    ("reutres") counts as one edit: it is the commonest typo a squatter registers.
    """
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                d = min(d, prev2[j - 2] + 1)
            cur.append(d)
        if min(cur) > bound:
            return bound + 1
        prev2, prev = prev, cur
    return min(prev[-1], bound + 1)


def allowed_distance(brand: str, max_distance: int) -> int:
    n = len(brand)
    if n <= 4:
        return 0
    if n <= 7:
        return min(1, max_distance)
    return max_distance


class LookalikeMatch:
    __slots__ = ("brand", "detail", "rule")

    def __init__(self, rule: str, brand: ReputableOutlet, detail: str) -> None:
        self.rule = rule
        self.brand = brand
        self.detail = detail


class LookalikeIndex:
    """Reputable brands prepared once; `check(host)` answers in microseconds after the first call."""

    def __init__(
        self, data: ReputableDomains, max_distance: int = 2, cache_size: int = 4096
    ) -> None:
        self.outlets = data.outlets
        self.max_distance = max_distance
        self._legit = tuple(d for o in data.outlets for d in o.domains) + data.known_distinct
        self._brands = [(o, skeleton(o.brand)) for o in data.outlets]
        self._cache: dict[str, LookalikeMatch | None] = {}
        self._cache_size = cache_size

    def check(self, host: str) -> LookalikeMatch | None:
        hit = self._cache.get(host, False)
        if hit is not False:
            return hit  # type: ignore[return-value]
        result = self._check(host)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()  # hosts come from a bounded set of sources; this rarely runs
        self._cache[host] = result
        return result

    def _check(self, host: str) -> LookalikeMatch | None:
        if not host or "." not in host or any(under(host, d) for d in self._legit):
            return None
        label, suffix = registrable(host)
        reg = f"{label}.{suffix}"
        sub = host[: -len(reg)] if host.endswith("." + reg) else ""
        for outlet in self.outlets:
            for d in outlet.domains:
                if sub and (sub == d + "." or sub.endswith("." + d + ".")):
                    return LookalikeMatch(
                        "brand-subdomain", outlet, f"{host!r} puts {d!r} in front of {reg!r}"
                    )
        skel = skeleton(label)
        tokens = skel.split("-")
        best: LookalikeMatch | None = None
        order = list(RULE_SCORES)
        for outlet, bskel in self._brands:
            m = self._match(label, suffix, skel, tokens, outlet, bskel)
            if m is not None and (best is None or order.index(m.rule) < order.index(best.rule)):
                best = m
        return best

    def _match(
        self,
        label: str,
        suffix: str,
        skel: str,
        tokens: list[str],
        outlet: ReputableOutlet,
        bskel: str,
    ) -> LookalikeMatch | None:
        brand = outlet.brand
        if skel == bskel and label != brand:
            return LookalikeMatch("homoglyph", outlet, f"{label!r} renders like {brand!r}")
        if len(tokens) > 1 and bskel in tokens:
            return LookalikeMatch(
                "brand-hyphenated", outlet, f"{label!r} wraps the brand {brand!r} in other words"
            )
        if len(bskel) >= 5 and skel != bskel and (skel.startswith(bskel) or skel.endswith(bskel)):
            return LookalikeMatch("brand-embedded", outlet, f"{label!r} embeds the brand {brand!r}")
        bound = allowed_distance(brand, self.max_distance)
        if bound and skel != bskel:
            d = levenshtein(skel, bskel, bound)
            if d <= bound:
                return LookalikeMatch(
                    "typosquat", outlet, f"{label!r} is {d} edit(s) away from {brand!r}"
                )
        if label == brand:
            return LookalikeMatch(
                "brand-other-tld",
                outlet,
                f"{brand!r} under .{suffix}, which {outlet.name} does not use",
            )
        return None


class LookalikeOptions(DetectorOptions):
    reputable_file: str | None = None
    """Path of an alternative reputable-domains YAML (default: the packaged one)."""
    max_distance: int = Field(default=2, ge=0, le=3)
    """Largest edit distance for long brands; shorter brands allow less (see module doc)."""


class LookalikeDetector(Detector):
    name = "lookalike"
    Options = LookalikeOptions

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        assert isinstance(options, LookalikeOptions)
        self.index = LookalikeIndex(load_reputable(options.reputable_file), options.max_distance)

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        a = article.article
        for ref in article_hosts(a):
            m = self.index.check(ref.host)
            if m is not None:
                return [self._signal(article, ref, m)]
        return []

    def _signal(self, article: ArticleView, ref: HostRef, m: LookalikeMatch) -> Signal:
        a = article.article
        severity, score = RULE_SCORES[m.rule]
        rule = f"lookalike:{m.rule}:{m.brand.brand}"
        details: dict[str, object] = {
            "host": ref.host,
            "matched_on": ref.origin,
            "rule": m.rule,
            "imitates": {
                "brand": m.brand.brand,
                "name": m.brand.name,
                "domains": list(m.brand.domains),
            },
            "why": m.detail,
        }
        evidence = url_evidence(ref, a.url, rule)
        if not evidence:
            details["note"] = "the source's domain does not appear in the article URL, so no span"
        return Signal(
            id=Signal.make_id(a.id, self.name, None, ref.host),
            article_id=a.id,
            detector=self.name,
            country=article.country,
            severity=severity,
            score=score,
            evidence=evidence,
            event_time=a.published,
            details=details,
        )
