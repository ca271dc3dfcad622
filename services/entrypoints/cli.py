"""The `hybridwatch` command line.

Each subcommand lives in `services.entrypoints.<module>` (COMMAND_MODULES) with a
`main(args, settings) -> int`, and is imported only when run, so `hybridwatch detect`
does not pay for Kafka or Faust imports and no client is created at import time.
Clients, stores and the suite come from services/entrypoints/bootstrap.py.
How to add a command: docs/architecture.md ("Adding a command").
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence

from hybridwatch import __version__
from hybridwatch.config import ConfigError, Settings, load_settings


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        help="YAML configuration (default: $HW_CONFIG or ./hybridwatch.yaml if present)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybridwatch",
        description="Watch Western Balkans news for disinformation and hybrid-threat signals.",
    )
    parser.add_argument("--version", action="version", version=f"hybridwatch {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="run the embedded pipeline (no servers needed)")
    _add_config(p)
    p.add_argument("--once", action="store_true", help="poll every source once, process, exit")
    p.add_argument("--no-api", action="store_true", help="do not serve the HTTP API")
    p.add_argument(
        "--demo",
        action="store_true",
        help="no network: replay the bundled SYNTHETIC demo archive into <data_dir>/demo "
        "and serve it (with --once: replay, then exit)",
    )

    p = sub.add_parser("detect", help="batch detection: JSONL articles in, JSONL results out")
    _add_config(p)
    p.add_argument("--input", "-i", default="-", help="articles JSONL (default: stdin)")
    p.add_argument("--output", "-o", default="-", help="results JSONL (default: stdout)")
    p.add_argument(
        "--batch",
        type=_positive_int,
        default=None,
        help="articles processed together (default 256); results are written a batch at "
        "a time (1: answer each line as soon as it is read; same results whatever the size)",
    )

    p = sub.add_parser("eval", help="evaluate the detectors on labelled JSONL")
    _add_config(p)
    p.add_argument(
        "--input", "-i", required=True, action="append", help="labelled JSONL (repeatable)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="write the precision/recall curve as PNG")

    p = sub.add_parser("search", help="search stored articles (either script)")
    _add_config(p)
    p.add_argument("text", nargs="?", default=None)
    p.add_argument("--country", help="source country, e.g. MK")
    p.add_argument("--detector")
    p.add_argument("--narrative")
    p.add_argument("--since", help="RFC 3339 time or date")
    p.add_argument("--until", help="RFC 3339 time or date")
    p.add_argument(
        "--flagged", action="store_true", help="only flagged articles (risk >= flag_threshold)"
    )
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = sub.add_parser("sources", help="list sources and their health")
    _add_config(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("schema", help="print the JSON Schemas of the event contracts")
    p.add_argument("name", nargs="?", choices=["Article", "Signal", "Alert"])

    p = sub.add_parser("ingest", help="poll feeds and publish articles to Kafka")
    _add_config(p)
    p.add_argument("--once", action="store_true", help="poll every source once, then exit")

    p = sub.add_parser("worker", help="run the Faust stream processor (detectors on Kafka)")
    _add_config(p)
    p.add_argument("--loglevel", default="warning")

    p = sub.add_parser("indexer", help="index articles, signals and alerts from Kafka")
    _add_config(p)
    p.add_argument("--once", action="store_true", help="stop when caught up")

    p = sub.add_parser("alerter", help="deliver alerts from Kafka to the subscriptions' channels")
    _add_config(p)
    p.add_argument("--once", action="store_true", help="stop when caught up and delivered")

    p = sub.add_parser("archive", help="archive every article from Kafka, one file per day")
    _add_config(p)
    p.add_argument("--once", action="store_true", help="stop when caught up")

    p = sub.add_parser("replay", help="run archived articles through the pipeline again")
    _add_config(p)
    p.add_argument("--since", help="first day (YYYY-MM-DD), inclusive")
    p.add_argument("--until", help="last day (YYYY-MM-DD), inclusive")
    p.add_argument(
        "--to",
        choices=["kafka", "embedded"],
        help="kafka: re-publish to hw.articles; embedded: the embedded pipeline on data_dir "
        "(default: kafka when kafka.bootstrap is set)",
    )
    p.add_argument("--rate", type=float, default=0.0, help="articles per second (0: no cap)")
    p.add_argument(
        "--target",
        choices=["isolated", "live"],
        default="isolated",
        help="isolated (default): a namespace of its own with fresh detector state, pages "
        "nobody (<data_dir>/replays/NAME, or topics <prefix>replay.NAME.*); live: the live "
        "data_dir / hw.articles and live detector state (docs/archive.md)",
    )
    p.add_argument("--name", help="namespace of an isolated replay (default: its days)")
    p.add_argument(
        "--source",
        choices=["archive", "kafka"],
        default="archive",
        help="archive (default): the day files; kafka: the live articles topic from the "
        "window's start (offsets-for-times), filtered by event day",
    )

    p = sub.add_parser(
        "import", help="map a third-party archive (JSONL/CSV) to Articles, into the archive"
    )
    _add_config(p)
    p.add_argument("file", metavar="FILE", help=".jsonl/.ndjson or .csv/.tsv, optionally .gz")
    p.add_argument(
        "--map",
        required=True,
        metavar="FIELD=COLUMN,...",
        help="which column holds each Article field: url, title, text, published (required), "
        "language, country, outlet, domain, id; e.g. title=headline,published=date",
    )
    p.add_argument("--country", help="source country of every row (when not mapped), e.g. MK")
    p.add_argument("--language", help="language hint of every row, e.g. mk")
    p.add_argument("--outlet", help="outlet name of every row (when not mapped)")
    p.add_argument("--dry-run", action="store_true", help="check and count, write nothing")

    p = sub.add_parser("train", help="rebuild the learned detector's weights from the data")
    _add_config(p)
    p.add_argument("--data", metavar="DIR", help="data folder (default: ../shared/data)")
    p.add_argument("--out", metavar="FILE", help="weights file (default: the bundled one)")
    p.add_argument(
        "--claims-out", metavar="FILE", help="claim index file (default: the bundled one)"
    )
    p.add_argument("--folds", type=_positive_int, default=5, help="cross-validation folds")
    p.add_argument("--no-cv", action="store_true", help="skip cross-validation (faster)")
    p.add_argument(
        "--no-translate",
        action="store_true",
        help="do not use Apertium translations (the result differs from the shipped weights)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("claims", help="the known-claim database (fact-checks)")
    cl = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = cl.add_parser(
        "import", help="load fact-checked claims (JSONL/CSV); `run` picks them up, no restart"
    )
    _add_config(q)
    q.add_argument("file", metavar="FILE", help=".jsonl/.ndjson or .csv/.tsv, optionally .gz")
    q.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN,...",
        help="which column holds each field: id, text (text=title+summary: several), url, "
        "date, label; default columns: id|claim_id|case_id, text|claim|title|summary, "
        "url|euvsdisinfo_url|link, date, label|rating|verdict",
    )
    q.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("topics", help="create the Kafka topics (idempotent)")
    _add_config(p)

    p = sub.add_parser("dead-letters", help="list, show and re-send records of hw.dead-letter")
    dl = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = dl.add_parser("list", help="one line per dead letter: ref, origin, attempts, reason")
    _add_config(q)
    q.add_argument("--topic", help="only those from this original topic (e.g. hw.articles)")
    q.add_argument("--reason", help="only those whose reason contains TEXT (any case)")
    q.add_argument("--waiting", action="store_true", help="hide the ones already redriven")
    q.add_argument("--json", action="store_true", help="one JSON object per line")
    q = dl.add_parser("show", help="one dead letter in full: headers, reason, value")
    _add_config(q)
    q.add_argument("ref", metavar="REF", help="its offset (P:OFFSET on partition P > 0)")
    q.add_argument("--json", action="store_true")
    q = dl.add_parser("redrive", help="re-send dead letters to their original topic")
    _add_config(q)
    q.add_argument("refs", metavar="REF", nargs="*", help="offsets (see `dead-letters list`)")
    q.add_argument("--all", action="store_true", help="every dead letter the filters select")
    q.add_argument("--topic", help="only those from this original topic")
    q.add_argument("--reason", help="only those whose reason contains TEXT (any case)")
    q.add_argument(
        "--max-attempts",
        type=_positive_int,
        default=3,
        help="refuse records already processed this many times (default 3)",
    )
    q.add_argument("--again", action="store_true", help="also re-send ones redriven before")
    q.add_argument("--dry-run", action="store_true", help="say what would be sent, send nothing")
    q.add_argument("--json", action="store_true")

    p = sub.add_parser("api", help="serve the API and page over the configured store")
    _add_config(p)
    p.add_argument("--host", help="listen address (default: api.host)")
    p.add_argument("--port", type=int, help="listen port (default: api.port)")

    p = sub.add_parser("triage", help="analysts' triage verdicts")
    tr = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = tr.add_parser("export", help="verdicts as labelled JSONL for `hybridwatch eval`")
    _add_config(q)
    q.add_argument("--out", "-o", required=True, help="JSONL file to write")

    p = sub.add_parser("export", help="export flagged articles (STIX 2.1)")
    ex = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    q = ex.add_parser("stix", help="a STIX 2.1 bundle of the flagged articles of a window")
    _add_config(q)
    q.add_argument("--since", help="RFC 3339 time or date (inclusive)")
    q.add_argument("--until", help="RFC 3339 time or date (a date includes that day)")
    q.add_argument("--country", help="source country, e.g. MK")
    q.add_argument("--out", "-o", default="-", help="bundle file (default: stdout)")

    p = sub.add_parser("dashboards", help="Grafana dashboards as code (docs/observability.md)")
    db = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = db.add_parser("build", help="write dashboards/json from the generators")
    q.add_argument("--out", help="output folder (default: dashboards/json of the checkout)")
    q.add_argument("--check", action="store_true", help="write nothing; exit 1 if any is stale")
    q.add_argument(
        "--engine",
        choices=("elasticsearch", "opensearch"),
        help="data-source flavour, written to <out>/<engine>/ (default: both)",
    )
    q = db.add_parser("deploy", help="put the dashboards into a running Grafana (grafana-client)")
    q.add_argument("--grafana", required=True, metavar="URL", help="e.g. https://grafana:3000")
    q.add_argument(
        "--token",
        default=None,
        help="service-account token (Editor); default $HW_GRAFANA_TOKEN (keeps it out of "
        "the shell history)",
    )
    q.add_argument("--folder", default="hybridwatch", help="folder uid and title")
    q.add_argument("--dir", help="dashboard JSON folder (default: dashboards/json/<engine>)")
    q.add_argument(
        "--engine",
        choices=("elasticsearch", "opensearch"),
        help="which flavour of dashboards/json to deploy (default: elasticsearch)",
    )
    q.add_argument("--message", help="version message (default: names the hybridwatch version)")

    p = sub.add_parser("token", help="API bearer tokens (stored hashed; docs/security.md)")
    tk = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = tk.add_parser("create", help="create a token and print it once")
    _add_config(q)
    q.add_argument("--name", required=True, help="who or what holds it, e.g. alice or grafana")
    q.add_argument("--role", required=True, choices=("analyst", "operator", "admin"))
    q = tk.add_parser("list", help="tokens: id, name, role, created, revoked (never the token)")
    _add_config(q)
    q.add_argument("--json", action="store_true")
    q = tk.add_parser("revoke", help="revoke a token by its id (effective on the next request)")
    _add_config(q)
    q.add_argument("id", help="the token's id from `hybridwatch token list`")
    return parser


COMMAND_MODULES = {
    "run": "services.entrypoints.run",
    "detect": "services.entrypoints.detect",
    "eval": "services.entrypoints.evaluate",
    "search": "services.entrypoints.search",
    "sources": "services.entrypoints.sources",
    "ingest": "services.entrypoints.ingest",
    "worker": "services.entrypoints.worker",
    "indexer": "services.entrypoints.indexer",
    "alerter": "services.entrypoints.alerter",
    "archive": "services.entrypoints.archive",
    "replay": "services.entrypoints.replay",
    "import": "services.entrypoints.importer",
    "claims": "services.entrypoints.claims",
    "train": "services.entrypoints.train",
    "topics": "services.entrypoints.topics",
    "api": "services.entrypoints.api",
    "triage": "services.entrypoints.triage",
    "export": "services.entrypoints.export",
    "dead-letters": "services.entrypoints.dead_letters",
    "token": "services.entrypoints.token",
    "dashboards": "services.entrypoints.dashboards",
}


def _schema(name: str | None) -> int:
    from hybridwatch.events import json_schemas

    schemas = json_schemas()
    print(json.dumps(schemas[name] if name else schemas, indent=2, ensure_ascii=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "schema":
        return _schema(args.name)
    try:
        settings: Settings = load_settings(getattr(args, "config", None))
    except ConfigError as err:
        print(f"hybridwatch: {err}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMAND_MODULES[args.command])
    try:
        code: int = module.main(args, settings)
    except ConfigError as err:
        print(f"hybridwatch: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
