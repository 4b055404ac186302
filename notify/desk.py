"""The analyst's desk: one story across languages, trends, escalations, in SQLite.

Every alert notify receives passes here before it is routed:
- its story id becomes the id of the first earlier alert reporting the same event in any
  language (`notify.linking`), so that an Arabic and an English report edit one Telegram
  message ("also reported by … (en)");
- the story is counted per event type and country (actors and targets) and day
  (`notify.escalation`); when a day's count escalates, an escalation notice is made: an alert
  of rule `escalation` with the trend, which Telegram receives as a chart (`notify.charts`).
The facts the linker compares, the counts and the escalations already sent are kept in the
notify SQLite file, so that a restart keeps the stories and does not announce an escalation
twice.
"""

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from detect.model import ActorRef, Alert, EscalationInfo, TrendPoint
from notify.escalation import Escalation, TrendBook
from notify.linking import StoryFacts, StoryIndex

#: Roles that make an alert count for a country's trend (merely mentioned does not).
COUNTED_ROLES = ("actor", "target")
#: The trend of an event over every country, for `/trend <event>`.
ALL_COUNTRIES = "*"
CHART_DAYS = 15

_SCHEMA = """
CREATE TABLE IF NOT EXISTS story_facts (
    story_id  TEXT PRIMARY KEY,
    root      TEXT NOT NULL,
    event     TEXT,
    countries TEXT NOT NULL,
    vector    BLOB,
    published REAL,
    arrived   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trend_stories (
    event    TEXT NOT NULL,
    country  TEXT NOT NULL,
    day      TEXT NOT NULL,
    story_id TEXT NOT NULL,
    PRIMARY KEY (event, country, day, story_id)
);
CREATE TABLE IF NOT EXISTS escalations_sent (
    event   TEXT NOT NULL,
    country TEXT NOT NULL,
    day     TEXT NOT NULL,
    PRIMARY KEY (event, country, day)
);
"""


@dataclass
class StoryDesk:
    """Links, counts and escalates; see the module docstring."""

    db: sqlite3.Connection
    links: StoryIndex
    trends: TrendBook
    linking: bool = True  # False: each alert keeps ingest's story id (`notify.link_stories`)

    @classmethod
    def open(
        cls,
        db: sqlite3.Connection,
        now: datetime | None = None,
        links: StoryIndex | None = None,
        trends: TrendBook | None = None,
        linking: bool = True,
    ) -> "StoryDesk":
        db.executescript(_SCHEMA)
        desk = cls(db, links or StoryIndex(), trends or TrendBook(), linking)
        desk._load(now or datetime.now(UTC))
        return desk

    def admit(self, alert: Alert) -> tuple[Alert, list[Alert]]:
        """`alert` with its story id linked across languages, and the escalation notices it
        sets off (usually none)."""
        if alert.escalation is not None:
            return alert, []
        root = self.links.link(alert) if self.linking else alert.story_id
        at = alert.article.published_at or alert.ingested_at
        self._remember(alert, root, at)
        linked = alert if root == alert.story_id else alert.model_copy(update={"story_id": root})
        if alert.event is None:
            return linked, []
        countries = {a.id for a in alert.actors if a.role in COUNTED_ROLES}
        names = {a.id: a.name for a in alert.actors}
        grown = self.trends.add(alert.event, countries | {ALL_COUNTRIES}, root, at)
        self._count(alert.event, grown, root, at.date())
        notices = []
        for country in sorted(grown - {ALL_COUNTRIES}):
            escalation = self.trends.escalation(alert.event, country, at.date())
            if escalation is not None and self._first_time(escalation):
                notices.append(notice(linked, escalation, names.get(country, country)))
        return linked, notices

    def series(self, event: str, country: str | None, today: date) -> list[tuple[date, int]]:
        """Stories per day of `event` about `country` (all countries if None), last days."""
        return self.trends.series(event, country or ALL_COUNTRIES, today, CHART_DAYS)

    # -- persistence --------------------------------------------------------------------------

    def _load(self, now: datetime) -> None:
        since = (now - self.links.window).timestamp()
        rows = self.db.execute(
            "SELECT story_id, root, event, countries, vector, published, arrived"
            " FROM story_facts WHERE arrived >= ? ORDER BY arrived",
            (since,),
        )
        for story_id, root, event, countries, vector, published, arrived in rows.fetchall():
            facts = StoryFacts(
                story_id=story_id,
                event=event,
                countries=frozenset(json.loads(countries)),
                vector=np.frombuffer(vector, dtype=np.float32).copy() if vector else None,
                published=datetime.fromtimestamp(published, UTC),
                lang=None,
                arrived=datetime.fromtimestamp(arrived, UTC),
            )
            self.links.restore(facts, root)
        first = (now.date() - timedelta(days=self.trends.baseline_days + CHART_DAYS)).isoformat()
        for event, country, day, story_id in self.db.execute(
            "SELECT event, country, day, story_id FROM trend_stories WHERE day >= ?", (first,)
        ).fetchall():
            at = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
            self.trends.add(event, {country}, story_id, at)

    def _remember(self, alert: Alert, root: str, at: datetime) -> None:
        facts = StoryFacts.of(alert)
        vector = facts.vector.astype(np.float32).tobytes() if facts.vector is not None else None
        self.db.execute(
            "INSERT OR IGNORE INTO story_facts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (alert.story_id, root, alert.event, json.dumps(sorted(facts.countries)), vector,
             at.timestamp(), alert.ingested_at.timestamp()),
        )  # fmt: skip

    def _count(self, event: str, countries: set[str], story_id: str, day: date) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO trend_stories VALUES (?, ?, ?, ?)",
            [(event, country, day.isoformat(), story_id) for country in countries],
        )

    def _first_time(self, e: Escalation) -> bool:
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO escalations_sent VALUES (?, ?, ?)",
            (e.event, e.country, e.day.isoformat()),
        )
        return cursor.rowcount > 0

    def forget(self, now: datetime) -> None:
        """Drop what neither the linker nor the trends need any more (old rows)."""
        self.db.execute(
            "DELETE FROM story_facts WHERE arrived < ?",
            ((now - 2 * self.links.window).timestamp(),),
        )
        keep = now.date() - timedelta(days=self.trends.baseline_days + CHART_DAYS)
        self.db.execute("DELETE FROM trend_stories WHERE day < ?", (keep.isoformat(),))
        self.trends.forget_before(keep)


def notice(alert: Alert, e: Escalation, country_name: str) -> Alert:
    """The escalation notice set off by `alert`: routed like it (same watchlist), its own
    story, the trend inside."""
    key = f"{e.event}\x1f{e.country}\x1f{e.day.isoformat()}"
    ident = "esc-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return alert.model_copy(
        update={
            "id": ident,
            "rule": "escalation",
            "severity": "high",
            "story_id": ident,
            "matches": [],
            "evidence": None,
            "stages": [],
            "confidence": 1.0,
            "vector": None,
            "actors": [ActorRef(id=e.country, kind="country", name=country_name, role="target")],
            "escalation": EscalationInfo(
                country=e.country,
                country_name=country_name,
                day=e.day,
                stories=e.count,
                baseline_per_day=e.baseline,
                p_value=e.p_value,
                history=[TrendPoint(day=d, stories=c) for d, c in e.history],
            ),
        }
    )
