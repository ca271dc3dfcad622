"""Grafana dashboards as code: every dashboard, for either search engine.

`hybridwatch dashboards build [--engine elasticsearch|opensearch]` (or
`python -m dashboards.build`) writes ``dashboards/json/<engine>/*.json``:

* overview.json      (a) Western Balkans overview            dashboards/overview.py
* country.json       (b) country drill-down                  dashboards/country.py
* event-watch.json   (c) event watch with calendar annotations dashboards/event_watch.py
* pipeline-health.json (d) pipeline health (Prometheus)      dashboards/pipeline.py

All four are built with grafana-foundation-sdk's builders. The search-engine panels use
Grafana's `elasticsearch` data source type for Elasticsearch and the
`grafana-opensearch-datasource` plugin for OpenSearch (dashboards/common.py); the
provisioning files for each are under dashboards/provisioning/<engine>/.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dashboards import country, event_watch, overview, pipeline
from dashboards.common import ENGINES, check_engine

OUT = Path(__file__).resolve().parent / "json"
SEARCH_DASHBOARDS: dict[str, Callable[[str], dict[str, Any]]] = {
    overview.FILE: overview.dashboard,
    country.FILE: country.dashboard,
    event_watch.FILE: event_watch.dashboard,
}
FILES: tuple[str, ...] = (*SEARCH_DASHBOARDS, pipeline.FILE)


def _text(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render(engine: str) -> dict[str, str]:
    """{file name: JSON text} of every dashboard for one engine."""
    check_engine(engine)
    out = {name: _text(fn(engine)) for name, fn in SEARCH_DASHBOARDS.items()}
    out.update(pipeline.render())
    return out


def render_all(engines: tuple[str, ...] = ENGINES) -> dict[str, str]:
    """{"<engine>/<file>": JSON text} for the given engines."""
    return {f"{e}/{name}": text for e in engines for name, text in render(e).items()}


def main() -> None:
    for rel, text in sorted(render_all().items()):
        path = OUT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
