"""Event calendar: related signals inside an event window are raised one level and say
which event raised them; unrelated or out-of-window signals are untouched."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from detectors.calendar import CalendarDetector, raise_one
from detectors.reference_data import DataFileError, load_calendar
from detectors.registry import build
from detectors.view import ArticleView
from hybridwatch.events import Signal
from tests.unit.detectors._stateful import article, narrative_signal

REFERENDUM_EVE = dt.datetime(2018, 9, 20, 9, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def cal() -> CalendarDetector:
    d = build("calendar")
    assert isinstance(d, CalendarDetector)
    return d


def _refine(cal: CalendarDetector, sig_factory: object, **kw: object) -> Signal:
    a = article("c1", **kw)  # type: ignore[arg-type]
    sig = sig_factory(a)  # type: ignore[operator]
    [out] = cal.refine(ArticleView(a), [sig], {})
    return out


def test_referendum_narrative_before_the_referendum_is_raised_with_the_event(
    cal: CalendarDetector,
) -> None:
    out = _refine(cal, lambda a: narrative_signal(a, "referendum-illegitimacy"), at=REFERENDUM_EVE)
    assert out.severity == "high"
    c = out.details["calendar"]
    assert c["raised_from"] == "medium"
    assert [e["id"] for e in c["events"]] == ["mk-name-referendum-2018"]
    assert c["events"][0]["date"] == "2018-09-30" and c["events"][0]["source"]


def test_same_signal_outside_every_window_is_untouched(cal: CalendarDetector) -> None:
    out = _refine(
        cal,
        lambda a: narrative_signal(a, "referendum-illegitimacy"),
        at=dt.datetime(2018, 12, 20, tzinfo=dt.UTC),
    )
    assert out.severity == "medium" and "calendar" not in out.details


def test_window_edges_are_whole_utc_days(cal: CalendarDetector) -> None:
    # mk-name-referendum-2018: 30 days before 2018-09-30 .. 10 days after, inclusive
    inside = _refine(
        cal,
        lambda a: narrative_signal(a, "election-fraud"),
        at=dt.datetime(2018, 10, 10, 23, 59, tzinfo=dt.UTC),
    )
    outside = _refine(
        cal,
        lambda a: narrative_signal(a, "election-fraud"),
        at=dt.datetime(2018, 10, 11, 0, 0, tzinfo=dt.UTC),
    )
    assert inside.severity == "high" and outside.severity == "medium"


def test_unrelated_narrative_is_untouched(cal: CalendarDetector) -> None:
    out = _refine(cal, lambda a: narrative_signal(a, "biolabs-health"), at=REFERENDUM_EVE)
    assert out.severity == "medium"


def test_foreign_outlet_writing_about_the_country_is_related(cal: CalendarDetector) -> None:
    out = _refine(
        cal,
        lambda a: narrative_signal(a, "referendum-illegitimacy"),
        at=REFERENDUM_EVE,
        country="RS",
        countries=("MK",),
    )
    assert out.severity == "high"
    unrelated = _refine(
        cal,
        lambda a: narrative_signal(a, "referendum-illegitimacy"),
        at=REFERENDUM_EVE,
        country="RS",
    )
    assert unrelated.severity == "medium"


def test_reputation_signals_are_never_raised(cal: CalendarDetector) -> None:
    def rep(a: object) -> Signal:
        return narrative_signal(a, "x").model_copy(
            update={"detector": "reputation", "narrative": None}
        )  # type: ignore[arg-type]

    assert _refine(cal, rep, at=REFERENDUM_EVE).severity == "medium"


def test_signals_without_a_narrative_are_raised_in_the_countrys_window(
    cal: CalendarDetector,
) -> None:
    def amp(a: object) -> Signal:
        return narrative_signal(a, "x").model_copy(
            update={"detector": "amplification", "narrative": None}
        )  # type: ignore[arg-type]

    assert _refine(cal, amp, at=REFERENDUM_EVE).severity == "high"


def test_critical_stays_critical_and_levels_step_by_one() -> None:
    assert [raise_one(s) for s in ("low", "medium", "high", "critical")] == [
        "medium",
        "high",
        "critical",
        "critical",
    ]


def test_signal_id_and_score_are_unchanged(cal: CalendarDetector) -> None:
    a = article("c2", at=REFERENDUM_EVE)
    sig = narrative_signal(a, "referendum-illegitimacy")
    [out] = cal.refine(ArticleView(a), [sig], {})
    assert out.id == sig.id and out.score == sig.score


def test_packaged_calendar_has_the_referendum_and_every_event_is_sourced() -> None:
    events = {e.id: e for e in load_calendar().events}
    assert events["mk-name-referendum-2018"].date == dt.date(2018, 9, 30)
    assert events["mk-prespa-signing-2018"].date == dt.date(2018, 6, 17)
    covered = {c for e in events.values() for c in e.countries}
    assert {"RS", "MK", "BA", "XK", "ME", "AL", "HR"} <= covered
    assert all(e.source.strip() for e in events.values())


def test_calendar_narratives_exist_as_packs() -> None:
    packs = {
        p.stem for p in (Path(__file__).resolve().parents[3] / "detectors" / "packs").glob("*.yaml")
    }
    used = {n for e in load_calendar().events for n in e.narratives}
    assert used <= packs, used - packs


@pytest.mark.parametrize(
    ("event", "needle"),
    [
        (
            {
                "id": "x",
                "name": "X",
                "date": "2020-01-10",
                "end_date": "2020-01-01",
                "countries": ["RS"],
                "source": "s",
            },
            "end_date is before date",
        ),
        (
            {"id": "x", "name": "X", "date": "2020-01-10", "countries": ["Serbia"], "source": "s"},
            "events.0.countries",
        ),
        ({"id": "x", "name": "X", "date": "2020-01-10", "countries": ["RS"]}, "events.0.source"),
    ],
)
def test_bad_calendar_entries_are_clear_errors(
    tmp_path: Path, event: dict[str, object], needle: str
) -> None:
    bad = tmp_path / "cal.yaml"
    bad.write_text(yaml.safe_dump({"events": [event]}))
    with pytest.raises(DataFileError) as err:
        load_calendar(bad)
    assert str(bad) in str(err.value) and needle in str(err.value)
