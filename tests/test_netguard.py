"""SSRF guard: feed fetches never reach non-public addresses unless the operator allows it."""

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from ingest.errors import BlockedAddressError
from ingest.fetch import FetchLimits, Validators, connector, fetch_feed
from ingest.netguard import address_kind, socket_guard
from services.feed_server import FeedServer, ServedFeed

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "private"),  # carrier-grade NAT
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "private"),
        ("240.0.0.1", "private"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("151.101.1.140", None),
    ],
)
def test_address_kinds(address: str, kind: str | None) -> None:
    assert address_kind(address) == kind


@pytest_asyncio.fixture
async def second_host() -> AsyncIterator[FeedServer]:
    """A feed server on another loopback address: the 'internal' host in redirect tests."""
    server = FeedServer(host="127.0.0.2")
    await server.start()
    yield server
    await server.stop()


async def test_loopback_feed_is_refused_by_default_and_allowed_when_configured(
    feeds: FeedServer,
) -> None:
    feeds.feeds["a.xml"] = ServedFeed(FEED)
    async with aiohttp.ClientSession(connector=connector()) as session:
        with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1 is a loopback address"):
            await fetch_feed(session, feeds.url("a.xml"), Validators())
        # a name is checked after resolution: 'localhost' is not on any list of names
        by_name = feeds.url("a.xml").replace("127.0.0.1", "localhost")
        with pytest.raises(BlockedAddressError, match="loopback address"):
            await fetch_feed(session, by_name, Validators())
    assert "a.xml" not in feeds.requests  # refused before connecting
    async with aiohttp.ClientSession(connector=connector(allow_private_networks=True)) as s:
        assert (await fetch_feed(s, feeds.url("a.xml"), Validators())).body == FEED


async def test_every_redirect_hop_is_checked(feeds: FeedServer, second_host: FeedServer) -> None:
    """127.0.0.1 plays a public site here (exempt); its redirect to 127.0.0.2 must be refused."""
    second_host.feeds["secret.xml"] = ServedFeed(FEED)
    feeds.feeds["public.xml"] = ServedFeed(FEED)
    feeds.redirects["hop"] = second_host.url("secret.xml")
    pool = aiohttp.TCPConnector(socket_factory=socket_guard(exempt={"127.0.0.1"}))
    async with aiohttp.ClientSession(connector=pool) as session:
        ok = await fetch_feed(session, feeds.url("public.xml"), Validators())
        assert ok.body == FEED
        with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.2 is a loopback address") as err:
            await fetch_feed(session, feeds.url("hop"), Validators(), limits=FetchLimits())
    assert not err.value.retriable
    assert feeds.requests["hop"] == 1 and "secret.xml" not in second_host.requests
