"""`hybridwatch token create|list|revoke` through the real CLI (subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from services.auth.tokens import TokenStore


def _cli(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HW_DATA_DIR": str(tmp_path)}
    env.pop("HW_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", "token", *argv],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip


def test_create_prints_the_token_once_list_hides_it_revoke_disables_it(tmp_path: Path) -> None:
    made = _cli(tmp_path, "create", "--name", "alice", "--role", "operator")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("hw_") and token not in made.stderr
    store = TokenStore.open(tmp_path)
    info = store.verify(token)
    assert info is not None and info.role == "operator"

    listed = _cli(tmp_path, "list", "--json")
    assert listed.returncode == 0 and token not in listed.stdout
    (row,) = json.loads(listed.stdout)
    assert row["id"] == info.id and row["revoked"] is None

    gone = _cli(tmp_path, "revoke", info.id)
    assert gone.returncode == 0 and "revoked" in gone.stderr
    assert store.verify(token) is None
    store.close()


def test_revoking_an_unknown_id_exits_2_naming_it(tmp_path: Path) -> None:
    r = _cli(tmp_path, "revoke", "abc")
    assert r.returncode == 2 and "no token 'abc'" in r.stderr


def test_a_bad_role_is_refused_by_the_parser(tmp_path: Path) -> None:
    r = _cli(tmp_path, "create", "--name", "x", "--role", "root")
    assert r.returncode == 2 and "invalid choice: 'root'" in r.stderr
