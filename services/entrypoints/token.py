"""`hybridwatch token create|list|revoke`: the API's bearer tokens (services/auth/tokens.py).

The clear token is printed once, by `create`, on stdout (so it can be piped into a
secret store); everything else goes to stderr. The file is api.tokens_file, by default
<data_dir>/api-tokens.sqlite3.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hybridwatch.config import ConfigError, Settings


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.auth.tokens import TokenError, TokenStore

    store = TokenStore.open(Path(settings.data_dir), settings.api.tokens_file)
    try:
        if args.action == "create":
            token, info = store.create(args.name, args.role)
            print(token)
            print(
                f"hybridwatch: token {info.id} ({info.role}) for {info.name!r} created in "
                f"{store.path}; it is shown only now: send it as 'Authorization: Bearer <token>'",
                file=sys.stderr,
            )
        elif args.action == "list":
            items = store.list()
            if args.json:
                print(json.dumps([t.to_dict() for t in items], indent=2))
            else:
                for t in items:
                    state = f"revoked {t.revoked}" if t.revoked else "active"
                    print(f"{t.id}  {t.role:<8}  {t.created}  {state:<28}  {t.name}")
                if not items:
                    print(f"hybridwatch: no tokens in {store.path}", file=sys.stderr)
        else:
            info = store.revoke(args.id)
            print(
                f"hybridwatch: token {info.id} ({info.name}) revoked at {info.revoked}",
                file=sys.stderr,
            )
    except TokenError as err:
        raise ConfigError(f"token {args.action}: {err}") from err
    finally:
        store.close()
    return 0
