"""Draw each dashboard's layout from its panel grid (not a Grafana screenshot).

No Grafana server runs here, so the images in docs/img/dashboard-*.png are drawn
with matplotlib from the committed JSON alone (dashboards/json/elasticsearch; the
OpenSearch flavour has the same grid): one rectangle per panel at its
``gridPos`` (Grafana's 24-column grid), labelled with the panel title and type.
Every image says so in its title.

    .venv/bin/python -m dashboards.layout [--json DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

ROOT = Path(__file__).resolve().parent.parent
JSON_DIR = ROOT / "dashboards" / "json" / "elasticsearch"
"""Both engine flavours share every panel's grid, so one flavour's JSON draws them all."""
IMG_DIR = ROOT / "docs" / "img"
GRID_COLUMNS = 24
MARK = "layout drawn from the panel grid — not a Grafana screenshot"
COLOURS = {
    "timeseries": "#8ab8ff",
    "table": "#ffd68a",
    "stat": "#a6e3a1",
    "gauge": "#a6e3a1",
    "barchart": "#f5a97f",
    "piechart": "#f5bde6",
    "text": "#dddddd",
    "bargauge": "#f5a97f",
}


class LayoutError(ValueError):
    """A dashboard JSON cannot be drawn; the message names the file and the panel."""


def panel_boxes(
    dashboard: dict[str, Any], source: str
) -> list[tuple[int, int, int, int, str, str]]:
    """(x, y, w, h, title, type) of every panel, checked against the 24-column grid."""
    boxes: list[tuple[int, int, int, int, str, str]] = []
    for index, panel in enumerate(dashboard.get("panels", [])):
        grid = panel.get("gridPos")
        title = str(panel.get("title", f"panel {index}"))
        if not isinstance(grid, dict) or not {"x", "y", "w", "h"} <= grid.keys():
            raise LayoutError(f"{source}: panel {index} ({title!r}) has no complete gridPos")
        x, y, w, h = (int(grid[k]) for k in ("x", "y", "w", "h"))
        if x < 0 or w <= 0 or h <= 0 or x + w > GRID_COLUMNS:
            raise LayoutError(f"{source}: panel {index} ({title!r}) lies outside the grid: {grid}")
        boxes.append((x, y, w, h, title, str(panel.get("type", "?"))))
    return boxes


def draw(dashboard: dict[str, Any], source: str, out: Path) -> Path:
    boxes = panel_boxes(dashboard, source)
    bottom = max((y + h for _, y, _, h, _, _ in boxes), default=1)
    fig, ax = plt.subplots(figsize=(12, max(3.0, bottom * 0.28)))
    for x, y, w, h, title, kind in boxes:
        ax.add_patch(
            Rectangle(
                (x, y), w, h, facecolor=COLOURS.get(kind, "#cccccc"), edgecolor="#333333", lw=1.2
            )
        )
        label = title if len(title) <= w * 3 else title[: w * 3 - 1] + "…"
        ax.text(x + 0.3, y + 0.6, label, fontsize=8, va="top", ha="left", weight="bold")
        ax.text(x + 0.3, y + h - 0.4, kind, fontsize=7, va="bottom", ha="left", color="#444444")
    ax.set_xlim(0, GRID_COLUMNS)
    ax.set_ylim(bottom, 0)
    ax.set_xticks(range(0, GRID_COLUMNS + 1, 4))
    ax.set_xlabel("grid column (Grafana's 24-column grid)")
    ax.set_ylabel("grid row")
    ax.set_title(f"{dashboard.get('title', source)}\n({MARK})", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def render_all(json_dir: Path = JSON_DIR, out_dir: Path = IMG_DIR) -> list[Path]:
    written = []
    for path in sorted(json_dir.glob("*.json")):
        try:
            dashboard = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise LayoutError(f"{path}: not JSON: {exc}") from exc
        written.append(draw(dashboard, str(path), out_dir / f"dashboard-{path.stem}.png"))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=JSON_DIR, help="dashboard JSON folder")
    parser.add_argument("--out", type=Path, default=IMG_DIR, help="image folder")
    args = parser.parse_args(argv)
    for path in render_all(args.json, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
