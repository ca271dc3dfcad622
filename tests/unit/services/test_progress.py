"""Progress of long jobs: a bar only on a terminal, always one summary line at the end."""

from __future__ import annotations

import io

from services.progress import Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_prints_only_the_summary_line() -> None:
    out = io.StringIO()
    p = Progress("replay", total=1000, out=out)
    for _ in range(10):
        p.advance(100, note="up to 2018-09-30")
    line = p.finish("1,000 articles of 3 day(s)")
    assert out.getvalue() == line + "\n"
    assert line.startswith("replay: 1,000 articles of 3 day(s) in ") and "articles/s" in line


def test_a_terminal_gets_a_bar_with_count_rate_and_eta() -> None:
    out = _Tty()
    p = Progress("import", total=50, unit="rows", out=out)
    p.advance(20)
    p._bar.refresh()  # what tqdm does every mininterval
    shown = out.getvalue()
    assert "import" in shown and "20/50" in shown and "<" in shown  # elapsed<remaining
    p.finish()
    assert out.getvalue().rstrip().splitlines()[-1].endswith("rows/s)")
