"""The pipeline-health dashboard: built with grafana-foundation-sdk, committed current,
round-trips through the SDK's models, and every panel is complete and queries what the
real-Prometheus integration test runs (dashboards/promql.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards import pipeline
from dashboards.promql import PIPELINE

ROOT = Path(__file__).resolve().parents[3]
JSON = ROOT / "dashboards" / "json"
ENGINES = ("elasticsearch", "opensearch")


def _committed(engine: str = "elasticsearch") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((JSON / engine / pipeline.FILE).read_text(encoding="utf-8"))
    return data


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", "dashboards", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_committed_dashboards_are_what_dashboards_build_writes() -> None:
    out = _cli("build", "--check")
    assert out.returncode == 0, out.stderr


def test_check_names_a_stale_file_and_build_rewrites_it(tmp_path: Path) -> None:
    assert _cli("build", "--out", str(tmp_path)).returncode == 0
    stale = tmp_path / "opensearch" / pipeline.FILE
    stale.write_text("{}", encoding="utf-8")
    out = _cli("build", "--check", "--out", str(tmp_path))
    assert out.returncode == 1 and f"stale: {stale}" in out.stderr
    assert (
        _cli("build", "--check", "--engine", "elasticsearch", "--out", str(tmp_path)).returncode
        == 0
    )
    assert _cli("build", "--engine", "opensearch", "--out", str(tmp_path)).returncode == 0
    assert stale.read_text(encoding="utf-8") == (JSON / "opensearch" / pipeline.FILE).read_text(
        encoding="utf-8"
    )


def test_build_writes_one_folder_per_engine_and_only_the_asked_one(tmp_path: Path) -> None:
    out = _cli("build", "--engine", "elasticsearch", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elasticsearch"]
    assert sorted(p.name for p in (tmp_path / "elasticsearch").iterdir()) == sorted(
        p.name for p in (JSON / "elasticsearch").glob("*.json")
    )


def test_an_unknown_engine_is_refused_by_the_command_line() -> None:
    out = _cli("build", "--engine", "solr")
    assert out.returncode == 2 and "--engine" in out.stderr and "solr" in out.stderr


def test_the_json_round_trips_through_the_sdk_models_unchanged() -> None:
    committed = _committed()
    model = Dashboard.from_json(committed)
    assert json.loads(json.dumps(model, cls=JSONEncoder)) == committed
    assert model.uid == pipeline.UID and len(model.panels or []) == len(PIPELINE)


def test_every_panel_has_a_unit_thresholds_colour_and_description() -> None:
    for panel in _committed()["panels"]:
        defaults = panel["fieldConfig"]["defaults"]
        assert panel["description"], panel["title"]
        assert defaults["unit"] and defaults["color"]["mode"], panel["title"]
        assert defaults["thresholds"]["steps"][0]["color"] == "green", panel["title"]


def test_panels_query_the_promql_proven_against_a_real_prometheus() -> None:
    exprs = [t["expr"] for p in _committed()["panels"] for t in p["targets"]]
    assert exprs == [q.expr for q in PIPELINE]


def test_panels_use_the_provisioned_prometheus_datasource_in_both_flavours() -> None:
    for engine in ENGINES:
        prov = ROOT / "dashboards" / "provisioning" / engine / "datasources" / "hybridwatch.yaml"
        sources = yaml.safe_load(prov.read_text(encoding="utf-8"))["datasources"]
        assert {"uid": pipeline.DATASOURCE_UID, "type": "prometheus"}.items() <= {
            k: v for s in sources if s["uid"] == pipeline.DATASOURCE_UID for k, v in s.items()
        }.items(), engine
        assert _committed(engine) == _committed()
    for panel in _committed()["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": pipeline.DATASOURCE_UID}


def test_deploy_reads_the_chosen_engine_folder_by_default() -> None:
    from services.entrypoints.dashboards import DEPLOY_DEFAULT_ENGINE, _default_dir

    assert DEPLOY_DEFAULT_ENGINE == "elasticsearch"
    for engine in ENGINES:
        folder = _default_dir(engine)
        assert folder == JSON / engine
        assert sorted(p.name for p in folder.glob("*.json")) == sorted(
            p.name for p in (JSON / "elasticsearch").glob("*.json")
        )
