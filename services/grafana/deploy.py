"""Put the generated dashboards into a running Grafana: one folder, stable uids, idempotent.

Why through grafana-client: it is the maintained successor of the `grafana-api` package
the design card names (unmaintained since 2019), speaks Grafana's HTTP API with a bearer
token (a service-account token with the Editor role is enough), and maps HTTP failures to
typed exceptions we turn into one clear line.

What a deploy does, in order:

1. `GET /api/frontend/settings` (grafana-client's health check: the build info) - the
   server answers (else: "cannot reach Grafana at URL").
2. The folder by uid (`GET /api/folders/<uid>`); created when missing (`POST /api/folders`).
   A refused token (401/403) stops here with what to check.
3. Per dashboard (uid from the JSON, so every deploy addresses the same dashboard):
   `GET /api/dashboards/uid/<uid>`; when Grafana already holds the same content in the
   same folder the dashboard is left alone (no new version: deploying twice changes
   nothing); otherwise `POST /api/dashboards/db` with `overwrite: true` and a version
   message naming the hybridwatch version, so Grafana's version history says who wrote it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FOLDER_UID = "hybridwatch"
FOLDER_TITLE = "hybridwatch"
IGNORED_KEYS = frozenset({"id", "version"})
"""Keys Grafana sets itself: not part of what we compare to decide "unchanged"."""


class DeployError(RuntimeError):
    """A deploy that cannot go on, with what to do about it."""


@dataclass(frozen=True)
class Deployed:
    uid: str
    title: str
    action: str
    """"created", "updated" or "unchanged"."""
    version: int | None
    url: str | None


def connect(url: str, token: str, timeout: float = 10.0) -> Any:
    """A grafana-client API object for `url` with a bearer token (nothing sent yet)."""
    try:
        from grafana_client.api import GrafanaApi
    except ImportError as err:
        raise DeployError(
            "dashboards deploy needs grafana-client: pip install -e '.[grafana]'"
        ) from err
    if not url.startswith(("http://", "https://")):
        raise DeployError(f"--grafana: expected an http(s) URL, got {url!r}")
    if not token:
        raise DeployError("--token (or HW_GRAFANA_TOKEN): a Grafana service-account token")
    return GrafanaApi.from_url(url.rstrip("/"), credential=token, timeout=timeout)


def _status(err: Exception) -> int | None:
    code = getattr(err, "status_code", None)
    return code if isinstance(code, int) else None


def _refused(err: Exception, url: str, what: str) -> DeployError:
    code = _status(err)
    if code in (401, 403):
        why = "the token was not accepted" if code == 401 else "the token may not do this"
        return DeployError(
            f"Grafana at {url} refused {what} ({code}: {why}); use a service-account token "
            "with the Editor role (Administration > Service accounts)"
        )
    if code is None:
        return DeployError(f"cannot reach Grafana at {url} ({what}): {err}")
    return DeployError(
        f"Grafana at {url} answered {code} to {what}: {getattr(err, 'message', err)}"
    )


def _comparable(dashboard: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dashboard.items() if k not in IGNORED_KEYS}


def deploy(
    api: Any,
    url: str,
    dashboards: Mapping[str, str],
    message: str,
    folder_uid: str = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
) -> list[Deployed]:
    """Deploy `{file name: dashboard JSON}` into the folder; see the module docstring."""
    from grafana_client.client import GrafanaException

    try:
        api.health.check()
    except GrafanaException as err:
        raise _refused(err, url, "the health check") from err
    except Exception as err:  # connection refused, DNS, TLS: niquests' own errors
        raise DeployError(f"cannot reach Grafana at {url}: {err}") from err
    try:
        api.folder.get_folder(folder_uid)
    except GrafanaException as err:
        if _status(err) != 404:
            raise _refused(err, url, f"reading folder {folder_uid!r}") from err
        try:
            api.folder.create_folder(folder_title, uid=folder_uid)
        except GrafanaException as err2:
            raise _refused(err2, url, f"creating folder {folder_uid!r}") from err2
    out: list[Deployed] = []
    for name, text in sorted(dashboards.items()):
        try:
            board = json.loads(text)
        except json.JSONDecodeError as err:
            raise DeployError(f"{name}: not JSON: {err}") from err
        uid = board.get("uid") if isinstance(board, dict) else None
        if not isinstance(uid, str) or not uid:
            raise DeployError(f"{name}: the dashboard has no uid (deploys address it by uid)")
        title = str(board.get("title", uid))
        try:
            current = api.dashboard.get_dashboard(uid)
        except GrafanaException as err:
            if _status(err) != 404:
                raise _refused(err, url, f"reading dashboard {uid!r}") from err
            current = None
        if current is not None:
            meta = current.get("meta", {})
            same_folder = meta.get("folderUid") == folder_uid
            if same_folder and _comparable(current.get("dashboard", {})) == _comparable(board):
                out.append(Deployed(uid, title, "unchanged", current["dashboard"].get("version"),
                                    meta.get("url")))  # fmt: skip
                continue
        body = {
            "dashboard": {**board, "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": message,
        }
        try:
            result = api.dashboard.update_dashboard(body)
        except GrafanaException as err:
            raise _refused(err, url, f"saving dashboard {uid!r}") from err
        out.append(
            Deployed(
                uid,
                title,
                "updated" if current is not None else "created",
                result.get("version"),
                result.get("url"),
            )
        )
    return out
