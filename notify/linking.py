"""One story across languages: an alert joins an earlier alert's story when both report the
same event.

Ingest groups copies of a story by their words (MinHash), which cannot see that an Arabic and
an English report are one story. Here two alerts are the same story when:
- they report the same event type;
- their countries and groups (the actors, targets and sources named in their evidence) share
  at least one, when both name some (requiring the same actor as well lost more true pairs to
  role errors than it saved false ones, on the labelled pairs);
- they were published within `window` of each other (when both times are known);
- the multilingual embeddings of their titles and leads (`Alert.vector`) are close: cosine
  at least `threshold` (plus `next_day_margin` when more than 12 hours apart), or
  `threshold_without_countries` when either names no party.
The thresholds were chosen on half of the labelled pairs of tests/data/stories and measured on
the other half (`bench/story_pairs_xl.py`). Pure: `StoryIndex` keeps the recent stories in
memory; notify persists them.
"""

import base64
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from detect.model import Alert

DEFAULT_THRESHOLD = 0.56  # bench/story_pairs_xl.py --tune: best recall on dev at precision >= 0.95
THRESHOLD_WITHOUT_COUNTRIES = 0.62
DEFAULT_WINDOW = timedelta(hours=30)
NEXT_DAY_MARGIN = 0.1


@dataclass(frozen=True)
class StoryFacts:
    """What the linker compares of an alert."""

    story_id: str
    event: str | None
    countries: frozenset[str]
    vector: np.ndarray | None
    published: datetime | None
    lang: str | None
    #: When the article reached mediawatch: what the index forgets by, since feeds publish out
    #: of order and with wrong dates (one item dated next year must not wipe the memory).
    arrived: datetime | None = None

    @classmethod
    def of(cls, alert: Alert) -> "StoryFacts":
        vector = None
        if alert.vector:
            raw = np.frombuffer(base64.b64decode(alert.vector), dtype=np.float16)
            vector = raw.astype(np.float32)
            vector /= max(float(np.linalg.norm(vector)), 1e-6)
        return cls(
            story_id=alert.story_id,
            event=alert.event,
            countries=frozenset(a.id for a in alert.actors if a.role != "mentioned"),
            vector=vector,
            published=alert.article.published_at or alert.ingested_at,
            lang=alert.article.lang,
            arrived=alert.ingested_at,
        )


def same_story(
    a: StoryFacts,
    b: StoryFacts,
    threshold: float = DEFAULT_THRESHOLD,
    threshold_without_countries: float = THRESHOLD_WITHOUT_COUNTRIES,
    window: timedelta = DEFAULT_WINDOW,
) -> bool:
    if a.vector is None or b.vector is None or a.event != b.event:
        return False
    apart = abs(a.published - b.published) if a.published and b.published else timedelta(0)
    if apart > window:
        return False
    similarity = float(a.vector @ b.vector)
    if a.countries and b.countries:
        if not a.countries & b.countries:
            return False
        margin = NEXT_DAY_MARGIN if apart > timedelta(hours=12) else 0.0
        return similarity >= threshold + margin
    return similarity >= threshold_without_countries


@dataclass
class StoryIndex:
    """Recent stories; `link` gives an alert the story id of the first earlier alert that is
    the same story, else keeps its own."""

    window: timedelta = DEFAULT_WINDOW
    threshold: float = DEFAULT_THRESHOLD
    threshold_without_countries: float = THRESHOLD_WITHOUT_COUNTRIES
    max_stories: int = 20_000  # a flood of alerts must not make each link cost more
    _recent: deque[StoryFacts] = field(default_factory=deque)
    _links: dict[str, str] = field(default_factory=dict)  # story id → the story it joined

    def link(self, alert: Alert) -> str:
        """The story id `alert` belongs to (its own, or an earlier alert's)."""
        if alert.story_id in self._links:
            return self._links[alert.story_id]
        facts = StoryFacts.of(alert)
        self._forget(facts.arrived)
        for earlier in self._recent:
            if earlier.story_id != facts.story_id and same_story(
                earlier, facts, self.threshold, self.threshold_without_countries, self.window
            ):
                root = self._links.get(earlier.story_id, earlier.story_id)
                self._links[facts.story_id] = root
                while len(self._links) > 5 * self.max_stories:  # forget the oldest links
                    del self._links[next(iter(self._links))]
                return root
        self._recent.append(facts)
        if len(self._recent) > self.max_stories:
            self._recent.popleft()
        return facts.story_id

    def restore(self, facts: StoryFacts, root: str) -> None:
        """Put back a story remembered before a restart (oldest first)."""
        if root != facts.story_id:
            self._links[facts.story_id] = root
        else:
            self._recent.append(facts)

    def _forget(self, now: datetime | None) -> None:
        while (
            now is not None
            and self._recent
            and self._recent[0].arrived is not None
            and now - self._recent[0].arrived > self.window
        ):
            self._recent.popleft()
