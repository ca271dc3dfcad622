"""TLS and API-key settings of the search-engine connection (store.ca_certs, client_cert,
client_key, api_key) reach both client libraries and the engine probe.

Unit level: the certificate files are the system CA bundle (only their presence is
checked here); no TLS-secured engine runs in this repository's test tooling yet."""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hybridwatch.config import ConfigError, StoreSettings
from services.store.engine_client import (
    ElasticsearchClient,
    EngineTLS,
    OpenSearchClient,
    detect_engine,
    engine_tls,
)

CA = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


class Probe(BaseHTTPRequestHandler):
    auth: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Probe.auth.append(self.headers.get("authorization") or "")
        raw = b'{"version": {"distribution": "opensearch", "number": "2.19.6"}}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def probe_url() -> Iterator[str]:
    Probe.auth = []
    server = HTTPServer(("127.0.0.1", 0), Probe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_settings_become_tls_options_and_the_api_key_is_hidden_from_repr() -> None:
    tls = engine_tls(StoreSettings(ca_certs=CA, api_key="k3y-secret"))
    assert tls.ca_certs == str(CA)
    assert tls.headers() == {"Authorization": "ApiKey k3y-secret"}
    assert "k3y-secret" not in repr(tls)


def test_missing_certificate_files_are_config_errors_naming_the_key(tmp_path: Path) -> None:
    for key in ("ca_certs", "client_cert", "client_key"):
        kwargs: dict[str, Any] = {key: tmp_path / "nope.pem"}
        if key == "client_key":
            kwargs["client_cert"] = CA
        with pytest.raises(ConfigError, match=re.escape(f"store.{key}: no such file")):
            engine_tls(StoreSettings(**kwargs))
    with pytest.raises(ConfigError, match=re.escape("store.client_key: set store.client_cert")):
        engine_tls(StoreSettings(client_key=CA))


def test_engine_probe_sends_the_api_key(probe_url: str) -> None:
    info = detect_engine(probe_url, tls=EngineTLS(api_key="k3y-secret"))
    assert info.engine == "opensearch"
    assert Probe.auth == ["ApiKey k3y-secret"]


def test_opensearch_client_carries_ca_and_api_key() -> None:
    client = OpenSearchClient(
        "https://127.0.0.1:1", None, True, EngineTLS(ca_certs=str(CA), api_key="k3y-secret")
    )
    conn = client._client.transport.connection_pool.connections[0]
    assert conn.headers["authorization"] == "ApiKey k3y-secret"
    assert conn.pool.ca_certs == str(CA)
    client.close()


def test_elasticsearch_client_carries_ca_and_api_key() -> None:
    client = ElasticsearchClient(
        "https://127.0.0.1:1", None, True, EngineTLS(ca_certs=str(CA), api_key="k3y-secret")
    )
    node = next(iter(client._client.transport.node_pool.all()))
    assert node.config.ca_certs == str(CA)
    assert client._client._headers["authorization"] == "ApiKey k3y-secret"
    client.close()
