"""Configuration: YAML + HW_* overrides, validated with messages naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridwatch.config import ConfigError, load_settings, load_sources


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "hw.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={})
    assert s.data_dir == Path(".hybridwatch")
    assert (s.api.host, s.api.port) == ("127.0.0.1", 8686)
    assert s.detectors.flag_threshold == 0.5
    assert s.store.kind == "sqlite"


def test_yaml_values_are_applied(tmp_path: Path) -> None:
    cfg = _write(
        tmp_path, "data_dir: /tmp/x\napi:\n  port: 9001\ndetectors:\n  flag_threshold: 0.7\n"
    )
    s = load_settings(cfg, environ={})
    assert s.api.port == 9001
    assert s.detectors.flag_threshold == 0.7
    assert s.data_dir == Path("/tmp/x")


def test_environment_overrides_yaml_with_nesting(tmp_path: Path) -> None:
    cfg = _write(tmp_path, "api:\n  port: 9001\n")
    s = load_settings(
        cfg,
        environ={
            "HW_API__PORT": "9100",
            "HW_INGEST__ALLOW_NETWORKS": "[127.0.0.0/8]",
            "HW_KAFKA_BOOTSTRAP": "127.0.0.1:19092",
            "HW_ES_URL": "http://127.0.0.1:9200",
            "UNRELATED": "1",
        },
    )
    assert s.api.port == 9100
    assert s.ingest.allow_networks == ("127.0.0.0/8",)
    assert s.kafka.bootstrap == "127.0.0.1:19092"
    assert s.store.url == "http://127.0.0.1:9200"


def test_bad_value_names_the_dotted_key_and_the_value(tmp_path: Path) -> None:
    cfg = _write(tmp_path, "api:\n  port: 70000\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, environ={})
    assert "api.port" in str(err.value)
    assert "70000" in str(err.value)
    assert str(cfg) in str(err.value)


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    cfg = _write(tmp_path, "detectors:\n  flag_treshold: 0.5\n")
    with pytest.raises(ConfigError, match=r"detectors\.flag_treshold"):
        load_settings(cfg, environ={})


def test_bad_cidr_is_reported(tmp_path: Path) -> None:
    cfg = _write(tmp_path, "ingest:\n  allow_networks: ['10.0.0.0/33']\n")
    with pytest.raises(ConfigError, match=r"ingest\.allow_networks.*not a CIDR"):
        load_settings(cfg, environ={})


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    cfg = _write(tmp_path, "api: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(cfg, environ={})


def test_inline_sources_are_validated(tmp_path: Path) -> None:
    cfg = _write(
        tmp_path,
        "sources:\n"
        "  - {id: a, outlet: A, country: MK, feed_url: 'https://a.mk/feed'}\n"
        "  - {id: b, outlet: B, country: RS, feed_url: 'ftp://b.rs/feed'}\n",
    )
    with pytest.raises(ConfigError, match=r"sources\.1\.feed_url.*http"):
        load_settings(cfg, environ={})


def test_duplicate_source_ids_are_rejected(tmp_path: Path) -> None:
    cfg = _write(
        tmp_path,
        "sources:\n"
        "  - {id: a, outlet: A, country: MK, feed_url: 'https://a.mk/feed'}\n"
        "  - {id: a, outlet: B, country: RS, feed_url: 'https://b.rs/feed'}\n",
    )
    with pytest.raises(ConfigError, match="duplicate source id 'a'"):
        load_sources(load_settings(cfg, environ={}))


def test_sources_and_sources_file_are_exclusive(tmp_path: Path) -> None:
    cfg = _write(
        tmp_path,
        "sources_file: other.yaml\nsources:\n"
        "  - {id: a, outlet: A, country: MK, feed_url: 'https://a.mk/feed'}\n",
    )
    with pytest.raises(ConfigError, match="either sources or sources_file"):
        load_settings(cfg, environ={})


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, "{}\n"), environ={})
    with pytest.raises(Exception, match="frozen"):
        s.api.port = 1  # type: ignore[misc]
