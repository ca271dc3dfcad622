"""`hybridwatch dashboards build|deploy`: write dashboards/json/<engine>/ from the
generators, or put one engine's committed JSON into a running Grafana
(services/grafana/deploy.py).

The generators live in the checkout's `dashboards/` package (not installed with the
wheel, built with grafana-foundation-sdk): `dashboards.build` renders every dashboard for
an engine. `--engine elasticsearch|opensearch` picks the data-source flavour (Grafana's
`elasticsearch` type or the `grafana-opensearch-datasource` plugin); without it `build`
writes (or `--check`s) both, each into its own folder under `--out` (default
dashboards/json). `--check` writes nothing and exits 1 when a committed file differs from
what the generators produce (CI's staleness check). `deploy` defaults to the
Elasticsearch flavour, the data-source type the dashboards always used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hybridwatch.config import ConfigError, Settings

ENGINES = ("elasticsearch", "opensearch")
DEPLOY_DEFAULT_ENGINE = "elasticsearch"


def render_all(engines: tuple[str, ...] = ENGINES) -> dict[str, str]:
    """{"<engine>/<file name>": JSON text} of every generated dashboard."""
    try:
        from dashboards import build
    except ImportError as err:
        raise ConfigError(
            f"dashboards: cannot load the generators ({err}); run from a source checkout "
            "with the dev extras installed (pip install -e '.[dev]': grafana-foundation-sdk)"
        ) from err
    return build.render_all(engines)


def _engines(args: argparse.Namespace) -> tuple[str, ...]:
    engine = getattr(args, "engine", None)
    if engine is None:
        return ENGINES
    if engine not in ENGINES:
        raise ConfigError(
            f"--engine: unknown search engine {engine!r} (expected {', '.join(ENGINES)})"
        )
    return (engine,)


def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "deploy":
        return deploy_main(args)
    rendered = render_all(_engines(args))
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
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(text, encoding="utf-8")
            print(f"wrote {out / name}")
    except OSError as err:
        raise ConfigError(f"--out: cannot write dashboards to {out}: {err}") from err
    return 0


def _default_dir(engine: str = DEPLOY_DEFAULT_ENGINE) -> Path:
    """dashboards/json/<engine> of the checkout this module runs from."""
    return Path(__file__).resolve().parents[2] / "dashboards" / "json" / engine


def deploy_main(args: argparse.Namespace) -> int:
    import os
    from importlib.metadata import PackageNotFoundError, version

    from services.grafana.deploy import DeployError, connect, deploy

    engine = getattr(args, "engine", None) or DEPLOY_DEFAULT_ENGINE
    if engine not in ENGINES:
        raise ConfigError(
            f"--engine: unknown search engine {engine!r} (expected {', '.join(ENGINES)})"
        )
    folder = Path(args.dir) if args.dir else _default_dir(engine)
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
