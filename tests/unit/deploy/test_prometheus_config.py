"""deploy/prometheus: the config and rules pass promtool, the alerts fire when they should,
and every metric a rule or a dashboard query names is one a hybridwatch process exposes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from dashboards.promql import PIPELINE
from tests.unit.deploy.tools import DEPLOY, ROOT, require

PROM = DEPLOY / "prometheus"
EXPOSED_BY = [ROOT / "services" / "metrics.py", ROOT / "services" / "api" / "coverage.py"]


def _promtool(*args: str, cwd: Path = PROM) -> str:
    out = subprocess.run(
        [require("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, f"promtool {' '.join(args)} failed:\n{out.stdout}{out.stderr}"
    return out.stdout


def test_prometheus_config_and_its_rule_files_are_valid(tmp_path: Path) -> None:
    # the operator puts the API token beside the config (secrets/api-token, not committed)
    conf = tmp_path / "prometheus"
    shutil.copytree(PROM, conf)
    (conf / "secrets").mkdir(exist_ok=True)
    (conf / "secrets" / "api-token").write_text("an-operator-token\n", encoding="utf-8")
    assert "SUCCESS" in _promtool("check", "config", "prometheus.yml", cwd=conf)
    assert "SUCCESS" in _promtool("check", "rules", "rules.yml")


def test_alerts_fire_for_a_silent_country_growing_lag_and_dead_letters() -> None:
    _promtool("test", "rules", "rules.test.yml")


def test_every_role_is_scraped_as_its_own_job() -> None:
    text = (PROM / "prometheus.yml").read_text(encoding="utf-8")
    jobs = re.findall(r"job_name:\s*(\S+)", text)
    assert jobs == ["ingest", "worker", "indexer", "alerter", "archive", "api"]


def _base(name: str) -> str:
    for suffix in ("_total", "_bucket", "_count", "_sum"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_every_metric_in_rules_and_queries_is_exposed_by_a_process() -> None:
    exposed = "\n".join(p.read_text(encoding="utf-8") for p in EXPOSED_BY)
    used = set(re.findall(r"\bhw_[a-z_]+", (PROM / "rules.yml").read_text(encoding="utf-8")))
    for q in PIPELINE:
        used |= set(re.findall(r"\bhw_[a-z_]+", q.expr))
    missing = sorted(n for n in used if f'"{_base(n)}"' not in exposed)
    assert used and not missing, f"metrics named in rules/queries but exposed nowhere: {missing}"
