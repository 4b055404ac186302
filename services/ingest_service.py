"""The ingest process: poll every feed, publish unseen articles to `{prefix}.articles`."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import aiohttp
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry, Counter, Gauge

from ingest.errors import FeedParseError, FetchError
from ingest.fetch import fetch_feed
from ingest.model import Article
from ingest.parse import parse_feed
from ingest.schedule import next_delay
from ingest.state import IngestState
from services.config import FeedConfig, LoadedConfig
from services.kafka import KafkaLink

log = logging.getLogger("mediawatch.ingest")

USER_AGENT = "mediawatch/0.1 (+https://github.com/mediawatch/mediawatch)"
#: Consecutive failures after which a feed is reported unhealthy (it keeps being polled).
UNHEALTHY_STREAK = 5


@dataclass
class IngestMetrics:
    fetches: Counter
    fetch_errors: Counter
    parse_errors: Counter
    published: Counter
    unhealthy: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "IngestMetrics":
        return cls(
            fetches=Counter(
                "mediawatch_ingest_fetches",
                "Feed fetches by outcome.",
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
        )


class IngestService:
    def __init__(self, loaded: LoadedConfig, link: KafkaLink, registry: CollectorRegistry) -> None:
        self._loaded = loaded
        self._link = link
        self._metrics = IngestMetrics.create(registry)
        self._unhealthy: set[str] = set()
        self.ready = False

    async def run(self, stop: asyncio.Event) -> None:
        feeds = self._loaded.config.feeds
        if not feeds:
            log.warning("no feeds configured: nothing to ingest")
        state = IngestState(self._loaded.storage_dir / "ingest.sqlite")
        producer = self._link.producer()
        await producer.start()
        session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        try:
            self.ready = True
            pollers = [
                asyncio.create_task(
                    self._poll_forever(feed, state, producer, session, stop),
                    name=f"poll {feed.url}",
                )
                for feed in feeds
            ]
            await stop.wait()
            for task in pollers:  # safe: articles are marked seen only once Kafka has them
                task.cancel()
            await asyncio.gather(*pollers, return_exceptions=True)
        finally:
            self.ready = False
            await session.close()
            await producer.stop()  # flushes what is in flight
            state.close()

    async def _poll_forever(
        self,
        feed: FeedConfig,
        state: IngestState,
        producer: AIOKafkaProducer,
        session: aiohttp.ClientSession,
        stop: asyncio.Event,
    ) -> None:
        while not stop.is_set():
            streak = await self.poll_once(feed, state, producer, session)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), next_delay(feed.interval, streak))

    async def poll_once(
        self,
        feed: FeedConfig,
        state: IngestState,
        producer: AIOKafkaProducer,
        session: aiohttp.ClientSession,
    ) -> int:
        """Fetch, parse and publish one feed; returns its error streak afterwards."""
        context = {"feed_url": feed.url}
        try:
            result = await fetch_feed(session, feed.url, state.validators(feed.url))
            if result.body is None:
                self._metrics.fetches.labels("not_modified").inc()
                state.record_success(feed.url, result.validators)
                return self._healthy(feed.url)
            articles = await asyncio.to_thread(
                parse_feed,
                result.body,
                feed_url=feed.url,
                source=feed.display_name,
                lang=feed.lang,
                content_type=result.content_type,
            )
        except FetchError as exc:
            self._metrics.fetches.labels("error").inc()
            self._metrics.fetch_errors.inc()
            return self._failed(feed.url, state, str(exc), context)
        except FeedParseError as exc:
            self._metrics.fetches.labels("parse_error").inc()
            self._metrics.parse_errors.inc()
            return self._failed(feed.url, state, str(exc), context)
        self._metrics.fetches.labels("ok").inc()
        published = await self.publish(articles, feed.url, state, producer)
        state.record_success(feed.url, result.validators)
        log.info(
            "polled feed", extra={**context, "articles": len(articles), "published": published}
        )
        return self._healthy(feed.url)

    async def publish(
        self, articles: list[Article], feed_url: str, state: IngestState, producer: AIOKafkaProducer
    ) -> int:
        """Send unseen articles, wait for Kafka's acks, then mark them seen."""
        unseen = state.unseen(a.id for a in articles)
        fresh = {a.id: a for a in articles if a.id in unseen}  # a feed may repeat an item
        topic = self._link.topics.articles
        pending = [
            await producer.send(topic, a.model_dump_json().encode(), key=a.id.encode())
            for a in fresh.values()
        ]
        await asyncio.gather(*pending)
        state.mark_seen(fresh, feed_url)
        self._metrics.published.inc(len(fresh))
        return len(fresh)

    def _failed(
        self, feed_url: str, state: IngestState, error: str, context: dict[str, str]
    ) -> int:
        streak = state.record_failure(feed_url, error)
        if streak >= UNHEALTHY_STREAK:
            self._unhealthy.add(feed_url)
            self._metrics.unhealthy.set(len(self._unhealthy))
        log.warning("feed poll failed (%d in a row): %s", streak, error, extra=context)
        return streak

    def _healthy(self, feed_url: str) -> int:
        self._unhealthy.discard(feed_url)
        self._metrics.unhealthy.set(len(self._unhealthy))
        return 0
