"""Kafka security options from configuration (services/kafka/security.py).

Unit level only: no SASL_SSL broker runs in this repository's test tooling yet."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from hybridwatch.config import ConfigError, KafkaSettings, load_settings
from services.kafka.security import faust_credentials, kafka_python_options, ssl_context

CA = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


def test_plaintext_adds_no_options() -> None:
    assert kafka_python_options(KafkaSettings()) == {}
    assert faust_credentials(KafkaSettings()) is None


def test_sasl_ssl_scram_options_are_accepted_by_every_kafka_python_client() -> None:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    k = KafkaSettings(
        security_protocol="SASL_SSL", sasl_username="hw", sasl_password="s3cret-pw",
        ssl_cafile=CA,
    )  # fmt: skip
    opts = kafka_python_options(k)
    assert opts == {
        "security_protocol": "SASL_SSL",
        "ssl_check_hostname": True,
        "ssl_cafile": str(CA),
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "hw",
        "sasl_plain_password": "s3cret-pw",
    }
    for client in (KafkaProducer, KafkaConsumer, KafkaAdminClient):
        assert set(opts) <= set(client.DEFAULT_CONFIG), client.__name__


def test_password_from_a_mounted_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from-file\n", encoding="utf-8")
    k = KafkaSettings(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="hw",
        sasl_password_file=tmp_path / "pw",
    )  # fmt: skip
    assert kafka_python_options(k)["sasl_plain_password"] == "from-file"
    assert "ssl_cafile" not in kafka_python_options(k)


def test_missing_files_are_config_errors_naming_the_key(tmp_path: Path) -> None:
    k = KafkaSettings(security_protocol="SSL", ssl_cafile=tmp_path / "nope.pem")
    with pytest.raises(ConfigError, match=r"kafka.ssl_cafile: no such file"):
        kafka_python_options(k)
    k = KafkaSettings(
        security_protocol="SASL_SSL", sasl_username="u", sasl_password_file=tmp_path / "no"
    )
    with pytest.raises(ConfigError, match=r"kafka\.sasl_password_file: cannot read"):
        kafka_python_options(k)


def test_faust_gets_scram_credentials_with_a_tls_context() -> None:
    k = KafkaSettings(
        security_protocol="SASL_SSL", sasl_username="hw", sasl_password="pw-123456", ssl_cafile=CA
    )
    creds = faust_credentials(k)
    assert type(creds).__name__ == "SASLCredentials"
    assert creds.username == "hw" and creds.password == "pw-123456"
    assert str(creds.mechanism.value) == "SCRAM-SHA-512"
    assert isinstance(creds.ssl_context, ssl.SSLContext)
    assert ssl_context(k).verify_mode == ssl.CERT_REQUIRED


def test_secrets_from_the_environment_never_show_in_settings_or_errors() -> None:
    env = {
        "HW_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "HW_KAFKA__SASL_USERNAME": "hw",
        "HW_KAFKA__SASL_PASSWORD": "do-not-print-me",
        "HW_STORE__API_KEY": "engine-key-secret",
    }
    s = load_settings(None, environ={"HW_CONFIG": "", **env})
    shown = repr(s) + str(s.model_dump())
    assert "do-not-print-me" not in shown and "engine-key-secret" not in shown
    with pytest.raises(ConfigError) as err:
        load_settings(None, environ={**env, "HW_KAFKA__SASL_USERNAME": "", "HW_API__PORT": "x"})
    assert "do-not-print-me" not in str(err.value)


def test_sasl_without_user_or_password_is_refused_at_load() -> None:
    with pytest.raises(ConfigError, match=r"kafka\.sasl_username is required with SASL_SSL"):
        load_settings(None, environ={"HW_KAFKA__SECURITY_PROTOCOL": "SASL_SSL"})
    with pytest.raises(ConfigError, match=r"kafka\.sasl_password"):
        load_settings(
            None,
            environ={
                "HW_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "HW_KAFKA__SASL_USERNAME": "u",
            },
        )


def test_kafka_python_clients_built_from_settings_carry_the_security_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kafka

    from hybridwatch.config import Settings
    from services.kafka import consuming

    built: list[dict[str, object]] = []

    def record(**kwargs: object) -> object:
        built.append(kwargs)
        return object()

    monkeypatch.setattr(kafka, "KafkaProducer", record)
    monkeypatch.setattr(kafka, "KafkaConsumer", record)
    s = Settings(
        kafka=KafkaSettings(
            bootstrap="127.0.0.1:1", security_protocol="SASL_SSL", sasl_username="hw",
            sasl_password="pw-123456", ssl_cafile=CA,
        )
    )  # fmt: skip
    consuming.record_producer(s, "t")
    consuming.topic_reader(s, "t")
    assert len(built) == 2
    for kwargs in built:
        assert kwargs["security_protocol"] == "SASL_SSL"
        assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
        assert kwargs["ssl_cafile"] == str(CA)


def test_lag_sampler_client_carries_the_security_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kafka

    from services.metrics import GroupLagReader

    built: list[dict[str, object]] = []

    class Recorder:
        def __init__(self, **kwargs: object) -> None:
            built.append(kwargs)

        def partitions_for_topic(self, topic: str) -> set[int]:
            return set()

    monkeypatch.setattr(kafka, "KafkaConsumer", Recorder)
    k = KafkaSettings(
        bootstrap="127.0.0.1:1", security_protocol="SASL_SSL", sasl_username="hw",
        sasl_password="pw-123456", ssl_cafile=CA,
    )  # fmt: skip
    reader = GroupLagReader("127.0.0.1:1", "g", ["t"], client_options=kafka_python_options(k))
    assert reader() == {}
    assert len(built) == 1
    assert built[0]["security_protocol"] == "SASL_SSL"
    assert built[0]["sasl_plain_username"] == "hw"
    assert built[0]["ssl_cafile"] == str(CA)
