"""The ingest service against a real feed server and the real broker."""

from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry

from ingest.poller import FeedPoller
from ingest.state import IngestState
from services.broker import EmbeddedBroker
from services.config import FeedConfig, load_config
from services.feed_server import FeedServer, ServedFeed
from services.kafka import KafkaLink, ensure_topics
from services.metrics import IngestMetrics
from tests.helpers import REPO, kafka_publisher, read_topic, write_config

ITEM = (
    "<item><title>{t}</title><link>https://e.example/{i}</link><description>d</description></item>"
)


def rss(*items: int) -> bytes:
    body = "".join(ITEM.format(t=f"Story {i}", i=i) for i in items)
    channel = f"<channel><title>T</title>{body}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


async def test_conditional_get_seen_index_and_broken_feeds(
    tmp_path: Path,
    prefix: str,
    broker: EmbeddedBroker,
    feeds: FeedServer,
) -> None:
    loaded = load_config(write_config(tmp_path, prefix))
    link = KafkaLink(broker.bootstrap, loaded.config.kafka)
    await ensure_topics(link)
    registry = CollectorRegistry()
    events = IngestMetrics.create(registry).events()
    topic = link.topics.articles

    feed = FeedConfig(url=feeds.url("a.xml"), name="A")
    feeds.feeds["a.xml"] = ServedFeed(rss(1, 2, 3))
    state = IngestState(tmp_path / "ingest.sqlite")
    async with (
        kafka_publisher(broker.bootstrap, topic) as publish,
        aiohttp.ClientSession() as session,
    ):
        service = FeedPoller(state, session, publish, events=events)
        assert (await service.poll_once(feed)).published == 3
        assert (await service.poll_once(feed)).error_streak == 0
        assert feeds.not_modified["a.xml"] == 1  # the second poll was a 304
        # a restart with the same state, and a feed that changed: only the new item goes out
        state.close()
        state = IngestState(tmp_path / "ingest.sqlite")
        service = FeedPoller(state, session, publish, events=events)
        feeds.feeds["a.xml"] = ServedFeed(rss(2, 3, 4))
        assert (await service.poll_once(feed)).published == 1, feeds.requests
        published = await read_topic(broker.bootstrap, f"{prefix}.articles", at_least=4)
        titles = sorted(v.decode() for v in published)
        assert len(titles) == 4 and sum("Story 4" in t for t in titles) == 1
        # broken feeds never raise: they count, log and back off
        feeds.status_override["down.xml"] = 503
        feeds.feeds["junk.xml"] = ServedFeed(b"<html>not a feed</html>")
        down = FeedConfig(url=feeds.url("down.xml"))
        junk = FeedConfig(url=feeds.url("junk.xml"))
        assert (await service.poll_once(down)).error_streak == 1
        assert (await service.poll_once(down)).error_streak == 2
        assert (await service.poll_once(junk)).error_streak == 1
    state.close()
    assert registry.get_sample_value("mediawatch_ingest_articles_published_total") == 4
    assert registry.get_sample_value("mediawatch_ingest_fetch_errors_total") == 2
    assert registry.get_sample_value("mediawatch_ingest_parse_errors_total") == 1


async def test_sample_feeds_are_served_with_etags() -> None:
    server = FeedServer.from_directory(REPO / "samples" / "feeds")
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url("world-en.xml")) as first:
                etag = first.headers["ETag"]
            async with session.get(
                server.url("world-en.xml"), headers={"If-None-Match": etag}
            ) as second:
                assert second.status == 304
    finally:
        await server.stop()
