"""Story grouping: the normaliser, the MinHash index, its persistence, and its measured quality."""

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest.fetch import client_session
from ingest.model import Article
from ingest.poller import FeedPoller
from ingest.state import IngestState
from ingest.stories import DEFAULT_THRESHOLD, StoryIndex
from services.broker import EmbeddedBroker
from services.config import FeedConfig, IngestConfig
from services.feed_server import FeedServer, ServedFeed
from services.ingest_service import story_index
from tests.helpers import REPO, kafka_publisher, read_topic
from text.compare import content_words as words
from text.fold import fold

sys.path.insert(0, str(REPO / "bench"))
import story_pairs

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def article(ident: str, title: str, text: str = "", lang: str = "en") -> Article:
    return Article(
        id=ident, url=f"https://e.example/{ident}", title=title, text=text, source="s",
        lang=lang, ingested_at=T0,
    )  # fmt: skip


def test_arabic_and_english_folding() -> None:
    assert fold("أَعْلَنَ الإعلامُ ــ ١٢٣") == "اعلن الاعلام  123"
    assert words("وبالهدنة والحكومة في غزة") == ["هدنه", "حكومه", "غزه"]
    assert words("The ministers said the talks were over") == ["minister", "talk"]
    assert words("أمريكا") == words("أَمْرِيكا")


def test_syndicated_copies_share_a_story_and_other_stories_do_not() -> None:
    index = StoryIndex()
    original = article(
        "a1",
        "Algeria cuts diplomatic ties with Morocco, accusing neighbor of hostile actions",
        "Algeria is cutting diplomatic relations with Morocco, Foreign Minister Ramdane "
        "Lamamra said on Tuesday at a news conference.",
    )
    copy = article(
        "b7",
        "BREAKING: Algeria cuts diplomatic ties with Morocco | World News",
        "ALGIERS (Reuters) - Algeria is cutting diplomatic relations with Morocco, Foreign "
        "Minister Ramdane Lamamra said on Tuesday.",
    )
    other = article("c3", "Bank of England holds interest rates at 4.75%", "The bank held.")
    assert index.assign(original, T0)[0] == "a1"
    assert index.assign(other, T0)[0] == "c3"
    story, entry = index.assign(copy, T0 + timedelta(minutes=5))
    assert story == "a1" and entry is not None and entry.story_id == "a1"
    assert index.assign(copy, T0)[0] == "a1"  # asking again changes nothing


def test_arabic_copies_with_diacritics_and_decoration_join() -> None:
    index = StoryIndex()
    first = article(
        "ar1", "الجزائر تقطع علاقاتها الدبلوماسية مع المغرب",
        "أعلن وزير الشؤون الخارجية الجزائري رمطان لعمامرة أن بلاده قررت قطع علاقاتها "
        "الدبلوماسية مع المغرب", "ar",
    )  # fmt: skip
    second = article(
        "ar2", "عاجل | الجزائرُ تقطعُ علاقاتِها الدبلوماسيةَ مع المغربِ",
        "(وكالات) - أعلن وزير الشؤون الخارجية الجزائري رمطان لعمامره ان بلاده قررت قطع "
        "علاقاتها الدبلوماسيه مع المغرب", "ar",
    )  # fmt: skip
    index.assign(first, T0)
    assert index.assign(second, T0)[0] == "ar1"


def test_copies_outside_the_window_start_a_new_story() -> None:
    index = StoryIndex(window=timedelta(hours=24))
    a = article("x1", "Russian shelling kills five civilians in Kharkiv, governor says")
    b = article("x2", "Russian shelling kills five civilians in Kharkiv, governor says")
    index.assign(a, T0)
    assert index.assign(b, T0 + timedelta(hours=25))[0] == "x2"
    assert len(index) == 1  # the old entry was forgotten


def test_stories_survive_a_restart(tmp_path: Path) -> None:
    state = IngestState(tmp_path / "s.sqlite")
    index = StoryIndex()
    title = "Iran and Saudi Arabia agree to restore diplomatic relations after Beijing talks"
    _, entry = index.assign(article("p1", title), T0)
    assert entry is not None
    state.save_stories([entry])
    state.close()
    state = IngestState(tmp_path / "s.sqlite")
    restored = StoryIndex()
    restored.load(state.load_stories(T0 - timedelta(hours=48)))
    assert restored.assign(article("p2", "BREAKING: " + title), T0)[0] == "p1"
    assert state.load_stories(T0 + timedelta(hours=1)) == []  # older than `since`: purged
    state.close()


def test_quality_on_the_labelled_pairs() -> None:
    """The figures docs/benchmarks.md "Story grouping" reports: no false merge, every copy found."""
    figures = story_pairs.evaluate(DEFAULT_THRESHOLD)
    overall = figures["overall"]
    assert isinstance(overall, dict)
    assert overall["pairs"] == 780 and overall["false_positives"] == 0
    same_language = figures["overall_same_language"]
    assert isinstance(same_language, dict) and same_language["recall"] == 0.975


async def test_ingest_publishes_copies_with_the_originals_story_id(
    tmp_path: Path, prefix: str, broker: EmbeddedBroker, feeds: FeedServer
) -> None:
    item = (
        "<item><title>{t}</title><link>https://{h}/{i}</link><description>{d}</description></item>"
    )
    lead = "Algeria is cutting diplomatic relations with Morocco, Foreign Minister Ramdane Lamamra"
    first = item.format(t="Algeria cuts diplomatic ties with Morocco", h="a.example", i=1, d=lead)
    copy = item.format(t="BREAKING: Algeria cuts ties with Morocco", h="b.example", i=9, d=lead)
    other = item.format(t="Bank of England holds rates", h="b.example", i=10, d="Rates held.")
    for name, items in (("a.xml", first), ("b.xml", copy + other)):
        feeds.feeds[name] = ServedFeed(
            f'<rss version="2.0"><channel>{items}</channel></rss>'.encode()
        )
    topic = f"{prefix}.articles"
    settings = IngestConfig(allow_private_networks=True)
    state = IngestState(tmp_path / "s.sqlite")
    try:
        async with (
            kafka_publisher(broker.bootstrap, topic) as publish,
            client_session(allow_private_networks=True) as session,
        ):
            poller = FeedPoller(state, session, publish, stories=story_index(settings, state))
            await poller.poll_once(FeedConfig(url=feeds.url("a.xml")))
            await poller.poll_once(FeedConfig(url=feeds.url("b.xml")))
    finally:
        state.close()
    published = [Article.model_validate_json(v) for v in await read_topic(
        broker.bootstrap, topic, at_least=3)]  # fmt: skip
    by_title = {a.title: a for a in published}
    original = by_title["Algeria cuts diplomatic ties with Morocco"]
    assert original.story_id is None  # its own story
    assert by_title["BREAKING: Algeria cuts ties with Morocco"].story_id == original.id
    assert by_title["Bank of England holds rates"].story_id is None
