"""Helpers for integration tests: configs, waiting, reading topics."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from services.kafka import ArticlePublisher
from services.metrics import KafkaMetrics

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "data" / "sabq-armenia-azerbaijan-2020.txt"


def fixture_article() -> tuple[str, str]:
    """Title and body of the Arabic article the product was born from."""
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    return lines[0], "\n".join(line for line in lines[3:] if line.strip())


def write_config(tmp_path: Path, prefix: str, **sections: Any) -> Path:
    config: dict[str, Any] = {
        "kafka": {"bootstrap": "embedded", "topic_prefix": prefix},
        "storage": {"path": str(tmp_path / "state")},
        "ingest": {"allow_private_networks": True},  # the test feed servers are on 127.0.0.1
        "watchlists": [str(REPO / "watchlists")],
        "notify": {"console": False},
        "metrics": {"host": "127.0.0.1", "port": 0},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    path = tmp_path / "mediawatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, timeout: float = 40.0, what: str = "condition"
) -> None:
    """Poll `check` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


async def produce(
    bootstrap: str, topic: str, values: list[bytes], key: Callable[[int], bytes] | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i, value in enumerate(values):
            await producer.send_and_wait(topic, value, key=key(i) if key else None)
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str, topic: str, *, at_least: int, timeout: float = 30.0
) -> list[bytes]:
    """Every value on `topic` (all partitions, from the start), once at least `at_least` arrived."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # refreshes metadata for every topic
        partitions = consumer.partitions_for_topic(topic) or {0}
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(values) < at_least and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            values += [r.value for records in batch.values() for r in records]
        return values
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def kafka_publisher(bootstrap: str, topic: str) -> AsyncIterator[ArticlePublisher]:
    """Ingest's real publisher on `topic` of the broker at `bootstrap`."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        metrics = KafkaMetrics.create(CollectorRegistry())
        yield ArticlePublisher(producer, topic, metrics, asyncio.Event())
    finally:
        await producer.stop()
