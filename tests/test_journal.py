"""Ingest's journal: what the broker lost is published again; what is through is forgotten."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from ingest.journal import Checkpoint, JournalEntry, Position, lost
from ingest.model import Article
from ingest.state import IngestState
from services.broker import EmbeddedBroker
from services.config import KafkaConfig
from services.journal import JournalKeeper
from services.kafka import KafkaLink, ensure_topics
from services.metrics import IngestMetrics
from services.offsets import OffsetReader
from tests.helpers import kafka_publisher, produce, read_topic


def article(i: int) -> Article:
    return Article(id=f"a{i}", url=f"https://x.example/{i}", title=f"Story {i}", source="s",
                   ingested_at=datetime.now(UTC))  # fmt: skip


def entry(i: int, partition: int, offset: int) -> JournalEntry:
    return JournalEntry(f"a{i}", Position(partition, offset), b"{}")


def test_lost_entries_are_those_beyond_the_end_of_their_partition() -> None:
    entries = [entry(1, 0, 4), entry(2, 0, 5), entry(3, 1, 0), entry(4, 2, 7)]
    assert lost(entries, {0: 5, 1: 3, 2: 9}) == [entries[1]]
    assert lost(entries, {0: 0, 1: 0, 2: 0}) == entries  # a new, empty broker
    assert lost(entries, {0: 5}) == [entries[1], entries[2], entries[3]]  # partitions gone


def test_a_checkpoint_is_through_once_notify_reached_the_alerts_end() -> None:
    checkpoint = Checkpoint(detect_committed={0: 7, 1: 2}, alerts_end={0: 3, 1: 0, 2: 5})
    assert checkpoint.through({0: 3, 2: 4}) is None  # an alert of the checkpoint still to go
    assert checkpoint.through({0: 3, 1: 0, 2: 5}) == {0: 7, 1: 2}
    assert Checkpoint({0: 1}, {}).through({}) == {0: 1}  # no alert at all: through


def test_the_journal_is_written_with_the_seen_mark_and_trimmed(tmp_path: Path) -> None:
    state = IngestState(tmp_path / "ingest.sqlite")
    published = [(article(i), Position(i % 2, i)) for i in range(6)]
    state.mark_published(published, "https://x.example/rss", journal=True, now=1000.0)
    state.mark_published([(article(9), Position(0, 9))], "f", journal=False)
    assert state.unseen(["a0", "a5", "a9", "a7"]) == {"a7"}
    assert [e.article_id for e in state.journal()] == [f"a{i}" for i in range(6)]
    state.journal_moved([("a1", Position(2, 0))])
    assert {e.article_id: e.position for e in state.journal()}["a1"] == Position(2, 0)
    assert state.journal_through({0: 3, 1: 100}) == 4  # a0, a2 (partition 0) and a3, a5
    assert sorted(e.article_id for e in state.journal()) == ["a1", "a4"]
    assert Article.model_validate_json(state.journal()[0].payload).title.startswith("Story")
    assert state.journal_prune(before=1001.0) == 2 and state.journal_size() == 0
    state.close()


async def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in offsets])
        await consumer.commit({TopicPartition(topic, p): o for p, o in offsets.items()})
    finally:
        await consumer.stop()


async def test_the_keeper_replays_what_a_new_broker_lacks_and_forgets_what_is_through(
    tmp_path: Path, prefix: str, broker: EmbeddedBroker
) -> None:
    link = KafkaLink(broker.bootstrap, KafkaConfig(topic_prefix=prefix, partitions=1))
    await ensure_topics(link)
    topics, groups = link.topics, link.groups
    state = IngestState(tmp_path / "ingest.sqlite")
    # journalled at offsets 0..3 of a broker that is gone: this topic is empty
    state.mark_published([(article(i), Position(0, i)) for i in range(4)], "f", journal=True)
    reader = OffsetReader(broker.bootstrap)
    await reader.start()
    try:
        async with kafka_publisher(broker.bootstrap, topics.articles) as publish:
            registry = CollectorRegistry()
            metrics = IngestMetrics.create(registry)
            keeper = JournalKeeper(
                state, reader, publish, topics, groups, metrics, retention_s=3600
            )
            assert await keeper.replay() == 4
            assert await keeper.replay() == 0  # now they are in the log
        values = await read_topic(broker.bootstrap, topics.articles, at_least=4)
        assert sorted(Article.model_validate_json(v).id for v in values) == ["a0", "a1", "a2", "a3"]
        assert registry.get_sample_value("mediawatch_ingest_articles_replayed_total") == 4
        # detect committed two articles and produced one alert; notify has not committed it yet
        await commit(broker.bootstrap, groups.detect, topics.articles, {0: 2})
        await produce(broker.bootstrap, topics.alerts, [b"{}"])
        checkpoint = await keeper._advance(None)
        assert checkpoint is not None and state.journal_size() == 4
        await commit(broker.bootstrap, groups.notify, topics.alerts, {0: 1})
        assert await keeper._advance(checkpoint) is None
        assert sorted(e.article_id for e in state.journal()) == ["a2", "a3"]
        stop = asyncio.Event()
        stop.set()
        await keeper.run(stop)  # one round, then the stop is seen
    finally:
        await reader.stop()
        state.close()
