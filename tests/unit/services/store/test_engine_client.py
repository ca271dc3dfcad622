"""Request shapes of the Elasticsearch adapter, checked against a recording HTTP stub.

No Elasticsearch server can be obtained from this project's registries (CI runs
OpenSearch, which elasticsearch-py refuses), so this pins down what the adapter sends:
NDJSON bulk bodies passed through untouched, the ILM endpoint, the index-template
endpoint, and error mapping (429/5xx retryable, other 4xx not).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest

from services.store.engine_client import ElasticsearchClient, EngineError, EngineUnavailable


class Recorder(BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[str, str, str, bytes]]] = []
    status = 200

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        Recorder.requests.append(
            (self.command, self.path, self.headers.get("content-type") or "", body)
        )
        if Recorder.status == 200:
            resp = {"errors": False, "items": [], "count": 7, "hits": {"hits": []}}
        else:
            resp = {"error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}
        raw = json.dumps(resp).encode()
        self.send_response(Recorder.status)
        self.send_header("content-type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def es() -> Iterator[ElasticsearchClient]:
    Recorder.requests = []
    Recorder.status = 200
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = ElasticsearchClient(f"http://127.0.0.1:{server.server_port}", None, True)
    yield client
    client.close()
    server.shutdown()
    server.server_close()


def test_bulk_sends_the_ndjson_payload_unchanged(es: ElasticsearchClient) -> None:
    payload = b'{"index":{"_index":"hw-articles-2018.09","_id":"a1"}}\n{"id":"a1"}\n'
    es.bulk(payload, refresh="wait_for")
    method, path, ctype, body = Recorder.requests[-1]
    assert method == "PUT"
    url = urllib.parse.urlsplit(path)
    assert url.path == "/_bulk"
    # only what the store reads of the answer is asked for (BULK_FILTER_PATH)
    assert urllib.parse.parse_qs(url.query) == {
        "refresh": ["wait_for"],
        "filter_path": ["errors,items.*.status,items.*.error"],
    }
    assert "x-ndjson" in ctype
    assert body == payload


def test_templates_policies_and_counts_use_the_elasticsearch_endpoints(
    es: ElasticsearchClient,
) -> None:
    es.put_index_template("hw-articles", {"index_patterns": ["hw-articles-*"]})
    es.put_retention_policy("hw-hw-retention", {"policy": {"phases": {}}})
    assert es.count("hw-articles-*") == 7
    paths = [(m, p) for m, p, _, _ in Recorder.requests]
    assert paths == [
        ("PUT", "/_index_template/hw-articles"),
        ("PUT", "/_ilm/policy/hw-hw-retention"),
        ("POST", "/hw-articles-*/_count"),
    ]


@pytest.mark.parametrize(
    ("status", "error"), [(429, EngineUnavailable), (503, EngineUnavailable), (400, EngineError)]
)
def test_http_errors_map_to_retryable_or_not(
    es: ElasticsearchClient, status: int, error: type[Exception]
) -> None:
    Recorder.status = status
    with pytest.raises(error, match="es_rejected_execution_exception: queue full") as info:
        es.search("hw-articles-*", {"size": 0})
    assert isinstance(info.value, EngineUnavailable) == (status != 400)


def test_an_unreachable_engine_is_retryable() -> None:
    client = ElasticsearchClient("http://127.0.0.1:9", None, True)
    with pytest.raises(EngineUnavailable, match="unreachable"):
        client.count("hw-articles-*")
