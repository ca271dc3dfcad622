"""A replay of what the embedded runtime archived gives the signals of the original run.

The original run is `hybridwatch run --demo --once` (every detector kind fires on the
synthetic demo; it stores and archives ~2,600 articles). `hybridwatch replay` of that
archive, isolated (the default), must give exactly the same signal ids in its own
namespace, twice, without touching the original store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from services.store.base import SignalQuery
from services.store.sqlite import SqliteStore
from tests.e2e.embedded_support import cli

pytestmark = pytest.mark.e2e


def _signal_ids(folder: Path) -> set[str]:
    store = SqliteStore.open(folder)
    try:
        return {s.id for s in store.get_signals(SignalQuery(limit=1_000_000))}
    finally:
        store.close()


def test_isolated_replay_of_the_archive_equals_the_original_run(tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    first.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}), encoding="utf-8")
    done = cli("run", "--demo", "--once", "--config", str(first), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    original = tmp_path / "data" / "demo"
    live_ids = _signal_ids(original)
    assert live_ids

    # replay what that run archived, with the same detector configuration
    config = tmp_path / "replay.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(original),
                "detectors": {
                    "options": {"claims": {"index_file": str(original / "demo-claims.bin.gz")}}
                },
            }
        ),
        encoding="utf-8",
    )
    runs = []
    for _ in range(2):
        replay = cli("replay", "--to", "embedded", "--config", str(config), cwd=tmp_path)
        assert replay.returncode == 0, replay.stderr
        summary = json.loads(replay.stdout.strip().splitlines()[-1].removeprefix("replay: "))
        assert summary["namespace"] == "start_end" and summary["problems"] == 0
        runs.append(_signal_ids(Path(summary["data_dir"])))
    assert runs[0] == runs[1] == live_ids
    assert _signal_ids(original) == live_ids  # the original store was not touched
