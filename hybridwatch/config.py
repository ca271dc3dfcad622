"""Frozen, validated configuration: one YAML file plus HW_* environment overrides.

Precedence (highest first): environment, the YAML file, defaults. Environment keys
map onto the YAML tree with `__` as the nesting separator (`HW_API__PORT=9000`
sets `api.port`); pydantic-settings reads them (`HwEnvironment`), and list or mapping
values are YAML (`HW_DETECTORS__ENABLED=[narrative, burst]`; JSON is YAML too). Four
shorthands point at what you already run: `HW_KAFKA_BOOTSTRAP` (-> `kafka.bootstrap`),
`HW_ES_URL` (-> `store.url`), `HW_STORE_KIND` (-> `store.kind`) and `HW_DATA_DIR`; the
nested spelling (`HW_STORE__URL`) wins over a shorthand. Validation happens once at
start-up and a bad value is reported with its dotted key and the reason, e.g.
`api.port: Input should be less than or equal to 65535 (got 70000)`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_CONFIG_FILE = "hybridwatch.yaml"
ENV_PREFIX = "HW_"
ENV_SHORTHANDS: dict[str, tuple[str, ...]] = {
    "HW_KAFKA_BOOTSTRAP": ("kafka", "bootstrap"),
    "HW_ES_URL": ("store", "url"),
    "HW_STORE_KIND": ("store", "kind"),
    "HW_DATA_DIR": ("data_dir",),
}
"""Short names for the keys that point at existing servers and folders (HW_CONFIG, the
config file, is read by load_settings)."""
LANGUAGES = ("sr", "sr-Latn", "sr-Cyrl", "mk", "bs", "hr", "cnr", "sq", "en", "und")


class ConfigError(ValueError):
    """Configuration is invalid; the message names the key and the reason."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceConfig(_Frozen):
    """One feed in the sources registry."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    outlet: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    language: str = "und"
    feed_url: str
    interval: int = Field(default=900, ge=30, le=86400, description="seconds between polls")
    tags: tuple[str, ...] = ()
    enabled: bool = True

    @field_validator("feed_url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an absolute http(s) URL, got {v!r}")
        return v

    @property
    def domain(self) -> str:
        host = urlsplit(self.feed_url).hostname or ""
        return host.removeprefix("www.")


class IngestSettings(_Frozen):
    allow_networks: tuple[str, ...] = ()
    """CIDR ranges exempt from the SSRF guard (e.g. 127.0.0.0/8 for a local test server)."""
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=20.0, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=20)
    per_host_concurrency: int = Field(default=2, ge=1)
    politeness_delay: float = Field(default=1.0, ge=0)
    """Minimum seconds between two requests to the same host."""
    concurrency: int = Field(default=64, ge=1)
    parse_processes: int = Field(default=0, ge=0, le=64)
    """Worker processes for parse+normalise (CPU-bound); 0 parses in a thread of the poller."""
    min_interval: int = Field(default=60, ge=1)
    max_interval: int = Field(default=6 * 3600, ge=60)
    max_backoff: int = Field(default=6 * 3600, ge=60)
    user_agent: str = "hybridwatch/0.1 (+https://github.com/hybridwatch/hybridwatch)"

    @field_validator("allow_networks")
    @classmethod
    def _cidrs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in v:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as err:
                raise ValueError(f"{cidr!r} is not a CIDR range ({err})") from err
        return v


class DetectorSettings(_Frozen):
    flag_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    enabled: tuple[str, ...] | None = None
    """Detector names to run; None runs every registered detector."""
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-detector options, validated by the detector at load."""


class ApiSettings(_Frozen):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8686, ge=0, le=65535)
    auth: Literal["auto", "tokens", "open"] = "auto"
    """auto: bearer tokens are required once the token store holds one, and always when
    the API is bound beyond loopback; tokens: always required; open: no authentication
    (loud warning when bound beyond loopback). docs/security.md."""
    tokens_file: Path | None = None
    """The hashed API tokens (`hybridwatch token`); default <data_dir>/api-tokens.sqlite3."""
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=64 * 1024 * 1024)
    """Largest request body accepted (413 beyond it)."""
    rate_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    """Requests per minute per token (per client address for requests without a valid
    token); bursts up to rate_burst; beyond it 429 with Retry-After."""
    rate_burst: int = Field(default=120, ge=1, le=1_000_000)
    cors_origins: tuple[str, ...] = ()
    """Origins allowed to call the API from a browser; empty (default): no CORS headers."""


def _http_url(v: str) -> str:
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL, got {v!r}")
    return v


class _HttpEndpoint(_Frozen):
    url: str
    timeout: float = Field(default=10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)


class WebhookChannel(_HttpEndpoint):
    """POST of the alert as JSON to `url`, signed with HMAC-SHA256 when `secret` is set."""

    secret: SecretStr | None = None


class ChatChannel(_HttpEndpoint):
    """Incoming-webhook chat (Slack, Mattermost, Rocket.Chat: a JSON {"text": ...} POST)."""


class SmtpSettings(_Frozen):
    """The mail server alerts are sent through (one for every e-mail subscription)."""

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    """starttls: plain connection upgraded with STARTTLS (port 587); tls: TLS from the
    first byte (port 465); none: no encryption (a relay on localhost, tests)."""
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    timeout: float = Field(default=15.0, gt=0, le=300)


class SubscriptionSettings(_Frozen):
    """Who hears about which signals, and through which channels."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    min_severity: Literal["low", "medium", "high", "critical"] = "high"
    countries: tuple[str, ...] = ()
    """Source countries (ISO codes); empty: every country."""
    narratives: tuple[str, ...] = ()
    """Narrative pack ids; empty: every signal, with or without a narrative."""
    webhook: WebhookChannel | None = None
    chat: ChatChannel | None = None
    email: tuple[str, ...] = ()
    """Recipients; needs `alerts.smtp`."""
    max_per_hour: int = Field(default=30, ge=1, le=10_000)
    """Messages per channel per rolling hour. Beyond it, alerts are not dropped: the
    rest of a batch goes out as one digest, and when even that is over budget they
    wait (undelivered, in the outbox) for the next retry."""
    replays: bool = False
    """Deliver alerts raised while replaying history (off: a replay never pages anyone)."""

    @field_validator("countries")
    @classmethod
    def _countries(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for c in v:
            if not (len(c) == 2 and c.isalpha() and c.isupper()):
                raise ValueError(f"country codes are two capital letters, got {c!r}")
        return v

    @field_validator("email")
    @classmethod
    def _emails(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for addr in v:
            if addr.count("@") != 1 or any(ch.isspace() for ch in addr) or addr.startswith("@"):
                raise ValueError(f"not an e-mail address: {addr!r}")
        return v


class AlertSettings(_Frozen):
    console: bool = True
    jsonl: bool = True
    min_severity: Literal["low", "medium", "high", "critical"] = "high"
    """Threshold of the built-in "console" subscription (console line + JSONL file)."""
    smtp: SmtpSettings | None = None
    subscriptions: tuple[SubscriptionSettings, ...] = ()
    group_id: str = "hybridwatch-alerter"
    """Kafka consumer group of `hybridwatch alerter` (production runtime)."""
    retry_seconds: float = Field(default=60.0, ge=1, le=3600)
    """How often undelivered alerts (a channel was down, or over its hourly budget)
    are tried again while the process runs; they are also tried at every start."""

    @model_validator(mode="after")
    def _subscriptions(self) -> AlertSettings:
        seen: set[str] = {"console"}
        for i, sub in enumerate(self.subscriptions):
            where = f"alerts.subscriptions[{i}] ({sub.id})"
            if sub.id in seen:
                raise ValueError(f"{where}: the id is used twice ('console' is built in)")
            seen.add(sub.id)
            if sub.email and self.smtp is None:
                raise ValueError(f"{where}: e-mail recipients need alerts.smtp (the mail server)")
            if sub.webhook is None and sub.chat is None and not sub.email:
                raise ValueError(f"{where}: no channel (webhook, chat or email)")
        return self


class KafkaSettings(_Frozen):
    bootstrap: str | None = None
    topic_prefix: str = "hw."
    partitions: int = Field(default=6, ge=1)
    replication: int = Field(default=1, ge=1)
    client_id: str = "hybridwatch"
    compression: Literal["gzip", "lz4", "zstd", "snappy", "none"] = "lz4"
    """Producer compression. lz4 (installed with the project: `lz4` for kafka-python,
    `cramjam` for aiokafka) costs ~0.5 µs per article against ~20 µs for gzip, at about
    1.7x gzip's size; zstd/snappy need their own packages."""
    linger_ms: int = Field(default=20, ge=0, le=10_000)
    """How long the producer waits to fill a batch (throughput vs latency)."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    """From HW_KAFKA__SASL_PASSWORD, or a file named by sasl_password_file."""
    sasl_password_file: Path | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True

    @model_validator(mode="after")
    def _security(self) -> KafkaSettings:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and not self.sasl_username:
            raise ValueError(f"kafka.sasl_username is required with {self.security_protocol}")
        if sasl and self.sasl_password is None and self.sasl_password_file is None:
            raise ValueError(
                f"kafka.sasl_password (or sasl_password_file) is required with "
                f"{self.security_protocol}"
            )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("kafka.ssl_certfile and kafka.ssl_keyfile go together")
        return self


class StoreSettings(_Frozen):
    kind: Literal["sqlite", "elasticsearch", "opensearch"] = "sqlite"
    url: str | None = None
    index_prefix: str = "hw-"
    username: str | None = None
    password: SecretStr | None = None
    verify_certs: bool = True
    ca_certs: Path | None = None
    """CA bundle that signed the engine's certificate (https:// URLs)."""
    client_cert: Path | None = None
    client_key: Path | None = None
    api_key: SecretStr | None = None
    """Engine API key (Authorization: ApiKey ...), instead of username/password."""


class WorkerSettings(_Frozen):
    app_id: str = "hybridwatch"
    table_store: str = "memory://"
    """Faust table store: memory:// or rocksdb:// (needs the rocksdb extra)."""
    web_port: int = Field(default=6066, ge=0, le=65535)
    """Faust's web server port; 0 disables it (needed to run several workers on one host)."""
    session_timeout: float = Field(default=10.0, ge=1.0, le=300.0)
    """Seconds before a silent (killed) worker's partitions move to the others."""
    batch_max: int = Field(default=500, ge=1)
    batch_within: float = Field(default=0.05, gt=0.0, le=10.0)
    """A batch of articles is processed when batch_max arrived or batch_within seconds passed."""
    state_shards: int = Field(default=128, ge=1, le=65536)
    """Detector state is stored as this many table records per partition (fixed once used)."""


class MetricsSettings(_Frozen):
    port: int | None = Field(default=None, ge=0, le=65535)


class IndexerSettings(_Frozen):
    """`hybridwatch indexer`: Kafka -> search engine bulk indexing (services/indexer.py)."""

    group_id: str = "hybridwatch-indexer"
    batch_size: int = Field(default=2000, ge=1, le=100_000)
    """Documents per bulk request at most."""
    batch_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    """Bytes of documents per bulk request at most."""
    linger: float = Field(default=1.0, gt=0, le=60)
    """Seconds a partial batch may wait for more documents before it is sent."""
    max_backoff: float = Field(default=30.0, gt=0, le=600)
    """Cap of the exponential back-off between retries of a failed bulk request."""
    startup_wait: float = Field(default=300.0, ge=0, le=86_400)
    """Seconds the indexer waits at start-up for a search engine it cannot reach (retrying
    with back-off, a warning per attempt) before it gives up with exit status 1; 0 gives up
    at once. An outage after start-up is retried without limit (the sink loop)."""


class ArchiveSettings(_Frozen):
    dir: Path | None = None
    """Where `hybridwatch archive` keeps every article (default: <data_dir>/archive)."""
    group_id: str = "hybridwatch-archiver"
    """Kafka consumer group of `hybridwatch archive`."""
    embedded: bool = True
    """`hybridwatch run` archives every article it stores too (replayable later)."""


class Settings(BaseSettings):
    """The process's configuration. Built by `load_settings` (YAML file + environment);
    constructing it directly takes only the values given (it never reads the environment
    by itself, so a test's Settings does not depend on the shell it runs in)."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        env_parse_none_str="null",
    )

    data_dir: Path = Path(".hybridwatch")
    sources: tuple[SourceConfig, ...] | None = None
    sources_file: Path | None = None
    ingest: IngestSettings = IngestSettings()
    detectors: DetectorSettings = DetectorSettings()
    api: ApiSettings = ApiSettings()
    alerts: AlertSettings = AlertSettings()
    kafka: KafkaSettings = KafkaSettings()
    store: StoreSettings = StoreSettings()
    worker: WorkerSettings = WorkerSettings()
    metrics: MetricsSettings = MetricsSettings()
    indexer: IndexerSettings = IndexerSettings()
    archive: ArchiveSettings = ArchiveSettings()

    @property
    def archive_dir(self) -> Path:
        return self.archive.dir if self.archive.dir is not None else self.data_dir / "archive"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # the environment is merged by load_settings (HwEnvironment)


def _set_path(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value


def _merge(tree: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge `overlay` into `tree` (mappings merge key by key; anything else replaces)."""
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(tree.get(key), dict):
            _merge(tree[key], value)
        else:
            tree[key] = dict(value) if isinstance(value, Mapping) else value
    return tree


class HwEnvironment(EnvSettingsSource):
    """HW_* variables as a Settings tree, read by pydantic-settings (prefix, `__` nesting,
    case) from the given environment. List and mapping values are parsed as YAML, so
    `[a, b]` and JSON both work; a value that is not valid YAML is passed on as text and
    validation then names its key."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(Settings)
        self.env_vars = {
            name.lower(): (None if value == "null" else value)
            for name, value in environ.items()
            if name.upper().startswith(ENV_PREFIX) and name.upper() not in ENV_SHORTHANDS
        }

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value


def apply_env(tree: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Merge the HW_* environment over `tree` (the YAML file's mapping); shorthands first,
    so the nested spelling of the same key wins."""
    for name, path in ENV_SHORTHANDS.items():
        if name in environ:
            _set_path(tree, path, environ[name])
    overlay = HwEnvironment(environ)()
    options = overlay.get("detectors", {}).get("options")
    if isinstance(options, dict):  # free-form (validated by each detector): YAML leaves
        overlay["detectors"]["options"] = _yaml_leaves(options)
    return _merge(tree, overlay)


def _yaml_leaves(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _yaml_leaves(v) for k, v in node.items()}
    if isinstance(node, str) and node.strip():
        try:
            return yaml.safe_load(node)
        except yaml.YAMLError:
            return node
    return node


def _format_errors(err: ValidationError, origin: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<root>"
        got = e.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        lines.append(f"  {loc}: {e['msg']}{shown}")
    return f"invalid configuration in {origin}:\n" + "\n".join(lines)


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (bad byte at offset {err.start})"
        ) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping at the top, got {type(data).__name__}"
        )
    for key in data:
        if not isinstance(key, str):
            raise ConfigError(f"config file {path}: top-level keys are names, got {key!r}")
    return data


def load_settings(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the frozen Settings for this process.

    `config_file` None means `$HW_CONFIG` or `./hybridwatch.yaml` when present; a file
    named explicitly must exist.
    """
    env = os.environ if environ is None else environ
    tree: dict[str, Any] = {}
    origin = "defaults"
    if config_file is None and env.get("HW_CONFIG"):
        config_file = env["HW_CONFIG"]
    if config_file is not None:
        path = Path(config_file)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        tree = load_yaml(path)
        origin = str(path)
    elif Path(DEFAULT_CONFIG_FILE).exists():
        tree = load_yaml(Path(DEFAULT_CONFIG_FILE))
        origin = DEFAULT_CONFIG_FILE
    apply_env(tree, env)
    for dotted, value in (overrides or {}).items():
        _set_path(tree, tuple(dotted.split(".")), value)
    try:
        settings = Settings.model_validate(tree)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, f"{origin} (+ HW_* environment)")) from err
    if settings.sources is not None and settings.sources_file is not None:
        raise ConfigError(
            f"invalid configuration in {origin}: set either sources or sources_file, not both"
        )
    return settings


def load_sources(settings: Settings) -> tuple[SourceConfig, ...]:
    """The sources registry: inline `sources`, else `sources_file`, else the bundled default."""
    if settings.sources is not None:
        return _unique(settings.sources, "sources")
    path = settings.sources_file or default_sources_file()
    data = load_yaml(path)
    raw = data.get("sources")
    if not isinstance(raw, list):
        raise ConfigError(f"sources file {path} must hold a top-level 'sources:' list")
    out: list[SourceConfig] = []
    for i, item in enumerate(raw):
        try:
            out.append(SourceConfig.model_validate(item))
        except ValidationError as err:
            raise ConfigError(_format_errors(err, f"{path} sources[{i}]")) from err
    return _unique(tuple(out), str(path))


def _unique(sources: tuple[SourceConfig, ...], origin: str) -> tuple[SourceConfig, ...]:
    seen: set[str] = set()
    for s in sources:
        if s.id in seen:
            raise ConfigError(f"invalid sources in {origin}: duplicate source id {s.id!r}")
        seen.add(s.id)
    return sources


def default_sources_file() -> Path:
    return Path(__file__).resolve().parent.parent / "ingest" / "data" / "sources.yaml"
