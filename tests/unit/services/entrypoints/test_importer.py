"""`hybridwatch import`: a third-party JSONL/CSV archive mapped to Articles, into the archive.

SYNTHETIC rows written here. Bad rows are reported with their line numbers and
counted; good rows become Articles as ingest builds them; importing twice adds nothing;
the result replays like anything else.
"""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hybridwatch.config import ConfigError
from ingest.archive import Archive
from services.importer import parse_map, parse_time

ROOT = Path(__file__).resolve().parents[4]


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "hybridwatch.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\n", encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "services.entrypoints.cli", "import", *args, "--config", str(cfg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def _summary(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    return dict(json.loads(proc.stdout.strip().splitlines()[-1].removeprefix("import: ")))


def _write_csv(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["headline", "date", "link", "body", "cc"])
        w.writerow(
            [
                "Референдумот во недела",
                "2018-09-28T10:00:00+02:00",
                "https://old-news.example/a?utm_source=x",
                "Гласањето почнува во 7.",
                "MK",
            ]
        )
        w.writerow(["No date here", "yesterday", "https://old-news.example/b", "Text.", "MK"])
        w.writerow(
            [
                "Bojkot referenduma",
                "Sat, 29 Sep 2018 18:00:00 GMT",
                "https://old-news.example/c",
                "Poziv na bojkot referenduma.",
                "RS",
            ]
        )
        w.writerow(["", "2018-09-30", "https://old-news.example/d", "", "MK"])
        w.writerow(["Bad country", "2018-09-30", "https://old-news.example/e", "x", "Macedonia"])
        w.writerow(["Multi\nline title", "1538300000", "https://old-news.example/f", "ok", "AL"])


def test_csv_import_maps_rows_reports_bad_ones_by_line_and_is_idempotent(tmp_path: Path) -> None:
    src = tmp_path / "old.csv"
    _write_csv(src)
    mapping = "title=headline,published=date,url=link,text=body,country=cc"
    done = _cli(tmp_path, str(src), "--map", mapping, "--outlet", "Old News")
    assert done.returncode == 0, done.stderr
    s = _summary(done)
    assert (s["rows"], s["articles"], s["archived"], s["bad"]) == (6, 3, 3, 3)
    err = done.stderr
    assert f"{src}:3: published: 'yesterday' is not a time" in err
    assert f"{src}:5: title and text are both empty" in err
    assert (
        f"{src}:6: country: " in err and "'Macedonia'" in err
    )  # the line of the row, a real reason
    archive = Archive(tmp_path / "data" / "archive")
    try:
        arts = list(archive.read())
    finally:
        archive.close()
    assert [a.source.country for a in arts] == ["MK", "RS", "AL"]  # event-time order
    first = arts[0]
    assert first.url == "https://old-news.example/a"  # canonical: tracking parameter gone
    assert first.published.isoformat() == "2018-09-28T08:00:00+00:00"
    assert first.language == "mk" and first.source.outlet == "Old News"
    assert first.source.tags == ("imported",) and first.text_latn.startswith("referendumot")
    again = _summary(_cli(tmp_path, str(src), "--map", mapping, "--outlet", "Old News"))
    assert (again["archived"], again["already_archived"]) == (0, 3)


def test_jsonl_import_reads_nested_keys_and_reports_broken_lines(tmp_path: Path) -> None:
    src = tmp_path / "old.jsonl.gz"
    lines = [
        json.dumps({"meta": {"when": "2018-09-29"}, "h": "Bojkot", "b": "Tekst o bojkotu."}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"meta": {"when": "2018-09-30"}, "h": "Glasanje", "b": "Tekst."}),
    ]
    src.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    done = _cli(
        tmp_path, str(src), "--map", "title=h,text=b,published=meta.when", "--country", "ME"
    )
    assert done.returncode == 0, done.stderr
    s = _summary(done)
    assert (s["rows"], s["articles"], s["bad"]) == (4, 2, 2)
    assert f"{src}:2: not JSON" in done.stderr
    assert f"{src}:3: a JSON list, not an object" in done.stderr


def test_every_row_bad_exits_1_and_a_mistyped_column_is_named_before_any_row(
    tmp_path: Path,
) -> None:
    src = tmp_path / "old.csv"
    _write_csv(src)
    typo = _cli(tmp_path, str(src), "--map", "title=headlin,published=date", "--country", "MK")
    assert typo.returncode == 2
    assert "no column for title=headlin" in typo.stderr and "headline" in typo.stderr
    allbad = _cli(tmp_path, str(src), "--map", "title=headline,published=cc", "--country", "MK")
    assert allbad.returncode == 1
    assert _summary(allbad)["articles"] == 0


def test_map_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="published=COLUMN is required"):
        parse_map("title=a")
    with pytest.raises(ConfigError, match="'author' is not an Article field"):
        parse_map("author=a,published=b,title=c")
    with pytest.raises(ConfigError, match="not FIELD=COLUMN"):
        parse_map("title,published=b")
    assert parse_map(" title = h , published=d ") == {"title": "h", "published": "d"}


def test_times_in_the_usual_formats_become_utc() -> None:
    assert parse_time("2018-09-30").isoformat() == "2018-09-30T00:00:00+00:00"
    assert parse_time("2018-09-30 12:00:00").isoformat() == "2018-09-30T12:00:00+00:00"
    assert parse_time("2018-09-30T12:00:00Z").isoformat() == "2018-09-30T12:00:00+00:00"
    assert parse_time("Sun, 30 Sep 2018 12:00:00 +0200").isoformat() == "2018-09-30T10:00:00+00:00"
    assert parse_time("1538308800").isoformat() == "2018-09-30T12:00:00+00:00"
