"""`mediawatch replay FILE.jsonl`: the detect → story → escalation path, offline, at full speed.

Articles (JSON lines with `published_at`) are read in publication order and go through what
the services would do to them, without Kafka, Telegram or a clock: ingest's story grouping
(same-language copies) after guessing the language of an article that has none, the
detector (the configured watchlists), notify's cross-language
story linking and its escalation test. Every alert and escalation is printed as one JSON line
with the time it would have been sent, so a watchlist, a threshold or the escalation settings
can be back-tested on history.
"""

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from detect.matcher import ArticleMatcher
from detect.model import Alert
from ingest.model import Article
from ingest.stories import StoryIndex
from notify.escalation import Escalation, TrendBook
from notify.linking import StoryIndex as LinkIndex

#: Roles that make an alert count for a country's trend (a country merely mentioned does not).
COUNTED_ROLES = ("actor", "target")


@dataclass
class Replay:
    """The pipeline's logic in one process; `feed` takes one article, yields what is sent."""

    matcher: ArticleMatcher
    stories: StoryIndex = field(default_factory=StoryIndex)
    links: LinkIndex = field(default_factory=LinkIndex)
    trends: TrendBook = field(default_factory=TrendBook)
    _escalated: set[tuple[str, str, Any]] = field(default_factory=set)
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
            story = self.links.link(alert)
            yield {"at": at.isoformat(), "kind": "alert", "story": story, **_alert_line(alert)}
            countries = {a.id for a in alert.actors if a.role in COUNTED_ROLES}
            if alert.event is None:
                continue
            for country in self.trends.add(alert.event, countries, story, at):
                escalation = self.trends.escalation(alert.event, country, at.date())
                key = (alert.event, country, at.date())
                if escalation is not None and key not in self._escalated:
                    self._escalated.add(key)
                    yield {
                        "at": at.isoformat(),
                        "kind": "escalation",
                        **escalation_line(escalation),
                    }


def _alert_line(alert: Alert) -> dict[str, Any]:
    return {
        "event": alert.event,
        "rule": f"{alert.watchlist}/{alert.rule}",
        "confidence": alert.confidence,
        "title": alert.article.title,
        "lang": alert.article.lang,
        "actors": [f"{a.id}:{a.role}" for a in alert.actors],
        "evidence": alert.evidence.text if alert.evidence else None,
    }


def escalation_line(e: Escalation) -> dict[str, Any]:
    return {
        "event": e.event,
        "country": e.country,
        "day": e.day.isoformat(),
        "stories": e.count,
        "baseline_per_day": e.baseline,
        "p_value": float(f"{e.p_value:.2g}"),
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


def replay(matcher: ArticleMatcher, articles: Sequence[Article]) -> Iterator[dict[str, Any]]:
    pipeline = Replay(matcher)
    for article in articles:
        yield from pipeline.feed(article)
