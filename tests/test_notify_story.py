"""One message per story per chat: later reports of a story edit the message that told it."""

import html
from datetime import UTC, datetime
from pathlib import Path

from aiogram import Bot

from detect.model import Alert, ArticleRef, Match
from notify.dispatch import Dispatcher, DispatchEvents
from notify.telegram import TelegramSender
from tests.fakes.telegram import FakeTelegram
from tests.test_notify import FAST, bot, drain, outbox_at, telegram_channels

__all__ = ["bot"]  # the fixture, imported for pytest


def report(source: str, n: int, story: str = "story-1", rule: str = "ceasefire-violation") -> Alert:
    now = datetime(2026, 1, 1, 12, n, tzinfo=UTC)
    return Alert(
        id=f"{rule}-{story}",  # detect hashes watchlist + rule + story: outlets share it
        watchlist="conflict",
        rule=rule,
        event=rule.replace("-", "_"),
        severity="high",
        article=ArticleRef(
            id=f"{source}-{n}",
            url=f"https://{source}.example/{n}",
            title="Truce broken",
            source=source,
        ),
        matches=[Match(text="Truce broken", field="title", start=0, end=12)],
        story_id=story,
        detected_at=now,
        ingested_at=now,
    )


async def test_more_outlets_edit_the_story_message_instead_of_sending_again(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot
) -> None:
    edited: list[str] = []
    outbox = outbox_at(tmp_path)
    dispatcher = Dispatcher(
        outbox, telegram_channels(bot), backoff=FAST, events=DispatchEvents(edited=edited.append)
    )
    dispatcher.enqueue(report("Wire <A>", 1), ["telegram:9", "telegram:10"])
    await drain(dispatcher)
    dispatcher.enqueue(report("Daily", 2), ["telegram:9"])
    dispatcher.enqueue(report("Daily", 2), ["telegram:9"])  # Kafka redelivery: nothing new
    dispatcher.enqueue(report("Herald", 3), ["telegram:9"])
    await drain(dispatcher)
    assert [m.chat_id for m in telegram.messages] == ["9", "10"], "no new message for the story"
    story = telegram.messages[0]
    assert story.edits == 2 and edited == ["telegram:9", "telegram:9"]
    text = html.unescape(story.text)
    assert "also reported by \u2068Daily\u2069, \u2068Herald\u2069 · 3 outlets" in text
    assert "Wire <A>" in text and "<A>" not in story.text, "sources are escaped"
    assert "also reported" not in telegram.messages[1].text, "chat 10 heard of one outlet"
    assert outbox.count("sent") == 4


async def test_another_event_on_the_story_is_added_to_the_same_message(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot
) -> None:
    dispatcher = Dispatcher(outbox_at(tmp_path), telegram_channels(bot), backoff=FAST)
    dispatcher.enqueue(report("Wire", 1), ["telegram:9"])
    dispatcher.enqueue(report("Wire", 1, rule="threat-to-cut-relations"), ["telegram:9"])
    await drain(dispatcher)
    assert len(telegram.messages) == 1
    text = telegram.messages[0].text
    assert "ceasefire_violation" in text and "threat_to_cut_relations" in text
    assert "outlets" not in text, "one outlet, two events"


async def test_a_story_message_that_cannot_be_edited_is_replaced_by_a_new_one(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot
) -> None:
    outbox = outbox_at(tmp_path)
    dispatcher = Dispatcher(outbox, telegram_channels(bot), backoff=FAST)
    dispatcher.enqueue(report("Wire", 1), ["telegram:9"])
    await drain(dispatcher)
    telegram.messages.clear()  # deleted in the chat: "message to edit not found"
    dispatcher.enqueue(report("Daily", 2), ["telegram:9"])
    await drain(dispatcher)
    assert len(telegram.messages) == 1 and "2 outlets" in telegram.messages[0].text
    assert outbox.story_message("telegram:9", "story-1") == str(telegram.messages[0].message_id)


async def test_an_edit_replayed_after_a_crash_counts_as_done(
    telegram: FakeTelegram, bot: Bot
) -> None:
    sender = TelegramSender(bot, 9)
    message_id = await sender.send(report("Wire", 1))
    assert message_id is not None
    story = [report("Wire", 1), report("Daily", 2)]
    assert await sender.edit(story, message_id)
    assert await sender.edit(story, message_id), "'message is not modified' means it is done"
    assert len(telegram.edits) == 1
