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
    missing = sorted(set(Settings.model_fields) - set(tree))
    for name, field in Settings.model_fields.items():
        sub = field.annotation
        if isinstance(sub, type) and hasattr(sub, "model_fields") and name in tree:
            missing += [f"{name}.{k}" for k in sorted(set(sub.model_fields) - set(tree[name]))]
    assert not missing, f"add these keys with their defaults to {EXAMPLE.name}: {missing}"
