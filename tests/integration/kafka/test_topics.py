"""`hybridwatch topics` creates the pipeline's topics with the configured layout, idempotently."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from kafka import KafkaAdminClient

from hybridwatch.topics import Topics
from tests.fixtures.kafka import ROOT, clean_env, settings_tree


def _topics_cmd(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", "topics", "--config", str(config)],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_topics_command_creates_all_topics_once_with_configured_partitions(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "hw.yaml"
    cfg.write_text(
        yaml.safe_dump(settings_tree(kafka_bootstrap, kafka_prefix, tmp_path, kafka__partitions=5))
    )
    first = _topics_cmd(cfg)
    assert first.returncode == 0, first.stderr
    t = Topics(kafka_prefix)
    lines = {ln.split("\t")[0]: ln.split("\t")[1:] for ln in first.stdout.splitlines()}
    assert set(lines) == set(t.all())
    assert all(v[0] == "created" for v in lines.values())
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap.split(","))
    try:
        described = {
            d.get("topic") or d.get("name"): d for d in admin.describe_topics(list(t.all()))
        }
    finally:
        admin.close()
    assert len(described[t.articles]["partitions"]) == 5
    assert len(described[t.signals]["partitions"]) == 5
    assert len(described[t.dead_letter]["partitions"]) == 1

    second = _topics_cmd(cfg)
    assert second.returncode == 0, second.stderr
    assert all(ln.split("\t")[1] == "exists" for ln in second.stdout.splitlines())


def test_topics_command_refuses_a_partition_count_that_breaks_co_partitioning(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "hw.yaml"
    cfg.write_text(
        yaml.safe_dump(settings_tree(kafka_bootstrap, kafka_prefix, tmp_path, kafka__partitions=2))
    )
    assert _topics_cmd(cfg).returncode == 0
    cfg.write_text(
        yaml.safe_dump(settings_tree(kafka_bootstrap, kafka_prefix, tmp_path, kafka__partitions=3))
    )
    bad = _topics_cmd(cfg)
    assert bad.returncode == 2
    assert f"topic {kafka_prefix}articles has 2 partitions but kafka.partitions is 3" in bad.stderr
