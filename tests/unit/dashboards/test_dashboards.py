"""Grafana dashboards as code: committed JSON is current and queries real fields."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import build
from services.store.templates import MAPPINGS

ROOT = Path(__file__).resolve().parents[3] / "dashboards"
INDEX_OF_UID = {"hw-signals": "signals", "hw-articles": "articles", "hw-alerts": "alerts"}


def _fields(mapping: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, spec in mapping.get("properties", {}).items():
        out.add(prefix + name)
        out |= _fields(spec, f"{prefix}{name}.")
    return out


def _panels() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, panel)
        for name in build.DASHBOARDS
        for panel in json.loads((ROOT / "json" / name).read_text(encoding="utf-8"))["panels"]
    ]


def test_committed_json_matches_the_generator() -> None:
    for name, text in build.render().items():
        assert (ROOT / "json" / name).read_text(encoding="utf-8") == text, (
            f"dashboards/json/{name} is stale: run python dashboards/build.py"
        )


def test_every_panel_uses_a_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (ROOT / "provisioning" / "datasources" / "hybridwatch.yaml").read_text(encoding="utf-8")
    )
    uids = {ds["uid"] for ds in provisioned["datasources"]}
    panels = _panels()
    assert panels
    for name, panel in panels:
        assert panel["datasource"]["uid"] in uids, f"{name}: {panel['title']}"


@pytest.mark.parametrize(
    ("name", "panel"), _panels(), ids=lambda v: v if isinstance(v, str) else v["title"]
)
def test_panel_queries_only_mapped_fields(name: str, panel: dict[str, Any]) -> None:
    for target in panel["targets"]:
        fields = _fields(MAPPINGS[INDEX_OF_UID[target["datasource"]["uid"]]])
        used = {agg["field"] for agg in target["bucketAggs"] if "field" in agg}
        used.add(target["timeField"])
        used |= set(re.findall(r"([a-z_.]+):", target["query"]))
        assert used <= fields, f"{name} / {panel['title']}: unmapped {sorted(used - fields)}"


def test_template_variables_query_mapped_signal_fields() -> None:
    signal_fields = _fields(MAPPINGS["signals"])
    for name in build.DASHBOARDS:
        dash = json.loads((ROOT / "json" / name).read_text(encoding="utf-8"))
        for var in dash["templating"]["list"]:
            assert json.loads(var["query"])["field"] in signal_fields
