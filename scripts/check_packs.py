"""Check the narrative rule packs against the TRAINING data (never the dev files).

Per pack: the share of train disinformation records it flags (score >= the flag
threshold) - claim titles/summaries (English) and original-language excerpts apart -
and the share of train neutral news (per language; "-topical": only the records whose
`subjects` name a subject of the narratives - NATO, EU, Kosovo, elections ..., the
hardest negatives) and of train disproofs it flags.
The last rows are the packs together: an article is flagged when the narrative risk
(noisy-OR of the pack scores, as detectors/scoring.py combines them) reaches the
threshold.

Records are read the way `hybridwatch detect` reads them: EUvsDisinfo records are judged
on their `text` only, with language "und" (their `language` field lists audiences, not
the text's language), so the narrative detector guesses the language group from the
text; neutral records keep their `language` and also use their `title` when it is not
the text itself.

    .venv/bin/python scripts/check_packs.py [--data /work/shared/data/train] [--json]
        [--packs-dir DIR] [--show-neutral N] [--input FILE ...]

--input reads other labelled files the same way instead (the dev files, to report
validation figures - never to choose terms or weights).

--show-neutral N prints the rules behind N flagged neutral records (rule ids and the
matched words only) to find over-broad terms. Nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detectors.narrative import NarrativeDetector, NarrativeOptions
from detectors.view import ArticleView
from hybridwatch.events import Article, Source

DEFAULT_DATA = Path("/work/shared/data/train")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FLAG = 0.5


@dataclass(frozen=True)
class Item:
    group: str
    """Row of the report: disinfo-claim, disinfo-excerpt, disproof, neutral-<lang>."""
    title: str
    text: str
    language: str


TRAIN_FILES = ("euvsdisinfo-train.jsonl", "neutral-train.jsonl", "neutral-train-en.jsonl")


def read_items(data: Path, inputs: tuple[Path, ...] = ()) -> Iterator[Item]:
    for path in inputs or tuple(data / name for name in TRAIN_FILES):
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as err:
                    raise SystemExit(f"{path}:{n}: not JSON: {err}") from err
                text = r.get("text") or ""
                if r.get("case_id") is not None:
                    if r["label"] == "disproof":
                        group = "disproof"
                    elif r.get("text_field") == "article_abstract":
                        group = "disinfo-excerpt"
                    else:
                        group = "disinfo-claim"
                    yield Item(group, "", text, "und")
                else:
                    lang = r.get("language") if isinstance(r.get("language"), str) else "und"
                    title = r.get("title") or ""
                    if title.strip() == text.strip():
                        title = ""
                    yield Item(f"neutral-{lang}", title, text, lang)
                    if r.get("subjects"):  # on the narratives' subjects: the hard negatives
                        yield Item(f"neutral-{lang}-topical", title, text, lang)


def article(item: Item, n: int) -> ArticleView:
    return ArticleView(
        Article(
            id=f"check-{n}",
            title=item.title,
            text=item.text,
            published=EPOCH,
            fetched=EPOCH,
            source=Source(id="check", country="XX"),
            language=item.language,
        )
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    opts = NarrativeOptions(packs_dir=args.packs_dir) if args.packs_dir else NarrativeOptions()
    det = NarrativeDetector(opts)
    totals: Counter[str] = Counter()
    flagged: dict[str, Counter[str]] = defaultdict(Counter)
    any_flag: Counter[str] = Counter()
    shown = 0
    inputs = tuple(Path(p) for p in args.input or ())
    for n, item in enumerate(read_items(Path(args.data), inputs)):
        if not item.text and not item.title:
            continue
        totals[item.group] += 1
        view = article(item, n)
        scores = det.analyse(view)
        p = 1.0
        for s in scores:
            if s.score >= FLAG:
                flagged[s.pack.id][item.group] += 1
            if s.score >= opts.min_score:
                p *= 1.0 - s.score
        if 1.0 - p >= FLAG:
            any_flag[item.group] += 1
            if item.group.startswith("neutral") and shown < args.show_neutral:
                shown += 1
                for s in scores:
                    rules = [
                        (h.hit.rule.id, h.field, [h.scan.tokens[a:b] for a, b in h.hit.spans])
                        for h in s.hits
                    ]
                    print(f"[{item.group}] {s.pack.id} {s.score:.2f} {rules}", file=sys.stderr)
    groups = sorted(totals, key=lambda g: (not g.startswith("disinfo"), g))
    rows = {
        pack: {g: round(flagged[pack][g] / totals[g], 4) for g in groups}
        for pack in sorted(det.packs)
    }
    rows["ALL PACKS (risk >= 0.5)"] = {g: round(any_flag[g] / totals[g], 4) for g in groups}
    return {"records": dict(totals), "flag_rate": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="folder of the train JSONL files")
    ap.add_argument("--packs-dir", default=None, help="rule packs to check (default: bundled)")
    ap.add_argument(
        "--input",
        "-i",
        action="append",
        metavar="FILE",
        help="labelled JSONL to read instead of the train files (e.g. dev, to REPORT only)",
    )
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--show-neutral", type=int, default=0, metavar="N")
    args = ap.parse_args(argv)
    try:
        result = run(args)
    except OSError as err:
        print(f"check_packs: cannot read training data: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
        return 0
    groups = list(next(iter(result["flag_rate"].values())))
    width = max(len(p) for p in result["flag_rate"])
    print("flag rate (share of records with pack score >= 0.5)")
    print(" " * width + "".join(f"{g.replace('neutral-', 'neu-'):>16}" for g in groups))
    print("n".ljust(width) + "".join(f"{result['records'][g]:>16}" for g in groups))
    for pack, rates in result["flag_rate"].items():
        print(pack.ljust(width) + "".join(f"{rates[g]:>16.3f}" for g in groups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
