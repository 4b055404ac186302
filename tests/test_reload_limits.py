"""Issue 12: when a hot reload meets a hostile watchlist, detect keeps its old rules and keeps
watching, so the next good watchlist still applies."""

import json
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from ingest.model import Article
from services.broker import EmbeddedBroker, free_port
from services.config import KafkaConfig
from services.kafka import KafkaLink, ensure_topics
from services.status import flatten
from services.supervisor import Supervisor, scrape
from tests.helpers import eventually, produce, read_topic, write_config
from tests.test_yaml_limits import billion_laughs

RULE = "id: w\ntitle: W\nrules:\n  - id: {rule}\n    query: '{query}'\n"
HOSTILE = {
    "query nested 3,000 deep": RULE.format(rule="deep", query="(" * 3000 + "x" + ")" * 3000),
    "YAML nested 5,000 deep": "id: w\ntitle: W\nrules: " + "[" * 5000 + "]" * 5000 + "\n",
    "billion laughs": billion_laughs(),
}


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


async def test_a_hostile_reload_keeps_the_old_rules(
    tmp_path: Path, prefix: str, broker: EmbeddedBroker
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
    port = free_port()
    ports = {"ingest": 0, "detect": port, "notify": 0}
    supervisor = Supervisor(config, broker.bootstrap, ports, "warning")
    await supervisor.start(("detect",))

    async def fired(count: int) -> list[str]:
        values = await read_topic(broker.bootstrap, f"{prefix}.alerts", at_least=count)
        return [f"{json.loads(v)['article']['id']}:{json.loads(v)['rule']}" for v in values]

    async def reloads(session: aiohttp.ClientSession) -> float | None:
        """Reloads detect attempted (ok or refused), None until it serves its metrics."""
        try:
            metrics = await scrape(session, port)
        except aiohttp.ClientError:
            return None
        return flatten(metrics).get("mediawatch_detect_watchlist_reloads_total", 0.0)

    try:
        async with aiohttp.ClientSession() as session:

            async def serving() -> bool:
                return await reloads(session) is not None

            await eventually(serving, what="detect's metrics")
            await produce(broker.bootstrap, f"{prefix}.articles", [article(0, "truce")])
            assert await fired(1) == ["a0:truce"]
            for i, (what, text) in enumerate(HOSTILE.items(), 1):
                before = await reloads(session) or 0.0
                wl.write_text(text, encoding="utf-8")

                async def refused(before: float = before) -> bool:
                    return (await reloads(session) or 0.0) > before

                await eventually(refused, timeout=30, what=f"the reload of the {what}")
                await produce(broker.bootstrap, f"{prefix}.articles", [article(i, "truce")])
                assert (await fired(i + 1))[-1] == f"a{i}:truce", what
            # still watching: a good watchlist after the hostile ones applies
            wl.write_text(RULE.format(rule="football", query="football"), encoding="utf-8")
            sent = 100

            async def reloaded() -> bool:
                nonlocal sent
                if any(r.endswith(":football") for r in await fired(1)):
                    return True
                sent += 1
                await produce(broker.bootstrap, f"{prefix}.articles", [article(sent, "football")])
                return False

            await eventually(reloaded, timeout=30, what="the good watchlist to apply")
    finally:
        codes = await supervisor.stop()
    assert codes["detect"] == 0
