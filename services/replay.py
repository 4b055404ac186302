"""`mediawatch replay FILE.jsonl`: the detect → story → escalation path, offline, at full speed.

Articles (JSON lines with `published_at`) are read in publication order and go through what
the services would do to them, without Kafka, Telegram or a clock: ingest's story grouping
(same-language copies) after guessing the language of an article that has none, the
detector (the configured watchlists), and notify's story desk (one story across languages,
counts per event and country, the escalation test) on an in-memory database. Every alert and
escalation is printed as one JSON line with the time it would have been sent, so a watchlist,
a threshold or the escalation settings can be back-tested on history; with `charts`, each
escalation's chart is written as the Telegram subscribers would get it.
"""

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detect.matcher import ArticleMatcher
from detect.model import Alert
from ingest.model import Article
from ingest.stories import StoryIndex
from notify.desk import StoryDesk


def _memory_desk() -> StoryDesk:
    return StoryDesk.open(sqlite3.connect(":memory:"), datetime(2000, 1, 1, tzinfo=UTC))


@dataclass
class Replay:
    """The pipeline's logic in one process; `feed` takes one article, yields what is sent."""

    matcher: ArticleMatcher
    charts: Path | None = None  # where to write each escalation's PNG
    stories: StoryIndex = field(default_factory=StoryIndex)
    desk: StoryDesk = field(default_factory=_memory_desk)
    notices: list[Alert] = field(default_factory=list)  # the escalation notices, as sent
    _guesser: Any = None

    def feed(self, article: Article) -> Iterator[dict[str, Any]]:
        at = article.published_at or article.ingested_at
        if article.lang is None:  # as ingest does for a feed that declares none
            if self._guesser is None:
                from ingest.language import LanguageGuesser

                self._guesser = LanguageGuesser()
            lang = self._guesser.guess(article.title, article.text)
            article = article.model_copy(update={"lang": lang}) if lang else article
        story_id, _ = self.stories.assign(article, at)
        article = article.model_copy(update={"story_id": story_id})
        for alert in self.matcher.match(article, now=at):
            linked, notices = self.desk.admit(alert)
            yield {"at": at.isoformat(), "kind": "alert", **_alert_line(linked)}
            for notice in notices:
                yield {"at": at.isoformat(), "kind": "escalation", **self._escalation(notice)}

    def _escalation(self, notice: Alert) -> dict[str, Any]:
        self.notices.append(notice)
        e = notice.escalation
        assert e is not None
        line: dict[str, Any] = {
            "event": notice.event,
            "country": e.country,
            "day": e.day.isoformat(),
            "stories": e.stories,
            "baseline_per_day": e.baseline_per_day,
            "p_value": float(f"{e.p_value:.2g}"),
            "history": [p.stories for p in e.history],
        }
        if self.charts is not None:
            from notify.charts import escalation_png

            self.charts.mkdir(parents=True, exist_ok=True)
            path = self.charts / f"{notice.event}-{e.country}-{e.day.isoformat()}.png"
            path.write_bytes(escalation_png(notice))
            line["chart"] = str(path)
        return line


def _alert_line(alert: Alert) -> dict[str, Any]:
    return {
        "story": alert.story_id,
        "event": alert.event,
        "rule": f"{alert.watchlist}/{alert.rule}",
        "confidence": alert.confidence,
        "title": alert.article.title,
        "lang": alert.article.lang,
        "actors": [f"{a.id}:{a.role}" for a in alert.actors],
        "evidence": alert.evidence.text if alert.evidence else None,
    }


def read_articles(lines: Iterable[str]) -> list[Article]:
    """Articles from JSON lines, in publication order; `published_at` is required."""
    articles = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        data = json.loads(line)
        data.setdefault("ingested_at", data.get("published_at"))
        data.setdefault("source", "replay")
        data.setdefault("url", f"https://replay.invalid/{number}")
        data.setdefault("id", f"replay-{number}")
        article = Article.model_validate(data)
        if article.published_at is None:
            raise ValueError(f"line {number}: published_at is required to replay an article")
        articles.append(article)
    return sorted(articles, key=lambda a: a.published_at or datetime.min.replace(tzinfo=UTC))


def replay(
    matcher: ArticleMatcher, articles: Sequence[Article], charts: Path | None = None
) -> Iterator[dict[str, Any]]:
    pipeline = Replay(matcher, charts)
    for article in articles:
        yield from pipeline.feed(article)
