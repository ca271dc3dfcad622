"""docker-compose.yml as docker-compose resolves it: valid, every hybridwatch service runs a
real CLI command with real settings, is health-checked, starts in order, keeps its state in
a named volume; Grafana and Prometheus find the files at the paths they read."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.consistency import command_problem, settings_problem
from tests.unit.deploy.tools import ROOT, require

IMAGE = "hybridwatch:local"
SECURITY = ROOT / "deploy" / "compose" / "opensearch-security.yml"


def _resolved(*files: Path) -> dict[str, Any]:
    args = [require("docker-compose")]
    for f in files:
        args += ["-f", str(f)]
    env = {**os.environ, "OPENSEARCH_INITIAL_ADMIN_PASSWORD": "Test-only-Passw0rd!"}
    out = subprocess.run(
        [*args, "config"], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )
    assert out.returncode == 0, f"docker-compose config failed:\n{out.stderr}"
    tree: dict[str, Any] = yaml.safe_load(out.stdout)
    return tree


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _resolved(ROOT / "docker-compose.yml")


@pytest.fixture(scope="module")
def secured() -> dict[str, Any]:
    return _resolved(ROOT / "docker-compose.yml", SECURITY)


def _hw(tree: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in tree["services"].items() if s.get("image") == IMAGE}


def test_every_hybridwatch_role_is_a_service(compose: dict[str, Any]) -> None:
    roles = {s["command"][0] for s in _hw(compose).values()}
    assert roles == {"topics", "ingest", "worker", "indexer", "alerter", "archive", "api"}


@pytest.mark.parametrize("which", ["compose", "secured"])
def test_every_service_command_exists_in_the_cli_and_every_variable_is_a_setting(
    which: str, request: pytest.FixtureRequest
) -> None:
    tree = request.getfixturevalue(which)
    problems = {}
    for name, svc in _hw(tree).items():
        problem = command_problem(svc["command"]) or settings_problem(svc.get("environment", {}))
        if problem:
            problems[name] = problem
    assert not problems, problems


def test_every_long_running_hybridwatch_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    missing = [
        n
        for n, s in _hw(compose).items()
        if n != "topics" and not s.get("healthcheck", {}).get("test")
    ]
    assert not missing, f"no healthcheck: {missing}"
    for name in ("kafka", "opensearch", "prometheus", "grafana"):
        assert compose["services"][name]["healthcheck"]["test"], name


def test_services_start_after_what_they_need_is_healthy(compose: dict[str, Any]) -> None:
    s = compose["services"]
    assert s["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("ingest", "worker", "indexer", "alerter", "archive"):
        assert s[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    for name in ("indexer", "api", "grafana"):
        assert s[name]["depends_on"]["opensearch"]["condition"] == "service_healthy"
    assert s["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def _mounts(svc: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each mount; docker-compose 1.29 prints "src:target:mode"."""
    out = []
    for m in svc.get("volumes", []):
        if isinstance(m, dict):
            out.append((str(m["source"]), str(m["target"])))
        else:
            source, target = str(m).split(":")[:2]
            out.append((source, target))
    return out


def test_state_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    named = set(compose["volumes"])
    for name in ("kafka", "opensearch", "ingest", "alerter", "archive", "api", "prometheus"):
        assert any(src in named for src, _ in _mounts(compose["services"][name])), name


def _bind_target(svc: dict[str, Any], source: Path) -> str:
    for src, target in _mounts(svc):
        if Path(src) == source:
            return target
    raise AssertionError(f"{source} is not mounted")


def test_grafana_provisioning_reads_where_compose_mounts_the_dashboards(
    compose: dict[str, Any],
) -> None:
    grafana = compose["services"]["grafana"]
    # compose runs OpenSearch: the OpenSearch flavour of provisioning and dashboards
    prov_dir = ROOT / "dashboards" / "provisioning" / "opensearch"
    assert _bind_target(grafana, prov_dir) == "/etc/grafana/provisioning"
    json_dir = ROOT / "dashboards" / "json" / "opensearch"
    mounted = _bind_target(grafana, json_dir)
    provider = yaml.safe_load((prov_dir / "dashboards" / "hybridwatch.yaml").read_text())
    assert [p["options"]["path"] for p in provider["providers"]] == [mounted]
    assert list(json_dir.glob("*.json")), "no dashboard to provision"


def test_prometheus_gets_its_config_and_rules(compose: dict[str, Any]) -> None:
    prom = compose["services"]["prometheus"]
    assert _bind_target(prom, ROOT / "deploy" / "prometheus") == "/etc/prometheus"
    cfg = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    for rule_file in cfg["rule_files"]:
        assert (ROOT / "deploy" / "prometheus" / rule_file).is_file(), rule_file
    scraped = {j["job_name"] for j in cfg["scrape_configs"]}
    assert scraped == {n for n in _hw(compose) if n != "topics"}


def test_the_security_option_turns_opensearch_security_on_and_points_roles_at_https(
    secured: dict[str, Any],
) -> None:
    s = secured["services"]
    assert s["opensearch"]["environment"]["DISABLE_SECURITY_PLUGIN"] == "false"
    for name in ("indexer", "api"):
        env = s[name]["environment"]
        assert env["HW_ES_URL"].startswith("https://") and env["HW_STORE__USERNAME"]


def test_the_checks_name_a_missing_command_and_a_misspelt_variable() -> None:
    assert "invalid choice: 'indexr'" in (command_problem(["indexr"]) or "")
    assert command_problem(["worker", "--loglevel", "info"]) is None
    problem = settings_problem({"HW_KAFKA__PARTITONS": "6", "PATH": "/bin"}) or ""
    assert "kafka.partitons" in problem
