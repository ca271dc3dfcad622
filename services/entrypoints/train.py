"""`hybridwatch train`: rebuild the learned detector's weights from the data files.

Fits on `train/`, picks the operating points on the dev files, cross-validates on
`train/` (grouped by case, folds by case date) and writes the weights file - by
default the bundled one, so a fresh checkout rebuilds exactly what it ships (the
file is canonical: same data, same bytes). The logic is in services/learning/.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hybridwatch.config import ConfigError, Settings


def default_data_dir() -> Path:
    """`../shared/data` beside the checkout, where the project's data lives."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def main(args: argparse.Namespace, settings: Settings) -> int:
    from detectors.claims import INDEX_FILE as CLAIMS_FILE
    from detectors.learned import load_lexicon
    from detectors.learned_model import MODEL_FILE
    from services.claims.build import BuildError, build_claim_index
    from services.learning import corpus, translate
    from services.learning.run import train, train_steps
    from services.learning.train import TrainOptions
    from services.progress import Progress

    data = Path(args.data) if args.data else default_data_dir()
    out = Path(args.out) if args.out else MODEL_FILE
    options = TrainOptions(folds=args.folds)
    steps = train_steps(
        translate_news=not args.no_translate,
        cross_validation=not args.no_cv,
        folds=options.folds,
        concepts=load_lexicon() is not None,
        write=True,
    )
    progress = Progress("hybridwatch train", total=steps, unit="steps")

    def say(line: str) -> None:
        # on a terminal: the bar (count of steps, rate, ETA) with the stage as its
        # note; elsewhere (CI logs, files): the stage lines themselves
        if progress.live:
            progress.advance(1, note=line.removeprefix("train: "))
        else:
            progress.done += 1
            print(line, file=sys.stderr, flush=True)

    try:
        report = train(
            data,
            out,
            options,
            translate_news=not args.no_translate,
            cross_validation=not args.no_cv,
            say=say,
        )
    except corpus.CorpusError as err:
        progress.finish("failed")
        raise ConfigError(f"--data: {err}") from err
    except translate.TranslatorMissing as err:
        progress.finish("failed")
        print(f"hybridwatch train: {err}", file=sys.stderr)
        return 2
    progress.finish(
        f"{progress.done} of {steps} steps, weights version {report.model_file.version}"
    )
    claims_out = Path(args.claims_out) if args.claims_out else CLAIMS_FILE
    try:
        claims = build_claim_index(
            data / "train" / "euvsdisinfo-train.jsonl",
            data / "euvsdisinfo-wb-dev.jsonl",
            claims_out,
        )
    except BuildError as err:
        raise ConfigError(f"--data: {err}") from err
    print(
        f"hybridwatch train: claim index {claims_out} ({claims['claims']:,} claims, "
        f"version {claims['version']})",
        file=sys.stderr,
    )
    summary = {
        "out": str(out),
        "version": report.model_file.version,
        "operating_point": report.model_file.meta["operating_point"],
        "validation_dev": report.validation,
        "cross_validation_train": report.cross_validation or None,
        "claim_index": {k: claims[k] for k in ("version", "claims", "sha256")},
        "seconds": round(report.seconds, 1),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(render(summary))
    return 0


def render(summary: dict[str, object]) -> str:
    lines = [f"weights: {summary['out']} (version {summary['version']})"]
    ci = summary.get("claim_index")
    if isinstance(ci, dict):
        lines.append(f"claim index: {ci['claims']:,} claims, version {ci['version']}")
    for title, key in (
        ("validation on dev (learned detector alone)", "validation_dev"),
        ("cross-validation on train/ (grouped by case, folds by date)", "cross_validation_train"),
    ):
        rep = summary.get(key)
        if not isinstance(rep, dict):
            continue
        lines.append(
            f"{title}: precision {rep['precision']:.3f}  recall {rep['recall']:.3f}  "
            f"F1 {rep['f1']:.3f}"
        )
        for cell, v in rep["cells"].items():
            lines.append(f"  {cell:<28} {v['flagged']:>6} / {v['n']:<6} flagged ({v['rate']:.3f})")
    lines.append(f"done in {summary['seconds']} s")
    return "\n".join(lines)
