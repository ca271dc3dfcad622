"""A small adapter over elasticsearch-py and opensearch-py: the few calls the store needs.

Why two clients: elasticsearch-py 8+ refuses to talk to a server that is not
Elasticsearch (it checks the product header), and opensearch-py is the client
OpenSearch supports. Everything above this module (store, indexer, bench) is written
once against `EngineClient`, and every failure is turned into one of two errors:
`EngineUnavailable` (worth retrying: connection refused or reset, timeouts, 429, 5xx)
and `EngineError` (the request itself is wrong; retrying cannot help).

Client-side retries are switched off: the indexer owns back-off, so an outage is
seen, counted and waited out in one place.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import httpx

from hybridwatch.config import ConfigError, StoreSettings

if TYPE_CHECKING:  # the client libraries are imported only when a store is opened
    from elasticsearch import Elasticsearch
    from opensearchpy import OpenSearch

REQUEST_TIMEOUT = 60.0
ENGINES = ("elasticsearch", "opensearch")


class EngineError(RuntimeError):
    """The engine refused a request (not worth retrying); `status` is the HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class EngineUnavailable(EngineError):
    """The engine is down, overloaded (429) or failing (5xx): retry later."""


class EngineRefused(EngineError, ConfigError):
    """The engine answers but will not talk to this configuration: its certificate is not
    trusted (store.ca_certs) or it refused the credentials (401/403). Retrying cannot help,
    so it is a ConfigError too: the CLI prints the message, never a traceback."""


def _untrusted_certificate(err: BaseException) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(err)


def retryable_status(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


@dataclass(frozen=True)
class ServerInfo:
    engine: str
    """"elasticsearch" or "opensearch"."""
    version: str


@dataclass(frozen=True)
class EngineTLS:
    """TLS and API-key settings of the engine connection (store.ca_certs, client_cert,
    client_key, api_key). `api_key` is the secret itself: unwrapped from SecretStr only
    when the client is built, never put in a message; repr hides it."""

    ca_certs: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    api_key: str | None = field(default=None, repr=False)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"ApiKey {self.api_key}"} if self.api_key else {}


def engine_tls(store: StoreSettings) -> EngineTLS:
    """The TLS/API-key part of `store.*`; a missing file is a ConfigError naming the key."""
    for key in ("ca_certs", "client_cert", "client_key"):
        path = getattr(store, key)
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"store.{key}: no such file {path}")
    if store.client_key is not None and store.client_cert is None:
        raise ConfigError("store.client_key: set store.client_cert as well")
    return EngineTLS(
        ca_certs=str(store.ca_certs) if store.ca_certs else None,
        client_cert=str(store.client_cert) if store.client_cert else None,
        client_key=str(store.client_key) if store.client_key else None,
        api_key=store.api_key.get_secret_value() if store.api_key else None,
    )


def _httpx_verify(verify: bool, tls: EngineTLS) -> bool | ssl.SSLContext:
    if not verify:
        return False
    if tls.ca_certs is None and tls.client_cert is None:
        return True
    ctx = ssl.create_default_context(cafile=tls.ca_certs)
    if tls.client_cert is not None:
        ctx.load_cert_chain(tls.client_cert, tls.client_key)
    return ctx


def detect_engine(
    url: str,
    auth: tuple[str, str] | None = None,
    verify: bool = True,
    tls: EngineTLS = EngineTLS(),
) -> ServerInfo:
    """Ask the server at `url` what it is (GET /), without either client library.

    Used to fail fast with a readable message when store.kind names the wrong engine,
    instead of elasticsearch-py's product-check error deep in the first request.
    """
    try:
        resp = httpx.get(
            url.rstrip("/") + "/",
            auth=auth,
            verify=_httpx_verify(verify, tls),
            headers=tls.headers(),
            timeout=10.0,
        )
    except httpx.HTTPError as err:
        if _untrusted_certificate(err):
            raise EngineRefused(
                f"search engine at {url}: its TLS certificate is not trusted ({err}); set "
                "store.ca_certs to the CA file that signed it"
            ) from err
        raise EngineUnavailable(f"search engine at {url} is not reachable: {err}") from err
    if resp.status_code in (401, 403):
        given = (
            "store.api_key"
            if tls.api_key
            else "store.username / store.password"
            if auth
            else "no credentials (set store.username and store.password, or store.api_key)"
        )
        what = "refused the credentials" if resp.status_code == 401 else "denied access"
        raise EngineRefused(
            f"search engine at {url} {what} (HTTP {resp.status_code} to GET /); check {given}",
            resp.status_code,
        )
    if resp.status_code >= 400:
        raise EngineError(
            f"search engine at {url} answered GET / with HTTP {resp.status_code}", resp.status_code
        )
    try:
        version = resp.json().get("version", {})
    except ValueError as err:
        raise EngineError(f"{url} does not look like a search engine (GET / is not JSON)") from err
    dist = version.get("distribution", "elasticsearch")
    return ServerInfo(
        "opensearch" if dist == "opensearch" else "elasticsearch", str(version.get("number", "?"))
    )


class EngineClient(Protocol):
    engine: str

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def count(self, index: str, body: dict[str, Any] | None = None) -> int: ...
    def bulk(self, payload: bytes, refresh: str | None = None) -> dict[str, Any]: ...
    def index_one(self, index: str, doc_id: str, source: bytes) -> None: ...
    def put_index_template(self, name: str, body: dict[str, Any]) -> None: ...
    def put_retention_policy(self, name: str, body: dict[str, Any]) -> bool: ...
    def refresh(self, index: str) -> None: ...
    def indices(self, pattern: str) -> list[str]: ...
    def delete_indices(self, names: Sequence[str]) -> None: ...
    def delete_index_template(self, name: str) -> None: ...
    def close(self) -> None: ...


BULK_FILTER_PATH = "errors,items.*.status,items.*.error"
"""What the store reads of a bulk answer (services/store/search_engine.py `_bulk`): the
engine leaves out each item's index, id, version, shards and seq_no, which were most of
the answer's bytes and of the indexer's JSON decoding."""


def _body(resp: object) -> Any:
    return getattr(resp, "body", resp)


class _ClientBase:
    """The calls whose API is the same in opensearch-py and elasticsearch-py; each
    subclass supplies `_client` and `_call` (its own exception translation)."""

    _client: OpenSearch | Elasticsearch

    def _call(self, what: str, fn: Callable[..., object], *args: object, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)`'s JSON body (Any: the engine's response document)."""
        raise NotImplementedError

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self._call("search", self._client.search, index=index, body=body)
        return out

    def count(self, index: str, body: dict[str, Any] | None = None) -> int:
        return int(self._call("count", self._client.count, index=index, body=body)["count"])

    def put_index_template(self, name: str, body: dict[str, Any]) -> None:
        self._call(
            f"index template {name}", self._client.indices.put_index_template, name=name, body=body
        )

    def indices(self, pattern: str) -> list[str]:
        try:
            resp = self._call("list indices", self._client.indices.get_alias, index=pattern)
        except EngineError as err:
            if err.status == 404:
                return []
            raise
        return sorted(resp)

    def delete_indices(self, names: Sequence[str]) -> None:
        if names:
            self._call("delete indices", self._client.indices.delete, index=",".join(names))

    def delete_index_template(self, name: str) -> None:
        try:
            self._call("delete template", self._client.indices.delete_index_template, name=name)
        except EngineError as err:
            if err.status != 404:
                raise

    def close(self) -> None:
        self._client.close()


class OpenSearchClient(_ClientBase):
    """opensearch-py, for OpenSearch 1.x/2.x/3.x."""

    engine = "opensearch"
    _client: OpenSearch

    def __init__(
        self,
        url: str,
        auth: tuple[str, str] | None,
        verify_certs: bool,
        tls: EngineTLS = EngineTLS(),
    ) -> None:
        from opensearchpy import OpenSearch

        parts = urlsplit(url)
        self._client = OpenSearch(
            hosts=[url],
            http_auth=auth,
            use_ssl=parts.scheme == "https",
            verify_certs=verify_certs,
            ca_certs=tls.ca_certs,
            client_cert=tls.client_cert,
            client_key=tls.client_key,
            headers=tls.headers() or None,
            timeout=REQUEST_TIMEOUT,
            max_retries=0,
            retry_on_timeout=False,
            pool_maxsize=8,
        )

    def _call(self, what: str, fn: Callable[..., object], *args: object, **kwargs: Any) -> Any:
        from opensearchpy import exceptions as ex

        try:
            return fn(*args, **kwargs)
        except ex.ConnectionError as err:  # includes timeouts; status_code is "N/A"
            raise EngineUnavailable(
                f"{what}: search engine unreachable ({err.__class__.__name__}: {err.info or err.error})"
            ) from err
        except ex.TransportError as err:
            status = err.status_code if isinstance(err.status_code, int) else None
            msg = f"{what}: HTTP {err.status_code} {_reason(err.info) or err.error}"
            if retryable_status(status):
                raise EngineUnavailable(msg, status) from err
            raise EngineError(msg, status) from err

    def bulk(self, payload: bytes, refresh: str | None = None) -> dict[str, Any]:
        params = {"filter_path": BULK_FILTER_PATH}
        if refresh:
            params["refresh"] = refresh
        out: dict[str, Any] = self._call("bulk", self._client.bulk, body=payload, params=params)
        return out

    def index_one(self, index: str, doc_id: str, source: bytes) -> None:
        """One document, one request (the baseline bench/index_bench.py compares bulk with)."""
        self._call("index", self._client.index, index=index, id=doc_id, body=source)

    def put_retention_policy(self, name: str, body: dict[str, Any]) -> bool:
        """ISM lives in the index-management plugin; without it there is nothing to attach."""
        path = f"/_plugins/_ism/policies/{name}"
        try:
            self._call("ISM policy", self._client.transport.perform_request, "GET", path)
        except EngineError as err:
            if (
                err.status == 404
                and "policy" in str(err).lower()
                and "not found" in str(err).lower()
            ):
                pass  # plugin present, policy not yet created
            elif err.status in (400, 404, 405):
                return False  # no ISM plugin on this node
            else:
                raise
        else:
            return True  # already there; policies are updated by seq_no, keep the first one
        self._call("ISM policy", self._client.transport.perform_request, "PUT", path, body=body)
        return True

    def refresh(self, index: str) -> None:
        self._call(
            "refresh",
            self._client.indices.refresh,
            index=index,
            params={"allow_no_indices": "true"},
        )


class ElasticsearchClient(_ClientBase):
    """elasticsearch-py (8.x/9.x), for Elasticsearch of the same major version."""

    engine = "elasticsearch"
    _client: Elasticsearch

    def __init__(
        self,
        url: str,
        auth: tuple[str, str] | None,
        verify_certs: bool,
        tls: EngineTLS = EngineTLS(),
    ) -> None:
        from elasticsearch import Elasticsearch

        tls_options: dict[str, Any] = {
            k: v
            for k, v in (
                ("ca_certs", tls.ca_certs),
                ("client_cert", tls.client_cert),
                ("client_key", tls.client_key),
            )
            if v is not None
        }
        self._client = Elasticsearch(
            url,
            basic_auth=auth,
            api_key=tls.api_key,
            verify_certs=verify_certs,
            **tls_options,
            request_timeout=REQUEST_TIMEOUT,
            max_retries=0,
            retry_on_timeout=False,
            retry_on_status=(),
        )

    def _call(self, what: str, fn: Callable[..., object], *args: object, **kwargs: Any) -> Any:
        import elastic_transport
        from elasticsearch import ApiError

        try:
            return _body(fn(*args, **kwargs))
        except ApiError as err:
            status = int(err.meta.status)
            msg = f"{what}: HTTP {status} {_reason(err.body) or err.message}"
            if retryable_status(status):
                raise EngineUnavailable(msg, status) from err
            raise EngineError(msg, status) from err
        except elastic_transport.TransportError as err:  # connection refused, timeouts
            raise EngineUnavailable(
                f"{what}: search engine unreachable ({err.__class__.__name__}: {err})"
            ) from err

    def bulk(self, payload: bytes, refresh: str | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"filter_path": BULK_FILTER_PATH}
        if refresh:
            kwargs["refresh"] = refresh
        out: dict[str, Any] = self._call("bulk", self._client.bulk, operations=payload, **kwargs)
        return out

    def index_one(self, index: str, doc_id: str, source: bytes) -> None:
        """One document, one request (the baseline bench/index_bench.py compares bulk with)."""
        self._call("index", self._client.index, index=index, id=doc_id, document=json.loads(source))

    def put_retention_policy(self, name: str, body: dict[str, Any]) -> bool:
        """ILM lives in x-pack's ilm module; a node without it (the integ-test
        distribution of deploy/local/elasticsearch.sh) answers "no handler found"."""
        try:
            self._call("ILM policy", self._client.ilm.put_lifecycle, name=name, body=body)
        except EngineError as err:
            if err.status in (400, 404, 405) and "no handler found" in str(err).lower():
                return False
            raise
        return True

    def refresh(self, index: str) -> None:
        self._call("refresh", self._client.indices.refresh, index=index, allow_no_indices=True)


def _reason(info: Any) -> str:
    """The engine's own one-line reason from an error body, when there is one."""
    if isinstance(info, str | bytes):
        try:
            info = json.loads(info)
        except ValueError:
            return str(info)[:300]
    if isinstance(info, dict):
        err = info.get("error")
        if isinstance(err, dict):
            return f"{err.get('type', '')}: {err.get('reason', '')}".strip(": ")
        if err:
            return str(err)[:300]
    return ""


def make_client(
    engine: str,
    url: str,
    username: str | None = None,
    password: str | None = None,
    verify_certs: bool = True,
    tls: EngineTLS = EngineTLS(),
) -> EngineClient:
    """Create the one client of this process for `engine` (call at start-up only)."""
    auth = (username, password or "") if username else None
    if engine == "opensearch":
        return OpenSearchClient(url, auth, verify_certs, tls)
    if engine == "elasticsearch":
        return ElasticsearchClient(url, auth, verify_certs, tls)
    raise ValueError(f"unknown search engine {engine!r} (choose one of {', '.join(ENGINES)})")
