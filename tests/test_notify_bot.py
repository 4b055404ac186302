"""The bot's commands and buttons, served as real updates through the fake server's getUpdates
to a real aiogram Bot and Dispatcher (long polling)."""

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from aiogram import Bot

from notify.bot import (
    BotHandlers,
    Policy,
    WatchlistAction,
    WatchlistInfo,
    parse_mute,
    poll,
    serve_webhook,
)
from notify.outbox import Outbox, open_db
from notify.subscriptions import Subscriptions
from notify.telegram import TelegramSender
from services.broker import EmbeddedBroker
from services.config import KafkaConfig
from services.kafka import KafkaLink, ensure_topics
from services.supervisor import SERVICES, Supervisor
from tests.fakes.telegram import FakeTelegram
from tests.helpers import eventually, produce, write_config
from tests.test_delivery_guarantees import CHAT, FAST_LIMITS, article
from tests.test_notify import bot, make_alert

__all__ = ["bot"]  # the fixture, imported for pytest

CATALOGUE = {
    "conflict": WatchlistInfo("conflict", "Armed conflict events", "Ceasefires and strikes."),
    "sport": WatchlistInfo("sport", "Sport", ""),
}


class Conversation:
    def __init__(self, telegram: FakeTelegram, subscriptions: Subscriptions) -> None:
        self.telegram = telegram
        self.subs = subscriptions

    async def say(self, chat_id: int, text: str, **kwargs: object) -> str:
        """Post `text`, wait for the bot's reply in that chat, return it."""
        before = len(self.telegram.replies(chat_id))
        self.telegram.say(chat_id, text, **kwargs)  # type: ignore[arg-type]
        await eventually(
            lambda: len(self.telegram.replies(chat_id)) > before,
            timeout=10,
            what=f"reply to {text}",
        )
        return self.telegram.replies(chat_id)[-1]

    async def tap(self, chat_id: int, user_id: int, action: str, watchlist: str) -> str:
        before = len(self.telegram.callback_answers)
        data = WatchlistAction(action=action, watchlist=watchlist).pack()  # type: ignore[arg-type]
        self.telegram.tap(chat_id, user_id, data)
        await eventually(
            lambda: len(self.telegram.callback_answers) > before, timeout=10, what="button answer"
        )
        return self.telegram.callback_answers[-1]


@contextlib.asynccontextmanager
async def conversation(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot, policy: Policy
) -> AsyncIterator[Conversation]:
    """The bot's handlers long-polling the fake server, over a fresh SQLite store."""
    db = open_db(tmp_path / "notify.sqlite")
    subscriptions = Subscriptions(db)
    outbox = Outbox(db)
    handlers = BotHandlers(
        subscriptions,
        CATALOGUE,
        policy,
        owed=outbox.owed,
    )
    stop = asyncio.Event()
    polling = asyncio.create_task(poll(bot, handlers.router(), stop, polling_timeout=1))
    try:
        yield Conversation(telegram, subscriptions)
    finally:
        stop.set()
        await polling
        db.close()


@pytest_asyncio.fixture
async def talk(tmp_path: Path, telegram: FakeTelegram, bot: Bot) -> AsyncIterator[Conversation]:
    async with conversation(tmp_path, telegram, bot, Policy()) as talking:
        yield talking


async def test_private_chat_subscribes_lists_and_unsubscribes(talk: Conversation) -> None:
    assert "/subscribe <id>" in await talk.say(555, "/start")
    listing = await talk.say(555, "/watchlists")
    assert "conflict – Armed conflict events: Ceasefires and strikes." in listing
    assert "sport – Sport" in listing
    keyboard = json.loads(talk.telegram.messages[-1].reply_markup or "{}")
    buttons = [b["text"] for row in keyboard["inline_keyboard"] for b in row]
    assert buttons == ["Subscribe conflict", "Subscribe sport"]
    assert (await talk.say(555, "/subscribe conflict")).startswith("Subscribed to conflict")
    assert "already subscribed" in await talk.say(555, "/subscribe conflict")
    assert "no watchlist called 'nope'" in await talk.say(555, "/subscribe nope")
    assert await talk.say(555, "/list") == "This chat gets alerts from: conflict"
    assert talk.subs.chats_for("conflict") == ["555"]
    assert await talk.say(555, "/unsubscribe conflict") == "Unsubscribed from conflict."
    assert talk.subs.chats_for("conflict") == []
    assert "Pick one" in await talk.say(555, "/subscribe")


async def test_inline_buttons_subscribe(talk: Conversation) -> None:
    answer = await talk.tap(556, 556, "sub", "sport")
    assert answer == "Subscribed to sport: Sport."
    assert talk.subs.chats_for("sport") == ["556"]
    assert await talk.tap(556, 556, "unsub", "sport") == "Unsubscribed from sport."
    assert talk.subs.chats_for("sport") == []


async def test_in_groups_only_admins_may_subscribe_when_the_policy_says_so(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot
) -> None:
    async with conversation(tmp_path, telegram, bot, Policy("admins")) as talk:
        telegram.admins["-100"] = {8}
        refusal = await talk.say(-100, "/subscribe conflict", user_id=7)
        assert refusal == "Sorry, only this group's administrators may change its alerts."
        assert talk.subs.chats_for("conflict") == []
        assert (await talk.say(-100, "/subscribe conflict", user_id=8)).startswith("Subscribed")
        # a channel: only its admins can post there at all
        channel = await talk.say(-200, "/subscribe sport", chat_type="channel")
        assert channel.startswith("Subscribed to sport")
        assert talk.subs.chats_for("conflict") == ["-100"]
        assert talk.subs.chats_for("sport") == ["-200"]
        # a private chat is its user's own
        assert (await talk.say(42, "/subscribe sport")).startswith("Subscribed")


async def test_allowlist_refuses_politely_and_says_why(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot
) -> None:
    async with conversation(
        tmp_path, telegram, bot, Policy("allowlist", frozenset({77, -300}))
    ) as talk:
        refusal = await talk.say(60, "/subscribe conflict")
        assert refusal.startswith("Sorry, subscriptions are limited to an allowlist")
        assert "(id 60)" in refusal
        assert (await talk.say(77, "/subscribe conflict")).startswith("Subscribed")
        assert (await talk.say(-300, "/subscribe conflict", user_id=5)).startswith("Subscribed")
        answer = await talk.tap(61, 61, "sub", "sport")
        assert answer.startswith("Sorry, subscriptions are limited to an allowlist")
        assert talk.subs.chats_for("conflict") == ["-300", "77"]


async def test_mute_makes_alerts_silent_but_critical_still_rings_and_status_tells(
    talk: Conversation, bot: Bot
) -> None:
    await talk.say(557, "/subscribe conflict")
    reply = await talk.say(557, "/mute 2h")
    assert reply.startswith("Muted until") and "Critical ones still ring" in reply
    assert "Usage: /mute" in await talk.say(557, "/mute forever")
    sender = TelegramSender(bot, 557, muted=lambda: talk.subs.muted_until(557) is not None)
    await sender.send(make_alert())
    await sender.send(make_alert(severity="critical"))
    sent = [m for m in talk.telegram.messages if "ceasefire" in m.text]
    assert [m.silent for m in sent] == [True, False]
    status = await talk.say(557, "/status")
    assert "Subscriptions: conflict" in status and "Muted until" in status
    assert "Alerts waiting to be sent here: 0." in status
    assert (await talk.say(557, "/mute off")).startswith("Unmuted")
    assert talk.subs.muted_until(557) is None
    assert "alerts arrive bundled every 1h" in await talk.say(557, "/digest 1h")
    assert talk.subs.digest(557) == "1h"


async def test_start_reactivates_a_chat_that_had_blocked_the_bot(talk: Conversation) -> None:
    talk.subs.seed(558, [])
    talk.subs.deactivate(558, "forbidden (403)")
    assert talk.subs.chats_for("conflict") == []
    assert "Not active" in await talk.say(558, "/status")
    await talk.say(558, "/start")
    assert talk.subs.chats_for("conflict") == ["558"]


def test_mute_durations() -> None:
    assert parse_mute("30m") == 1800 and parse_mute("1d") == 86400 and parse_mute("off") == 0
    assert parse_mute("31d") is None and parse_mute("2x") is None and parse_mute("") is None
    assert parse_mute("٣٠m") == 1800  # Arabic-Indic digits are digits
    assert parse_mute("²m") is None and parse_mute("9" * 5000 + "m") is None


async def test_odd_command_arguments_get_an_answer(talk: Conversation) -> None:
    """Untrusted text: `/mute ²m` used to raise in the handler (no reply at all), and a
    4,000-character unknown watchlist name made a reply Telegram refuses as too long."""
    assert (await talk.say(555, "/mute ²m")).startswith("Usage: /mute")
    reply = await talk.say(555, "/subscribe " + "\u200b" * 4000)
    assert reply.startswith("There is no watchlist called '") and len(reply) <= 4096


async def test_a_chat_that_subscribes_through_the_bot_gets_alerts_from_the_running_service(
    tmp_path: Path, prefix: str, broker: EmbeddedBroker, telegram: FakeTelegram
) -> None:
    """The notify process answers /subscribe by long polling and routes alerts to that chat
    beside the chat seeded from YAML; a chat that subscribed to another watchlist gets none."""
    path = write_config(
        tmp_path,
        prefix,
        notify={
            "console": False,
            "telegram": {
                "token": telegram.token,
                "api_base": telegram.base_url,
                "chats": [{"id": CHAT}],
                "limits": FAST_LIMITS,
                "bot": {"enabled": True, "polling_timeout": 1},
            },
        },
    )
    await ensure_topics(KafkaLink(broker.bootstrap, KafkaConfig(topic_prefix=prefix)))
    supervisor = Supervisor(path, broker.bootstrap, dict.fromkeys(SERVICES, 0), "warning")
    await supervisor.start(("detect", "notify"))
    try:
        telegram.say(901, "/subscribe conflict")
        telegram.say(902, "/subscribe nope")
        await eventually(lambda: telegram.replies(901) and telegram.replies(902), what="replies")
        assert telegram.replies(901)[0].startswith("Subscribed to conflict: Armed conflict")
        await produce(broker.bootstrap, f"{prefix}.articles", [article(1)])
        alerts = lambda: [m.chat_id for m in telegram.messages if "checkpoint" in m.text]  # noqa: E731
        await eventually(lambda: len(alerts()) >= 2, what="the alert in both chats")
        await asyncio.sleep(0.5)
        assert sorted(alerts()) == sorted([str(CHAT), "901"])
    finally:
        await supervisor.stop()


async def test_webhook_mode_answers_updates_telegram_posts_and_refuses_forged_ones(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot
) -> None:
    with socket.socket() as probe:  # a free port for the webhook server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = open_db(tmp_path / "notify.sqlite")
    subscriptions = Subscriptions(db)
    handlers = BotHandlers(subscriptions, CATALOGUE, Policy())
    stop = asyncio.Event()
    url = f"http://127.0.0.1:{port}/hook"
    serving = asyncio.create_task(
        serve_webhook(
            bot, handlers.router(), stop, url=url, secret="s3cret", host="127.0.0.1", port=port,
            path="/hook",
        )
    )  # fmt: skip
    try:
        await eventually(lambda: telegram.webhook is not None, what="setWebhook")
        assert telegram.webhook == (url, "s3cret")
        telegram.say(700, "/subscribe conflict")
        await eventually(lambda: bool(telegram.replies(700)), what="a reply by webhook")
        assert telegram.replies(700)[0].startswith("Subscribed to conflict")
        forged = {"message": {"message_id": 1, "date": 0, "chat": {"id": 701, "type": "private"},
                              "text": "/subscribe conflict"}}  # fmt: skip
        assert await telegram.post_forged(forged, secret="guess") == 401
        assert subscriptions.chats_for("conflict") == ["700"]
    finally:
        stop.set()
        await serving
        db.close()
