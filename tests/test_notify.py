"""Rendering and delivery through a real aiogram Bot and slack-sdk client to fake servers."""

import asyncio
import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest_asyncio
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.utils.backoff import BackoffConfig

from detect.model import Alert, ArticleRef, Match
from notify.delivery_log import DeliveryLog
from notify.dispatch import Destination, Dispatcher, DispatchEvents
from notify.render import render_slack, render_telegram_html, render_text
from notify.senders import ConsoleSender, SlackSender, TelegramSender
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram, Fault

FAST = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=2.0, jitter=0.01)


def make_alert(title: str = "Forces <b>violated</b> the ceasefire & more", n: int = 1) -> Alert:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    return Alert(
        id=f"alert-{n}",
        watchlist="conflict",
        rule="ceasefire-violation",
        event="ceasefire_violation",
        severity="high",
        article=ArticleRef(
            id=f"art-{n}",
            url="https://x.example/a?b=1&c=<2>",
            title=title,
            source="Wire <script>",
            lang="en",
            published_at=now,
        ),
        matches=[Match(text="violated</b> the ceasefire", field="title", start=10, end=33)],
        story_id=f"art-{n}",
        detected_at=now,
        ingested_at=now,
    )


@pytest_asyncio.fixture
async def bot(telegram: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(telegram.base_url))
    real_bot = Bot(token=telegram.token, session=session)
    yield real_bot
    await real_bot.session.close()


def test_telegram_html_escapes_everything_from_the_feed() -> None:
    html = render_telegram_html(make_alert())
    assert "<b>violated</b>" not in html and "&lt;b&gt;violated&lt;/b&gt;" in html
    assert "Wire &lt;script&gt;" in html
    assert 'href="https://x.example/a?b=1&amp;c=&lt;2&gt;"' in html
    assert "ceasefire_violation" in html


def test_arabic_title_is_isolated_for_right_to_left_rendering() -> None:
    text = render_text(make_alert("خرق الهدنة في تارتار"))
    assert "\u2068خرق الهدنة في تارتار\u2069" in text


def test_slack_blocks_escape_mrkdwn() -> None:
    fallback, blocks = render_slack(make_alert())
    assert "ceasefire_violation" in fallback
    assert "&lt;b&gt;violated" in blocks[0]["text"]["text"]


async def test_telegram_retry_after_and_server_errors_are_retried_until_sent(
    tmp_path: Path,
    telegram: FakeTelegram,
    bot: Bot,
) -> None:
    telegram.faults = [Fault(429, retry_after=1), Fault(500), Fault(502)]
    retries: list[str] = []
    log = DeliveryLog(tmp_path / "d.sqlite")
    dispatcher = Dispatcher(
        [Destination(TelegramSender(bot, 42))],
        log,
        backoff=FAST,
        events=DispatchEvents(retry=retries.append),
    )
    started = time.monotonic()
    assert await dispatcher.deliver(make_alert(), asyncio.Event())
    assert time.monotonic() - started >= 1.0, "retry_after is honoured"
    assert len(telegram.messages) == 1 and telegram.messages[0].chat_id == "42"
    assert retries == ["telegram:42"] * 3
    # redelivered by Kafka: the delivery log stops a second message
    assert await dispatcher.deliver(make_alert(), asyncio.Event())
    assert len(telegram.messages) == 1


async def test_forbidden_chat_is_recorded_and_other_destinations_still_get_it(
    tmp_path: Path,
    telegram: FakeTelegram,
    bot: Bot,
) -> None:
    telegram.faults = [Fault(403, description="Forbidden: bot was blocked by the user")]
    failed: list[str] = []
    log = DeliveryLog(tmp_path / "d.sqlite")
    dispatcher = Dispatcher(
        [Destination(TelegramSender(bot, 1)), Destination(TelegramSender(bot, 2))],
        log,
        backoff=FAST,
        events=DispatchEvents(failed=failed.append),
    )
    assert await dispatcher.deliver(make_alert(), asyncio.Event())
    assert failed == ["telegram:1"]
    assert [m.chat_id for m in telegram.messages] == ["2"]
    assert log.count("failed") == 1 and log.count("sent") == 1


async def test_stop_interrupts_retries_without_marking_the_alert_done(
    tmp_path: Path,
    telegram: FakeTelegram,
    bot: Bot,
) -> None:
    telegram.faults = [Fault(429, retry_after=30)]
    log = DeliveryLog(tmp_path / "d.sqlite")
    dispatcher = Dispatcher([Destination(TelegramSender(bot, 7))], log, backoff=FAST)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    assert not await dispatcher.deliver(make_alert(), stop)
    assert not log.done("alert-1", "telegram:7")


async def test_slack_rate_limit_is_retried_and_watchlist_routing_applies(
    tmp_path: Path,
    slack: FakeSlack,
) -> None:
    slack.faults = [(429, 1), (503, None)]
    log = DeliveryLog(tmp_path / "d.sqlite")
    console = io.StringIO()
    dispatcher = Dispatcher(
        [
            Destination(SlackSender("newsroom", slack.url())),
            Destination(SlackSender("sport", slack.url("T/B/sport")), frozenset({"sport"})),
            Destination(ConsoleSender(console, jsonl=True)),
        ],
        log,
        backoff=FAST,
    )
    assert await dispatcher.deliver(make_alert(), asyncio.Event())
    assert len(slack.posts) == 1  # the sport channel does not follow 'conflict'
    assert slack.posts[0]["blocks"][0]["type"] == "section"
    assert Alert.model_validate_json(console.getvalue().splitlines()[0]).id == "alert-1"
