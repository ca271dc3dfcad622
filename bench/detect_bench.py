"""Detector suite throughput on ~3 KB articles, against a naive baseline in the same run.

Articles are synthetic (generated here from word lists written for this script;
one article in four also carries one of the rule packs' own test sentences, so
narratives do match, as in a news stream where most articles are ordinary), in
English, Serbian Latin and Cyrillic, Croatian, Macedonian and Albanian, ~3,000
characters each, on seven source countries with advancing event time.

* suite: `DetectorSuite.from_config()` - every registered detector (narrative,
  claims and the stateful ones), one state dict for the run, on one core, called
  as the runtimes call it: `process_all` on batches (`--batch`, default 256: the
  state-free detectors run over the batch first, detector by detector). The rate
  one article at a time is printed too; both give identical signals
  (tests/unit/detectors/test_batches.py).
* naive baseline: the same articles folded the same way, then one compiled regex
  per rule-pack term (every alternative of every phrase and proximity component),
  looped - the design the issue rules out. It does strictly less work than the
  suite (no proximity logic, no claims, no other detectors), so the ratio is
  conservative.

    .venv/bin/python bench/detect_bench.py [--n 3000] [--repeat 3]

Rates are articles per CPU second of this (single-threaded) process
(`time.process_time`), so other load on a shared machine does not count against
them; wall-clock rates are printed too. Prints articles/s for both, the ratio, and whether the targets (>= 3,000
articles/s, >= 10x the baseline) are met. Exit status 0 either way: figures, not
a test.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# one core: no BLAS/OpenMP helper threads (their CPU time would count against us too)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.pipeline import DetectorSuite  # noqa: E402
from detectors.rulepack import load_packs  # noqa: E402
from hybridwatch.events import Article, Source  # noqa: E402
from hybridwatch.textfold import fold  # noqa: E402

WORDS = {
    "en": [
        "the",
        "government",
        "said",
        "on",
        "monday",
        "that",
        "the",
        "new",
        "budget",
        "would",
        "support",
        "schools",
        "hospitals",
        "roads",
        "and",
        "local",
        "councils",
        "while",
        "ministers",
        "met",
        "regional",
        "partners",
        "to",
        "discuss",
        "trade",
        "energy",
        "tourism",
        "and",
        "investment",
        "in",
        "the",
        "coming",
        "year",
        "officials",
        "added",
    ],
    "sr-Latn": [
        "vlada",
        "je",
        "u",
        "ponedeljak",
        "saopštila",
        "da",
        "će",
        "novi",
        "budžet",
        "podržati",
        "škole",
        "bolnice",
        "puteve",
        "i",
        "lokalne",
        "samouprave",
        "dok",
        "su",
        "ministri",
        "razgovarali",
        "sa",
        "partnerima",
        "o",
        "trgovini",
        "energetici",
        "turizmu",
        "i",
        "investicijama",
        "u",
        "narednoj",
        "godini",
    ],
    "sr-Cyrl": [
        "влада",
        "је",
        "у",
        "понедељак",
        "саопштила",
        "да",
        "ће",
        "нови",
        "буџет",
        "подржати",
        "школе",
        "болнице",
        "путеве",
        "и",
        "локалне",
        "самоуправе",
        "док",
        "су",
        "министри",
        "разговарали",
        "са",
        "партнерима",
        "о",
        "трговини",
        "енергетици",
        "туризму",
        "и",
        "инвестицијама",
        "у",
        "наредној",
        "години",
    ],
    "hr": [
        "vlada",
        "je",
        "u",
        "ponedjeljak",
        "priopćila",
        "da",
        "će",
        "novi",
        "proračun",
        "poduprijeti",
        "škole",
        "bolnice",
        "ceste",
        "i",
        "lokalnu",
        "samoupravu",
        "dok",
        "su",
        "ministri",
        "razgovarali",
        "s",
        "partnerima",
        "o",
        "trgovini",
        "energetici",
        "turizmu",
        "i",
        "ulaganjima",
        "u",
        "idućoj",
        "godini",
    ],
    "mk": [
        "владата",
        "во",
        "понеделник",
        "соопшти",
        "дека",
        "новиот",
        "буџет",
        "ќе",
        "ги",
        "поддржи",
        "училиштата",
        "болниците",
        "патиштата",
        "и",
        "општините",
        "додека",
        "министрите",
        "разговараа",
        "со",
        "партнерите",
        "за",
        "трговија",
        "енергетика",
        "туризам",
        "и",
        "инвестиции",
        "во",
        "наредната",
        "година",
    ],
    "sq": [
        "qeveria",
        "njoftoi",
        "të",
        "hënën",
        "se",
        "buxheti",
        "i",
        "ri",
        "do",
        "të",
        "mbështesë",
        "shkollat",
        "spitalet",
        "rrugët",
        "dhe",
        "komunat",
        "ndërsa",
        "ministrat",
        "diskutuan",
        "me",
        "partnerët",
        "për",
        "tregtinë",
        "energjinë",
        "turizmin",
        "dhe",
        "investimet",
        "në",
        "vitin",
        "që",
        "vjen",
    ],
}
TEST_LANG = {
    "en": "en",
    "sr-Latn": "sr-Latn",
    "sr-Cyrl": "sr-Cyrl",
    "hr": "hr",
    "mk": "mk",
    "sq": "sq",
}
COUNTRIES = ("RS", "MK", "BA", "XK", "ME", "AL", "HR")
T0 = datetime(2018, 9, 1, tzinfo=UTC)


def synthetic_articles(n: int, size: int = 3000, seed: int = 7) -> list[Article]:
    rng = random.Random(seed)
    packs = [p for p in load_packs() if p.kind == "narrative"]
    sentences: dict[str, list[str]] = {lang: [] for lang in WORDS}
    for p in packs:
        for lang, tests in p.tests.items():
            if lang in sentences:
                sentences[lang].extend(tests.positive + tests.negative)
    langs = list(WORDS)
    out: list[Article] = []
    for i in range(n):
        lang = langs[i % len(langs)]
        words = WORDS[lang]
        parts: list[str] = []
        length = 0
        while length < size:
            s = " ".join(rng.choice(words) for _ in range(rng.randint(8, 20))).capitalize() + "."
            parts.append(s)
            length += len(s) + 1
        if rng.random() < 0.25:
            parts.insert(rng.randrange(len(parts)), rng.choice(sentences[lang]))
        text = " ".join(parts)[: size + 200]
        when = T0 + timedelta(seconds=37 * i)
        out.append(
            Article(
                id=f"bench-{i}",
                url=f"https://example.org/{i}",
                title=" ".join(rng.choice(words) for _ in range(8)),
                text=text,
                published=when,
                fetched=when,
                language=TEST_LANG[lang],
                source=Source(
                    id=f"src{i % 50}", domain=f"site{i % 50}.example", country=COUNTRIES[i % 7]
                ),
            )
        )
    return out


def naive_regexes() -> list[re.Pattern[str]]:
    """One regex per term alternative of every pack: the baseline the issue rules out."""
    out: list[re.Pattern[str]] = []
    seen: set[str] = set()
    for pack in load_packs():
        for rule in pack.rules():
            for comp in rule.components:
                for phrase in comp:
                    key = str(phrase)
                    if key in seen:
                        continue
                    seen.add(key)
                    body = r"\W+".join(
                        re.escape(t.text) + (r"\w*" if t.prefix else r"\b") for t in phrase.tokens
                    )
                    out.append(re.compile(r"\b" + body))
    return out


def run_suite(
    articles: list[Article], enabled: list[str] | None = None, batch: int = 1
) -> tuple[float, int]:
    """CPU seconds of the suite over `articles` in batches of `batch` (1: one at a time)."""
    suite = DetectorSuite.from_config(enabled)
    state: dict[str, object] = {}
    flagged = 0
    for a in articles[:50]:  # warm-up: lazy loads, caches
        suite.process(a, {})
    t = time.process_time()
    if batch <= 1:
        for a in articles:
            flagged += suite.process(a, state).flagged
    else:
        for i in range(0, len(articles), batch):
            for d in suite.process_all(articles[i : i + batch], state):
                flagged += d.flagged
    return time.process_time() - t, flagged


def run_parts(articles: list[Article]) -> dict[str, float]:
    """CPU µs per article of the content parts alone: folding, narrative, claims.

    Each part runs on fresh `ArticleView`s with folding already done (except the
    folding part itself), so the figures add up to roughly the content detectors'
    cost; the rest of the full suite is the stateful detectors.
    """
    from detectors.view import ArticleView

    suite = DetectorSuite.from_config(["narrative", "claims"])
    out: dict[str, float] = {}
    t = time.process_time()
    for a in articles:
        ArticleView(a).text  # noqa: B018  (folds the text)
        ArticleView(a).title  # noqa: B018
    out["folding (title + text)"] = time.process_time() - t
    for det in suite.detectors:
        views = [ArticleView(a) for a in articles]
        for v in views:
            v.title, v.text  # noqa: B018
        t = time.process_time()
        for v in views:
            det.detect(v, {})
        out[det.name] = time.process_time() - t
    return {k: v / len(articles) * 1e6 for k, v in out.items()}


def run_naive(articles: list[Article], regexes: list[re.Pattern[str]]) -> tuple[float, int]:
    hits = 0
    t = time.process_time()
    for a in articles:
        for text in (fold(a.title), fold(a.text)):
            for rx in regexes:
                for _ in rx.finditer(text):
                    hits += 1
    return time.process_time() - t, hits


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="detector suite vs naive regex baseline")
    ap.add_argument("--n", type=int, default=3000, help="articles per run")
    ap.add_argument("--naive-n", type=int, default=300, help="articles for the (slow) baseline")
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    ap.add_argument(
        "--batch",
        type=int,
        default=256,
        help="articles per DetectorSuite.prepare call (detect CLI default; the worker and "
        "the embedded runtime pass whatever batch the stream delivers)",
    )
    args = ap.parse_args(argv)

    articles = synthetic_articles(args.n)
    regexes = naive_regexes()
    avg = sum(len(a.text) + len(a.title) for a in articles) / len(articles)
    suite_names = ", ".join(d.name for d in DetectorSuite.from_config().detectors)
    print(f"articles: {len(articles)} synthetic, {avg:.0f} chars on average, 6 languages/scripts")
    print(f"suite: {suite_names}")
    print(f"naive baseline: {len(regexes)} regexes, one per term, looped")

    best_suite = min(run_suite(articles, batch=args.batch)[0] for _ in range(args.repeat))
    best_single = min(run_suite(articles, batch=1)[0] for _ in range(args.repeat))
    flagged = run_suite(articles[: min(500, len(articles))], batch=args.batch)[1]
    sub = articles[: args.naive_n]
    best_naive = min(run_naive(sub, regexes)[0] for _ in range(args.repeat))
    suite_rate = len(articles) / best_suite
    naive_rate = len(sub) / best_naive
    ratio = suite_rate / naive_rate
    print(
        f"suite: {suite_rate:,.0f} articles/s/core in batches of {args.batch}, as the runtimes"
        f" call it ({flagged} of the first 500 flagged)"
    )
    print(f"  one article at a time: {len(articles) / best_single:,.0f} articles/s/core")
    content = min(
        run_suite(articles, ["narrative", "claims"], args.batch)[0] for _ in range(args.repeat)
    )
    print(f"  of which narrative + claims alone: {len(articles) / content:,.0f} articles/s/core")
    parts = [run_parts(articles) for _ in range(args.repeat)]
    for name in parts[0]:
        print(f"  {name}: {min(p[name] for p in parts):,.0f} µs/article (CPU)")
    print(f"naive: {naive_rate:,.0f} articles/s/core")
    print(f"ratio: {ratio:.1f}x")
    print(
        f"targets: >= 3,000 articles/s {'met' if suite_rate >= 3000 else 'NOT met'}; "
        f">= 10x baseline {'met' if ratio >= 10 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
