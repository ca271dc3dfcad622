#!/usr/bin/env python3
"""Headless-browser check of the live page of a running `hybridwatch run`.

Not part of `make test` (Chromium is not a dependency): an operator's or developer's
check that the page's JavaScript really renders in a browser, with no network other
than the API. It loads the page in headless Chromium, lets its fetches run, and
checks the rendered DOM: the header shows the counts, the per-country table is
filled, and (with --expect-evidence) at least one evidence span is highlighted,
(with --expect-alert) at least one alert is listed.

    .venv/bin/python scripts/check_live_page.py http://127.0.0.1:8686/ [--expect-evidence] [--expect-alert]
        [--screenshot live.png]

Exit 0 when the page rendered as expected, 1 with the reason otherwise, 2 when no
Chromium is installed (apt-get install chromium).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("url", nargs="?", default="http://127.0.0.1:8686/")
    ap.add_argument("--expect-evidence", action="store_true", help="require a highlighted span")
    ap.add_argument("--expect-alert", action="store_true", help="require a listed alert")
    ap.add_argument("--screenshot", help="also save a PNG of the page")
    args = ap.parse_args()
    browser = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if browser is None:
        print("no Chromium found (tried: " + ", ".join(BROWSERS) + ")", file=sys.stderr)
        return 2
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000"]
    dom = subprocess.run(
        [*common, "--dump-dom", args.url], capture_output=True, text=True, timeout=180, check=False
    ).stdout
    if args.screenshot:
        subprocess.run(
            [
                *common,
                "--hide-scrollbars",
                "--window-size=1280,900",
                f"--screenshot={args.screenshot}",
                args.url,
            ],
            capture_output=True,
            timeout=180,
            check=False,
        )
    problems = []
    meta = re.search(r'id="meta">([^<]*)<', dom)
    if not meta or "articles" not in meta.group(1):
        problems.append(
            f"header did not render counts (got {meta.group(1) if meta else 'nothing'!r})"
        )
    if 'id="problem" style="display: block;"' in dom:
        problems.append("the page says it cannot reach the API")
    marks = re.findall(r"<mark title=\"[^$\"]*\">([^<]*)</mark>", dom)
    if args.expect_evidence and not marks:
        problems.append("no evidence span is highlighted")
    # rendered alerts only (the page's own script holds the template with "sev-${...}")
    alerts = len(re.findall(r'<div class="alert"><span class="sig sev-[a-z]+">', dom))
    if args.expect_alert and not alerts:
        problems.append("no alert is listed")
    if problems:
        print("live page check FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(
        f"live page OK: {meta.group(1) if meta else ''}; {len(marks)} highlighted span(s): "
        f"{marks[:5]}; {alerts} alert(s) listed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
