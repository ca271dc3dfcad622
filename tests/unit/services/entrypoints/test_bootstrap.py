"""The composition root's part builders: one check per concern, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridwatch.config import ConfigError, load_settings
from services.entrypoints import bootstrap
from services.entrypoints.cli import main


def _settings(tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    return load_settings(None, {}, {"data_dir": str(tmp_path / "data"), **overrides})


@pytest.mark.parametrize(
    ("command", "role"),
    [
        (["indexer", "--once"], "the indexer"),
        (["alerter", "--once"], "the alerter"),
        (["archive", "--once"], "the archiver"),
        (["worker"], "the worker"),
        (["ingest", "--once"], "ingest"),
        (["topics"], "topics"),
        (["replay", "--to", "kafka"], "replay --to kafka"),
    ],
)
def test_every_kafka_role_without_a_bootstrap_exits_2_naming_itself(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    role: str,
) -> None:
    for name in ("HW_KAFKA_BOOTSTRAP", "HW_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HW_STORE_KIND", "opensearch")  # the indexer checks the store first
    monkeypatch.setenv("HW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "archive" / "articles").mkdir(parents=True)  # replay finds an archive
    assert main(command) == 2
    err = capsys.readouterr().err
    assert f"kafka.bootstrap: required by {role} (set HW_KAFKA_BOOTSTRAP=host:port" in err


def test_the_indexer_refuses_the_sqlite_store_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^store\.kind: the indexer writes to a search engine"):
        bootstrap.build_indexer(_settings(tmp_path, **{"kafka.bootstrap": "127.0.0.1:1"}))


def test_suite_extra_options_merge_over_the_configured_ones(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        **{"detectors.enabled": ["burst"], "detectors.options": {"burst": {"floor": 7}}},
    )
    suite = bootstrap.build_suite(settings, {"burst": {"alpha": 0.01}})
    (burst,) = suite.detectors
    assert (burst.options.floor, burst.options.alpha) == (7, 0.01)  # type: ignore[attr-defined]


def test_a_bad_detector_option_is_a_configuration_error(tmp_path: Path) -> None:
    settings = _settings(tmp_path, **{"detectors.options": {"burst": {"flor": 7}}})
    with pytest.raises(ConfigError, match=r"detectors\.options\.burst: flor"):
        bootstrap.build_suite(settings)


def test_an_unusable_data_dir_names_the_key_and_the_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    settings = load_settings(None, {}, {"data_dir": str(blocker / "data")})
    with pytest.raises(ConfigError, match=r"^data_dir: cannot use .*file/data for the store"):
        bootstrap.open_embedded_store(settings)


def test_the_store_kind_picks_the_adapter(tmp_path: Path) -> None:
    store = bootstrap.open_store(_settings(tmp_path))
    try:
        assert type(store).__name__ == "SqliteStore"
    finally:
        store.close()
