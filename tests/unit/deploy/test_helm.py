"""deploy/helm/hybridwatch: `helm lint` and `helm template` pass, and the rendered
manifests run real CLI commands with real settings, with probes and resources, workers
scaled to the partitions, ingest sharded by source, a ServiceMonitor when asked."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hybridwatch.config import load_settings, load_sources
from tests.unit.deploy.consistency import command_problem, settings_problem
from tests.unit.deploy.tools import DEPLOY

CHART = DEPLOY / "helm" / "hybridwatch"
EXAMPLE = CHART / "values-3brokers-12partitions.yaml"
HELM_CACHE = Path.home() / ".cache" / "hybridwatch" / "gopath" / "bin" / "helm"
ROLES = {"topics", "ingest", "worker", "indexer", "alerter", "archive", "api"}


def _helm() -> str:
    found = shutil.which("helm") or (str(HELM_CACHE) if HELM_CACHE.is_file() else None)
    if found is None:
        raise AssertionError("helm is not installed: run `make helm-tools` (go install, Helm v4)")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELM_CACHE_HOME": "/tmp/hw-helm-cache"}
    return subprocess.run(
        [_helm(), *args], cwd=CHART, capture_output=True, text=True, timeout=120, env=env
    )


def _render(*values: str, sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    args = ["template", "hw", "."]
    for v in values:
        args += ["-f", v]
    for s in sets:
        args += ["--set", s]
    out = _run(*args)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module")
def default() -> list[dict[str, Any]]:
    return _render()


@pytest.fixture(scope="module")
def example() -> list[dict[str, Any]]:
    return _render(str(EXAMPLE))


def _pods(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) of every hybridwatch container."""
    out = []
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            for c in d["spec"]["template"]["spec"]["containers"]:
                out.append((d, c))
    return out


def _env(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    env: dict[str, str] = {}
    for ref in container.get("envFrom", []):
        if "configMapRef" in ref:
            env.update(by_name[("ConfigMap", ref["configMapRef"]["name"])]["data"])
        if "secretRef" in ref:
            data = by_name[("Secret", ref["secretRef"]["name"])].get("data") or {}
            env.update({k: base64.b64decode(v).decode() for k, v in data.items()})
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


@pytest.mark.parametrize("values", [(), (str(EXAMPLE),)], ids=["default", "3brokers"])
def test_helm_lint_passes(values: tuple[str, ...]) -> None:
    args = ["lint", "."] + [a for v in values for a in ("-f", v)]
    out = _run(*args)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("which", ["default", "example"])
def test_every_container_runs_a_cli_command_with_real_settings(
    which: str, request: pytest.FixtureRequest
) -> None:
    docs = request.getfixturevalue(which)
    roles, problems = set(), {}
    for workload, c in _pods(docs):
        roles.add(c["args"][0])
        problem = command_problem(c["args"]) or settings_problem(_env(docs, c))
        if problem:
            problems[workload["metadata"]["name"]] = problem
    assert not problems, problems
    assert roles == ROLES


def test_long_running_roles_have_probes_and_resources(example: list[dict[str, Any]]) -> None:
    for workload, c in _pods(example):
        name = workload["metadata"]["name"]
        assert c["resources"]["requests"] and c["resources"]["limits"], name
        if workload["kind"] != "Job":
            assert c["readinessProbe"] and c["livenessProbe"], name


def test_workers_scale_with_the_partitions_of_the_3_broker_example(
    example: list[dict[str, Any]],
) -> None:
    env = {d["metadata"]["name"]: d for d in example if d["kind"] == "ConfigMap"}
    cfg = env["hw-hybridwatch-env"]["data"]
    assert cfg["HW_KAFKA__PARTITIONS"] == "12" and cfg["HW_KAFKA__REPLICATION"] == "3"
    assert len(cfg["HW_KAFKA_BOOTSTRAP"].split(",")) == 3
    (worker,) = [
        d for d in example
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "hw-hybridwatch-worker"
    ]  # fmt: skip
    assert worker["spec"]["replicas"] == 12


def test_more_workers_than_partitions_is_refused_with_the_reason() -> None:
    out = _run("template", "hw", ".", "--set", "worker.replicas=7", "--set", "kafka.partitions=6")
    assert out.returncode != 0 and "worker.replicas (7) > kafka.partitions (6)" in out.stderr


def test_ingest_is_sharded_by_source_with_valid_sources_files(
    example: list[dict[str, Any]], tmp_path: Path
) -> None:
    ingest = [
        d for d in example
        if d["kind"] == "Deployment" and d["metadata"]["name"].startswith("hw-hybridwatch-ingest-")
    ]  # fmt: skip
    assert len(ingest) == 3 and all(d["spec"]["replicas"] == 1 for d in ingest)
    files = next(d for d in example if d["metadata"]["name"] == "hw-hybridwatch-sources")["data"]
    ids: list[str] = []
    for d in ingest:
        c = d["spec"]["template"]["spec"]["containers"][0]
        path = Path(_env(example, c)["HW_SOURCES_FILE"])
        local = tmp_path / path.name
        local.write_text(files[path.name], encoding="utf-8")
        settings = load_settings(None, environ={"HW_SOURCES_FILE": str(local)})
        ids += [s.id for s in load_sources(settings)]
    assert len(ids) == len(set(ids)) == 7  # every source in exactly one shard


def test_passwords_go_to_the_secret_not_the_configmap(example: list[dict[str, Any]]) -> None:
    secret = next(d for d in example if d["kind"] == "Secret")
    assert base64.b64decode(secret["data"]["HW_STORE__PASSWORD"]).decode() == "change-me"
    for d in example:
        if d["kind"] == "ConfigMap":
            assert "change-me" not in yaml.safe_dump(d)


def test_servicemonitor_only_when_enabled_and_scraping_every_kafka_role(
    default: list[dict[str, Any]], example: list[dict[str, Any]]
) -> None:
    assert not [d for d in default if d["kind"] == "ServiceMonitor"]
    (sm,) = [d for d in example if d["kind"] == "ServiceMonitor"]
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    selected = sm["spec"]["selector"]["matchLabels"]
    services = [
        d for d in example
        if d["kind"] == "Service"
        and all(d["metadata"]["labels"].get(k) == v for k, v in selected.items())
    ]  # fmt: skip
    roles = {s["metadata"]["labels"]["app.kubernetes.io/component"] for s in services}
    assert roles == {"ingest", "worker", "indexer", "alerter", "archive"}
