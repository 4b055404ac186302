"""Every fetch is bounded: size (after decompression), time, redirects. Real server, real client."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
import pytest_asyncio

from ingest.errors import FetchError, HTTPStatusError
from ingest.fetch import (
    FetchLimits,
    Validators,
    fetch_feed,
    parse_max_age,
    parse_retry_after,
)
from services.feed_server import FeedServer, ServedFeed

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
SMALL = FetchLimits(timeout_s=5.0, max_bytes=1024 * 1024, max_redirects=3)


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_gzip_body_is_decompressed(feeds: FeedServer, session: aiohttp.ClientSession) -> None:
    feeds.feeds["z.xml"] = ServedFeed(FEED, gzip=True)
    result = await fetch_feed(session, feeds.url("z.xml"), Validators(), limits=SMALL)
    assert result.body == FEED


async def test_gzip_bomb_is_refused_by_its_decompressed_size(
    feeds: FeedServer, session: aiohttp.ClientSession
) -> None:
    bomb = ServedFeed(b"\0" * (64 * 1024 * 1024), gzip=True)  # 64 MiB inflates from ~64 KiB
    feeds.feeds["bomb.xml"] = bomb
    assert len(bomb.encoded()) < SMALL.max_bytes  # what goes over the wire is under the cap
    with pytest.raises(FetchError, match="larger than 1048576 bytes"):
        await fetch_feed(session, feeds.url("bomb.xml"), Validators(), limits=SMALL)


async def test_plain_body_over_the_cap_is_refused(
    feeds: FeedServer, session: aiohttp.ClientSession
) -> None:
    feeds.feeds["big.xml"] = ServedFeed(b" " * (SMALL.max_bytes + 1))
    with pytest.raises(FetchError, match="larger than"):
        await fetch_feed(session, feeds.url("big.xml"), Validators(), limits=SMALL)
    feeds.feeds["fits.xml"] = ServedFeed(b" " * SMALL.max_bytes)
    result = await fetch_feed(session, feeds.url("fits.xml"), Validators(), limits=SMALL)
    assert result.body is not None and len(result.body) == SMALL.max_bytes


async def test_slow_drip_body_hits_the_total_time_limit(
    feeds: FeedServer, session: aiohttp.ClientSession
) -> None:
    feeds.feeds["drip.xml"] = ServedFeed(FEED * 20)  # ~30 pieces, 0.2 s apart: ~6 s in all
    feeds.drip_s["drip.xml"] = 0.2
    limits = FetchLimits(timeout_s=1.0)
    with pytest.raises(FetchError, match="timed out after 1s"):
        await fetch_feed(session, feeds.url("drip.xml"), Validators(), limits=limits)
    assert feeds.requests["drip.xml"] == 1


async def test_redirects_are_followed_up_to_the_cap_and_loops_fail(
    feeds: FeedServer, session: aiohttp.ClientSession
) -> None:
    feeds.feeds["final.xml"] = ServedFeed(FEED)
    feeds.redirects.update({"r1": "r2", "r2": "r3", "r3": "final.xml"})
    result = await fetch_feed(session, feeds.url("r1"), Validators(), limits=SMALL)
    assert result.body == FEED
    feeds.redirects.update({"r0": "r1"})  # four hops: one too many
    with pytest.raises(FetchError, match="more than 3 redirects"):
        await fetch_feed(session, feeds.url("r0"), Validators(), limits=SMALL)
    feeds.redirects.update({"loop-a": "loop-b", "loop-b": "loop-a"})
    with pytest.raises(FetchError, match="redirects"):
        await fetch_feed(session, feeds.url("loop-a"), Validators(), limits=SMALL)
    assert feeds.requests["loop-a"] + feeds.requests["loop-b"] == 4


async def test_error_status_carries_retry_after_and_cache_control_is_read(
    feeds: FeedServer, session: aiohttp.ClientSession
) -> None:
    feeds.status_override["busy.xml"] = 429
    feeds.error_headers["busy.xml"] = {"Retry-After": "120"}
    with pytest.raises(HTTPStatusError) as caught:
        await fetch_feed(session, feeds.url("busy.xml"), Validators(), limits=SMALL)
    assert caught.value.status == 429 and caught.value.retriable
    assert caught.value.retry_after_s == 120
    feeds.feeds["cached.xml"] = ServedFeed(
        FEED, headers={"Cache-Control": "public, max-age=900"}, content_type="text/xml"
    )
    result = await fetch_feed(session, feeds.url("cached.xml"), Validators(), limits=SMALL)
    assert result.max_age_s == 900 and result.content_type == "text/xml"


def test_header_parsing() -> None:
    assert parse_max_age("public, s-maxage=60") is None  # s-maxage is for shared caches only
    assert parse_max_age("max-age=60, public") == 60
    assert parse_max_age("no-cache") == 0
    assert parse_max_age(None) is None
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Tue, 24 Nov 2026 12:05:00 GMT", now) == 300
    assert parse_retry_after("Tue, 24 Nov 2026 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
