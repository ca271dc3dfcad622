"""Configuration: YAML + HW_* overrides, validated with messages naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridwatch.config import ConfigError, Settings, load_settings, load_sources


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


def test_environment_merges_into_the_yaml_tree_key_by_key(tmp_path: Path) -> None:
    cfg = _write(tmp_path, "api:\n  host: 0.0.0.0\ndetectors:\n  options:\n    burst: {floor: 9}\n")
    s = load_settings(
        cfg,
        environ={
            "HW_API__PORT": "9100",
            "HW_DETECTORS__OPTIONS__BURST__ALPHA": "0.01",
            "HW_DETECTORS__OPTIONS__NARRATIVE__PACKS": "[nato-aggression]",
            "HW_DETECTORS__ENABLED": '["burst", "narrative"]',  # JSON is YAML too
            "HW_METRICS__PORT": "null",
        },
    )
    assert (s.api.host, s.api.port) == ("0.0.0.0", 9100)
    assert s.detectors.options == {
        "burst": {"floor": 9, "alpha": 0.01},
        "narrative": {"packs": ["nato-aggression"]},
    }
    assert s.detectors.enabled == ("burst", "narrative")
    assert s.metrics.port is None


def test_the_nested_spelling_wins_over_a_shorthand(tmp_path: Path) -> None:
    s = load_settings(
        None,
        environ={
            "HW_STORE_KIND": "opensearch",
            "HW_STORE__KIND": "elasticsearch",
            "HW_DATA_DIR": str(tmp_path / "d"),
        },
    )
    assert s.store.kind == "elasticsearch"
    assert s.data_dir == tmp_path / "d"


@pytest.mark.parametrize(
    ("environ", "key", "value"),
    [
        ({"HW_API__PORT": "70000"}, "api.port", "70000"),
        ({"HW_INGEST__ALLOW_NETWORKS": "[unclosed"}, "ingest.allow_networks", "[unclosed"),
        ({"HW_API__NO_SUCH_KEY": "1"}, "api.no_such_key: Extra inputs are not permitted", "1"),
        ({"HW_STORE_KIND": "mongo"}, "store.kind", "mongo"),
    ],
)
def test_a_bad_environment_value_names_the_dotted_key_and_the_value(
    environ: dict[str, str], key: str, value: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, environ=environ)
    assert key in str(err.value)
    assert repr(value) in str(err.value)
    assert "HW_* environment" in str(err.value)


def test_direct_construction_never_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HW_API__PORT", "9100")
    monkeypatch.setenv("HW_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    assert Settings().api.port == 8686
    assert Settings().kafka.bootstrap is None
