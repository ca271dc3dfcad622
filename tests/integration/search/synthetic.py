"""SYNTHETIC test data (made up here, not real news): articles and signals for the
store-parity test, the indexer outage test and bench/index_bench.py.

Deterministic from a seed. Texts mix Serbian/Macedonian Cyrillic and Latin spellings
of the same words, diacritics and English, so script-insensitive search is exercised;
publication times carry microseconds and repeat on purpose, so the id tie-break of
the ordering is exercised too.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hybridwatch.events import Article, Evidence, Signal, Source, sha256_hex
from hybridwatch.textfold import fold

COUNTRIES = ("RS", "MK", "BA", "XK", "ME", "AL", "HR")
WORDS = (
    "Приштина", "Priština", "Pristina", "референдум", "referendum", "НАТО", "NATO",
    "Београд", "Beograd", "избори", "izbori", "Скопје", "Skopje", "Đoković", "Ђоковић",
    "влада", "vlada", "протест", "protest", "energy", "election", "sanctions", "Brussels",
    "Kosovo", "Косово", "granica", "граница", "mediji", "медији", "čćžšđ", "ЉУБАВ",
    "2018", "EU", "Sarajevo", "Podgorica", "Tirana", "Zagreb", "narod", "народ",
)  # fmt: skip
DETECTORS = ("narrative", "burst", "watchlist", "coordination")
NARRATIVES = ("anti-nato", "anti-eu", "name-dispute", "kosovo-status", None)
SEVERITIES = ("low", "medium", "high", "critical")
BASE = datetime(2018, 9, 1, tzinfo=UTC)


def make_articles(n: int, seed: int = 7, words: int = 40, first: int = 0) -> list[Article]:
    """Articles number `first` .. `first + n - 1` (ids depend on the number only)."""
    rng = random.Random(seed)
    out: list[Article] = []
    for i in range(first, first + n):
        country = COUNTRIES[i % len(COUNTRIES)]
        title = " ".join(rng.choice(WORDS) for _ in range(6))
        text = " ".join(rng.choice(WORDS) for _ in range(words)) + f". Synthetic item {i}."
        # every 5th article shares its publication time with its neighbour
        minute = i - (i % 5 == 1)
        published = BASE + timedelta(minutes=37 * minute, microseconds=(minute * 7919) % 1_000_000)
        url = f"https://synthetic.example/{country.lower()}/{i}"
        out.append(
            Article(
                id=Article.make_id(url),
                url=url,
                title=title,
                text=text,
                published=published,
                fetched=published + timedelta(seconds=30),
                language="sr" if i % 3 else "en",
                source=Source(
                    id=f"synthetic-{country.lower()}",
                    outlet=f"Synthetic {country}",
                    domain="synthetic.example",
                    country=country,
                    tags=("synthetic",),
                ),
                countries=(country,),
                text_latn=fold(title + "\n" + text),
            )
        )
    return out


def make_signals(articles: list[Article], seed: int = 11) -> list[Signal]:
    rng = random.Random(seed)
    out: list[Signal] = []
    for a in articles:
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            detector = rng.choice(DETECTORS)
            narrative = rng.choice(NARRATIVES)
            key = str(rng.random())
            span = a.title[:5]
            out.append(
                Signal(
                    id=Signal.make_id(a.id, detector, narrative, key),
                    article_id=a.id,
                    detector=detector,
                    country=rng.choice((a.source.country, "RS", "MK")),
                    narrative=narrative,
                    severity=rng.choice(SEVERITIES),
                    score=round(rng.random(), 3),
                    evidence=(
                        Evidence(
                            field="title", start=0, end=len(span), text=span, rule="synthetic"
                        ),
                    ),
                    event_time=a.published,
                    details={"synthetic": True, "k": key},
                )
            )
    return out


def article_id(i: int) -> str:
    """Id of synthetic article i of any country (as make_articles derives it)."""
    country = COUNTRIES[i % len(COUNTRIES)]
    return sha256_hex("url", f"https://synthetic.example/{country.lower()}/{i}")
