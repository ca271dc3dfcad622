"""`hybridwatch dashboards build|deploy`: write dashboards/json from the generators, or
put the committed JSON into a running Grafana (services/grafana/deploy.py).

The generators live in the checkout's `dashboards/` package (not installed with the
wheel): `dashboards.build` (search-engine dashboards) and `dashboards.pipeline`
(pipeline health, built with grafana-foundation-sdk). `--check` writes nothing and exits
1 when a committed file differs from what the generators produce (CI's staleness check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hybridwatch.config import ConfigError, Settings


def render_all() -> dict[str, str]:
    """{file name: JSON text} of every generated dashboard."""
    try:
        from dashboards import build, pipeline
    except ImportError as err:
        raise ConfigError(
            f"dashboards: cannot load the generators ({err}); run from a source checkout "
            "with the dev extras installed (pip install -e '.[dev]': grafana-foundation-sdk)"
        ) from err
    return {**build.render(), **pipeline.render()}


def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "deploy":
        return deploy_main(args)
    rendered = render_all()
    if args.out:
        out = Path(args.out)
    else:
        import dashboards

        out = Path(dashboards.__file__).resolve().parent / "json"
    if args.check:
        stale = [
            name
            for name, text in sorted(rendered.items())
            if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text
        ]
        for name in stale:
            print(f"stale: {out / name} (run hybridwatch dashboards build)", file=sys.stderr)
        return 1 if stale else 0
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in sorted(rendered.items()):
            (out / name).write_text(text, encoding="utf-8")
            print(f"wrote {out / name}")
    except OSError as err:
        raise ConfigError(f"--out: cannot write dashboards to {out}: {err}") from err
    return 0


def _default_dir() -> Path:
    """dashboards/json of the checkout this module runs from."""
    return Path(__file__).resolve().parents[2] / "dashboards" / "json"


def deploy_main(args: argparse.Namespace) -> int:
    import os
    from importlib.metadata import PackageNotFoundError, version

    from services.grafana.deploy import DeployError, connect, deploy

    folder = Path(args.dir) if args.dir else _default_dir()
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ConfigError(f"--dir: no dashboard JSON in {folder}")
    try:
        hw_version = version("hybridwatch")
    except PackageNotFoundError:
        hw_version = "source checkout"
    message = args.message or f"hybridwatch {hw_version}: dashboards deploy"
    token = args.token or os.environ.get("HW_GRAFANA_TOKEN", "")
    try:
        api = connect(args.grafana, token)
        done = deploy(
            api,
            args.grafana,
            {f.name: f.read_text(encoding="utf-8") for f in files},
            message,
            folder_uid=args.folder,
            folder_title=args.folder,
        )
    except DeployError as err:
        print(f"hybridwatch dashboards deploy: {err}", file=sys.stderr)
        return 2
    for d in done:
        print(f"{d.action:9} {d.uid}  {d.title}  (version {d.version}, {d.url})")
    return 0
