"""Narrative detector: which known disinformation narratives does an article carry?

Every narrative is a rule pack (``detectors/packs/*.yaml``); all their terms plus
the shared refutation cues are compiled into one Aho-Corasick matcher when the
detector is built, so an article is scanned once per field whatever the number
of packs. Per pack, the weights of the distinct matched rules are combined by
noisy-OR (independent pieces of evidence add up, one strong phrase suffices). A
refutation cue ("fake", "нема доказ", "nuk është e vërtetë" ...) near a hit, or
anywhere in the title, multiplies that hit's weight by `negation_factor`, because
an article quoting a claim to debunk it is not spreading it.

Severity from the pack score (documented in docs/detectors.md):
``critical`` >= 0.85 > ``high`` >= 0.7 > ``medium`` >= 0.5 > ``low``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from detectors.base import Detector, DetectorConfigError, DetectorOptions, State
from detectors.concepts import ConceptError, ConceptLexicon
from detectors.matcher import Matcher, Rule, RuleHit, Scan, token_streams
from detectors.rulepack import GROUP_PREFIX, Pack, PackError, load_packs
from detectors.view import ArticleView, FoldedField
from hybridwatch.events import Evidence, Severity, Signal

CUE_GROUP = "~cue"
FieldName = Literal["title", "text"]


def severity_for(score: float) -> Severity:
    if score >= 0.85:
        return "critical"
    if score >= 0.7:
        return "high"
    if score >= 0.5:
        return "medium"
    return "low"


class NarrativeOptions(DetectorOptions):
    packs_dir: str | None = None
    """Directory of rule packs; default: the bundled detectors/packs/."""
    packs: tuple[str, ...] | None = None
    """Only these pack ids (default: all narrative packs)."""
    negation_window: int = Field(default=12, ge=0, le=100)
    """A cue within this many words of a hit lowers it."""
    negation_factor: float = Field(default=0.35, ge=0.0, le=1.0)
    lede_cue_words: int = Field(default=20, ge=0, le=200)
    """A cue among the text's first this many words negates the whole text, as a title
    cue does (fact-checks open with their verdict: "No evidence given. ..."); 0: off."""
    min_score: float = Field(default=0.2, ge=0.0, le=1.0)
    """Packs scoring below this emit no signal."""
    max_hits: int = Field(default=4, ge=1, le=20)
    """At most this many distinct hits (strongest first) count towards a pack's score."""
    max_evidence: int = Field(default=8, ge=1, le=50)


@dataclass(frozen=True)
class Hit:
    field: FieldName
    scan: Scan
    hit: RuleHit
    weight: float
    cue: RuleHit | None
    cue_field: FieldName
    cue_scan: Scan | None


@dataclass(frozen=True)
class PackScore:
    pack: Pack
    score: float
    hits: tuple[Hit, ...]

    @property
    def negated(self) -> int:
        return sum(1 for h in self.hits if h.cue is not None)


class NarrativeDetector(Detector):
    name = "narrative"
    Options = NarrativeOptions

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        assert isinstance(options, NarrativeOptions)
        self.opts = options
        try:
            all_packs = load_packs(Path(options.packs_dir) if options.packs_dir else None)
        except PackError as err:
            raise DetectorConfigError(f"detectors.options.narrative: {err}") from err
        narratives = [p for p in all_packs if p.kind == "narrative"]
        if options.packs is not None:
            known = {p.id for p in narratives}
            unknown = sorted(set(options.packs) - known)
            if unknown:
                raise DetectorConfigError(
                    f"detectors.options.narrative.packs: unknown pack(s) {', '.join(unknown)}"
                    f" (known: {', '.join(sorted(known))})"
                )
            narratives = [p for p in narratives if p.id in options.packs]
        self.packs: dict[str, Pack] = {p.id: p for p in narratives}
        try:
            self.lexicon = ConceptLexicon.load()
        except ConceptError as err:
            raise DetectorConfigError(f"detectors.options.narrative: {err}") from err
        rules: list[Rule] = []
        for pack in narratives:
            rules.extend(pack.rules(self.lexicon))
        for pack in all_packs:
            if pack.kind == "cues":
                rules.extend(_as_cue(r) for r in pack.rules())
        self.matcher = Matcher(rules)

    def prepare(self, articles: Sequence[ArticleView]) -> None:
        """Token streams of every title and text of the batch in two numpy passes."""
        titles = token_streams([v.title.folded for v in articles])
        texts = token_streams([v.text.folded for v in articles])
        for v, title, text in zip(articles, titles, texts, strict=True):
            v.memo[self.name] = {"title": title, "text": text}

    def analyse(self, article: ArticleView) -> list[PackScore]:
        """Score every pack that matched, strongest first (also used by tests and eval)."""
        per_pack: dict[str, list[tuple[FieldName, Scan, RuleHit]]] = {}
        cues: dict[FieldName, tuple[Scan, list[RuleHit]]] = {}
        streams: dict[str, str] = article.memo.get(self.name) or {}
        for fname in ("title", "text"):
            folded: FoldedField = article.folded(fname)
            if not folded.folded:
                continue
            scan = self.matcher.scan(folded.folded, streams.get(fname))
            for h in scan.hits:
                if h.rule.group == CUE_GROUP:
                    cues.setdefault(fname, (scan, []))[1].append(h)
                else:
                    per_pack.setdefault(h.rule.group, []).append((fname, scan, h))
        if any(h.rule.lang[:1] == GROUP_PREFIX for hits in per_pack.values() for _, _, h in hits):
            group = self._group(article)
            if group is not None:
                own_lang = GROUP_PREFIX + group
                per_pack = {
                    pid: kept
                    for pid, hits in per_pack.items()
                    if (
                        kept := [
                            x
                            for x in hits
                            if x[2].rule.lang[:1] != GROUP_PREFIX or x[2].rule.lang == own_lang
                        ]
                    )
                }
        title_scan, title_cues = cues.get("title", (None, []))
        text_scan, text_cues = cues.get("text", (None, []))
        lede_cues = [c for c in text_cues if c.first < self.opts.lede_cue_words]
        out: list[PackScore] = []
        counted: dict[str, set[int]] = {"title": set(), "text": set()}
        # specific packs first; a fallback pack then only scores words they left over
        order = sorted(per_pack, key=lambda pid: self.packs[pid].fallback)
        for pack_id in order:
            raw_hits = per_pack[pack_id]
            if self.packs[pack_id].fallback:
                raw_hits = [x for x in raw_hits if not _words(x[2]) <= counted[x[0]]]
                if not raw_hits:
                    continue
            # a title cue that is part of this pack's own claim in the title
            # ("No evidence of Russian meddling") does not refute the pack
            own_title = [h for f, _, h in raw_hits if f == "title"]
            title_cue = next(
                (c for c in title_cues if not any(_overlaps(c, h) for h in own_title)), None
            )
            own_text = [h for f, _, h in raw_hits if f == "text"]
            lede_cue = next(
                (c for c in lede_cues if not any(_overlaps(c, h) for h in own_text)), None
            )
            best: dict[str, Hit] = {}
            for fname, scan, h in raw_hits:
                own = [c for c in cues.get(fname, (scan, []))[1] if not _overlaps(c, h)]
                cue = _near(own, h, self.opts.negation_window)
                cue_field: FieldName = fname
                cue_scan: Scan | None = scan
                if cue is None and title_cue is not None:
                    cue, cue_field, cue_scan = title_cue, "title", title_scan
                if cue is None and lede_cue is not None:
                    cue, cue_field, cue_scan = lede_cue, "text", text_scan
                w = h.rule.weight * (self.opts.negation_factor if cue is not None else 1.0)
                # a rule counts once however often it repeats; the strongest occurrence wins
                key = h.rule.id
                if key not in best or best[key].weight < w:
                    best[key] = Hit(fname, scan, h, w, cue, cue_field, cue_scan)
            hits = _distinct_spans(best.values())
            for x in hits:
                counted[x.field] |= _words(x.hit)
            p = 1.0
            for x in hits[: self.opts.max_hits]:
                p *= 1.0 - x.weight
            out.append(PackScore(self.packs[pack_id], 1.0 - p, tuple(hits)))
        out.sort(key=lambda s: (-s.score, s.pack.id))
        return out

    def _group(self, article: ArticleView) -> str | None:
        """Language group whose variants of the `any` concept rules apply: from the
        article's language, else guessed from the function words of its title and text;
        None (every group applies) when it cannot be told."""
        group = ConceptLexicon.group_of(article.article.language)
        if group is None:
            group = self.lexicon.guess_group(f"{article.title.folded} {article.text.folded}")
        return group

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        signals: list[Signal] = []
        art = article.article
        for ps in self.analyse(article):
            if ps.score < self.opts.min_score:
                continue
            score = round(min(ps.score, 1.0), 4)
            signals.append(
                Signal(
                    id=Signal.make_id(art.id, self.name, ps.pack.id),
                    article_id=art.id,
                    detector=self.name,
                    country=article.country,
                    narrative=ps.pack.id,
                    severity=severity_for(score),
                    score=score,
                    evidence=self._evidence(article, ps),
                    event_time=art.published,
                    details={
                        "title": ps.pack.title,
                        "pack_version": ps.pack.version,
                        "rules": sorted({h.hit.rule.id for h in ps.hits}),
                        "negated_hits": ps.negated,
                    },
                )
            )
        return signals

    def _evidence(self, article: ArticleView, ps: PackScore) -> tuple[Evidence, ...]:
        out: list[Evidence] = []
        seen: set[tuple[str, int, int]] = set()
        for h in ps.hits:
            parts: list[tuple[RuleHit, FieldName, Scan, str]] = [
                (h.hit, h.field, h.scan, h.hit.rule.id)
            ]
            if h.cue is not None and h.cue_scan is not None:
                parts.append((h.cue, h.cue_field, h.cue_scan, f"negated-by:{h.cue.rule.id}"))
            for rh, fname, scan, label in parts:
                f = article.folded(fname)
                for tok_start, tok_end in rh.spans:
                    start, end = f.span(*scan.char_span(tok_start, tok_end))
                    if (fname, start, end) in seen:
                        continue
                    seen.add((fname, start, end))
                    out.append(
                        Evidence(
                            field=fname,
                            start=start,
                            end=end,
                            text=f.original[start:end],
                            rule=label,
                        )
                    )
            if len(out) >= self.opts.max_evidence:
                break
        return tuple(out[: self.opts.max_evidence])


def _distinct_spans(hits: Iterable[Hit]) -> list[Hit]:
    """Strongest first; a hit whose words were all matched by stronger counted hits of the
    same field adds no evidence and counts no more (several languages list the same
    phrase, and a concept rule may restate a literal one: "NATO aggression" once)."""
    out: list[Hit] = []
    counted: dict[str, set[int]] = {}
    for h in sorted(hits, key=lambda x: (-x.weight, x.field, x.hit.first, x.hit.rule.id)):
        words = _words(h.hit)
        seen = counted.setdefault(h.field, set())
        if words <= seen:
            continue
        seen |= words
        out.append(h)
    return out


def _words(hit: RuleHit) -> set[int]:
    return {i for a, b in hit.spans for i in range(a, b)}


def _as_cue(rule: Rule) -> Rule:
    return Rule(
        rule.id, CUE_GROUP, rule.components, rule.window, rule.weight, rule.lang, rule.source
    )


def _overlaps(a: RuleHit, b: RuleHit) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in a.spans for s2, e2 in b.spans)


def _near(cues: list[RuleHit], hit: RuleHit, window: int) -> RuleHit | None:
    for c in cues:
        gap = max(c.first - hit.last, hit.first - c.last, 0)
        if gap <= window:
            return c
    return None
