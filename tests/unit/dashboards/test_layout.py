"""Layout images drawn from each dashboard's panel grid (dashboards/layout.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboards.layout import IMG_DIR, JSON_DIR, LayoutError, panel_boxes, render_all


def test_every_committed_dashboard_has_a_committed_layout_image() -> None:
    stems = {p.stem for p in JSON_DIR.glob("*.json")}
    assert stems
    missing = [s for s in stems if not (IMG_DIR / f"dashboard-{s}.png").is_file()]
    assert not missing, f"run `python -m dashboards.layout`; missing images for {missing}"


def test_render_all_draws_one_png_per_dashboard(tmp_path: Path) -> None:
    written = render_all(JSON_DIR, tmp_path)
    assert sorted(p.name for p in written) == sorted(
        f"dashboard-{p.stem}.png" for p in JSON_DIR.glob("*.json")
    )
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_boxes_follow_the_panels_grid_positions() -> None:
    dashboard = json.loads((JSON_DIR / "pipeline-health.json").read_text(encoding="utf-8"))
    boxes = panel_boxes(dashboard, "pipeline-health.json")
    assert [(b[0], b[1], b[2], b[3]) for b in boxes] == [
        (p["gridPos"]["x"], p["gridPos"]["y"], p["gridPos"]["w"], p["gridPos"]["h"])
        for p in dashboard["panels"]
    ]


def test_a_panel_outside_the_grid_is_named_in_the_error() -> None:
    dashboard = {"panels": [{"title": "Too wide", "gridPos": {"x": 20, "y": 0, "w": 8, "h": 4}}]}
    with pytest.raises(LayoutError, match=r"x\.json: panel 0 \('Too wide'\) lies outside"):
        panel_boxes(dashboard, "x.json")


def test_a_panel_without_grid_position_is_named_in_the_error() -> None:
    with pytest.raises(LayoutError, match=r"panel 0 .* no complete gridPos"):
        panel_boxes({"panels": [{"title": "No grid"}]}, "x.json")


def test_both_engine_flavours_share_every_panel_grid() -> None:
    for path in JSON_DIR.glob("*.json"):
        other = JSON_DIR.parent / "opensearch" / path.name
        es = panel_boxes(json.loads(path.read_text(encoding="utf-8")), path.name)
        os_ = panel_boxes(json.loads(other.read_text(encoding="utf-8")), other.name)
        assert es == os_, path.name
