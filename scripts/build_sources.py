#!/usr/bin/env python3
"""Build ingest/data/sources.yaml, the default sources registry, from the feed CSV.

Input: /work/shared/data/balkan-feeds.csv (real feed addresses collected from public
repositories, each row naming the file it was found in) and watchlist-outlets.csv
(outlets named in EUvsDisinfo cases). Only addresses present in the CSV are
written - nothing is invented - and each entry carries its provenance as a comment.

Deterministic: the same CSVs give the same YAML byte for byte.

Rules:
* Western Balkans countries only (RS, MK, BA, XK, ME, AL, HR);
* per domain keep the most general feed (front page / all news) and at most one
  more that is a news or politics section; http and https duplicates collapse to
  https; sport, lifestyle, auto, tech and similar sections are skipped;
* language: the CSV's column, corrected where the URL itself names another
  language (/en/, lang=en ...); corrections are printed;
* id: the domain (e.g. "blic.rs"), plus "-<section>" for a second feed;
* tags: "public-broadcaster" (RTS, RTV, HRT, RTCG, MRT), "state-affiliated" (Sputnik,
  Russian state media), "state-news-agency" (MIA), "watchlist" (domain in
  watchlist-outlets.csv).

Usage: python scripts/build_sources.py [--feeds CSV] [--watchlist CSV] [--output YAML]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DATA = Path("/work/shared/data")
COUNTRIES = ("RS", "MK", "BA", "XK", "ME", "AL", "HR")
MAX_PER_DOMAIN = 2
INTERVAL = 900

PUBLIC_BROADCASTERS = {"rts.rs", "rtv.rs", "hrt.hr", "rtcg.me", "mrt.com.mk"}
STATE_AFFILIATED = {"sputnikportal.rs"}
STATE_NEWS_AGENCIES = {"mia.mk"}

_SKIP_SECTIONS = re.compile(
    r"sport|zabav|lifestyle|magazin|auto|automobil|\bit\b|/it$|tehno|tech|zdrav|kultur|scena|estrad|"
    r"showbiz|mladi|zivot|biz\b|biz\.|film|muzik|recept|kuhinj|putovanj|moda|ljubimc|horoskop|zena|zene|dokumentar|biznis|ekonom|"
    r"kolumn|blog|hronika/hronika|crna-hronika|lokal|oglasi|vreme|kviz|igric|foto|video",
    re.IGNORECASE,
)
_GENERAL = re.compile(
    r"(/feed/?$|/rss/?$|/rss\.xml$|/index\.rss$|/rss/index\.xml$|sve-vesti|sve_vesti|/vesti(?:\.xml)?/?$|/vijesti|"
    r"naslovna|danasnje-vesti|rss-vesti|/rss/ns\.xml$|feed=rss|format=feed|type=rss|rss=1)",
    re.IGNORECASE,
)
_NEWS_SECTION = re.compile(
    r"politik|politic|vesti|vijesti|svet|region|drustvo|makedonija|bih|srbija|info", re.IGNORECASE
)


def _score(url: str) -> tuple[int, int, int, str]:
    """Lower is better: general feeds first, then https, then shorter URLs."""
    general = 0 if _GENERAL.search(url) else 1
    skipped = 1 if _SKIP_SECTIONS.search(urlsplit(url).path + "?" + urlsplit(url).query) else 0
    https = 0 if url.startswith("https://") else 1
    return (skipped * 2 + general, https, len(url), url)


def _language(row: dict[str, str]) -> tuple[str, str | None]:
    lang = row["language"].strip() or "und"
    url = row["feed_url"].lower()
    if re.search(r"/en/|[?&]lang=en|/english", url) and lang != "en":
        return "en", f"{row['feed_url']}: language {lang} -> en (URL names English)"
    if re.search(r"/sq/|/al/|[?&]lang=sq", url) and lang != "sq":
        return "sq", f"{row['feed_url']}: language {lang} -> sq (URL names Albanian)"
    return lang, None


def _section(url: str) -> str:
    parts = urlsplit(url)
    words = re.findall(r"[a-z0-9]+", (parts.path + " " + parts.query).lower())
    words = [
        w
        for w in words
        if w
        not in {"rss", "feed", "xml", "index", "php", "category", "html", "format", "type", "www"}
    ]
    return "-".join(words[:3]) or "feed2"


def _norm(url: str) -> str:
    parts = urlsplit(url)
    return (
        (parts.hostname or "").removeprefix("www.")
        + parts.path.rstrip("/")
        + ("?" + parts.query if parts.query else "")
    )


def load_watchlist(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {
            r["domain"].strip().lower() for r in csv.DictReader(fh) if r.get("domain", "").strip()
        }


def build(feeds_csv: Path, watchlist_csv: Path) -> tuple[list[dict[str, object]], list[str]]:
    watch = load_watchlist(watchlist_csv)
    notes: list[str] = []
    by_domain: dict[str, list[dict[str, str]]] = defaultdict(list)
    with feeds_csv.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["country_iso2"].strip() not in COUNTRIES:
                continue
            if urlsplit(row["feed_url"]).scheme not in ("http", "https"):
                notes.append(f"skipped non-http URL {row['feed_url']!r}")
                continue
            by_domain[row["domain"].strip().lower()].append(row)
    out: list[dict[str, object]] = []
    for domain in sorted(by_domain):
        rows = sorted(by_domain[domain], key=lambda r: _score(r["feed_url"]))
        chosen: list[dict[str, str]] = []
        seen_norm: set[str] = set()
        for row in rows:
            key = _norm(row["feed_url"])
            if key in seen_norm:
                continue
            seen_norm.add(key)
            if not chosen or (
                len(chosen) < MAX_PER_DOMAIN
                and not _SKIP_SECTIONS.search(row["feed_url"])
                and _NEWS_SECTION.search(
                    urlsplit(row["feed_url"]).path + urlsplit(row["feed_url"]).query
                )
            ):
                chosen.append(row)
        for i, row in enumerate(chosen):
            lang, note = _language(row)
            if note:
                notes.append(note)
            tags: list[str] = []
            if domain in PUBLIC_BROADCASTERS:
                tags.append("public-broadcaster")
            if domain in STATE_AFFILIATED:
                tags.append("state-affiliated")
            if domain in STATE_NEWS_AGENCIES:
                tags.append("state-news-agency")
            if domain in watch:
                tags.append("watchlist")
            sid = domain if i == 0 else f"{domain}-{_section(row['feed_url'])}"
            out.append(
                {
                    "id": re.sub(r"[^a-z0-9._-]", "-", sid.lower()),
                    "outlet": row["outlet"].strip(),
                    "country": row["country_iso2"].strip(),
                    "language": lang,
                    "feed_url": row["feed_url"].strip(),
                    "interval": INTERVAL,
                    "tags": tags,
                    "_source": row["source_repo_path"].strip(),
                }
            )
    return out, notes


def _q(value: str) -> str:
    """YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    import json

    return json.dumps(value, ensure_ascii=False)


def render(sources: list[dict[str, object]]) -> str:
    lines = [
        "# Default sources registry for hybridwatch (Western Balkans outlets).",
        "# GENERATED by scripts/build_sources.py from balkan-feeds.csv and watchlist-outlets.csv;",
        "# edit the script, not this file. Every feed_url is a real address documented in the",
        "# public repository file named in the comment above it (not checked live).",
        "# Tags: public-broadcaster, state-affiliated (Russian state media), state-news-agency,",
        "# watchlist (outlet named in EUvsDisinfo cases: a case listing, not a verdict).",
        f"# {len(sources)} sources.",
        "sources:",
    ]
    for s in sources:
        tags = ", ".join(_q(str(t)) for t in s["tags"])  # type: ignore[attr-defined]
        lines += [
            f"  # from {s['_source']}",
            f"  - id: {_q(str(s['id']))}",
            f"    outlet: {_q(str(s['outlet']))}",
            f"    country: {s['country']}",
            f"    language: {s['language']}",
            f"    feed_url: {_q(str(s['feed_url']))}",
            f"    interval: {s['interval']}",
            f"    tags: [{tags}]",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--feeds", type=Path, default=DATA / "balkan-feeds.csv")
    ap.add_argument("--watchlist", type=Path, default=DATA / "watchlist-outlets.csv")
    ap.add_argument("--output", type=Path, default=ROOT / "ingest" / "data" / "sources.yaml")
    args = ap.parse_args(argv)
    sources, notes = build(args.feeds, args.watchlist)
    ids = [s["id"] for s in sources]
    if len(ids) != len(set(ids)):
        dupes = sorted({i for i in ids if ids.count(i) > 1})  # type: ignore[arg-type]
        print(f"duplicate ids: {dupes}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(sources), encoding="utf-8")
    for n in notes:
        print(n, file=sys.stderr)
    by_country: dict[str, int] = defaultdict(int)
    for s in sources:
        by_country[str(s["country"])] += 1
    print(
        f"wrote {len(sources)} sources to {args.output}: "
        + ", ".join(f"{c} {by_country[c]}" for c in COUNTRIES)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
