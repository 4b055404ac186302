"""The ingest process: poll this replica's feeds, publish unseen articles to `{prefix}.articles`.

Thin wiring around `ingest`: `FeedPoller.poll_once` is fetch → (skip if the body is byte-identical)
→ parse → publish → mark seen; `run_pool` is one dispatcher over a `FeedHeap` of due times feeding
a bounded pool of workers, with per-host concurrency and politeness, so 10,000 feeds cost 10,000
heap entries rather than 10,000 tasks. Every decision (when next, which shard) is `ingest.schedule`.
"""

import asyncio
import contextlib
import hashlib
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ingest.errors import FeedParseError, FetchError, HTTPStatusError
from ingest.fetch import FetchLimits, Validators, connector, fetch_feed
from ingest.fulltext import extract_text
from ingest.language import LanguageGuesser, with_languages
from ingest.model import Article
from ingest.parse import parse_document
from ingest.schedule import FeedActivity, FeedHeap, HostPacer, Shard, next_delay
from ingest.state import UNHEALTHY_STREAK, IngestState
from ingest.stories import StoryEntry, StoryIndex
from services.config import FeedConfig, IngestConfig, LoadedConfig
from services.kafka import KafkaLink

log = logging.getLogger("mediawatch.ingest")

USER_AGENT = "mediawatch/0.1 (+https://github.com/mediawatch/mediawatch)"

#: Sends articles and returns once the broker acknowledged them all.
Publish = Callable[[list[Article]], Awaitable[None]]


@dataclass
class IngestMetrics:
    fetches: Counter
    fetch_errors: Counter
    parse_errors: Counter
    published: Counter
    unhealthy: Gauge
    feeds: Gauge
    poll_lag: Histogram
    fulltext_failures: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "IngestMetrics":
        return cls(
            fetches=Counter(
                "mediawatch_ingest_fetches",
                "Feed fetches by outcome (ok, not_modified, unchanged, error, parse_error).",
                ["result"],
                registry=registry,
            ),
            fetch_errors=Counter(
                "mediawatch_ingest_fetch_errors", "Feed fetches that failed.", registry=registry
            ),
            parse_errors=Counter(
                "mediawatch_ingest_parse_errors",
                "Feed bodies that did not parse.",
                registry=registry,
            ),
            published=Counter(
                "mediawatch_ingest_articles_published",
                "New articles acknowledged by Kafka.",
                registry=registry,
            ),
            unhealthy=Gauge(
                "mediawatch_ingest_feeds_unhealthy",
                f"Feeds failing {UNHEALTHY_STREAK} or more polls in a row.",
                registry=registry,
            ),
            feeds=Gauge(
                "mediawatch_ingest_feeds",
                "Feeds this replica polls (its shard).",
                registry=registry,
            ),
            poll_lag=Histogram(
                "mediawatch_ingest_poll_lag_seconds",
                "How late a poll started after its feed fell due (saturation shows here).",
                buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900),
                registry=registry,
            ),
            fulltext_failures=Counter(
                "mediawatch_ingest_fulltext_failures",
                "Article pages that could not be fetched for their full text.",
                registry=registry,
            ),
        )


@dataclass(frozen=True)
class PollOutcome:
    """What one poll did, as the scheduler needs it."""

    error_streak: int
    published: int = 0
    retry_after_s: float | None = None
    max_age_s: float | None = None
    ttl_s: float | None = None


class FeedPoller:
    """Polls one feed at a time against shared state, session and publisher."""

    def __init__(
        self,
        state: IngestState,
        session: aiohttp.ClientSession,
        publish: Publish,
        metrics: IngestMetrics,
        limits: FetchLimits | None = None,
        stories: StoryIndex | None = None,
        guesser: LanguageGuesser | None = None,
    ) -> None:
        self.state = state
        self._stories = stories
        self._guesser = guesser
        self._session = session
        self._publish = publish
        self._metrics = metrics
        self._limits = limits or FetchLimits()
        self._unhealthy: set[str] = set()

    def track_unhealthy(self, feeds: Sequence[FeedConfig]) -> None:
        """Start the unhealthy gauge from the stored state (a restart must not reset it)."""
        statuses, now = self.state.statuses(), time.time()
        self._unhealthy = {
            f.url for f in feeds if f.url in statuses and statuses[f.url].health(now) == "unhealthy"
        }
        self._metrics.unhealthy.set(len(self._unhealthy))

    async def poll_once(self, feed: FeedConfig) -> PollOutcome:
        """Fetch, parse and publish one feed; never raises for a broken feed."""
        context = {"feed_url": feed.url}
        state = self.state
        try:
            result = await fetch_feed(
                self._session, feed.url, state.validators(feed.url), limits=self._limits
            )
            if result.body is None:
                self._metrics.fetches.labels("not_modified").inc()
                state.record_success(feed.url, result.validators)
                return self._healthy(feed.url, PollOutcome(0, max_age_s=result.max_age_s))
            digest = hashlib.sha256(result.body).hexdigest()
            if digest == state.body_hash(feed.url):  # no validators, same bytes: skip the parse
                self._metrics.fetches.labels("unchanged").inc()
                state.record_success(feed.url, result.validators, digest)
                return self._healthy(feed.url, PollOutcome(0, max_age_s=result.max_age_s))
            parsed = await asyncio.to_thread(
                parse_document,
                result.body,
                feed_url=feed.url,
                source=feed.display_name,
                lang=feed.lang,
                content_type=result.content_type,
            )
        except HTTPStatusError as exc:
            self._metrics.fetches.labels("error").inc()
            self._metrics.fetch_errors.inc()
            streak = self._failed(feed.url, str(exc), context)
            return PollOutcome(streak, retry_after_s=exc.retry_after_s)
        except FetchError as exc:
            self._metrics.fetches.labels("error").inc()
            self._metrics.fetch_errors.inc()
            return PollOutcome(self._failed(feed.url, str(exc), context))
        except FeedParseError as exc:
            self._metrics.fetches.labels("parse_error").inc()
            self._metrics.parse_errors.inc()
            return PollOutcome(self._failed(feed.url, str(exc), context))
        self._metrics.fetches.labels("ok").inc()
        published = await self.publish(parsed.articles, feed.url, full_text=feed.full_text)
        state.record_success(feed.url, result.validators, digest)
        log.info(
            "polled feed",
            extra={**context, "articles": len(parsed.articles), "published": published},
        )
        outcome = PollOutcome(0, published, max_age_s=result.max_age_s, ttl_s=parsed.ttl_s)
        return self._healthy(feed.url, outcome)

    async def publish(
        self, articles: list[Article], feed_url: str, *, full_text: bool = False
    ) -> int:
        """Send unseen articles, wait for the acks, then mark them seen."""
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
        if fresh:
            await self._publish(list(fresh.values()))
        self.state.mark_seen(fresh, feed_url)
        self.state.save_stories(entries)
        self._metrics.published.inc(len(fresh))
        return len(fresh)

    async def _with_full_text(self, article: Article) -> Article:
        """The article with its page's main text, when that is longer than the feed's; on any
        failure the feed's text stays (counted and logged, never a lost article)."""
        if not article.url.startswith(("http://", "https://")):
            return article
        try:
            page = await fetch_feed(self._session, article.url, Validators(), limits=self._limits)
            text = await asyncio.to_thread(extract_text, page.body or b"", article.url)
        except FetchError as exc:
            self._metrics.fulltext_failures.inc()
            log.warning("full text not fetched: %s", exc, extra={"article_id": article.id})
            return article
        if text is None or len(text) <= len(article.text):
            return article
        return article.model_copy(update={"text": text})

    def _failed(self, feed_url: str, error: str, context: dict[str, str]) -> int:
        streak = self.state.record_failure(feed_url, error)
        status = self.state.statuses_of([feed_url]).get(feed_url)
        if streak >= UNHEALTHY_STREAK or (status and status.health(time.time()) == "unhealthy"):
            self._unhealthy.add(feed_url)
            self._metrics.unhealthy.set(len(self._unhealthy))
        log.warning("feed poll failed (%d in a row): %s", streak, error, extra=context)
        return streak

    def _healthy(self, feed_url: str, outcome: PollOutcome) -> PollOutcome:
        self._unhealthy.discard(feed_url)
        self._metrics.unhealthy.set(len(self._unhealthy))
        return outcome


def activity_of(state: IngestState, feed_url: str, outcome: PollOutcome) -> FeedActivity:
    day, week, observed = state.activity(feed_url)
    return FeedActivity(
        error_streak=outcome.error_streak,
        retry_after_s=outcome.retry_after_s,
        max_age_s=outcome.max_age_s,
        ttl_s=outcome.ttl_s,
        new_last_day=day,
        new_last_week=week,
        observed_s=observed,
    )


async def run_pool(
    feeds: Sequence[FeedConfig],
    poller: FeedPoller,
    settings: IngestConfig,
    stop: asyncio.Event,
    *,
    metrics: IngestMetrics,
    on_polled: Callable[[FeedConfig, PollOutcome], None] | None = None,
    rng: random.Random | None = None,
    start_now: bool = False,
) -> None:
    """Poll `feeds` until `stop` is set: a heap of due times, `settings.concurrency` workers.

    A feed whose host is busy (per-host limit) or not yet polite to hit again goes back on the
    heap for the host's next free slot rather than holding a worker. A feed is never dropped: an
    unexpected error is logged with its traceback and the feed rescheduled. `start_now` polls
    every feed at once instead of resuming the stored schedule (benchmarks).
    """
    loop = asyncio.get_running_loop()
    rng = rng or random.Random()
    policy = settings.policy()
    by_url = {feed.url: feed for feed in feeds}
    heap = FeedHeap()
    now_mono, now_wall = loop.time(), time.time()
    stored = {} if start_now else poller.state.next_due()
    for feed in feeds:  # a restart keeps the schedule (but never waits beyond the max interval)
        wait = min(max(0.0, stored.get(feed.url, now_wall) - now_wall), policy.max_interval_s)
        heap.schedule(feed.url, now_mono + wait)
    queue: asyncio.Queue[tuple[str, float]] = asyncio.Queue(maxsize=settings.concurrency)
    wake = asyncio.Event()
    pacer = HostPacer(settings.per_host_delay)
    busy: dict[str, int] = {}

    reserved: dict[str, float] = {}  # feeds holding a booked slot on their host

    def requeue(url: str, delay: float) -> None:
        heap.schedule(url, loop.time() + delay)
        wake.set()

    def reschedule(url: str, delay: float) -> None:
        requeue(url, delay)
        poller.state.set_next_due(url, time.time() + delay)

    async def dispatch() -> None:
        while not stop.is_set():
            due = heap.next_due()
            now = loop.time()
            if due is None or due > now:
                wake.clear()
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
                timeout = None if due is None else due - now
                try:
                    await asyncio.wait(waiters, timeout=timeout, return_when="FIRST_COMPLETED")
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                continue
            for url in heap.pop_due(now, limit=settings.concurrency):
                await queue.put((url, now))  # blocks while every worker is busy: backpressure

    async def handle(url: str, due: float) -> None:
        feed = by_url[url]
        host = urlsplit(url).hostname or url
        now = loop.time()
        if busy.get(host, 0) >= settings.per_host_concurrency:
            requeue(url, settings.per_host_delay)  # host at its limit: try again shortly
            return
        if reserved.pop(url, None) is None:
            start = pacer.reserve(host, now)
            if start > now:  # too soon after the last request there: come back on our slot
                reserved[url] = start
                requeue(url, start - now)
                return
        metrics.poll_lag.observe(max(0.0, now - due))
        busy[host] = busy.get(host, 0) + 1
        try:
            outcome = await poller.poll_once(feed)
        finally:
            busy[host] -= 1
        activity = activity_of(poller.state, url, outcome)
        reschedule(url, next_delay(feed.interval, activity, policy, rng=rng))
        if on_polled is not None:
            on_polled(feed, outcome)

    async def work() -> None:
        while True:
            url, due = await queue.get()
            try:
                await handle(url, due)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop boundary: log, count, keep feed and worker
                log.exception("unexpected error polling feed", extra={"feed_url": url})
                metrics.fetches.labels("error").inc()
                requeue(url, policy.max_backoff_s)
                with contextlib.suppress(sqlite3.Error):  # shown by `feeds status` if it can be
                    poller.state.record_failure(url, f"internal error: {type(exc).__name__}")

    workers = [asyncio.create_task(work()) for _ in range(settings.concurrency)]
    try:
        await dispatch()
    finally:
        for task in workers:  # safe: articles are marked seen only once Kafka has them
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


def client_session(settings: IngestConfig) -> aiohttp.ClientSession:
    """The one session every fetch shares: pooled connections, per-host cap, cached DNS, and
    no private addresses unless `ingest.allow_private_networks`."""
    pool = connector(
        allow_private_networks=settings.allow_private_networks,
        limit=settings.concurrency,
        limit_per_host=settings.per_host_concurrency,
    )
    return aiohttp.ClientSession(connector=pool, headers={"User-Agent": USER_AGENT})


def story_index(settings: IngestConfig, state: IngestState) -> StoryIndex | None:
    """The story index (`ingest.stories`), restored from the state within its window."""
    if not settings.stories:
        return None
    window = timedelta(seconds=settings.story_window)
    index = StoryIndex(threshold=settings.story_threshold, window=window)
    index.load(state.load_stories(datetime.now(UTC) - window))
    return index


class IngestService:
    def __init__(self, loaded: LoadedConfig, link: KafkaLink, registry: CollectorRegistry) -> None:
        self._loaded = loaded
        self._link = link
        self._metrics = IngestMetrics.create(registry)
        self.ready = False

    def my_feeds(self) -> list[FeedConfig]:
        """This replica's share of the configured feeds (`ingest.shard`)."""
        shard = Shard.parse(self._loaded.config.ingest.shard)
        return [feed for feed in self._loaded.config.feeds if shard.owns(feed.url)]

    async def run(self, stop: asyncio.Event) -> None:
        settings = self._loaded.config.ingest
        feeds = self.my_feeds()
        if not feeds:
            log.warning("no feeds for this replica (ingest.shard %s)", settings.shard)
        self._metrics.feeds.set(len(feeds))
        state = IngestState(self._loaded.storage_dir / "ingest.sqlite")
        producer = self._link.producer()
        await producer.start()
        topic = self._link.topics.articles

        async def publish(articles: list[Article]) -> None:
            pending = [
                await producer.send(topic, a.model_dump_json().encode(), key=a.id.encode())
                for a in articles
            ]
            await asyncio.gather(*pending)

        session = client_session(settings)
        try:
            poller = FeedPoller(
                state,
                session,
                publish,
                self._metrics,
                settings.limits(),
                story_index(settings, state),
            )
            poller.track_unhealthy(feeds)
            self.ready = True
            await run_pool(feeds, poller, settings, stop, metrics=self._metrics)
        finally:
            self.ready = False
            await session.close()
            await producer.stop()  # flushes what is in flight
            state.close()
