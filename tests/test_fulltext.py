"""Full text for teaser-only feeds: the article page fetched and its main text extracted."""

from pathlib import Path

from prometheus_client import CollectorRegistry

from ingest.fetch import client_session
from ingest.model import Article
from ingest.poller import FeedPoller
from ingest.state import IngestState
from services.broker import EmbeddedBroker
from services.config import FeedConfig
from services.feed_server import FeedServer, ServedFeed
from services.metrics import IngestMetrics
from tests.helpers import kafka_publisher, read_topic

PAGE = (
    "<html><head><title>Algeria cuts ties</title></head><body>"
    "<nav>Home | World | Sport</nav><article><h1>Algeria cuts ties with Morocco</h1>"
    "<p>Algeria is cutting diplomatic relations with Morocco, Foreign Minister Ramdane Lamamra "
    "said on Tuesday at a news conference in Algiers, accusing the kingdom of hostile acts.</p>"
    "<p>The decision follows months of tension over Western Sahara and the wildfires that "
    "Algeria blamed on groups it says Morocco supports.</p></article>"
    "<footer>Copyright Example News</footer></body></html>"
)


async def test_teaser_feeds_get_the_pages_main_text(
    tmp_path: Path, prefix: str, broker: EmbeddedBroker, feeds: FeedServer
) -> None:
    feeds.feeds["story.html"] = ServedFeed(PAGE.encode(), content_type="text/html")
    items = "".join(
        f"<item><title>{title}</title><link>{link}</link><description>Teaser.</description></item>"
        for title, link in (
            ("Algeria cuts ties with Morocco", feeds.url("story.html")),
            ("A story whose page is gone", feeds.url("gone.html")),
        )
    )
    feeds.feeds["teasers.xml"] = ServedFeed(
        f'<rss version="2.0"><channel>{items}</channel></rss>'.encode()
    )
    topic = f"{prefix}.articles"
    registry = CollectorRegistry()
    state = IngestState(tmp_path / "s.sqlite")
    try:
        async with (
            kafka_publisher(broker.bootstrap, topic) as publish,
            client_session(allow_private_networks=True) as session,
        ):
            events = IngestMetrics.create(registry).events()
            poller = FeedPoller(state, session, publish, events=events)
            feed = FeedConfig(url=feeds.url("teasers.xml"), full_text=True)
            assert (await poller.poll_once(feed)).published == 2
    finally:
        state.close()
    published = {
        a.title: a
        for a in map(
            Article.model_validate_json, await read_topic(broker.bootstrap, topic, at_least=2)
        )
    }
    full = published["Algeria cuts ties with Morocco"].text
    assert "Foreign Minister Ramdane Lamamra" in full and "Western Sahara" in full
    assert "Home | World" not in full and "Copyright" not in full
    assert published["A story whose page is gone"].text == "Teaser."  # kept, not lost
    assert registry.get_sample_value("mediawatch_ingest_fulltext_failures_total") == 1
