"""hybridwatch.example.yaml documents every key with its real default."""

from __future__ import annotations

from pathlib import Path

from hybridwatch.config import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[4] / "hybridwatch.example.yaml"


def test_example_config_loads_and_equals_the_defaults() -> None:
    assert load_settings(EXAMPLE, environ={}) == Settings()


def test_example_config_mentions_every_settings_key() -> None:
    import yaml

    tree = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    assert set(tree) == set(Settings.model_fields)
    for name, field in Settings.model_fields.items():
        sub = field.annotation
        if isinstance(sub, type) and hasattr(sub, "model_fields"):
            assert set(tree[name]) == set(sub.model_fields), name
