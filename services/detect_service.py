"""The detect process: match every article from `{prefix}.articles`, publish `{prefix}.alerts`.

A composition root: the matcher is `detect`, the reload is `services.reload`, the loop is
`services.consume`. Its jobs (consuming, watching the watchlists, probing the broker) run as
one group.
"""

import asyncio
import logging
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer, ConsumerRecord
from prometheus_client import CollectorRegistry

from ingest.model import Article
from services.config import WatchlistFiles
from services.consume import Assignment, ConsumeLoop, consumer_probe, decode
from services.kafka import KafkaLink
from services.lifecycle import Jobs, started
from services.metrics import ConsumeMetrics, DetectMetrics, KafkaMetrics
from services.offsets import BrokerProbe, OffsetReader
from services.reload import WatchlistReloader

log = logging.getLogger("mediawatch.detect")


class DetectService:
    """Consumes articles, publishes alerts; swaps in new rules when the watchlists change.

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
        loaded = watchlists.load()  # a bad watchlist stops the start-up
        events = {rule.event_type for w in loaded for rule in w.rules if rule.event_type}
        self._metrics = DetectMetrics.create(registry, events)
        self._reloader = WatchlistReloader(
            watchlists, loaded, self._metrics, interval_s=reload_interval_s
        )
        self._link = link
        self._consume = ConsumeMetrics.create(registry, "detect")
        self._kafka = KafkaMetrics.create(registry, [link.groups.detect])
        self._pending: list[asyncio.Future[object]] = []
        self._assignment = Assignment()
        self._jobs: Jobs | None = None
        self._probe: BrokerProbe | None = None

    def problems(self) -> list[str]:
        """Why the service cannot do its job now (empty: it can)."""
        if self._jobs is None or self._probe is None:
            return ["starting"]
        return self._jobs.problems() + self._probe.problems() + self._assignment.problems()

    async def run(self, stop: asyncio.Event) -> None:
        topics, group = self._link.topics, self._link.groups.detect
        try:
            async with (
                started(self._link.producer()) as producer,
                started(self._link.consumer(topics.articles, group, self._assignment)) as consumer,
                started(OffsetReader(self._link.bootstrap)) as reader,
            ):
                loop = ConsumeLoop(
                    service="detect",
                    consumer=consumer,
                    producer=producer,
                    deadletter_topic=topics.deadletter,
                    metrics=self._consume,
                    kafka=self._kafka,
                )

                probe = self._probe = consumer_probe(
                    loop, self._link, reader, self._kafka, topics.articles, group
                )
                log.info("matching", extra={"rules": self._reloader.matcher.rule_count})
                self._jobs = Jobs(stop)
                await self._jobs.run(
                    {
                        "consume articles": lambda: loop.run(
                            lambda record: self._handle(record, producer), self._flush, stop
                        ),
                        "reload watchlists": lambda: self._reloader.run(stop),
                        "probe broker": lambda: probe.run(stop),
                    }
                )
        finally:
            self._jobs = None

    async def _handle(
        self, record: ConsumerRecord[bytes, bytes], producer: AIOKafkaProducer
    ) -> bool:
        article = decode(Article, record.value)
        now = datetime.now(UTC)
        alerts = self._reloader.matcher.match(article, now=now)
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
