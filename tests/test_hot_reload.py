"""Detect reloads changed watchlists while consuming, dropping and duplicating nothing."""

import json
from datetime import UTC, datetime
from pathlib import Path

from ingest.model import Article
from services.broker import EmbeddedBroker
from services.config import KafkaConfig
from services.kafka import KafkaLink, ensure_topics
from services.supervisor import SERVICES, Supervisor
from tests.helpers import eventually, produce, read_topic, write_config

RULE = "id: w\ntitle: W\nrules:\n  - {{id: {rule}, query: '{query}'}}\n"


def article(i: int, title: str) -> bytes:
    return (
        Article(
            id=f"a{i}",
            url=f"https://x.example/{i}",
            title=title,
            source="s",
            ingested_at=datetime.now(UTC),
        )
        .model_dump_json()
        .encode()
    )


async def test_watchlist_changes_apply_between_articles(
    tmp_path: Path,
    prefix: str,
    broker: EmbeddedBroker,
) -> None:
    watchlists = tmp_path / "watchlists"
    watchlists.mkdir()
    wl = watchlists / "w.yaml"
    wl.write_text(RULE.format(rule="truce", query="truce"), encoding="utf-8")
    config = write_config(
        tmp_path,
        prefix,
        watchlists=[str(watchlists)],
        detect={"reload_interval": "0.2s"},
        kafka={"partitions": 1},
    )
    await ensure_topics(KafkaLink(broker.bootstrap, KafkaConfig(topic_prefix=prefix, partitions=1)))
    supervisor = Supervisor(config, broker.bootstrap, dict.fromkeys(SERVICES, 0), "warning")
    await supervisor.start(("detect",))
    alerts_topic = f"{prefix}.alerts"

    async def rules_fired(count: int) -> list[str]:
        values = await read_topic(broker.bootstrap, alerts_topic, at_least=count, timeout=30)
        return [f"{json.loads(v)['article']['id']}:{json.loads(v)['rule']}" for v in values]

    try:
        await produce(broker.bootstrap, f"{prefix}.articles", [article(1, "truce and football")])
        assert await rules_fired(1) == ["a1:truce"]

        wl.write_text(RULE.format(rule="football", query="football"), encoding="utf-8")
        await eventually(lambda: wl.stat().st_size > 0, what="rewrite")
        sent = 100

        async def reloaded() -> bool:  # keep feeding until the new rule answers
            nonlocal sent
            if any(r.endswith(":football") for r in await rules_fired(1)):
                return True
            sent += 1
            await produce(
                broker.bootstrap, f"{prefix}.articles", [article(sent, "truce, football")]
            )
            return False

        await eventually(reloaded, timeout=30, what="the new rule to fire")
        # a broken watchlist is refused: the football rule keeps working
        wl.write_text(RULE.format(rule="broken", query="(football"), encoding="utf-8")
        before = len(await rules_fired(1))
        await produce(broker.bootstrap, f"{prefix}.articles", [article(2, "more football")])
        after = await rules_fired(before + 1)
        assert after[-1] == "a2:football"
        ids = [r.split(":")[0] for r in after]
        assert len(ids) == len(set(ids)), "every article matched once, by old or new rules"
    finally:
        codes = await supervisor.stop()
    assert codes["detect"] == 0
