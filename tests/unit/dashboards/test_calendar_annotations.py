"""The event-watch calendar annotations are PromQL that Prometheus's own engine (Debian's
promtool, `make ops-tools`) evaluates: on an event day the "event days" query returns the
event's series, inside its sensitivity window the "windows" query does, on a quiet day
neither returns anything. Expected series come from detectors/data/calendar.yaml."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from dashboards import calendar, event_watch
from tests.unit.deploy.tools import require

ROOT = Path(__file__).resolve().parents[3]


def _exprs() -> dict[str, str]:
    board = json.loads(
        (ROOT / "dashboards" / "json" / "opensearch" / event_watch.FILE).read_text(encoding="utf-8")
    )
    return {a["name"]: a["expr"] for a in board["annotations"]["list"] if "expr" in a}


def _expect(expr: str, at: int, events: list[str]) -> dict[str, Any]:
    return {
        "expr": expr,
        "eval_time": f"{at}s",
        "exp_samples": [{"labels": f'{{event="{e}"}}', "value": 1} for e in sorted(events)],
    }


def _active(spans: list[calendar.Span], at: int) -> list[str]:
    return [s.event.id for s in spans if s.start <= at < s.end]


def test_promtool_evaluates_the_calendar_annotations_on_event_and_quiet_days(
    tmp_path: Path,
) -> None:
    promtool = require("promtool")
    exprs = _exprs()
    days_expr, windows_expr = exprs["Calendar: event days"], exprs["Calendar: sensitivity windows"]
    events = calendar.events()
    days = [calendar.event_days(e) for e in events]
    windows = [calendar.event_window(e) for e in events]
    referendum = calendar.event_days(calendar.default_event())
    probes = [
        referendum.start,  # first second of the referendum day
        referendum.end - 1,  # its last second
        referendum.end,  # the day after: no longer an event day, still in the window
        referendum.start - int(timedelta(days=30).total_seconds()),  # first day of the window
        calendar.event_window(calendar.default_event()).end,  # first day after the window
        int(datetime(2019, 1, 15, tzinfo=UTC).timestamp()),  # a quiet January day
    ]
    for s in days:  # every event's first day (multi-day events: their last day too)
        probes += [s.start, s.end - 1]
    cases = []
    for at in probes:
        cases.append(_expect(days_expr, at, _active(days, at)))
        cases.append(_expect(windows_expr, at, _active(windows, at)))
    assert any(c["exp_samples"] == [] for c in cases), "probe a quiet moment too"
    assert any(
        c["exp_samples"] == [{"labels": '{event="mk-name-referendum-2018"}', "value": 1}]
        for c in cases
    )
    spec = tmp_path / "calendar.test.yml"
    spec.write_text(
        yaml.safe_dump(
            {
                "rule_files": [],
                "evaluation_interval": "1m",
                "tests": [{"interval": "1m", "input_series": [], "promql_expr_test": cases}],
            }
        ),
        encoding="utf-8",
    )
    out = subprocess.run(
        [promtool, "test", "rules", str(spec)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
