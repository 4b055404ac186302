"""The detect process: match every article from `{prefix}.articles`, publish `{prefix}.alerts`."""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer, ConsumerRecord
from prometheus_client import CollectorRegistry, Counter, Histogram

from detect.matcher import ArticleMatcher
from ingest.model import Article
from services.consume import ConsumeLoop, decode
from services.kafka import KafkaLink

log = logging.getLogger("mediawatch.detect")

LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


@dataclass
class DetectMetrics:
    articles: Counter
    alerts: Counter
    latency: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "DetectMetrics":
        return cls(
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
    def __init__(
        self, matcher: ArticleMatcher, link: KafkaLink, registry: CollectorRegistry
    ) -> None:
        self._matcher = matcher
        self._link = link
        self._registry = registry
        self._metrics = DetectMetrics.create(registry)
        self._pending: list[asyncio.Future[object]] = []
        self.ready = False

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
                await loop.run(lambda record: self._handle(record, producer), self._flush, stop)
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
