"""Progress of long jobs (replay, import, demo, archive catch-up) on stderr, with tqdm.

On a terminal: a live bar with the count, the rate and the ETA (when the total is
known). Not on a terminal (CI logs, pipes, files): no bar at all. Either way one
summary line at the end (`label: <summary> in 12.3 s (4,100/s)`), so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "articles",
        out: TextIO | None = None,
        enabled: bool | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.out = out if out is not None else sys.stderr
        self.done = 0
        self.started = time.monotonic()
        show = self.out.isatty() if enabled is None else enabled
        self._bar: Any = None
        if show:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                desc=label,
                unit=f" {unit}",
                unit_scale=False,
                file=self.out,
                leave=False,
                dynamic_ncols=True,
                mininterval=0.25,
            )

    @property
    def live(self) -> bool:
        """Is a bar shown (a terminal)? Callers print their own lines when it is not."""
        return self._bar is not None

    def set_total(self, total: int) -> None:
        """The total, once it is known (e.g. after the start offsets were looked up)."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def advance(self, n: int = 1, note: str | None = None) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if note:
                self._bar.set_postfix_str(note, refresh=False)

    def finish(self, summary: str | None = None) -> str:
        """Close the bar and print (and return) the one-line summary."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        text = summary or f"{self.done:,} {self.unit}"
        shown = f"{rate:,.0f}" if rate >= 10 else f"{rate:.2f}"
        line = f"{self.label}: {text} in {elapsed:,.1f} s ({shown} {self.unit}/s)"
        print(line, file=self.out, flush=True)
        return line

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
