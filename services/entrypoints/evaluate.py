"""`hybridwatch eval`: run the detector suite on labelled JSONL and print the metrics.

Records need `id`, `text` and `label` (`disinfo`, `disproof` or `neutral`). How a
record becomes an article, and why:

* Every record is judged on its `title` and `text`, exactly as `hybridwatch detect`
  reads it (the title is dropped only when it merely repeats the text). For an
  EUvsDisinfo disproof the title is the claim it refutes: a fact-check headlined with
  the claim is what analysts meet in the wild, and it must not be flagged.
* Language: a string `language` field is taken as is (Serbian gets its script);
  otherwise (EUvsDisinfo's `language` is the list of *audience* languages, while
  titles, summaries and disproofs are English) the text's language is detected
  with py3langid plus Cyrillic letter checks (ingest/language.py), using the
  audience language as a hint only when there is exactly one regional one.
* Countries (per-country breakdown): `wb_countries`, else `countries`.
* Known-claim matching runs leave-one-case-out (`exclude_same_case`): a record may
  not match a claim of its own case, which would be leakage since the index is
  built from this very data. Figures are printed with and without claim matching.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridwatch.config import Settings
from hybridwatch.events import WESTERN_BALKANS, Article, Signal
from hybridwatch.textfold import cyrillic_share
from services.entrypoints.batch import RecordError, article_from_record, country_codes
from services.entrypoints.bootstrap import build_suite
from services.entrypoints.detect import DEFAULT_BATCH
from services.pipeline.step import ArticleFailure, run_batch
from services.progress import Progress

if TYPE_CHECKING:
    from detectors.pipeline import Detection

LABELS = ("disinfo", "disproof", "neutral")
AUDIENCE = {
    "Serbian": "sr",
    "Bosnian": "bs",
    "Croatian": "hr",
    "Macedonian": "mk",
    "Montenegrin": "cnr",
    "Albanian": "sq",
    "English": "en",
}


def record_language(record: dict[str, Any]) -> str:
    text = str(record.get("text") or "")
    lang = record.get("language")
    if isinstance(lang, str) and lang:
        if lang == "sr":
            return "sr-Cyrl" if cyrillic_share(text) >= 0.5 else "sr-Latn"
        return lang
    from ingest.language import detect_language

    hints = {AUDIENCE[x] for x in lang or [] if x in AUDIENCE} if isinstance(lang, list) else set()
    hint = hints.pop() if len(hints) == 1 else "und"
    return detect_language(text, hint)


def to_article(record: dict[str, Any]) -> Article:
    text = record.get("text") or ""
    title = record.get("title") or ""
    if title.strip() == str(text).strip():
        title = ""
    rec = dict(record)
    rec.setdefault("title", title)
    rec["countries"] = record.get("wb_countries") or record.get("countries") or []
    rec.pop("language", None)
    return article_from_record(rec, title=title)


def read_records(paths: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    problems.append(f"{path}:{n}: not valid JSON: {e.msg}")
                    continue
                if not isinstance(rec, dict) or rec.get("label") not in LABELS:
                    got = rec.get("label") if isinstance(rec, dict) else rec
                    problems.append(
                        f"{path}:{n}: label must be one of {', '.join(LABELS)}, got {got!r}"
                    )
                    continue
                rec["_where"] = f"{path}:{n}"
                records.append(rec)
    return records, problems


def evaluate(records: list[dict[str, Any]], settings: Settings) -> tuple[dict[str, Any], list[str]]:
    from detectors.evaluation import Outcome, report
    from detectors.scoring import combine_risk

    suite = build_suite(settings, {"claims": {"exclude_same_case": True}})
    threshold = settings.detectors.flag_threshold
    state: dict[str, Any] = {}
    variants: dict[str, list[Outcome]] = {"full": [], "without_claims": [], "claims_only": []}
    problems: list[str] = []
    good: list[tuple[dict[str, Any], Article]] = []
    for rec in records:
        try:
            good.append((rec, to_article(rec)))
        except RecordError as e:
            problems.append(f"{rec['_where']}: {e}")
    scored: list[tuple[dict[str, Any], Article, Detection]] = []
    progress = Progress("hybridwatch eval", total=len(good), unit="records")
    for i in range(0, len(good), DEFAULT_BATCH):
        chunk = good[i : i + DEFAULT_BATCH]
        # the batch step every runtime shares: a record the detectors fail on changes
        # no state, is reported and left out of the figures (services/pipeline/step.py)
        result = run_batch(suite, (), [a for _, a in chunk], state)
        result.state_changes.apply_to(state)
        for (rec, article), outcome in zip(chunk, result.outcomes, strict=True):
            if isinstance(outcome, ArticleFailure):
                problems.append(f"{rec['_where']}: {outcome.message}")
            else:
                scored.append((rec, article, outcome.detection))
        progress.advance(len(chunk))
    progress.finish(f"{len(scored):,} records scored, {len(problems)} skipped")
    for rec, article, det in scored:
        lang = record_language(rec)
        countries = tuple(
            c
            for c in country_codes(rec.get("wb_countries") or rec.get("countries") or [])
            if c in WESTERN_BALKANS
        )
        no_claims: list[Signal] = [s for s in det.signals if s.detector != "claims"]
        only_claims: list[Signal] = [s for s in det.signals if s.detector == "claims"]
        for name, risk in (
            ("full", det.risk),
            ("without_claims", combine_risk(no_claims)),
            ("claims_only", combine_risk(only_claims)),
        ):
            variants[name].append(
                Outcome(article.id, rec["label"], risk >= threshold, lang, countries, risk)
            )
    detectors = [d.name for d in suite.detectors]
    out: dict[str, Any] = {
        "pr_curve": pr_curve(variants["full"]),
        "records": len(records),
        "threshold": threshold,
        "detectors": detectors,
        "claims": "leave-one-case-out" if "claims" in detectors else "disabled",
        "variants": {name: report(outs) for name, outs in variants.items()},
        "misclassified": [
            {"id": o.id, "label": o.label, "language": o.language, "risk": round(o.risk, 4)}
            for o in variants["full"]
            if not o.correct
        ],
    }
    return out, problems


CURVE_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))


def pr_curve(outcomes: Sequence[Any]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and the false-flag rate at each threshold, so an operator
    can pick `detectors.flag_threshold` knowingly."""
    rows = []
    pos = [o for o in outcomes if o.label == "disinfo"]
    neg = [o for o in outcomes if o.label != "disinfo"]
    for t in CURVE_THRESHOLDS:
        tp = sum(1 for o in pos if o.risk >= t)
        fp = sum(1 for o in neg if o.risk >= t)
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / len(pos) if pos else None
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision is not None and recall is not None and precision + recall
            else 0.0
        )
        rows.append(
            {
                "threshold": t,
                "precision": None if precision is None else round(precision, 4),
                "recall": None if recall is None else round(recall, 4),
                "f1": round(f1, 4),
                "false_flag_rate": round(fp / len(neg), 4) if neg else None,
            }
        )
    return rows


def plot_curve(rows: Sequence[dict[str, Any]], threshold: float, path: str) -> None:
    """The precision/recall curve as a PNG, the configured threshold marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    pts = [r for r in rows if r["precision"] is not None and r["recall"] is not None]
    ax.plot([r["recall"] for r in pts], [r["precision"] for r in pts], marker="o", ms=3)
    for r in pts:
        if abs(r["threshold"] - threshold) < 1e-9 or r["threshold"] in (0.25, 0.75):
            ax.annotate(f"{r['threshold']:.2f}", (r["recall"], r["precision"]), fontsize=8)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"hybridwatch eval: precision/recall by risk threshold (now {threshold})")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _fmt(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:.3f}"


def render(result: dict[str, Any]) -> str:
    lines = [
        f"records: {result['records']}  threshold: {result['threshold']}  "
        f"claim matching: {result['claims']}",
        f"detectors: {', '.join(result['detectors'])}",
    ]
    for name, rep in result["variants"].items():
        o = rep["overall"]
        lines += [
            "",
            f"== {name.replace('_', ' ')}",
            f"precision {_fmt(o['precision'])}  recall {_fmt(o['recall'])}  F1 {_fmt(o['f1'])}  "
            f"false-flag rate {_fmt(o['false_flag_rate'])}  "
            f"language-balanced accuracy {_fmt(rep['language_balanced_accuracy'])}",
            "confusion (gold label: flagged / not flagged):",
        ]
        for label, row in rep["confusion"].items():
            lines.append(f"  {label:<9} {row['flagged']:>5} / {row['not_flagged']:<5}")
        for title, key in (("per language", "per_language"), ("per country", "per_country")):
            lines.append(f"{title}:            n  disinfo  recall  negatives  false-flags")
            for k, v in rep[key].items():
                lines.append(
                    f"  {k:<14} {v['n']:>5} {v['disinfo']:>8}  {_fmt(v['recall'])}"
                    f" {v['negatives']:>10}  {_fmt(v['false_flags'])}"
                )
        lines.append("cells (label/language: correct/n, * = counted, n >= 5):")
        lines.append(
            "  "
            + "  ".join(
                f"{k} {c['correct']}/{c['n']}{'*' if c['counted'] else ''}"
                for k, c in rep["cells"].items()
            )
        )
        met = rep["targets_met"]
        lines.append(
            "targets: " + "  ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in met.items())
        )
    if result.get("pr_curve"):
        lines += ["", "== precision/recall by threshold (full suite; flag when risk >= t)"]
        lines.append("  threshold  precision  recall  F1     false-flag rate")
        for r in result["pr_curve"]:
            lines.append(
                f"  {r['threshold']:>9.2f}  {_fmt(r['precision']):>9}  {_fmt(r['recall']):>6}  "
                f"{_fmt(r['f1'])}  {_fmt(r['false_flag_rate'])}"
            )
    return "\n".join(lines)


def main(args: argparse.Namespace, settings: Settings) -> int:
    plot = getattr(args, "plot", None)
    if plot and not Path(plot).resolve().parent.is_dir():
        print(f"hybridwatch eval: cannot write --plot {plot}: no such folder", file=sys.stderr)
        return 2
    try:
        records, problems = read_records(args.input)
    except OSError as e:
        print(f"hybridwatch eval: cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return 1
    result, more = evaluate(records, settings)
    problems += more
    for p in problems:
        print(f"hybridwatch eval: skipped {p}", file=sys.stderr)
    result["skipped"] = problems
    if getattr(args, "plot", None):
        try:
            plot_curve(result["pr_curve"], result["threshold"], args.plot)
        except OSError as e:
            print(
                f"hybridwatch eval: cannot write --plot {args.plot}: {e.strerror}", file=sys.stderr
            )
            return 1
        print(f"hybridwatch eval: wrote the precision/recall curve to {args.plot}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(render(result))
    return 0
