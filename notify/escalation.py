"""Escalation: more stories of one event type about one country today than its recent days
make plausible.

Per (event type, country) the distinct stories of each UTC day are counted (a story counts
once, in every country it names as actor or target). A day escalates when its count `c`:
- is at least `min_stories` (a quiet pair going from 0 to 1 is not news), and
- is improbable under a Poisson law whose mean is the baseline: the mean daily count of the
  `baseline_days` before it (at least `floor`, so a pair never seen still needs several
  stories): P(X >= c | λ) < `alpha`.
With dozens of (event, country) series tested each day, alpha is small (0.001): on a
stationary series the test fires on about one day in a thousand per series. The false-alarm
rate on replayed history (`bench/escalation_replay.py`) is measured by shuffling each real
series' days, which keeps its counts and breaks any real escalation.

Pure: `TrendBook` is the counts; notify persists them and sends the escalation messages.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

ALPHA = 0.001
BASELINE_DAYS = 14
MIN_STORIES = 3
FLOOR = 0.5


def poisson_tail(count: int, mean: float) -> float:
    """P(X >= count) for X ~ Poisson(mean)."""
    if count <= 0:
        return 1.0
    term = math.exp(-mean)  # P(X = 0)
    below = term
    for k in range(1, count):
        term *= mean / k
        below += term
    return max(0.0, 1.0 - below)


@dataclass(frozen=True)
class Escalation:
    """A day that escalates, with the figures that say why."""

    event: str
    country: str
    day: date
    count: int
    baseline: float
    p_value: float
    history: tuple[tuple[date, int], ...]  # the baseline days and the day, for the chart


@dataclass
class TrendBook:
    """Distinct stories per (event, country, day); `escalation` tests a day."""

    alpha: float = ALPHA
    baseline_days: int = BASELINE_DAYS
    min_stories: int = MIN_STORIES
    floor: float = FLOOR
    _stories: dict[tuple[str, str, date], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )

    def add(self, event: str, countries: set[str], story_id: str, at: datetime) -> set[str]:
        """Count `story_id` for each country on `at`'s day; returns the countries for which
        it is a new story that day (the series whose count grew)."""
        grown = set()
        for country in countries:
            key = (event, country, at.date())
            if story_id not in self._stories[key]:
                self._stories[key].add(story_id)
                grown.add(country)
        return grown

    def count(self, event: str, country: str, day: date) -> int:
        return len(self._stories.get((event, country, day), ()))

    def series(self, event: str, country: str, last: date, days: int) -> list[tuple[date, int]]:
        first = last - timedelta(days=days - 1)
        return [
            (first + timedelta(days=i), self.count(event, country, first + timedelta(days=i)))
            for i in range(days)
        ]

    def escalation(self, event: str, country: str, day: date) -> Escalation | None:
        """The escalation of `day` for (event, country), or None."""
        history = self.series(event, country, day, self.baseline_days + 1)
        count = history[-1][1]
        if count < self.min_stories:
            return None
        baseline = max(self.floor, sum(c for _, c in history[:-1]) / self.baseline_days)
        p_value = poisson_tail(count, baseline)
        if p_value >= self.alpha:
            return None
        return Escalation(event, country, day, count, round(baseline, 2), p_value, tuple(history))

    def keys(self) -> set[tuple[str, str]]:
        return {(event, country) for event, country, _ in self._stories}

    def forget_before(self, day: date) -> None:
        """Drop the counts older than `day` (kept: what the baseline and charts need)."""
        for key in [k for k in self._stories if k[2] < day]:
            del self._stories[key]
