"""Kafka wiring: topic and group names, topic creation, producers and consumers, publishing.

Producers use acks=all without idempotence (the embedded broker has none); consumers never
auto-commit: services commit offsets only after their output is acknowledged. `ArticlePublisher`
is how ingest publishes: aiokafka's errors translated once (`publish_error`), retriable ones
retried with backoff, since a send that timed out may still have been written and consumers
deduplicate.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    TopicAlreadyExistsError,
)

from ingest.errors import PublishError
from ingest.journal import Position
from ingest.model import Article
from services.config import KafkaConfig
from services.metrics import KafkaMetrics

log = logging.getLogger("mediawatch.kafka")


@dataclass(frozen=True)
class Topics:
    """The three topic names for a prefix."""

    articles: str
    alerts: str
    deadletter: str

    @classmethod
    def for_prefix(cls, prefix: str) -> "Topics":
        return cls(f"{prefix}.articles", f"{prefix}.alerts", f"{prefix}.deadletter")

    def all(self) -> list[str]:
        return [self.articles, self.alerts, self.deadletter]


@dataclass(frozen=True)
class Groups:
    """The consumer groups of detect and notify for a prefix."""

    detect: str
    notify: str

    @classmethod
    def for_prefix(cls, prefix: str) -> "Groups":
        return cls(f"{prefix}.detect", f"{prefix}.notify")


@dataclass(frozen=True)
class KafkaLink:
    """Everything a service needs to reach Kafka: resolved bootstrap and our settings."""

    bootstrap: str
    config: KafkaConfig

    @property
    def topics(self) -> Topics:
        return Topics.for_prefix(self.config.topic_prefix)

    @property
    def groups(self) -> Groups:
        return Groups.for_prefix(self.config.topic_prefix)

    @property
    def session_timeout_ms(self) -> int:
        if self.config.session_timeout_ms is not None:
            return self.config.session_timeout_ms
        return 1000 if self.config.embedded else 10000

    def producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=False,
            linger_ms=5,
            request_timeout_ms=30000,
        )

    def consumer(
        self, topic: str, group_id: str, listener: ConsumerRebalanceListener
    ) -> AIOKafkaConsumer:
        """A member of `group_id` on `topic`; `listener` hears its assignments."""
        session = self.session_timeout_ms
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=session,
            heartbeat_interval_ms=max(100, session * 3 // 10),
            rebalance_timeout_ms=max(300, session * 3 // 10),
            max_poll_records=200,
        )
        consumer.subscribe([topic], listener=listener)
        return consumer


async def ensure_topics(link: KafkaLink, *, attempts: int = 30) -> None:
    """Create our topics if missing, retrying while the broker is still coming up."""
    wanted = link.topics.all()
    for attempt in range(1, attempts + 1):
        admin = AIOKafkaAdminClient(bootstrap_servers=link.bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [
                            NewTopic(t, link.config.partitions, link.config.replication_factor)
                            for t in missing
                        ]
                    )
                except TopicAlreadyExistsError:
                    pass  # another replica won the race
                log.info("created topics", extra={"topics": missing})
            return
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            if attempt == attempts:
                raise
            log.warning("kafka not reachable yet (%s), retrying", exc)
            await asyncio.sleep(min(0.2 * attempt, 2.0))
        finally:
            await admin.close()


#: aiokafka errors whose `retriable` flag is wrong for a producer: a client-side timeout (no
#: metadata, no ack in time) is what a broker outage looks like, and it passes.
_RETRIABLE_OVERRIDES: dict[type[KafkaError], bool] = {KafkaTimeoutError: True}


#: What a send can fail with short of a bug: the broker's answer, or the network's.
SendFailure: TypeAlias = KafkaError | OSError


def publish_error(exc: SendFailure) -> PublishError:
    """aiokafka's (and the network's) errors as ingest's `PublishError`, in one place."""
    retriable = True  # a network error: the broker may well answer the next time
    if isinstance(exc, KafkaError):
        retriable = _RETRIABLE_OVERRIDES.get(type(exc), bool(exc.retriable))
    return PublishError(f"{type(exc).__name__}: {exc}", retriable=retriable)


class ArticlePublisher:
    """Publishes articles to the articles topic, keyed by id, and returns their positions.

    What the broker did not acknowledge is sent again while the error is retriable, with a
    doubling pause (up to `max_pause_s`), until `give_up_s` has passed or `stop` is set; then a
    `PublishError` tells the poller to come back later. Nothing is marked seen until then.
    """

    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        metrics: KafkaMetrics,
        stop: asyncio.Event,
        *,
        give_up_s: float = 60.0,
        first_pause_s: float = 0.5,
        max_pause_s: float = 10.0,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._metrics = metrics
        self._stop = stop
        self._give_up_s = give_up_s
        self._first_pause_s = first_pause_s
        self._max_pause_s = max_pause_s

    async def __call__(self, articles: Sequence[Article]) -> list[Position]:
        positions: dict[int, Position] = {}
        pause, started = self._first_pause_s, time.monotonic()
        while True:
            todo = [(i, a) for i, a in enumerate(articles) if i not in positions]
            errors = await self._send(todo, positions)
            if not errors:
                return [positions[i] for i in range(len(articles))]
            self._metrics.produce_errors.inc(len(errors))
            error = publish_error(errors[0])
            if not error.retriable or self._stop.is_set():
                raise error
            if time.monotonic() - started > self._give_up_s:
                raise error
            log.warning(
                "broker did not take %d of %d articles (%s), retrying in %.1fs",
                len(errors),
                len(articles),
                error,
                pause,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), pause)
            pause = min(pause * 2, self._max_pause_s)

    async def _send(
        self, todo: list[tuple[int, Article]], positions: dict[int, Position]
    ) -> list[SendFailure]:
        """Send `todo`, record the positions of what was acknowledged; the errors of the rest."""
        errors: list[SendFailure] = []
        pending = []
        for i, article in todo:
            try:
                future = await self._producer.send(
                    self._topic, article.model_dump_json().encode(), key=article.id.encode()
                )
            except (KafkaError, OSError) as exc:  # e.g. no metadata in time, record too large
                errors.append(exc)
                continue
            pending.append((i, future))
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        for (i, _), result in zip(pending, results, strict=True):
            if isinstance(result, KafkaError | OSError):
                errors.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                positions[i] = Position(result.partition, result.offset)
        return errors
