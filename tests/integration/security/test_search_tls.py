"""The store and `hybridwatch indexer` / `hybridwatch api` against an Elasticsearch that
serves HTTPS only and wants a password or an API key on every request.

The test tooling starts a PRIVATE node with `deploy/local/elasticsearch.sh start --secure`
(own run dir, own port; the shared servers are never touched): x-pack security on,
a throw-away CA and node certificate made with openssl, a file-realm user `hybridwatch`
with a random password in a file, and an API key created through the API. The articles
and signals are SYNTHETIC (tests/integration/search/synthetic.py), published to the
shared Kafka under a unique topic prefix; the real indexer process reads them into the
secured node with `store.ca_certs` + `store.username`, the password coming from the
environment (HW_STORE__PASSWORD), never from the config file. A wrong password, a missing
CA file and a missing password are refused with one clear line (exit 2, no traceback), and
the password appears in no output, log (at DEBUG), error or `/healthz` answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr

from hybridwatch.config import StoreSettings
from hybridwatch.topics import Topics
from services.kafka.codec import encode
from services.store.engine_client import EngineRefused
from services.store.search_engine import SearchEngineStore
from tests.e2e.embedded_support import HYBRIDWATCH, clean_env, free_port
from tests.fixtures.kafka import create_topics, produce
from tests.integration.search.synthetic import make_articles, make_signals

pytestmark = [pytest.mark.integration, pytest.mark.search, pytest.mark.kafka]

ROOT = Path(__file__).resolve().parents[3]
ELASTICSEARCH_SH = ROOT / "deploy" / "local" / "elasticsearch.sh"


@dataclass(frozen=True)
class SecureEngine:
    """What `elasticsearch.sh start --secure` printed, plus the secrets read from its files."""

    url: str
    ca_file: Path
    username: str
    password: str
    api_key: str

    def settings(self, **overrides: Any) -> StoreSettings:
        values: dict[str, Any] = {
            "kind": "elasticsearch",
            "url": self.url,
            "index_prefix": f"tls{uuid.uuid4().hex[:8]}-",
            "ca_certs": self.ca_file,
            "username": self.username,
            "password": SecretStr(self.password),
            **overrides,
        }
        return StoreSettings(**values)


@pytest.fixture(scope="session")
def secure_elasticsearch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureEngine]:
    services = tmp_path_factory.mktemp("secure-elastic")
    env = {**os.environ, "HW_SERVICES_DIR": str(services)}
    env.pop("HW_ELASTIC_PORT", None)
    try:
        proc = subprocess.run(
            [str(ELASTICSEARCH_SH), "start", "--secure"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(f"elasticsearch.sh start --secure failed:\n{proc.stderr[-4000:]}")
        out = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
        password = Path(out["HW_ELASTIC_PASSWORD_FILE"]).read_text(encoding="utf-8").strip()
        assert password and password not in proc.stdout + proc.stderr, "the script printed it"
        yield SecureEngine(
            url=out["HW_ELASTIC_URL"],
            ca_file=Path(out["HW_ELASTIC_CAFILE"]),
            username=out["HW_ELASTIC_USERNAME"],
            password=password,
            api_key=Path(out["HW_ELASTIC_API_KEY_FILE"]).read_text(encoding="utf-8").strip(),
        )
    finally:
        subprocess.run([str(ELASTICSEARCH_SH), "purge"], env=env, check=False, timeout=120)


def _config(tmp_path: Path, tree: dict[str, Any]) -> Path:
    path = tmp_path / f"hw-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


def _tree(tmp_path: Path, store: StoreSettings, **extra: Any) -> dict[str, Any]:
    """The config file: everything but the secrets (those come from the environment)."""
    plain = store.model_dump(mode="json", exclude_none=True, exclude={"password", "api_key"})
    return {"data_dir": str(tmp_path / "data"), "sources": [], "store": plain, **extra}


def _hybridwatch(
    *args: str, secrets: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HYBRIDWATCH, "-vv", *args],
        cwd=ROOT,
        env={**clean_env(), **secrets},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_indexer_writes_over_https_with_a_password_and_the_api_reads_with_an_api_key(
    secure_elasticsearch: SecureEngine,
    kafka_bootstrap: str,
    kafka_prefix: str,
    tmp_path: Path,
) -> None:
    engine = secure_elasticsearch
    articles = make_articles(60, seed=11)
    signals = make_signals(articles, seed=12)
    topics = Topics(kafka_prefix)
    create_topics(kafka_bootstrap, kafka_prefix, partitions=2)
    for topic, events in ((topics.articles, articles), (topics.signals, signals)):
        produce(kafka_bootstrap, topic, [(r.key, r.value, r.headers) for r in map(encode, events)])

    store_settings = engine.settings()
    tree = _tree(
        tmp_path,
        store_settings,
        kafka={"bootstrap": kafka_bootstrap, "topic_prefix": kafka_prefix, "partitions": 2},
        indexer={"group_id": f"idx-{kafka_prefix}", "linger": 0.2},
    )
    config = _config(tmp_path, tree)
    assert engine.password not in config.read_text(encoding="utf-8")
    done = _hybridwatch(
        "indexer", "--once", "--config", str(config),
        secrets={"HW_STORE__PASSWORD": engine.password},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert " DEBUG " in done.stderr  # the logs checked below are the most talkative ones
    stats = json.loads(done.stdout.split("indexer: ", 1)[1].splitlines()[0])
    assert stats["records"] == len(articles) + len(signals)
    assert stats["dead_letters"] == 0

    # read back in-process with the API key instead of the password (same CA)
    by_key = SearchEngineStore.open(
        engine.settings(
            index_prefix=store_settings.index_prefix,
            username=None,
            password=None,
            api_key=SecretStr(engine.api_key),
        )
    )
    try:
        by_key.refresh()
        assert by_key.count_articles() == len(articles)
        assert by_key.count_signals_total() == len(signals)

        # `hybridwatch api` over the secured engine, authenticated by the API key
        key_only = engine.settings(
            index_prefix=store_settings.index_prefix, username=None, password=None
        )
        api_config = _config(tmp_path, _tree(tmp_path, key_only))
        port = free_port()
        api = subprocess.Popen(
            [*HYBRIDWATCH, "-vv", "api", "--config", str(api_config), "--port", str(port)],
            cwd=ROOT,
            env={**clean_env(), "HW_STORE__API_KEY": engine.api_key},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            health = _healthz(api, port)
        finally:
            api.terminate()
            api_output, _ = api.communicate(timeout=60)
        assert health["counts"]["articles"] == len(articles), health
        assert health["counts"]["signals"] == len(signals), health
    finally:
        by_key.drop_all()
        by_key.close()

    shown = done.stdout + done.stderr + api_output + json.dumps(health)
    assert "Authorization" not in api_output
    for secret in (engine.password, engine.api_key):
        assert secret not in shown


def _healthz(api: subprocess.Popen[str], port: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if api.poll() is not None:
            out = api.stdout.read() if api.stdout else ""
            raise AssertionError(f"hybridwatch api exited {api.returncode}:\n{out[-3000:]}")
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            if r.status_code == 200:
                body: dict[str, Any] = r.json()
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("hybridwatch api did not answer /healthz within 120 s")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong password", "refused the credentials (HTTP 401"),
        ("no password", "refused the credentials (HTTP 401"),
        ("no CA file", "TLS certificate is not trusted"),
    ],
)
def test_a_misconfigured_connection_is_refused_with_one_clear_line(
    secure_elasticsearch: SecureEngine,
    kafka_bootstrap: str,
    kafka_prefix: str,
    tmp_path: Path,
    case: str,
    expected: str,
) -> None:
    engine = secure_elasticsearch
    wrong = f"not-the-password-{uuid.uuid4().hex[:6]}"
    secrets = {"HW_STORE__PASSWORD": engine.password}
    overrides: dict[str, Any] = {}
    if case == "wrong password":
        secrets["HW_STORE__PASSWORD"] = wrong
        overrides["password"] = SecretStr(wrong)
    elif case == "no password":
        del secrets["HW_STORE__PASSWORD"]
        overrides["password"] = None
    else:
        overrides["ca_certs"] = None
    settings = engine.settings(**overrides)

    with pytest.raises(EngineRefused) as caught:
        SearchEngineStore.open(settings)
    message = str(caught.value)
    assert expected in message and engine.url in message
    hint = "store.ca_certs" if case == "no CA file" else "store.username / store.password"
    assert hint in message

    tree = _tree(
        tmp_path,
        settings,
        kafka={"bootstrap": kafka_bootstrap, "topic_prefix": kafka_prefix},
        indexer={"group_id": f"idx-{kafka_prefix}"},
    )
    done = _hybridwatch("indexer", "--once", "--config", str(_config(tmp_path, tree)),
                        secrets=secrets, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("hybridwatch: search engine at ") and expected in last, done.stderr
    assert "Traceback" not in done.stderr
    for secret in (engine.password, wrong):
        assert secret not in done.stdout + done.stderr + message
