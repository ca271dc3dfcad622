"""The article archive: day files, idempotent appends, deterministic reading, damage reported."""

from __future__ import annotations

import gzip
from datetime import date, timedelta
from pathlib import Path

import pytest

from hybridwatch.events import Article
from ingest.archive import Archive, ReadReport, parse_day
from tests.fixtures.synthetic_articles import START, synthetic_articles


def _spread(n: int, hours: float = 7.0) -> list[Article]:
    """n SYNTHETIC articles, one every `hours` hours (so they span several days)."""
    return [
        a.model_copy(update={"published": START + timedelta(hours=hours * i)})
        for i, a in enumerate(synthetic_articles(n, seed=4))
    ]


def test_articles_land_in_the_file_of_their_utc_day_and_read_back_in_order(tmp_path: Path) -> None:
    arts = _spread(12)
    archive = Archive(tmp_path)
    assert archive.append(reversed(arts)) == 12  # archived out of order
    days = sorted({a.published.date() for a in arts})
    assert archive.days() == days
    assert archive.path_for(days[0]) == tmp_path / "articles" / "2018" / "2018-09-01.ndjson.gz"
    back = list(archive.read())
    assert back == sorted(arts, key=lambda a: (a.published, a.id))
    archive.close()


def test_appending_the_same_articles_again_adds_nothing(tmp_path: Path) -> None:
    arts = _spread(10)
    archive = Archive(tmp_path)
    assert archive.append(arts[:6]) == 6
    assert archive.append(arts) == 4  # only the four new ones
    assert archive.append(arts + arts) == 0
    assert archive.count() == 10
    report = ReadReport()
    assert len(list(archive.read(report=report))) == 10 and report.repeats == 0
    archive.close()
    reopened = Archive(tmp_path)  # the index survives a restart
    assert reopened.append(arts) == 0
    reopened.close()


def test_since_and_until_select_whole_days(tmp_path: Path) -> None:
    arts = _spread(20)
    archive = Archive(tmp_path)
    archive.append(arts)
    d1, d3 = date(2018, 9, 2), date(2018, 9, 4)
    got = list(archive.read(d1, d3))
    assert got == sorted(
        (a for a in arts if d1 <= a.published.date() <= d3), key=lambda a: (a.published, a.id)
    )
    assert list(archive.read(date(2019, 1, 1))) == []
    archive.close()


def test_a_crash_repeat_in_a_file_is_dropped_on_read(tmp_path: Path) -> None:
    arts = _spread(3, hours=1)
    archive = Archive(tmp_path)
    archive.append(arts)
    path = archive.path_for(arts[0].published.date())
    # as if the process died after writing the file but before updating the index
    with path.open("ab") as fh:
        fh.write(gzip.compress((arts[1].to_json() + "\n").encode()))
    report = ReadReport()
    assert list(archive.read(report=report)) == arts
    assert report.repeats == 1 and report.problems == []
    archive.close()


def test_a_torn_tail_and_a_bad_line_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    arts = _spread(4, hours=1)
    archive = Archive(tmp_path)
    archive.append(arts[:2])
    path = archive.path_for(arts[0].published.date())
    with path.open("ab") as fh:
        fh.write(gzip.compress(b'{"id": "broken"}\n'))
    archive.append(arts[2:])
    with path.open("ab") as fh:  # a member cut short by a crash
        fh.write(gzip.compress((arts[0].to_json() + "\n").encode())[:25])
    report = ReadReport()
    assert list(archive.read(report=report)) == arts
    torn, bad = report.problems  # the file is decoded first, then its lines parsed
    assert "cut short" in torn and str(path) in torn
    assert "not an Article" in bad and f"{path}:3:" in bad
    archive.close()


def test_parse_day_accepts_dates_and_times_and_names_bad_input() -> None:
    assert parse_day("2018-09-30") == date(2018, 9, 30)
    assert parse_day("2018-09-30T23:30:00-02:00") == date(2018, 10, 1)
    with pytest.raises(ValueError, match="2018-09-30"):
        parse_day("last week")
