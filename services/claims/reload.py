"""Hands operators' imported claims to the running claims detector, without a restart.

`hybridwatch claims import` replaces `<data_dir>/claims/imported.bin.gz` atomically.
The embedded runtime calls `ImportedClaims.refresh()` before each batch: one
`stat` per batch; when the file's (mtime, size, inode) changed it is loaded and
given to every claims detector of the suite (`ClaimsDetector.use_imported`).
Detectors stay pure - the runtime does the I/O and swaps the index between batches,
never during one. A file that cannot be read is logged and the previous index kept.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from detectors.base import Detector
from detectors.claim_index import ClaimIndex
from detectors.claims import ClaimsDetector
from services.claims.importer import imported_path

log = logging.getLogger(__name__)


class ImportedClaims:
    def __init__(self, data_dir: str | os.PathLike[str], detectors: Iterable[Detector]) -> None:
        self.path: Path = imported_path(data_dir)
        self.detectors = [d for d in detectors if isinstance(d, ClaimsDetector)]
        self._seen: tuple[int, int, int] | None = None
        self.version: str | None = None
        """Version of the imported index in use (None: none)."""
        self.claims = 0
        self.errors = 0

    def refresh(self) -> bool:
        """Load the imported index if it changed since the last call; True if swapped."""
        if not self.detectors:
            return False
        try:
            st = self.path.stat()
        except FileNotFoundError:
            if self._seen is None:
                return False
            self._seen = None
            return self._hand_over(None)
        except OSError as err:
            self._fail(f"cannot stat {self.path}: {err}")
            return False
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if key == self._seen:
            return False
        try:
            index = ClaimIndex.from_bytes(self.path.read_bytes())
        except (OSError, ValueError) as err:
            self._seen = key  # do not retry a broken file every batch; a new import changes it
            self._fail(f"cannot load imported claims {self.path}: {err}; keeping the previous ones")
            return False
        self._seen = key
        return self._hand_over(index)

    def _hand_over(self, index: ClaimIndex | None) -> bool:
        for d in self.detectors:
            d.use_imported(index)
        self.version = index.version if index is not None else None
        self.claims = len(index.claims) if index is not None else 0
        log.warning(
            "claims: %s imported claim(s) in use (index %s)", self.claims, self.version or "none"
        )
        return True

    def _fail(self, message: str) -> None:
        self.errors += 1
        log.error("claims: %s", message)
