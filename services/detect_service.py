"""The detect process: match every article from `{prefix}.articles`, publish `{prefix}.alerts`."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer, ConsumerRecord
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from detect.matcher import build_matcher
from ingest.model import Article
from services.config import WatchlistFiles
from services.consume import ConsumeLoop, decode
from services.kafka import KafkaLink
from services.yamlfile import ConfigError

log = logging.getLogger("mediawatch.detect")

LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


@dataclass
class DetectMetrics:
    articles: Counter
    alerts: Counter
    latency: Histogram
    rules: Gauge
    reloads: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "DetectMetrics":
        return cls(
            rules=Gauge("mediawatch_detect_rules", "Rules loaded.", registry=registry),
            reloads=Counter(
                "mediawatch_detect_watchlist_reloads",
                "Watchlist reloads by result.",
                ["result"],
                registry=registry,
            ),
            articles=Counter(
                "mediawatch_detect_articles_processed",
                "Articles matched against the watchlists.",
                registry=registry,
            ),
            alerts=Counter(
                "mediawatch_detect_alerts",
                "Alerts produced, by event type.",
                ["event"],
                registry=registry,
            ),
            latency=Histogram(
                "mediawatch_detect_pipeline_latency_seconds",
                "Time from ingest to alert production.",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
        )


class DetectService:
    """Consumes articles, publishes alerts; swaps in a new matcher when watchlists change.

    The swap happens between two records (this is one asyncio task), so every article is
    matched exactly once, by the old rules or the new ones.
    """

    def __init__(
        self,
        watchlists: WatchlistFiles,
        link: KafkaLink,
        registry: CollectorRegistry,
        *,
        reload_interval_s: float = 5.0,
    ) -> None:
        self._watchlists = watchlists
        self._fingerprint = watchlists.fingerprint()
        self._matcher = build_matcher(watchlists.load())  # a bad watchlist stops startup
        self._link = link
        self._registry = registry
        self._reload_interval_s = reload_interval_s
        self._metrics = DetectMetrics.create(registry)
        self._metrics.rules.set(self._matcher.rule_count)
        self._pending: list[asyncio.Future[object]] = []
        self.ready = False

    async def _watch_watchlists(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._reload_interval_s)
            fingerprint = await asyncio.to_thread(self._watchlists.fingerprint)
            if fingerprint != self._fingerprint:
                self._fingerprint = fingerprint
                await self.reload()

    async def reload(self) -> None:
        """Load and compile the watchlists off the event loop; keep the old rules on error."""
        try:
            matcher = await asyncio.to_thread(lambda: build_matcher(self._watchlists.load()))
        except ConfigError as exc:
            self._metrics.reloads.labels("error").inc()
            log.error("watchlists not reloaded, keeping the previous rules:\n%s", exc)
            return
        self._matcher = matcher
        self._metrics.rules.set(matcher.rule_count)
        self._metrics.reloads.labels("ok").inc()
        log.info("watchlists reloaded", extra={"rules": matcher.rule_count})

    async def run(self, stop: asyncio.Event) -> None:
        topics = self._link.topics
        producer = self._link.producer()
        consumer = self._link.consumer(topics.articles, f"{self._link.config.topic_prefix}.detect")
        await producer.start()
        try:
            await consumer.start()
            try:
                loop = ConsumeLoop(
                    service="detect",
                    consumer=consumer,
                    producer=producer,
                    deadletter_topic=topics.deadletter,
                    registry=self._registry,
                )
                self.ready = True
                log.info("matching", extra={"rules": self._matcher.rule_count})
                watcher = asyncio.create_task(self._watch_watchlists(stop))
                try:
                    await loop.run(lambda record: self._handle(record, producer), self._flush, stop)
                finally:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
            finally:
                self.ready = False
                await consumer.stop()
        finally:
            await producer.stop()

    async def _handle(
        self, record: ConsumerRecord[bytes, bytes], producer: AIOKafkaProducer
    ) -> bool:
        article = decode(Article, record.value)
        now = datetime.now(UTC)
        alerts = self._matcher.match(article, now=now)
        for alert in alerts:
            self._pending.append(
                await producer.send(
                    self._link.topics.alerts,
                    alert.model_dump_json().encode(),
                    key=alert.story_id.encode(),
                )
            )
            self._metrics.alerts.labels(alert.event or "none").inc()
            log.info(
                "alert",
                extra={
                    "article_id": article.id,
                    "watchlist": alert.watchlist,
                    "rule": alert.rule,
                    "alert_id": alert.id,
                },
            )
        self._metrics.articles.inc()
        self._metrics.latency.observe(max(0.0, (now - article.ingested_at).total_seconds()))
        return True

    async def _flush(self) -> None:
        pending, self._pending = self._pending, []
        await asyncio.gather(*pending)
