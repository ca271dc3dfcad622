"""The hashed API token store (services/auth/tokens.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.auth.tokens import TokenError, TokenStore, allows, digest


def test_token_is_stored_only_as_its_hash(tmp_path: Path) -> None:
    store = TokenStore.open(tmp_path)
    token, info = store.create("alice", "analyst")
    store.close()
    raw = (tmp_path / "api-tokens.sqlite3").read_bytes()
    wal = tmp_path / "api-tokens.sqlite3-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert token.encode() not in raw and token[3:].encode() not in raw
    assert digest(token).encode() in raw
    assert info.id == digest(token)[:12] and token.startswith("hw_") and len(token) == 46


def test_verify_accepts_active_tokens_and_refuses_revoked_unknown_and_malformed(
    tmp_path: Path,
) -> None:
    store = TokenStore.open(tmp_path)
    token, info = store.create("ops-team", "operator")
    assert store.verify(token) == info
    assert store.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.verify("hw_short") is None and store.verify("") is None
    assert store.active_count() == 1
    revoked = store.revoke(info.id)
    assert revoked.revoked is not None and store.verify(token) is None
    assert store.active_count() == 0
    assert store.revoke(info.id).revoked == revoked.revoked  # idempotent


def test_bad_role_name_or_id_is_an_error_naming_the_field(tmp_path: Path) -> None:
    store = TokenStore.open(tmp_path)
    with pytest.raises(TokenError, match="role: must be one of analyst, operator, admin"):
        store.create("x", "root")
    with pytest.raises(TokenError, match="name:"):
        store.create("<script>", "admin")
    with pytest.raises(TokenError, match="id: no token 'nope'"):
        store.revoke("nope")


def test_roles_are_ranked_analyst_operator_admin() -> None:
    assert allows("admin", "operator") and allows("operator", "analyst")
    assert not allows("analyst", "operator") and not allows("operator", "admin")
    assert not allows("guest", "analyst")


def test_list_never_shows_hashes_or_tokens(tmp_path: Path) -> None:
    store = TokenStore.open(tmp_path)
    token, _ = store.create("a", "admin")
    listed = [t.to_dict() for t in store.list()]
    assert listed[0]["name"] == "a" and set(listed[0]) == {
        "id",
        "name",
        "role",
        "created",
        "revoked",
    }
    assert token not in str(listed) and digest(token) not in str(listed)
