"""Links of known claims, for the article view ("the matched known claim with its link").

A `claims` signal names the claim (`details.claim_id`); its link (the debunk / case page)
is in the claim index the detector matched against. `links_from_suite` reads them from
a loaded detector suite (the embedded runtime has one); `links_from_index_file` loads
the shipped index (or an operator's) for `hybridwatch api`. Both give a function
claim id -> URL or None; the API adds `claim_links` to one article's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ClaimLinks = Callable[[str], str | None]


def _table(indexes: Iterable[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for ix in indexes:
        for claim in getattr(ix, "claims", ()):
            cid, url = claim.get("id"), claim.get("url")
            if isinstance(cid, str) and isinstance(url, str) and url:
                out.setdefault(cid, url)
    return out


def links_from_suite(suite: Any) -> ClaimLinks | None:
    """From the suite's claims detector (shipped and imported indexes), if it runs."""
    for detector in getattr(suite, "detectors", ()):
        if getattr(detector, "name", None) == "claims":
            indexes = [ix for _, ix in getattr(detector, "indexes", ())]
            table = _table(indexes)
            return table.get
    return None


def links_from_index_file(path: Path | None = None) -> ClaimLinks | None:
    """From an index file (default: the shipped one); None when it cannot be read."""
    try:
        from detectors.claims import INDEX_FILE, read_index

        index = read_index(path or INDEX_FILE)
    except (OSError, ValueError, ImportError):
        return None
    return _table([index]).get
