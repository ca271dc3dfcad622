"""Bearer tokens for the API, stored hashed in a small SQLite file.

A token is `hw_` + 43 url-safe characters (256 random bits). Only its SHA-256 is
stored: with that much entropy a slow password hash adds nothing, and a lookup by
hash costs one indexed read. The clear token is returned once, by `create`, and is
never stored, logged or shown again. A token's public id is the first 12 hex digits
of its hash (from content, stable), which `list` shows and `revoke` takes.

Roles are ranked: analyst (read, triage) < operator (+ sources, replay, dead letters,
metrics) < admin (+ subscriptions, tokens); a role may do what the roles below it may.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

Role = Literal["analyst", "operator", "admin"]
ROLES: tuple[Role, ...] = ("analyst", "operator", "admin")
RANK: dict[str, int] = {role: i for i, role in enumerate(ROLES)}
FILE_NAME = "api-tokens.sqlite3"
PREFIX = "hw_"
_TOKEN = re.compile(r"^hw_[A-Za-z0-9_-]{43}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,79}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    created TEXT NOT NULL,
    revoked TEXT
);
"""


class TokenError(ValueError):
    """A bad name, role or token id; the message says which and why."""


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    role: Role
    created: str
    revoked: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created": self.created,
            "revoked": self.revoked,
        }


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def allows(role: str, needed: str) -> bool:
    """Whether a token of `role` may use an endpoint that needs `needed`."""
    return RANK.get(role, -1) >= RANK[needed]


class TokenStore:
    """The token file; safe to share between threads (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        with contextlib.suppress(OSError):  # read-only or foreign file system
            self.path.chmod(0o600)

    @classmethod
    def open(cls, data_dir: Path, tokens_file: Path | None = None) -> TokenStore:
        return cls(tokens_file if tokens_file is not None else Path(data_dir) / FILE_NAME)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, name: str, role: str, now: datetime | None = None) -> tuple[str, TokenInfo]:
        """A new token: (the clear token, shown once; its stored record)."""
        if role not in RANK:
            raise TokenError(f"role: must be one of {', '.join(ROLES)}, got {role!r}")
        if not _NAME.match(name):
            raise TokenError(
                f"name: 1-80 letters, digits, space or ._@- starting with a letter or "
                f"digit, got {name!r}"
            )
        token = PREFIX + secrets.token_urlsafe(32)
        h = digest(token)
        created = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        info = TokenInfo(h[:12], name, role, created, None)  # type: ignore[arg-type]
        with self._lock:
            self._db.execute(
                "INSERT INTO tokens (hash, id, name, role, created) VALUES (?, ?, ?, ?, ?)",
                (h, info.id, name, role, created),
            )
        return token, info

    def list(self) -> list[TokenInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, name, role, created, revoked FROM tokens ORDER BY created, id"
            ).fetchall()
        return [TokenInfo(*row) for row in rows]

    def revoke(self, token_id: str, now: datetime | None = None) -> TokenInfo:
        when = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        with self._lock:
            row = self._db.execute(
                "SELECT id, name, role, created, revoked FROM tokens WHERE id = ?", (token_id,)
            ).fetchone()
            if row is None:
                raise TokenError(f"id: no token {token_id!r} (see `hybridwatch token list`)")
            if row[4] is None:
                self._db.execute("UPDATE tokens SET revoked = ? WHERE id = ?", (when, token_id))
                row = (*row[:4], when)
        return TokenInfo(*row)

    def active_count(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM tokens WHERE revoked IS NULL").fetchone()
        return int(n)

    def verify(self, token: str) -> TokenInfo | None:
        """The active token's record, or None (unknown, malformed or revoked)."""
        if not _TOKEN.match(token):
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT id, name, role, created, revoked FROM tokens WHERE hash = ?",
                (digest(token),),
            ).fetchone()
        if row is None or row[4] is not None:
            return None
        return TokenInfo(*row)
