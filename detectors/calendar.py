"""Event calendar: sensitive events make related signals more severe.

A narrative about a stolen vote matters more in the month before an election than
in a quiet summer. Events (detectors/data/calendar.yaml: referendums, elections,
accession milestones) carry countries, related narratives and a window around
their dates. A second-phase detector, it looks at every signal the article got and
raises the severity one level (low -> medium -> high -> critical) when

  * the article's event time lies in [first day - days_before, last day + days_after]
    (whole UTC days),
  * the signal's country or a country the article mentions is one of the event's, and
  * the signal's narrative is one of the event's (an event with no narratives relates
    to every one), or the signal has no narrative (amplification, look-alike).

It never raises a signal twice however many events overlap; `details.calendar`
lists every matching event. Scores are untouched: the calendar says how urgent a
flag is, not whether the article is disinformation. Reputation is excluded by
default (a listing does not become more true in an election month), and so is the
threat level, which runs after the calendar and reads the raised severities.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from detectors.base import Detector, DetectorOptions, State
from detectors.reference_data import CalendarEvent, load_calendar
from detectors.view import ArticleView
from hybridwatch.events import SEVERITY_ORDER, Signal

_LEVELS = sorted(SEVERITY_ORDER, key=SEVERITY_ORDER.__getitem__)


def raise_one(severity: str) -> str:
    return _LEVELS[min(SEVERITY_ORDER[severity] + 1, len(_LEVELS) - 1)]


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    """Exclusive."""
    event: CalendarEvent

    @classmethod
    def of(cls, e: CalendarEvent) -> Window:
        start = datetime.combine(e.date, time(), tzinfo=UTC) - timedelta(days=e.days_before)
        end = datetime.combine(e.last_day, time(), tzinfo=UTC) + timedelta(days=e.days_after + 1)
        return cls(start, end, e)


class CalendarOptions(DetectorOptions):
    calendar_file: str | None = None
    """Path of an alternative calendar YAML (default: the packaged one)."""
    exclude_detectors: tuple[str, ...] = ("reputation", "threat")
    """Signals of these detectors are never raised."""


class CalendarDetector(Detector):
    name = "calendar"
    after_signals = True
    refine_order = 20
    Options = CalendarOptions

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        assert isinstance(options, CalendarOptions)
        self.exclude = frozenset(options.exclude_detectors)
        self.windows = tuple(
            sorted((Window.of(e) for e in load_calendar(options.calendar_file).events),
                   key=lambda w: (w.start, w.event.id))
        )  # fmt: skip
        self._by_day: dict[int, list[Window]] = {}

    def active(self, when: datetime) -> list[Window]:
        # Windows are whole UTC days, so the answer depends only on the day: cached.
        day = when.astimezone(UTC).date().toordinal() if when.tzinfo else when.toordinal()
        hit = self._by_day.get(day)
        if hit is None:
            if len(self._by_day) >= 4096:
                self._by_day.clear()
            hit = self._by_day[day] = [w for w in self.windows if w.start <= when < w.end]
        return hit

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        return []  # second phase only: see refine()

    def refine(self, article: ArticleView, signals: list[Signal], state: State) -> list[Signal]:
        if not signals:
            return signals
        windows = self.active(article.article.published)
        if not windows:
            return signals
        mentioned = set(article.article.countries)
        out: list[Signal] = []
        for s in signals:
            related = (
                [w for w in windows if self._related(w.event, s, mentioned)]
                if s.detector not in self.exclude
                else []
            )
            if not related:
                out.append(s)
                continue
            details = dict(s.details)
            details["calendar"] = {
                "raised_from": s.severity,
                "events": [
                    {
                        "id": w.event.id,
                        "name": w.event.name,
                        "date": w.event.date.isoformat(),
                        "window_start": w.start.date().isoformat(),
                        "window_end": (w.end - timedelta(days=1)).date().isoformat(),
                        "source": w.event.source,
                    }
                    for w in related
                ],
            }
            out.append(s.model_copy(update={"severity": raise_one(s.severity), "details": details}))
        return out

    @staticmethod
    def _related(e: CalendarEvent, s: Signal, mentioned: set[str]) -> bool:
        if s.country not in e.countries and not mentioned.intersection(e.countries):
            return False
        return s.narrative is None or not e.narratives or s.narrative in e.narratives
