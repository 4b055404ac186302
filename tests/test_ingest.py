"""Feed parsing, canonical URLs and the seen-index, on the bundled samples and odd input."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.canonical import article_id, canonical_url
from ingest.errors import FeedParseError
from ingest.parse import html_to_text, parse_feed
from ingest.state import IngestState
from tests.helpers import REPO

SAMPLES = REPO / "samples" / "feeds"
NOW = datetime(2026, 11, 24, tzinfo=UTC)


def test_samples_parse_with_languages_and_the_fixture_article() -> None:
    total = 0
    for path in sorted(SAMPLES.glob("*.xml")):
        articles = parse_feed(path.read_bytes(), feed_url=str(path), source=path.stem, now=NOW)
        assert articles, path
        assert all(
            a.title and a.url.startswith("https://") and a.lang in {"ar", "en"} for a in articles
        )
        total += len(articles)
    assert total >= 30
    sabq = parse_feed((SAMPLES / "sabq-ar.xml").read_bytes(), feed_url="f", source="Sabq", now=NOW)
    fixture = next(a for a in sabq if "علييف" in a.title)
    assert "بخرق الهدنة الإنسانية" in fixture.text
    assert fixture.lang == "ar" and fixture.published_at is not None


def test_canonical_urls_drop_tracking_and_normalise_host() -> None:
    assert (
        canonical_url("HTTPS://News.Example.com:443/a/b?utm_source=x&id=5&fbclid=z#top")
        == "https://news.example.com/a/b?id=5"
    )
    assert article_id("https://news.example.com/a?utm_medium=rss", None, "x") == article_id(
        "https://NEWS.example.com/a", "other-guid", "y"
    )
    assert article_id(None, "guid-1", "x") != article_id(None, "guid-2", "x")


def test_html_is_stripped_to_text() -> None:
    assert html_to_text("<p>One &amp; <b>two</b></p><p>three</p>") == "One & two\nthree"


RSS = """<?xml version="1.0" encoding="{enc}"?>
<rss version="2.0"><channel><title>T</title>
<item><title>{title}</title><link>https://e.example/1</link><pubDate>{date}</pubDate>
<description>body</description></item></channel></rss>"""


def test_windows_1256_arabic_feed_decodes() -> None:
    body = RSS.format(enc="windows-1256", title="خرق الهدنة", date="Wed, 14 Oct 2020 10:00:00 GMT")
    (article,) = parse_feed(body.encode("cp1256"), feed_url="f", source="s", now=NOW)
    assert article.title == "خرق الهدنة"


def test_dates_far_in_the_future_are_dropped() -> None:
    body = RSS.format(enc="utf-8", title="x", date="Fri, 01 Jan 2100 00:00:00 GMT")
    (article,) = parse_feed(body.encode(), feed_url="f", source="s", now=NOW)
    assert article.published_at is None


@pytest.mark.parametrize("body", [b"", b"<html><body>not a feed</body></html>", b"\x00\xff" * 50])
def test_non_feeds_raise_a_named_error(body: bytes) -> None:
    with pytest.raises(FeedParseError):
        parse_feed(body, feed_url="https://e.example/feed", source="s", now=NOW)


def test_seen_index_and_validators_survive_a_restart(tmp_path: Path) -> None:
    from ingest.fetch import Validators

    state = IngestState(tmp_path / "ingest.sqlite")
    assert state.unseen(["a", "b"]) == {"a", "b"}
    state.mark_seen(["a"], "feed")
    state.record_success("feed", Validators('"etag"', "Mon, 01 Jan 2024 00:00:00 GMT"))
    assert state.record_failure("other", "boom") == 1
    assert state.record_failure("other", "boom") == 2
    state.close()
    state = IngestState(tmp_path / "ingest.sqlite")
    assert state.unseen(["a", "b"]) == {"b"}
    assert state.validators("feed").etag == '"etag"'
    state.close()
