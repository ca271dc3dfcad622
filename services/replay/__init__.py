"""Where a replay writes: an isolated namespace by default, the live pipeline only on request.

A replay run through the live pipeline shares its detector state: bursts and
amplification see the replayed articles as late arrivals of streams they already
hold, so the results differ from the original run, and the alerts go to the live
subscriptions. So by default (`--target isolated`) a replay gets a namespace of its
own, named after its window (`--name` to choose), with fresh detector state:

* embedded: the folder `<data_dir>/replays/<name>` (store, detector state, alerts
  JSONL), started afresh on every replay (only a folder marked as a replay namespace
  is ever wiped); no subscription is paged.
* Kafka: the topics `<topic_prefix>replay.<name>.articles` / `.signals` / `.alerts` /
  `.dead-letter`, a worker app id `<app_id>-replay-<name>` (its own state changelog)
  and the indices `<index_prefix>replay-<name>-*`; the live workers, indexer and
  alerter never read these topics. `namespace_env` gives the `HW_*` variables that
  point a worker and an indexer at the namespace.

`--target live` is the old behaviour, for when that is what you want (e.g. back-filling
articles the live pipeline missed): the configured data_dir / hw.articles, live
detector state, alerts marked `replay` and delivered only to subscriptions that set
`replays: true`.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

from hybridwatch.config import ConfigError, Settings

MARKER = "REPLAY-NAMESPACE"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def default_name(since: date | None, until: date | None) -> str:
    """The namespace of a window: its days (`2018-09-25_2018-10-05`, `start`/`end` if open)."""
    return f"{since.isoformat() if since else 'start'}_{until.isoformat() if until else 'end'}"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"replay --name: {name!r} is not a namespace name (lowercase letters, digits, "
            "'-' and '_', at most 63 characters, starting with a letter or digit)"
        )
    return name


def embedded_namespace(settings: Settings, name: str) -> Settings:
    """The settings of an isolated embedded replay: own folder, no subscriptions."""
    folder = Path(settings.data_dir) / "replays" / check_name(name)
    alerts = settings.alerts.model_copy(
        update={"subscriptions": (), "smtp": None, "console": False}
    )
    archive = settings.archive.model_copy(update={"dir": settings.archive_dir})
    return settings.model_copy(update={"data_dir": folder, "alerts": alerts, "archive": archive})


def kafka_namespace(settings: Settings, name: str) -> Settings:
    """The settings of an isolated Kafka replay: own topics, worker state, groups, indices."""
    check_name(name)
    k, w, s = settings.kafka, settings.worker, settings.store
    return settings.model_copy(
        update={
            "kafka": k.model_copy(update={"topic_prefix": f"{k.topic_prefix}replay.{name}."}),
            "worker": w.model_copy(update={"app_id": f"{w.app_id}-replay-{name}"}),
            "store": s.model_copy(update={"index_prefix": f"{s.index_prefix}replay-{name}-"}),
            "indexer": settings.indexer.model_copy(
                update={"group_id": f"{settings.indexer.group_id}-replay-{name}"}
            ),
            "alerts": settings.alerts.model_copy(
                update={
                    "subscriptions": (),
                    "smtp": None,
                    "group_id": f"{settings.alerts.group_id}-replay-{name}",
                }
            ),
        }
    )


def namespace_env(ns: Settings) -> dict[str, str]:
    """The HW_* variables that point `hybridwatch worker` / `indexer` at a Kafka namespace."""
    return {
        "HW_KAFKA__TOPIC_PREFIX": ns.kafka.topic_prefix,
        "HW_WORKER__APP_ID": ns.worker.app_id,
        "HW_STORE__INDEX_PREFIX": ns.store.index_prefix,
        "HW_INDEXER__GROUP_ID": ns.indexer.group_id,
        "HW_ALERTS__GROUP_ID": ns.alerts.group_id,
    }


def reset(folder: Path) -> None:
    """Start an embedded namespace afresh; never wipe a folder that is not one."""
    if folder.exists():
        if (folder / MARKER).is_file():
            shutil.rmtree(folder)
        elif any(folder.iterdir()):
            raise ConfigError(
                f"replay: {folder} exists and is not a replay namespace (no {MARKER} file); "
                "choose another --name or move the folder away"
            )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(
        "hybridwatch replay namespace: wiped and rebuilt by the next replay of this name\n",
        encoding="utf-8",
    )
