"""`hybridwatch run --demo`: the bundled SYNTHETIC archive through the embedded runtime.

The demo needs no network at all. `scripts/build_demo.py` wrote (deterministically)
`data/demo-articles.ndjson.gz` - about 2,600 invented articles from invented outlets
(`*.example` domains) in the seven countries and eight languages/scripts, 16 Sep -
3 Oct 2018 - and `data/demo-claims.json.gz`, the claim index of five invented
"debunked claims". `hybridwatch run --demo`:

* runs in its own data folder, `<data_dir>/demo` (store, archive, alerts), started
  afresh on every run: the real store and its detector state are never touched;
* polls no source, pages no subscription (only the built-in console subscription,
  whose console lines are off: the live page shows the alerts), and uses the demo's
  claim index instead of the shipped one;
* replays the articles through the same pipeline as live ingest (detectors, SQLite,
  alerts, archive), paced so the live page fills up in front of the user, then keeps
  serving the API and the live page until Ctrl+C;
* labels itself: `/healthz` carries `runtime.demo` and the live page shows a banner.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from hybridwatch.config import ConfigError, DetectorSettings, Settings
from hybridwatch.events import Article, ContractError, decode

DATA = Path(__file__).resolve().parent / "data"
ARTICLES_FILE = DATA / "demo-articles.ndjson.gz"
CLAIMS_FILE = DATA / "demo-claims.json"
INDEX_NAME = "demo-claims.bin.gz"
MARKER = "SYNTHETIC-DEMO"
"""File in the demo folder that marks it as ours (only such a folder is ever wiped)."""
BANNER = (
    "DEMO - SYNTHETIC DATA: invented outlets (*.example), articles and claims around the "
    "30 September 2018 name referendum, replayed from a bundled file. Nothing here is real news."
)
BATCH = 50
DEFAULT_RATE = 200.0
"""Articles per second: the ~2,600 articles take ~13 s, so the page visibly fills up."""


def prepare(settings: Settings) -> tuple[Settings, list[Article]]:
    """The demo's settings, a fresh demo folder with its claim index, and the articles."""
    demo = demo_settings(settings)
    folder = Path(demo.data_dir)
    reset(folder)
    items = list(articles())
    build_claim_index(folder, items)
    return demo, items


async def replay(
    rt: Any, items: Sequence[Article], rate: float = DEFAULT_RATE, out: TextIO = sys.stderr
) -> int:
    """Feed the articles to the running embedded pipeline `rt.pipeline`; one summary line."""
    from services.progress import Progress

    progress = Progress("demo", total=len(items), out=out)
    try:
        done = await feed(rt.pipeline.publish, items, rate, progress)
    except Exception as err:  # the API keeps serving what was stored; say what happened
        print(f"hybridwatch: demo replay stopped: {type(err).__name__}: {err}", file=out)
        raise
    stats = rt.pipeline.stats
    progress.finish(
        f"{done:,} synthetic articles replayed: {stats.signals:,} signals, "
        f"{stats.flagged:,} flagged, {stats.alerts_new:,} alerts so far"
    )
    return done


def demo_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "demo"


def demo_settings(settings: Settings) -> Settings:
    """The user's settings, turned into the demo's: own folder, no sources, no subscriptions."""
    options = {k: dict(v) for k, v in settings.detectors.options.items()}
    index = demo_dir(settings) / INDEX_NAME
    options["claims"] = {**options.get("claims", {}), "index_file": str(index)}
    detectors = DetectorSettings(
        flag_threshold=settings.detectors.flag_threshold,
        enabled=settings.detectors.enabled,
        options=options,
    )
    alerts = settings.alerts.model_copy(
        update={"subscriptions": (), "smtp": None, "console": False, "jsonl": True}
    )
    archive = settings.archive.model_copy(update={"dir": None, "embedded": True})
    return settings.model_copy(
        update={
            "data_dir": demo_dir(settings),
            "sources": (),
            "sources_file": None,
            "detectors": detectors,
            "alerts": alerts,
            "archive": archive,
        }
    )


def reset(folder: Path) -> None:
    """Start the demo folder afresh; refuse to wipe a folder that is not a demo folder."""
    if folder.exists():
        if not (folder / MARKER).is_file():
            if any(folder.iterdir()):
                raise ConfigError(
                    f"data_dir: {folder} exists and is not a hybridwatch demo folder "
                    f"(no {MARKER} file); move it away or choose another data_dir"
                )
        else:
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(BANNER + "\n", encoding="utf-8")


def build_claim_index(folder: Path, background: Sequence[Article]) -> Path:
    """The demo's claim index in `folder`, built from the bundled invented claims with the
    claims detector's own builder (document frequencies over the demo's ordinary news)."""
    from detectors.claim_index import ClaimText, build_index

    try:
        data = json.loads(CLAIMS_FILE.read_text(encoding="utf-8"))
        texts = [
            ClaimText(
                c["case_id"], c["text"], url=c["url"], date=c["date"], source="synthetic-demo"
            )
            for c in data["claims"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"the demo claims {CLAIMS_FILE} cannot be read: {err}") from err
    ordinary = [f"{a.title} {a.text}" for a in background if "/news-" in a.url]
    blob = build_index(texts, ordinary, metadata={"synthetic": True, "source": str(CLAIMS_FILE)})
    path = folder / INDEX_NAME
    path.write_bytes(blob)
    return path


def articles(path: Path = ARTICLES_FILE) -> Iterator[Article]:
    """The bundled articles in (published, id) order; a damaged line is an error naming it."""
    if not path.is_file():
        raise ConfigError(
            f"the demo archive {path} is missing (reinstall, or run scripts/build_demo.py)"
        )
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield decode(Article, line)
            except ContractError as err:
                raise ConfigError(f"{path}:{n}: {err}") from err


async def feed(
    publish: Callable[[Sequence[Article]], Awaitable[None]],
    items: Sequence[Article],
    rate: float = DEFAULT_RATE,
    progress: Any = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Publish `items` in batches, at most `rate` per second (0: as fast as it goes)."""
    started = time.monotonic()
    done = 0
    for i in range(0, len(items), BATCH):
        batch = items[i : i + BATCH]
        await publish(batch)
        done += len(batch)
        if progress is not None:
            progress.advance(len(batch))
        if rate > 0:
            ahead = done / rate - (time.monotonic() - started)
            if ahead > 0:
                await sleep(ahead)
    return done
