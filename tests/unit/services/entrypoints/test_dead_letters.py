"""`hybridwatch dead-letters`: argument errors are clean exit-2 messages, before any Kafka
client is built (the command against a real broker: tests/integration/kafka/test_sink_loop.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.entrypoints import cli


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("HW_KAFKA_BOOTSTRAP", "HW_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "hybridwatch.yaml"
    path.write_text(f"data_dir: {tmp_path}\n", encoding="utf-8")
    return path


def test_redrive_without_refs_or_all_says_how_to_choose(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["dead-letters", "redrive", "--config", str(config)]) == 2
    assert "say which records" in capsys.readouterr().err


def test_list_without_kafka_names_the_missing_key(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["dead-letters", "list", "--config", str(config)]) == 2
    assert "kafka.bootstrap" in capsys.readouterr().err


def test_max_attempts_must_be_a_positive_number(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main(
            ["dead-letters", "redrive", "--all", "--max-attempts", "0", "--config", str(config)]
        )
    assert "must be at least 1" in capsys.readouterr().err
