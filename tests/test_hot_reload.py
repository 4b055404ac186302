"""Detect reloads changed watchlists while consuming, dropping and duplicating nothing."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from ingest.model import Article
from services.broker import EmbeddedBroker
from services.config import KafkaConfig, WatchlistFiles
from services.kafka import KafkaLink, ensure_topics
from services.metrics import DetectMetrics
from services.reload import WatchlistReloader
from services.supervisor import SERVICES, Supervisor
from tests.helpers import eventually, produce, read_topic, write_config

RULE = "id: w\ntitle: W\nrules:\n  - {{id: {rule}, query: '{query}'}}\n"


def article(i: int, title: str) -> Article:
    return Article(
        id=f"a{i}", url=f"https://x.example/{i}", title=title, source="s",
        ingested_at=datetime.now(UTC),
    )  # fmt: skip


def record(i: int, title: str) -> bytes:
    return article(i, title).model_dump_json().encode()


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
        await produce(broker.bootstrap, f"{prefix}.articles", [record(1, "truce and football")])
        assert await rules_fired(1) == ["a1:truce"]

        wl.write_text(RULE.format(rule="football", query="football"), encoding="utf-8")
        await eventually(lambda: wl.stat().st_size > 0, what="rewrite")
        sent = 100

        async def reloaded() -> bool:  # keep feeding until the new rule answers
            nonlocal sent
            if any(r.endswith(":football") for r in await rules_fired(1)):
                return True
            sent += 1
            await produce(broker.bootstrap, f"{prefix}.articles", [record(sent, "truce, football")])
            return False

        await eventually(reloaded, timeout=30, what="the new rule to fire")
        # a broken watchlist is refused: the football rule keeps working
        wl.write_text(RULE.format(rule="broken", query="(football"), encoding="utf-8")
        before = len(await rules_fired(1))
        await produce(broker.bootstrap, f"{prefix}.articles", [record(2, "more football")])
        after = await rules_fired(before + 1)
        assert after[-1] == "a2:football"
        ids = [r.split(":")[0] for r in after]
        assert len(ids) == len(set(ids)), "every article matched once, by old or new rules"
    finally:
        codes = await supervisor.stop()
    assert codes["detect"] == 0


def reloader(watchlists: Path) -> tuple[WatchlistReloader, CollectorRegistry]:
    files = WatchlistFiles((str(watchlists),), watchlists)
    registry = CollectorRegistry()
    metrics = DetectMetrics.create(registry, ())
    return WatchlistReloader(files, files.load(), metrics, interval_s=0.05), registry


async def test_an_empty_or_vanished_watchlist_set_keeps_the_rules(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    watchlists = tmp_path / "watchlists"
    watchlists.mkdir()
    wl = watchlists / "w.yaml"
    wl.write_text(RULE.format(rule="truce", query="truce"), encoding="utf-8")
    keeper, registry = reloader(watchlists)
    wl.unlink()  # an editor saving: the file is gone for a moment
    await keeper.reload()
    assert keeper.matcher.rule_count == 1
    assert "keeping the previous 1 rules" in caplog.text
    assert "no .yaml or .yml file in this directory" in caplog.text
    wl.write_text("id: w\ntitle: W\nrules: []\n", encoding="utf-8")  # emptied
    await keeper.reload()
    assert keeper.matcher.rule_count == 1
    errors = registry.get_sample_value(
        "mediawatch_detect_watchlist_reloads_total", {"result": "error"}
    )
    assert errors == 2 and registry.get_sample_value("mediawatch_detect_rules") == 1
    wl.write_text(RULE.format(rule="football", query="football"), encoding="utf-8")
    await keeper.reload()
    assert keeper.matcher.match(article(1, "football"))[0].rule == "football"


async def test_a_change_is_compiled_once_it_holds_still(tmp_path: Path) -> None:
    watchlists = tmp_path / "watchlists"
    watchlists.mkdir()
    wl = watchlists / "w.yaml"
    wl.write_text(RULE.format(rule="truce", query="truce"), encoding="utf-8")
    keeper, registry = reloader(watchlists)
    stop = asyncio.Event()
    watching = asyncio.create_task(keeper.run(stop))
    wl.write_text(RULE.format(rule="football", query="football"), encoding="utf-8")
    ok = {"result": "ok"}
    await eventually(
        lambda: registry.get_sample_value("mediawatch_detect_watchlist_reloads_total", ok) == 1,
        timeout=10,
        what="the reload",
    )
    stop.set()
    await watching
    assert keeper.matcher.match(article(2, "football"))[0].rule == "football"
