"""Kafka wiring: topic names, topic creation, producers and consumers with our defaults.

Producers use acks=all without idempotence (the embedded broker has none); consumers never
auto-commit: services commit offsets only after their output is acknowledged.
"""

import asyncio
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from services.config import KafkaConfig

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
class KafkaLink:
    """Everything a service needs to reach Kafka: resolved bootstrap and our settings."""

    bootstrap: str
    config: KafkaConfig

    @property
    def topics(self) -> Topics:
        return Topics.for_prefix(self.config.topic_prefix)

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

    def consumer(self, topic: str, group_id: str) -> AIOKafkaConsumer:
        session = self.session_timeout_ms
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=session,
            heartbeat_interval_ms=max(100, session * 3 // 10),
            rebalance_timeout_ms=max(300, session * 3 // 10),
            max_poll_records=200,
        )


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
