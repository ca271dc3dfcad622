"""Archive and replay on a real broker, through the real commands (subprocesses).

SYNTHETIC articles are published to one set of topics (plus a poison record),
`hybridwatch archive --once` files them by day, a second run adds nothing, then
`hybridwatch replay` re-publishes them to a second set of topics (marked as a replay)
and runs them twice through the embedded pipeline: the same signals both times,
equal to the detector suite over the archive's order, every alert marked a replay.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from kafka import KafkaProducer

from detectors.pipeline import DetectorSuite
from hybridwatch.events import Article
from hybridwatch.topics import REPLAY_HEADER, Topics
from services.store.base import SignalQuery
from services.store.sqlite import SqliteStore
from tests.fixtures.kafka import consume_all, create_topics, settings_tree
from tests.fixtures.synthetic_articles import START, synthetic_articles
from tests.integration.kafka.helpers import publish_articles

ROOT = Path(__file__).resolve().parents[3]


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", *args, "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("HW_")},
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _summary(proc: subprocess.CompletedProcess[str], label: str) -> dict[str, Any]:
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith(f"{label}: "), proc.stdout
    return dict(json.loads(line.removeprefix(f"{label}: ")))


def _config(path: Path, tree: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


def test_archive_then_replay_to_kafka_and_twice_to_the_embedded_pipeline(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    # three days of SYNTHETIC articles, one every 20 minutes
    articles = [
        a.model_copy(update={"published": START + timedelta(minutes=20 * i)})
        for i, a in enumerate(synthetic_articles(216, seed=11))
    ]
    create_topics(kafka_bootstrap, kafka_prefix)
    publish_articles(kafka_bootstrap, kafka_prefix, tmp_path / "pub", articles[:150])
    poison = KafkaProducer(bootstrap_servers=kafka_bootstrap.split(","), acks="all")
    poison.send(Topics(kafka_prefix).articles, key=b"MK", value=b"not an article").get(60)
    poison.close()
    publish_articles(kafka_bootstrap, kafka_prefix, tmp_path / "pub", articles[100:])  # overlap

    archive_dir = tmp_path / "archive"
    source = _config(
        tmp_path / "archiver" / "hybridwatch.yaml",
        settings_tree(
            kafka_bootstrap,
            kafka_prefix,
            tmp_path / "archiver",
            archive__dir=str(archive_dir),
            archive__group_id=f"archiver-{kafka_prefix}",
        ),
    )
    first = _summary(_cli(source, "archive", "--once"), "archive")
    assert (first["records"], first["archived"], first["dead_letters"]) == (267, 216, 1)
    assert first["repeats"] == 50  # the overlap, published twice
    day_files = sorted(p.name for p in (archive_dir / "articles" / "2018").iterdir())
    assert day_files == ["2018-09-01.ndjson.gz", "2018-09-02.ndjson.gz", "2018-09-03.ndjson.gz"]
    publish_articles(kafka_bootstrap, kafka_prefix, tmp_path / "pub", articles[:10])
    again = _summary(_cli(source, "archive", "--once"), "archive")
    assert (again["records"], again["archived"], again["repeats"]) == (10, 0, 10)

    # replay into a second set of topics: every article once, marked as a replay
    replay_prefix = f"r{kafka_prefix}"
    create_topics(kafka_bootstrap, replay_prefix)
    target = _config(
        tmp_path / "replayer" / "hybridwatch.yaml",
        settings_tree(
            kafka_bootstrap, replay_prefix, tmp_path / "replayer", archive__dir=str(archive_dir)
        ),
    )
    sent = _summary(
        _cli(
            target,
            "replay",
            "--to",
            "kafka",
            "--target",
            "live",
            "--since",
            "2018-09-02",
            "--until",
            "2018-09-03",
        ),
        "replay",
    )
    wanted = [a for a in articles if a.published.date().isoformat() >= "2018-09-02"]
    assert (sent["days"], sent["articles"], sent["published"]) == (2, len(wanted), len(wanted))
    got = consume_all(kafka_bootstrap, Topics(replay_prefix).articles, len(wanted))
    assert sorted(json.loads(m.value)["id"] for m in got) == sorted(a.id for a in wanted)
    assert all(dict(m.headers).get(REPLAY_HEADER) == b"1" for m in got)

    # replay everything twice through the embedded pipeline: identical signals
    expected = _suite_signal_ids(sorted(articles, key=lambda a: (a.published, a.id)))
    assert expected, "the synthetic stream must raise signals"
    runs = []
    for n in (1, 2):
        data = tmp_path / f"embedded{n}"
        config = _config(
            data / "hybridwatch.yaml",
            {
                "data_dir": str(data),
                "archive": {"dir": str(archive_dir)},
                "alerts": {"min_severity": "medium"},
            },
        )
        summary = _summary(_cli(config, "replay", "--to", "embedded", "--target", "live"), "replay")
        assert summary["articles"] == len(articles) and summary["problems"] == 0
        store = SqliteStore.open(data)
        try:
            runs.append({s.id for s in store.get_signals(SignalQuery(limit=100_000))})
            alerts = store.get_alerts(limit=100_000)
        finally:
            store.close()
        assert alerts and all(a.replay for a in alerts)
    assert runs[0] == runs[1] == expected


def _suite_signal_ids(articles: list[Article]) -> set[str]:
    suite = DetectorSuite.from_config()
    state: dict[str, Any] = {}
    return {s.id for d in suite.process_all(articles, state) for s in d.signals}
