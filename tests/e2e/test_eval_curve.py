"""`hybridwatch eval --plot`: the precision/recall table and the PNG, run as a user would."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_detect_cli import ROOT, run_cli

pytestmark = pytest.mark.e2e
PROBE = ROOT / "tests" / "fixtures" / "probe-synthetic.jsonl"


def test_eval_prints_the_curve_by_threshold_and_writes_it_as_png(tmp_path: Path) -> None:
    png = tmp_path / "pr.png"
    proc = run_cli("eval", "--input", str(PROBE), "--plot", str(png))
    assert proc.returncode == 0, proc.stderr
    assert "precision/recall by threshold" in proc.stdout
    rows = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("0.")]
    assert len(rows) >= 19  # thresholds 0.05 ... 0.95
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 5_000
    assert "hybridwatch eval: 40 records scored" in proc.stderr


def test_eval_json_carries_the_curve_with_recall_falling_as_the_threshold_rises() -> None:
    import json

    proc = run_cli("eval", "--input", str(PROBE), "--json")
    assert proc.returncode == 0, proc.stderr
    curve = json.loads(proc.stdout)["pr_curve"]
    recalls = [row["recall"] for row in curve]
    assert recalls == sorted(recalls, reverse=True)
    assert curve[0]["threshold"] == 0.05 and curve[-1]["threshold"] == 0.95


def test_eval_names_a_plot_path_it_cannot_write_before_doing_the_work(tmp_path: Path) -> None:
    proc = run_cli("eval", "--input", str(PROBE), "--plot", str(tmp_path / "no" / "pr.png"))
    assert proc.returncode == 2
    assert "cannot write --plot" in proc.stderr and "Traceback" not in proc.stderr
