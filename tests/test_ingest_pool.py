"""The ingest worker pool on a real feed server and the real broker: limits, skips, shards."""

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry

from ingest.fetch import client_session
from ingest.health import summarize
from ingest.poller import Feed, FeedPoller, PollOutcome
from ingest.pool import run_pool
from ingest.state import IngestState
from services.broker import EmbeddedBroker
from services.config import FeedConfig, IngestConfig, load_config
from services.feed_server import FeedServer, ServedFeed
from services.ingest_service import IngestService
from services.kafka import KafkaLink
from services.metrics import IngestMetrics
from tests.helpers import kafka_publisher, read_topic, write_config
from tests.test_config import problems, run_cli
from tests.test_ingest_service import rss


async def poll_until(
    feeds: Sequence[FeedConfig],
    settings: IngestConfig,
    state: IngestState,
    bootstrap: str,
    topic: str,
    polls: int,
) -> tuple[CollectorRegistry, list[PollOutcome]]:
    """Run the pool until `polls` polls are done; return the metrics and outcomes."""
    registry = CollectorRegistry()
    metrics = IngestMetrics.create(registry)
    stop = asyncio.Event()
    outcomes: list[PollOutcome] = []

    def polled(feed: Feed, outcome: PollOutcome) -> None:
        outcomes.append(outcome)
        if len(outcomes) >= polls:
            stop.set()

    async with (
        kafka_publisher(bootstrap, topic) as publish,
        client_session(
            allow_private_networks=True,
            limit=settings.concurrency,
            limit_per_host=settings.per_host_concurrency,
        ) as session,
    ):
        poller = FeedPoller(
            state, session, publish, events=metrics.events(), limits=settings.limits()
        )
        await asyncio.wait_for(run_pool(feeds, poller, settings.pool(), stop, on_polled=polled), 60)
    return registry, outcomes


async def test_identical_bodies_skip_the_parse_and_nothing_is_republished(
    tmp_path: Path,
    prefix: str,
    broker: EmbeddedBroker,
    feeds: FeedServer,
) -> None:
    feeds.feeds["plain.xml"] = ServedFeed(rss(1, 2), validators=False)  # no ETag, no dates
    feed = FeedConfig(url=feeds.url("plain.xml"), interval=0.2)
    state = IngestState(tmp_path / "s.sqlite")
    registry, outcomes = await poll_until(
        [feed],
        IngestConfig(allow_private_networks=True),
        state,
        broker.bootstrap,
        f"{prefix}.articles",
        polls=3,
    )
    state.close()
    assert [o.published for o in outcomes] == [2, 0, 0]
    assert feeds.requests["plain.xml"] == 3 and "plain.xml" not in feeds.not_modified
    fetches = "mediawatch_ingest_fetches_total"
    assert registry.get_sample_value(fetches, {"result": "ok"}) == 1
    assert registry.get_sample_value(fetches, {"result": "unchanged"}) == 2
    assert len(await read_topic(broker.bootstrap, f"{prefix}.articles", at_least=2)) == 2


async def test_per_host_limit_and_politeness_hold_with_many_workers(
    tmp_path: Path, prefix: str, feeds: FeedServer, broker: EmbeddedBroker
) -> None:
    for i in range(6):
        feeds.feeds[f"f{i}.xml"] = ServedFeed(rss(10 * i + 1))
        feeds.delay_s[f"f{i}.xml"] = 0.05
    config = [FeedConfig(url=feeds.url(f"f{i}.xml"), interval=60) for i in range(6)]
    settings = IngestConfig(
        allow_private_networks=True, concurrency=10, per_host_concurrency=1, per_host_delay=0.2
    )
    state = IngestState(tmp_path / "s.sqlite")
    _, outcomes = await poll_until(
        config, settings, state, broker.bootstrap, f"{prefix}.a", polls=6
    )
    state.close()
    assert len(outcomes) == 6 and all(o.error_streak == 0 for o in outcomes)
    assert feeds.max_in_flight == 1  # every feed is on 127.0.0.1: one host
    gaps = [b - a for a, b in zip(feeds.arrivals, feeds.arrivals[1:], strict=False)]
    assert min(gaps) >= 0.1, gaps  # spaced by the politeness delay (0.2 s, less transit)


async def test_global_concurrency_bounds_the_pool(
    tmp_path: Path, prefix: str, feeds: FeedServer, broker: EmbeddedBroker
) -> None:
    for i in range(8):
        feeds.feeds[f"g{i}.xml"] = ServedFeed(rss(100 + i))
        feeds.delay_s[f"g{i}.xml"] = 0.3
    config = [FeedConfig(url=feeds.url(f"g{i}.xml"), interval=60) for i in range(8)]
    settings = IngestConfig(
        allow_private_networks=True, concurrency=3, per_host_concurrency=50, per_host_delay=0.001
    )
    state = IngestState(tmp_path / "s.sqlite")
    _, outcomes = await poll_until(
        config, settings, state, broker.bootstrap, f"{prefix}.a", polls=8
    )
    # the last feeds' schedule survives in state for a restart
    assert len(state.next_due()) == 8
    state.close()
    assert len(outcomes) == 8
    assert feeds.max_in_flight == 3


async def test_failing_feeds_are_rescheduled_never_dropped(
    tmp_path: Path, prefix: str, feeds: FeedServer, broker: EmbeddedBroker
) -> None:
    feeds.status_override["down.xml"] = 503
    feeds.error_headers["down.xml"] = {"Retry-After": "0"}
    settings = IngestConfig(allow_private_networks=True, max_backoff=0.05, per_host_delay=0.001)
    config = [FeedConfig(url=feeds.url("down.xml"), interval=0.01)]
    state = IngestState(tmp_path / "s.sqlite")
    _, outcomes = await poll_until(config, settings, state, broker.bootstrap, f"{prefix}.a", 6)
    assert [o.error_streak for o in outcomes] == [1, 2, 3, 4, 5, 6]
    summary = summarize([config[0].url], state.statuses(), time.time())
    assert summary.by_health["unhealthy"] == 1 and summary.max_error_streak == 6
    assert summary.next_retry_at is not None
    assert state.statuses()[config[0].url].health(0) == "unhealthy"
    state.close()


def test_shards_split_the_configured_feeds(tmp_path: Path, prefix: str) -> None:
    urls = [f"https://site{i}.example/rss" for i in range(40)]
    owned: list[set[str]] = []
    for i in range(3):
        path = write_config(
            tmp_path, prefix, feeds=[{"url": u} for u in urls], ingest={"shard": f"{i}/3"}
        )
        loaded = load_config(path)
        link = KafkaLink("unused:9092", loaded.config.kafka)
        service = IngestService(loaded, link, CollectorRegistry())
        owned.append({f.url for f in service.my_feeds()})
    assert set.union(*owned) == set(urls)
    assert sum(len(o) for o in owned) == 40 and all(owned)


def test_bad_ingest_settings_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "ingest:\n"
        "  shard: 3/3\n"  # line 2
        "  concurrency: 0\n"  # line 3
        "  min_interval: 2h\n"
        "  max_interval: 1h\n",
        encoding="utf-8",
    )
    found = problems(path)
    assert any(p.startswith(f"{path}:2: ingest.shard: shard '3/3'") for p in found), found
    assert any(p.startswith(f"{path}:3: ingest.concurrency:") for p in found), found
    path.write_text("ingest:\n  min_interval: 2h\n  max_interval: 1h\n", encoding="utf-8")
    assert problems(path) == [
        f"{path}:1: ingest: min_interval (7200s) is above max_interval (3600s)"
    ]


def test_feeds_status_shows_unhealthy_feeds_and_exits_1(tmp_path: Path, prefix: str) -> None:
    from ingest.fetch import Validators

    urls = ["https://ok.example/rss", "https://dead.example/rss", "https://new.example/rss"]
    path = write_config(tmp_path, prefix, feeds=[{"url": u} for u in urls])
    state = IngestState(load_config(path).storage_dir / "ingest.sqlite")
    state.record_success(urls[0], Validators())
    for _ in range(6):
        state.record_failure(urls[1], "HTTP 404")
    state.close()
    result = run_cli("feeds", "status", "--config", str(path))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("HEALTH")
    assert lines[1].startswith("ok ") and urls[0] in lines[1]
    assert lines[2].startswith("unhealthy") and " 6 " in lines[2] and "HTTP 404" in lines[2]
    assert lines[3].startswith("pending") and urls[2] in lines[3]
    as_json = run_cli("feeds", "status", "--config", str(path), "--json")
    assert '"health": "unhealthy"' in as_json.stdout


def test_ingest_shard_flag_is_checked(tmp_path: Path, prefix: str) -> None:
    path = write_config(tmp_path, prefix)
    result = run_cli("ingest", "--config", str(path), "--bootstrap", "x:1", "--shard", "2/2")
    assert result.returncode == 2
    assert result.stderr.strip() == "--shard: shard '2/2': need 0 <= i < n"
