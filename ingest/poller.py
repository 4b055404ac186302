"""Poll one feed: fetch → (skip an identical body) → parse → publish what is new → mark seen.

`FeedPoller.poll_once` is the one entry point. It never raises for anything a feed or the broker
does: every outcome is a `PollOutcome`, which the pool (`ingest.pool`) turns into the feed's
next due time, so no feed stops for good. What it needs from outside comes in: `Publish` sends
articles and returns where the broker put them (Kafka, wired in `services`), `PollEvents` counts
what happened (metrics, wired in `services`).

Before publishing, new articles get a language guess (when the feed gives none), their story id,
and are cut to `max_article_bytes` (`ingest.trim`): an oversized item is published shortened
rather than refused by the broker at every poll.
"""

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from ingest.errors import FeedParseError, FetchError, HTTPStatusError, PublishError
from ingest.fetch import FetchLimits, Validators, fetch_feed
from ingest.fulltext import extract_text
from ingest.journal import Position
from ingest.language import LanguageGuesser, with_languages
from ingest.model import Article
from ingest.parse import parse_document
from ingest.state import IngestState
from ingest.stories import StoryEntry, StoryIndex
from ingest.trim import fit

log = logging.getLogger("mediawatch.ingest")

#: Sends articles and returns, in order, where the broker put each one once it acknowledged
#: them all; raises `PublishError` otherwise.
Publish = Callable[[Sequence[Article]], Awaitable[list[Position]]]

#: A feed whose articles the broker would not take (after the publisher's own retries) is
#: polled again this soon, whatever its schedule.
PUBLISH_RETRY_S = 30.0
#: Largest article JSON published by default: well under the 1 MiB a Kafka broker and client
#: accept by default, with room for the record's envelope.
DEFAULT_MAX_ARTICLE_BYTES = 256 * 1024


class Feed(Protocol):
    """What polling needs to know about a configured feed (`FeedConfig` is one)."""

    @property
    def url(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def lang(self) -> str | None: ...
    @property
    def interval(self) -> float | None: ...
    @property
    def full_text(self) -> bool: ...


@dataclass(frozen=True)
class PollOutcome:
    """What one poll did, as the scheduler needs it."""

    error_streak: int
    published: int = 0
    retry_after_s: float | None = None
    max_age_s: float | None = None
    ttl_s: float | None = None
    #: Poll again this soon, whatever the schedule says (the articles were not published).
    retry_in_s: float | None = None


def _ignore(*_: object) -> None:
    """No-op event hook."""


@dataclass
class PollEvents:
    """Hooks the service layer counts with (metrics stay out of the domain)."""

    #: A fetch ended: ok, not_modified, unchanged, error, parse_error.
    fetched: Callable[[str], None] = _ignore
    published: Callable[[int], None] = _ignore
    #: An article was cut to fit the maximum size.
    truncated: Callable[[], None] = _ignore
    fulltext_failed: Callable[[], None] = _ignore


FETCH_RESULTS = ("ok", "not_modified", "unchanged", "error", "parse_error")


class FeedPoller:
    """Polls one feed at a time against shared state, session and publisher."""

    def __init__(
        self,
        state: IngestState,
        session: aiohttp.ClientSession,
        publish: Publish,
        *,
        events: PollEvents | None = None,
        limits: FetchLimits | None = None,
        stories: StoryIndex | None = None,
        guesser: LanguageGuesser | None = None,
        max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES,
        journal: bool = False,
    ) -> None:
        self.state = state
        self._session = session
        self._publish = publish
        self.events = events or PollEvents()
        self._limits = limits or FetchLimits()
        self._stories = stories
        self._guesser = guesser
        self._max_article_bytes = max_article_bytes
        self._journal = journal

    async def poll_once(self, feed: Feed) -> PollOutcome:
        """Fetch, parse and publish one feed; never raises for a broken feed or broker."""
        context = {"feed_url": feed.url}
        state = self.state
        try:
            result = await fetch_feed(
                self._session, feed.url, state.validators(feed.url), limits=self._limits
            )
            if result.body is None:
                self.events.fetched("not_modified")
                state.record_success(feed.url, result.validators)
                return PollOutcome(0, max_age_s=result.max_age_s)
            digest = hashlib.sha256(result.body).hexdigest()
            if digest == state.body_hash(feed.url):  # no validators, same bytes: skip the parse
                self.events.fetched("unchanged")
                state.record_success(feed.url, result.validators, digest)
                return PollOutcome(0, max_age_s=result.max_age_s)
            parsed = await asyncio.to_thread(
                parse_document,
                result.body,
                feed_url=feed.url,
                source=feed.display_name,
                lang=feed.lang,
                content_type=result.content_type,
            )
        except HTTPStatusError as exc:
            self.events.fetched("error")
            streak = self._failed(feed.url, str(exc), context)
            return PollOutcome(streak, retry_after_s=exc.retry_after_s)
        except FetchError as exc:
            self.events.fetched("error")
            return PollOutcome(self._failed(feed.url, str(exc), context))
        except FeedParseError as exc:
            self.events.fetched("parse_error")
            return PollOutcome(self._failed(feed.url, str(exc), context))
        self.events.fetched("ok")
        try:
            published = await self.publish(parsed.articles, feed.url, full_text=feed.full_text)
        except PublishError as exc:
            if not exc.retriable:  # the broker refuses for good: a failure of this feed
                return PollOutcome(self._failed(feed.url, f"not published: {exc}", context))
            log.warning("articles not published, polling again soon: %s", exc, extra=context)
            return PollOutcome(0, retry_in_s=PUBLISH_RETRY_S)
        # validators and body hash only now: had publishing failed, the next poll gets it all
        state.record_success(feed.url, result.validators, digest)
        log.info(
            "polled feed",
            extra={**context, "articles": len(parsed.articles), "published": published},
        )
        return PollOutcome(0, published, max_age_s=result.max_age_s, ttl_s=parsed.ttl_s)

    async def publish(
        self, articles: Sequence[Article], feed_url: str, *, full_text: bool = False
    ) -> int:
        """Send unseen articles, wait for the acks, then mark them seen (and journal them)."""
        unseen = self.state.unseen(a.id for a in articles)
        new = [a for a in articles if a.id in unseen]
        if full_text:
            new = [await self._with_full_text(a) for a in new]
        if self._guesser is not None:
            new = with_languages(new, self._guesser)
        fresh = {a.id: a for a in new}  # a feed may repeat an item
        entries: list[StoryEntry] = []
        if self._stories is not None:
            for article_id, article in fresh.items():
                story_id, entry = self._stories.assign(article, article.ingested_at)
                if story_id != article_id:  # a copy of an earlier article: share its story
                    fresh[article_id] = article.model_copy(update={"story_id": story_id})
                if entry is not None:
                    entries.append(entry)
        for article_id, article in fresh.items():
            fresh[article_id], cut = fit(article, self._max_article_bytes)
            if cut:
                self.events.truncated()
                log.warning(
                    "article cut to %d bytes to fit the broker",
                    self._max_article_bytes,
                    extra={"feed_url": feed_url, "article_id": article_id},
                )
        ready = list(fresh.values())
        positions = await self._publish(ready) if ready else []
        self.state.mark_published(
            zip(ready, positions, strict=True), feed_url, journal=self._journal
        )
        self.state.save_stories(entries)
        self.events.published(len(ready))
        return len(ready)

    async def _with_full_text(self, article: Article) -> Article:
        """The article with its page's main text, when that is longer than the feed's; on any
        failure the feed's text stays (counted and logged, never a lost article)."""
        if not article.url.startswith(("http://", "https://")):
            return article
        try:
            page = await fetch_feed(self._session, article.url, Validators(), limits=self._limits)
            text = await asyncio.to_thread(extract_text, page.body or b"", article.url)
        except FetchError as exc:
            self.events.fulltext_failed()
            log.warning("full text not fetched: %s", exc, extra={"article_id": article.id})
            return article
        if text is None or len(text) <= len(article.text):
            return article
        return article.with_text(text)

    def _failed(self, feed_url: str, error: str, context: dict[str, str]) -> int:
        streak = self.state.record_failure(feed_url, error)
        log.warning("feed poll failed (%d in a row): %s", streak, error, extra=context)
        return streak
