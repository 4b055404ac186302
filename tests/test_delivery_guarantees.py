"""Kill -9 a service mid-stream, restart it: every alert reaches Telegram exactly once.

Also: a poison message goes to the dead-letter topic and its partition keeps flowing.
"""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from ingest.model import Article
from services.broker import EmbeddedBroker
from services.config import KafkaConfig
from services.kafka import KafkaLink, ensure_topics
from services.supervisor import SERVICES, Supervisor
from tests.fakes.telegram import FakeTelegram
from tests.helpers import eventually, produce, read_topic, write_config

CHAT = 777
#: Telegram's limits compressed (1 msg/s per private chat would make these tests minutes long).
FAST_LIMITS = {"bot": "300/s", "private_chat": "100/s", "group": "100/s"}


def article(i: int) -> bytes:
    """An English article that fires exactly one rule (ceasefire_violation)."""
    return (
        Article(
            id=f"article-{i:04d}",
            url=f"https://news.example/{i}",
            source="wire",
            lang="en",
            title=f"Forces violated the ceasefire near checkpoint {i:04d}",
            text="Witnesses described the exchange of fire.",
            ingested_at=datetime.now(UTC),
        )
        .model_dump_json()
        .encode()
    )


def checkpoints(telegram: FakeTelegram) -> list[str]:
    return [m.text.split("checkpoint ")[1][:4] for m in telegram.messages]


async def start_pipeline(
    tmp_path: Path, prefix: str, broker: EmbeddedBroker, telegram: FakeTelegram, **config: object
) -> Supervisor:
    path = write_config(
        tmp_path,
        prefix,
        notify={
            "telegram": {
                "token": telegram.token,
                "api_base": telegram.base_url,
                "chats": [{"id": CHAT}],
                "limits": FAST_LIMITS,
            },
            "retry": {"min_delay": "50ms", "max_delay": "1s"},
            "link_stories": False,  # the articles differ by a number only: else one story
        },
        **config,
    )
    kafka = KafkaConfig.model_validate({"topic_prefix": prefix, **config.get("kafka", {})})
    await ensure_topics(KafkaLink(broker.bootstrap, kafka))
    supervisor = Supervisor(path, broker.bootstrap, dict.fromkeys(SERVICES, 0), "warning")
    await supervisor.start(("detect", "notify"))
    return supervisor


async def assert_exactly_once(telegram: FakeTelegram, count: int) -> None:
    await eventually(
        lambda: len(telegram.messages) >= count, timeout=60, what=f"{count} Telegram messages"
    )
    await asyncio.sleep(2)  # settle: a duplicate, if any, would arrive now
    seen = checkpoints(telegram)
    assert sorted(seen) == [f"{i:04d}" for i in range(count)], "each alert exactly once"


async def test_detect_killed_mid_stream_delivers_every_alert_once(
    tmp_path: Path,
    prefix: str,
    broker: EmbeddedBroker,
    telegram: FakeTelegram,
) -> None:
    total = 150
    supervisor = await start_pipeline(tmp_path, prefix, broker, telegram)
    try:

        async def trickle() -> None:  # a stream, not one burst, so the kill lands mid-way
            for i in range(total):
                await produce(broker.bootstrap, f"{prefix}.articles", [article(i)])

        feeding = asyncio.create_task(trickle())
        await eventually(lambda: len(telegram.messages) >= 20, what="first alerts")
        supervisor.children["detect"].kill()
        await supervisor.children["detect"].wait()
        await supervisor.start_one("detect")
        await feeding
        await assert_exactly_once(telegram, total)
    finally:
        await supervisor.stop()


async def test_notify_killed_mid_stream_delivers_every_alert_once(
    tmp_path: Path,
    prefix: str,
    broker: EmbeddedBroker,
    telegram: FakeTelegram,
) -> None:
    total, before_kill = 100, 40
    telegram.hold_after = before_kill  # the 41st send hangs: notify is killed while it waits
    supervisor = await start_pipeline(tmp_path, prefix, broker, telegram)
    try:
        await produce(broker.bootstrap, f"{prefix}.articles", [article(i) for i in range(total)])
        await eventually(lambda: telegram.held >= 1, what="a send in flight")
        supervisor.children["notify"].kill()
        await supervisor.children["notify"].wait()
        telegram.release()
        await supervisor.start_one("notify")
        await assert_exactly_once(telegram, total)
    finally:
        await supervisor.stop()


async def committed_alerts(bootstrap: str, prefix: str) -> int:
    """How many alerts notify's consumer group has committed, over all partitions."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=f"{prefix}.notify")
    await consumer.start()
    try:
        await consumer.topics()
        partitions = consumer.partitions_for_topic(f"{prefix}.alerts") or {0}
        tps = [TopicPartition(f"{prefix}.alerts", p) for p in sorted(partitions)]
        return sum([await consumer.committed(tp) or 0 for tp in tps])
    finally:
        await consumer.stop()


async def test_notify_killed_with_alerts_committed_but_unsent_sends_them_from_the_outbox(
    tmp_path: Path,
    prefix: str,
    broker: EmbeddedBroker,
    telegram: FakeTelegram,
) -> None:
    """Telegram hangs, notify consumes everything into its outbox and commits, then dies.

    Kafka will not deliver those alerts again (their offsets are committed): only the outbox
    can, and it must send each exactly once after the restart.
    """
    total = 60
    telegram.hold_after = 0  # every send hangs: nothing reaches "Telegram" before the kill
    supervisor = await start_pipeline(tmp_path, prefix, broker, telegram)
    try:
        await produce(broker.bootstrap, f"{prefix}.articles", [article(i) for i in range(total)])

        async def all_committed() -> bool:  # one alert per article
            return await committed_alerts(broker.bootstrap, prefix) >= total

        await eventually(all_committed, timeout=60, what="notify to commit every alert")
        assert telegram.held >= 1 and not telegram.messages
        supervisor.children["notify"].kill()
        await supervisor.children["notify"].wait()
        telegram.release()
        await supervisor.start_one("notify")
        await assert_exactly_once(telegram, total)
    finally:
        await supervisor.stop()


async def test_poison_messages_are_dead_lettered_and_the_partition_keeps_flowing(
    tmp_path: Path,
    prefix: str,
    broker: EmbeddedBroker,
    telegram: FakeTelegram,
) -> None:
    supervisor = await start_pipeline(tmp_path, prefix, broker, telegram, kafka={"partitions": 1})
    try:
        await produce(
            broker.bootstrap,
            f"{prefix}.articles",
            [article(0), b"{not json", b'{"id": "no-title"}', article(1)],
        )
        await produce(broker.bootstrap, f"{prefix}.alerts", [b"\xff\xfe garbage"])
        await assert_exactly_once(telegram, 2)  # the article after the poison got through
        letters = [
            json.loads(v)
            for v in await read_topic(broker.bootstrap, f"{prefix}.deadletter", at_least=3)
        ]
        by_value = {(d["service"], d["value"]): d for d in letters}
        assert len(letters) == 3
        assert "not an Article" in by_value[("detect", "{not json")]["error"]
        assert "title" in by_value[("detect", '{"id": "no-title"}')]["error"]
        assert "not an Alert" in by_value[("notify", "\ufffd\ufffd garbage")]["error"]
        assert {d["offset"] for d in letters if d["service"] == "detect"} == {1, 2}
    finally:
        codes = await supervisor.stop()
    assert set(codes.values()) == {0}
