"""Rendering and delivery through a real aiogram Bot and slack-sdk client to fake servers."""

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from detect.model import Alert, ArticleRef, Match
from notify.dispatch import Channel, Dispatcher, DispatchEvents
from notify.outbox import Outbox, open_db
from notify.ratelimit import BackoffConfig, Pace
from notify.render import render_slack, render_telegram_html, render_text
from notify.senders import ConsoleSender, SlackSender
from notify.subscriptions import Subscriptions
from notify.telegram import TelegramSender
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram, Fault

FAST = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=2.0, jitter=0.01)


def make_alert(
    title: str = "Forces <b>violated</b> the ceasefire & more",
    n: int = 1,
    severity: str = "high",
    article: str | None = None,
) -> Alert:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    return Alert(
        id=f"alert-{n}",
        watchlist="conflict",
        rule="ceasefire-violation",
        event="ceasefire_violation",
        severity=severity,  # type: ignore[arg-type]
        article=ArticleRef(
            id=article or f"art-{n}",
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


def tags(telegram_html: str) -> list[str]:
    """Every tag Telegram would see, in order (HTMLParser reads it the way Telegram does)."""
    found: list[str] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: object) -> None:
            found.append(tag)

        def handle_endtag(self, tag: str) -> None:
            found.append("/" + tag)

    Tags().feed(telegram_html)
    return found


def test_telegram_html_escapes_everything_from_the_feed() -> None:
    html = render_telegram_html(make_alert())
    assert set(tags(html)) <= {"b", "/b", "i", "/i", "a", "/a"}, "no markup from the feed"
    assert "&lt;b&gt;" in html and "Wire &lt;script&gt;" in html
    assert 'href="https://x.example/a?b=1&amp;c=&lt;2&gt;"' in html
    assert "ceasefire_violation" in html


def test_arabic_title_is_isolated_for_right_to_left_rendering() -> None:
    text = render_text(make_alert("خرق الهدنة في تارتار"))
    assert "\u2068خرق الهدنة في تارتار\u2069" in text


def test_slack_blocks_escape_mrkdwn() -> None:
    fallback, blocks = render_slack(make_alert())
    assert "ceasefire_violation" in fallback
    assert blocks[0]["type"] == "header"
    assert "&lt;b&gt;" in blocks[1]["text"]["text"]


def outbox_at(tmp_path: Path) -> Outbox:
    return Outbox(open_db(tmp_path / "notify.sqlite"))


async def drain(dispatcher: Dispatcher, timeout: float = 30.0) -> None:
    """Run the sender loop until nothing is owed or in flight."""
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not dispatcher.idle:  # noqa: ASYNC110 (polling a property, no event to wait on)
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await running


def telegram_channels(bot: Bot, **paces: Pace) -> Callable[[str], Channel | None]:
    def resolve(key: str) -> Channel | None:
        kind, _, chat = key.partition(":")
        if kind != "telegram":
            return None
        return Channel(TelegramSender(bot, int(chat)), paces.get(chat))

    return resolve


async def test_telegram_retry_after_is_honoured_and_server_errors_retried_until_sent(
    tmp_path: Path,
    telegram: FakeTelegram,
    bot: Bot,
) -> None:
    telegram.faults = [Fault(429, retry_after=1), Fault(500), Fault(502)]
    retries: list[str] = []
    throttled: list[str] = []
    outbox = outbox_at(tmp_path)
    dispatcher = Dispatcher(
        outbox,
        telegram_channels(bot),
        backoff=FAST,
        events=DispatchEvents(retry=retries.append, throttled=throttled.append),
    )
    assert dispatcher.enqueue(make_alert(), ["telegram:42"]) == 1
    await drain(dispatcher)
    assert len(telegram.messages) == 1 and telegram.messages[0].chat_id == "42"
    assert retries == ["telegram:42"] * 3 and throttled == ["telegram:42"]
    first, second = telegram.attempts[0], telegram.attempts[1]
    assert first.status == 429
    assert 1.0 <= second.at - first.at < 1.5, "retry_after is honoured, and not much more"
    assert outbox.sent("alert-1", "telegram:42")
    # redelivered by Kafka: the outbox already has it, nothing is queued or sent again
    assert dispatcher.enqueue(make_alert(), ["telegram:42"]) == 0
    await drain(dispatcher)
    assert len(telegram.messages) == 1


async def test_forbidden_chat_fails_everything_owed_to_it_and_is_reported_gone(
    tmp_path: Path,
    telegram: FakeTelegram,
    bot: Bot,
) -> None:
    telegram.forbidden = {"1"}
    failed: list[str] = []
    gone: list[str] = []
    outbox = outbox_at(tmp_path)
    dispatcher = Dispatcher(
        outbox,
        telegram_channels(bot, **{"1": Pace.per_second(20)}),
        backoff=FAST,
        events=DispatchEvents(failed=failed.append, gone=gone.append),
    )
    for n in range(3):
        dispatcher.enqueue(make_alert(n=n), ["telegram:1", "telegram:2"])
    await drain(dispatcher)
    assert gone == ["telegram:1"]
    assert failed == ["telegram:1"] * 3
    assert [a.chat_id for a in telegram.attempts].count("1") == 1, "one 403 is enough"
    assert [m.chat_id for m in telegram.messages] == ["2", "2", "2"]
    assert outbox.count("failed") == 3 and outbox.count("sent") == 3


async def test_stop_interrupts_a_retry_wait_and_a_restart_sends_what_is_owed(
    tmp_path: Path,
    telegram: FakeTelegram,
    bot: Bot,
) -> None:
    telegram.faults = [Fault(429, retry_after=30)]
    outbox = outbox_at(tmp_path)
    dispatcher = Dispatcher(outbox, telegram_channels(bot), backoff=FAST)
    dispatcher.enqueue(make_alert(), ["telegram:7"])
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    async with asyncio.timeout(5):
        await dispatcher.run(stop)
    assert not outbox.sent("alert-1", "telegram:7") and outbox.count("pending") == 1
    restarted = Dispatcher(outbox_at(tmp_path), telegram_channels(bot), backoff=FAST)
    await drain(restarted)
    assert [m.chat_id for m in telegram.messages] == ["7"]
    assert outbox.count("pending") == 0


async def test_stop_still_sends_what_is_ready_and_leaves_the_rest_owed(
    tmp_path: Path,
    telegram: FakeTelegram,
    bot: Bot,
) -> None:
    """A graceful stop sends what is queued and ready; a chat told to wait stays owed."""
    telegram.faults = [Fault(429, retry_after=30)]  # the first send: chat 9 must wait 30 s
    outbox = outbox_at(tmp_path)
    dispatcher = Dispatcher(
        outbox,
        # chat 9's slow pace makes its one message the longest backlog: it goes first
        telegram_channels(bot, **{"9": Pace.per_second(0.01)}),
        backoff=FAST,
        drain_timeout=2.0,
    )
    dispatcher.enqueue(make_alert(n=0), ["telegram:9"])
    for n in range(1, 6):
        dispatcher.enqueue(make_alert(n=n), ["telegram:8"])
    stop = asyncio.Event()
    stop.set()  # asked to stop before it even started
    async with asyncio.timeout(10):
        await dispatcher.run(stop)
    assert telegram.attempts[0].chat_id == "9" and telegram.attempts[0].status == 429
    assert [m.chat_id for m in telegram.messages] == ["8"] * 5
    assert outbox.count("pending") == 1 and not outbox.sent("alert-0", "telegram:9")


async def test_a_send_that_timed_out_is_retried_late_and_counted_as_ambiguous(
    tmp_path: Path,
    telegram: FakeTelegram,
) -> None:
    telegram.slow_answers, telegram.answer_delay_s = 1, 1.5  # delivered, answered too late
    session = AiohttpSession(api=TelegramAPIServer.from_base(telegram.base_url), timeout=0.5)
    slow_bot = Bot(token=telegram.token, session=session)
    ambiguous: list[str] = []
    try:
        dispatcher = Dispatcher(
            outbox_at(tmp_path),
            telegram_channels(slow_bot),
            backoff=FAST,
            events=DispatchEvents(ambiguous=ambiguous.append),
        )
        for n in range(3):
            dispatcher.enqueue(make_alert(f"alert {n}", n=n), ["telegram:6"])
        await drain(dispatcher)
    finally:
        await slow_bot.session.close()
    titles = [m.text.split("\n")[1].strip("\u2068\u2069") for m in telegram.messages]
    assert sorted(set(titles)) == ["alert 0", "alert 1", "alert 2"]
    assert len(titles) - len(set(titles)) <= 1, "at most the one that timed out twice"
    assert ambiguous == ["telegram:6"]
    first, retry = telegram.attempts[0], telegram.attempts[1]
    assert retry.at - first.at >= 0.5, "the retry waited as long as the request had"


async def test_critical_alerts_jump_the_queue(
    tmp_path: Path,
    telegram: FakeTelegram,
    bot: Bot,
) -> None:
    dispatcher = Dispatcher(
        outbox_at(tmp_path), telegram_channels(bot, **{"5": Pace.per_second(50)}), backoff=FAST
    )
    for n in range(6):
        dispatcher.enqueue(make_alert(f"routine {n}", n=n), ["telegram:5"])
    dispatcher.enqueue(make_alert("urgent", n=99, severity="critical"), ["telegram:5"])
    await drain(dispatcher)
    titles = [m.text.split("\n")[1].strip("\u2068\u2069") for m in telegram.messages]
    assert titles == ["urgent"] + [f"routine {n}" for n in range(6)]


async def test_the_same_story_from_another_outlet_is_owed_again_a_redelivery_is_not(
    tmp_path: Path,
) -> None:
    outbox = outbox_at(tmp_path)
    assert len(outbox.enqueue(make_alert(), ["telegram:1", "console"])) == 2
    assert outbox.enqueue(make_alert(), ["telegram:1", "console"]) == []
    assert len(outbox.enqueue(make_alert(article="other-outlet"), ["telegram:1"])) == 1
    assert [e.destination for e in outbox.pending()] == ["telegram:1", "console", "telegram:1"]


def test_pace_spaces_events_and_catch_up_keeps_the_schedule() -> None:
    strict = Pace.per_second(10)
    assert strict.ready(0.0)
    strict.take(0.0)
    assert not strict.ready(0.05) and strict.ready_at() == 0.1
    strict.take(0.13)  # late by 30 ms: the next slot moves with it
    assert strict.ready_at() == pytest.approx(0.23)
    paced = Pace.per_second(10, catch_up=True)
    paced.take(0.0)
    paced.take(0.13)  # late, but within one interval: the schedule holds
    assert paced.ready_at() == pytest.approx(0.2)
    paced.take(5.0)  # idle for long: no burst credit piles up
    assert paced.ready_at() == pytest.approx(5.1)
    with pytest.raises(ValueError):
        Pace.per_second(0)


async def test_slack_rate_limit_is_retried_and_console_gets_jsonl(
    tmp_path: Path,
    slack: FakeSlack,
) -> None:
    slack.faults = [(429, 1), (503, None)]
    console = io.StringIO()
    channels = {
        "slack:newsroom": Channel(SlackSender("newsroom", slack.url()), Pace.per_second(1)),
        "console": Channel(ConsoleSender(console, jsonl=True)),
    }
    outbox = outbox_at(tmp_path)
    dispatcher = Dispatcher(outbox, channels.get, backoff=FAST)
    dispatcher.enqueue(make_alert(), ["slack:newsroom", "console", "slack:gone"])
    await drain(dispatcher)
    assert outbox.owed("slack:gone") == 1, "kept, not dropped, until it is configured again"
    assert len(slack.posts) == 1
    assert slack.posts[0]["blocks"][1]["type"] == "section"
    assert Alert.model_validate_json(console.getvalue().splitlines()[0]).id == "alert-1"


async def test_old_sent_messages_are_pruned_and_pending_ones_kept(tmp_path: Path) -> None:
    outbox = outbox_at(tmp_path)
    old, waiting = outbox.enqueue(make_alert(n=1), ["telegram:1"]) + outbox.enqueue(
        make_alert(n=2), ["telegram:1"]
    )
    outbox.mark_sent(old.seq, "10")
    assert outbox.story_message("telegram:1", "art-1") == "10"
    assert outbox.prune(done_before=time.time() - 60) == 0, "too recent"
    assert outbox.prune(done_before=time.time() + 60) == 1
    assert outbox.count("sent") == 0 and outbox.count("pending") == 1
    assert outbox.story_message("telegram:1", "art-1") is None
    assert [e.seq for e in outbox.pending()] == [waiting.seq]


async def test_a_group_upgraded_to_a_supergroup_takes_what_is_owed_along(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot
) -> None:
    telegram.migrated = {"-100": -1009}
    moved: list[tuple[str, str]] = []
    outbox = outbox_at(tmp_path)
    dispatcher = Dispatcher(
        outbox,
        telegram_channels(bot),
        backoff=FAST,
        events=DispatchEvents(moved=lambda o, n: moved.append((o, n))),
    )
    for n in range(3):
        dispatcher.enqueue(make_alert(n=n), ["telegram:-100"])
    await drain(dispatcher)
    assert moved == [("telegram:-100", "telegram:-1009")]
    assert [m.chat_id for m in telegram.messages] == ["-1009"] * 3
    assert outbox.count("sent") == 3 and outbox.count("failed") == 0


def test_a_moved_chat_keeps_its_subscriptions_and_settings(tmp_path: Path) -> None:
    subscriptions = Subscriptions(open_db(tmp_path / "notify.sqlite"))
    subscriptions.seed(-100, ["conflict"])
    subscriptions.set_digest(-100, "1h")
    subscriptions.move(-100, -1009)
    assert subscriptions.chats_for("conflict") == ["-1009"]
    assert subscriptions.digest(-1009) == "1h" and not subscriptions.known(-100)
