"""Shared fixtures: one real embedded broker per session, real fake servers per test."""

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from services.broker import EmbeddedBroker
from services.feed_server import FeedServer
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def broker() -> AsyncIterator[EmbeddedBroker]:
    async with EmbeddedBroker() as running:
        yield running


@pytest.fixture
def prefix() -> str:
    """A topic prefix of the test's own, so tests sharing the broker never see each other."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest_asyncio.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    server = FakeSlack()
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    await server.start()
    yield server
    await server.stop()
