"""Kafka connection security from `kafka.*` settings, for both client libraries.

`kafka_python_options(settings.kafka)` are keyword arguments for every kafka-python
client (KafkaProducer, KafkaConsumer, KafkaAdminClient); `faust_credentials` is the
`broker_credentials` of a Faust app (aiokafka underneath). PLAINTEXT (the default)
gives no options, so existing clients behave as before.

The password comes from `kafka.sasl_password` (HW_KAFKA__SASL_PASSWORD) or from the file
named by `kafka.sasl_password_file` (a mounted secret; one trailing newline dropped); it
is unwrapped from SecretStr only here, at the client call, and never formatted into a
message. A missing or unreadable file is a ConfigError naming the key.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from hybridwatch.config import ConfigError, KafkaSettings


def sasl_password(kafka: KafkaSettings) -> str | None:
    if kafka.sasl_password is not None:
        return kafka.sasl_password.get_secret_value()
    if kafka.sasl_password_file is None:
        return None
    try:
        text = Path(kafka.sasl_password_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"kafka.sasl_password_file: cannot read {kafka.sasl_password_file} "
            f"({type(err).__name__})"
        ) from None
    return text[:-1] if text.endswith("\n") else text


def _check_files(kafka: KafkaSettings) -> None:
    for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        path = getattr(kafka, key)
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"kafka.{key}: no such file {path}")


def kafka_python_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Security keyword arguments for kafka-python clients ({} for PLAINTEXT)."""
    proto = kafka.security_protocol
    if proto == "PLAINTEXT":
        return {}
    _check_files(kafka)
    opts: dict[str, Any] = {"security_protocol": proto}
    if proto in ("SSL", "SASL_SSL"):
        opts["ssl_check_hostname"] = kafka.ssl_check_hostname
        for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if getattr(kafka, key) is not None:
                opts[key] = str(getattr(kafka, key))
    if proto.startswith("SASL_"):
        opts["sasl_mechanism"] = kafka.sasl_mechanism
        opts["sasl_plain_username"] = kafka.sasl_username
        opts["sasl_plain_password"] = sasl_password(kafka)
    return opts


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext:
    """The TLS context for aiokafka/Faust: the configured CA (else the system's), the
    client certificate when given, hostname checking as configured."""
    _check_files(kafka)
    ctx = ssl.create_default_context(
        cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile is not None else None
    )
    ctx.check_hostname = kafka.ssl_check_hostname
    if kafka.ssl_certfile is not None and kafka.ssl_keyfile is not None:
        ctx.load_cert_chain(str(kafka.ssl_certfile), str(kafka.ssl_keyfile))
    return ctx


def faust_credentials(kafka: KafkaSettings) -> Any:
    """`broker_credentials` for faust.App (None for PLAINTEXT)."""
    proto = kafka.security_protocol
    if proto == "PLAINTEXT":
        return None
    from faust.auth import SASLCredentials, SSLCredentials

    if proto == "SSL":
        return SSLCredentials(ssl_context(kafka))
    return SASLCredentials(
        username=kafka.sasl_username,
        password=sasl_password(kafka),
        mechanism=kafka.sasl_mechanism,
        ssl_context=ssl_context(kafka) if proto == "SASL_SSL" else None,
    )
