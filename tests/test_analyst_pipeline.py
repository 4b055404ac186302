"""The analyst features through notify's real parts: the desk, the outbox, the dispatcher, a
real aiogram Bot against the fake Bot API server; and `mediawatch replay` as a user runs it."""

import html
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from aiogram import Bot

from notify.desk import StoryDesk
from notify.dispatch import Dispatcher
from notify.outbox import Outbox, open_db
from notify.routing import Routes, destinations
from notify.subscriptions import Subscriptions
from tests.fakes.telegram import FakeTelegram
from tests.helpers import REPO
from tests.test_analyst import alert
from tests.test_notify import FAST, bot, drain, telegram_channels
from tests.test_notify_bot import CATALOGUE, Conversation

__all__ = ["bot"]  # the fixture, imported for pytest

TELEGRAM_ONLY = Routes(console=False, telegram=True)


def desk_at(tmp_path: Path, now: datetime) -> tuple[StoryDesk, Outbox, Subscriptions]:
    db = open_db(tmp_path / "notify.sqlite")
    return StoryDesk.open(db, now), Outbox(db), Subscriptions(db)


async def test_an_arabic_and_an_english_report_are_one_telegram_message(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot
) -> None:
    rng = np.random.default_rng(7)
    story = rng.normal(size=512)
    arabic = alert("ar-1", "relations_cut", ["DZ", "MA"], story, lang="ar")
    arabic = arabic.model_copy(
        update={"article": arabic.article.model_copy(update={"source": "الشروق"})}
    )
    english = alert(
        "en-1", "relations_cut", ["DZ", "MA"], story + rng.normal(scale=0.3, size=512), 2
    )
    english = english.model_copy(
        update={"article": english.article.model_copy(update={"source": "Reuters"})}
    )
    desk, outbox, subscriptions = desk_at(tmp_path, arabic.detected_at)
    subscriptions.seed(9, ["w"])
    dispatcher = Dispatcher(outbox, telegram_channels(bot), backoff=FAST)
    for received in (arabic, english):
        linked, notices = desk.admit(received)
        assert notices == []
        dispatcher.enqueue(linked, destinations(TELEGRAM_ONLY, subscriptions, linked))
        await drain(dispatcher)
    assert len(telegram.messages) == 1, "the English report edits the Arabic one's message"
    text = html.unescape(telegram.messages[0].text)
    assert telegram.messages[0].edits == 1
    assert "also reported by \u2068Reuters (en)\u2069 · 2 outlets" in text


def test_with_link_stories_off_each_alert_keeps_its_own_story(tmp_path: Path) -> None:
    story = np.random.default_rng(7).normal(size=512)
    first = alert("ar-1", "relations_cut", ["DZ", "MA"], story, lang="ar")
    again = alert("en-1", "relations_cut", ["DZ", "MA"], story, 2)
    desk = StoryDesk.open(open_db(tmp_path / "notify.sqlite"), first.detected_at, linking=False)
    assert [desk.admit(a)[0].story_id for a in (first, again)] == ["ar-1", "en-1"]
    linking = StoryDesk.open(open_db(tmp_path / "other.sqlite"), first.detected_at)
    assert [linking.admit(a)[0].story_id for a in (first, again)] == ["ar-1", "ar-1"]


async def test_a_spike_sends_an_escalation_chart_once(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot
) -> None:
    rng = np.random.default_rng(3)
    first = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    desk, outbox, subscriptions = desk_at(tmp_path, first)
    subscriptions.seed(9, ["w"])
    dispatcher = Dispatcher(outbox, telegram_channels(bot), backoff=FAST)
    hours = [24.0 * day for day in range(14)] + [24.0 * 14 + n * 0.5 for n in range(8)]
    notices = []
    for n, at in enumerate(hours):  # one story a day about UA, then eight on the 15th day
        a = alert(f"s{n}", "shelling_or_strike", ["UA"], rng.normal(size=512), at)
        a = a.model_copy(
            update={
                "article": a.article.model_copy(
                    update={"published_at": first + timedelta(hours=at)}
                )
            }
        )
        _, made = desk.admit(a)
        notices += made
    assert len(notices) == 1, "escalated once, on the spike's day"
    notice = notices[0]
    assert notice.rule == "escalation" and notice.escalation is not None
    assert notice.escalation.country == "UA" and notice.escalation.stories >= 5
    assert notice.escalation.baseline_per_day == 1.0 and notice.escalation.p_value < 1e-3
    dispatcher.enqueue(notice, destinations(TELEGRAM_ONLY, subscriptions, notice))
    await drain(dispatcher)
    photo = telegram.messages[-1]
    assert photo.photo is not None and photo.photo.startswith(b"\x89PNG"), "a chart, sendPhoto"
    assert "Escalation · shelling_or_strike" in html.unescape(photo.text)
    assert "against 1 a day over the 14 days before (p &lt; 0.001)" in photo.text
    # a restart keeps the counts and knows the escalation was announced
    again, _, _ = desk_at(tmp_path, first + timedelta(days=14))
    late = alert("late", "shelling_or_strike", ["UA"], rng.normal(size=512), 24.0 * 14 + 6)
    late = late.model_copy(
        update={
            "article": late.article.model_copy(
                update={"published_at": first + timedelta(hours=24.0 * 14 + 6)}
            )
        }
    )
    _, made = again.admit(late)
    assert (
        made == []
        and again.trends.count("shelling_or_strike", "UA", late.article.published_at.date()) == 9
    )  # type: ignore[union-attr]


async def test_a_chat_subscribed_to_a_country_gets_only_its_alerts(tmp_path: Path) -> None:
    subscriptions = Subscriptions(open_db(tmp_path / "notify.sqlite"))
    assert subscriptions.subscribe(9, "w", frozenset({"AZ"}))
    subscriptions.subscribe(10, "w")
    v = np.ones(512)
    about_az = alert("a", "shelling_or_strike", ["AZ", "AM"], v)
    about_am = alert("b", "shelling_or_strike", ["AM"], v)
    assert destinations(TELEGRAM_ONLY, subscriptions, about_az) == ["telegram:10", "telegram:9"]
    assert destinations(TELEGRAM_ONLY, subscriptions, about_am) == ["telegram:10"]
    assert subscriptions.countries_of(9) == {"w": ["AZ"]}


async def test_the_bot_subscribes_by_country_and_draws_a_trend(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot
) -> None:
    import asyncio

    from notify.bot import BotHandlers, Policy, poll

    db = open_db(tmp_path / "notify.sqlite")
    subscriptions = Subscriptions(db)
    desk = StoryDesk.open(db)
    today = datetime.now(UTC).replace(hour=0, minute=30)
    for n in range(3):  # a story about Ukraine on each of the last three days
        vector = np.ones(512) * (n + 1)
        desk.admit(alert(f"t{n}", "shelling_or_strike", ["UA"], vector, -24.0 * n, start=today))
    names = {"AZ": "Azerbaijan", "UA": "Ukraine"}
    from services.notify_service import trend_chart

    handlers = BotHandlers(
        subscriptions,
        CATALOGUE,
        Policy(),
        country_name=names.get,
        trend=lambda event, country: trend_chart(desk, event, country, names.get),
    )
    stop = asyncio.Event()
    polling = asyncio.create_task(poll(bot, handlers.router(), stop, polling_timeout=1))
    try:
        talk = Conversation(telegram, subscriptions)
        reply = await talk.say(555, "/subscribe conflict AZ")
        assert reply.startswith("Subscribed to conflict about Azerbaijan (AZ)")
        assert "no country or group 'ZZZ'" in await talk.say(555, "/subscribe conflict ZZZ")
        assert await talk.say(555, "/list") == "This chat gets alerts from: conflict (AZ)"
        caption = await talk.say(555, "/trend shelling_or_strike UA")
        chart = telegram.messages[-1]
        assert chart.photo is not None and chart.photo.startswith(b"\x89PNG")
        assert caption == "shelling_or_strike · Ukraine · UA: 3 stories in 15 days"
        assert "No stories of 'relations_cut'" in await talk.say(555, "/trend relations_cut")
    finally:
        stop.set()
        await polling
        db.close()


def test_replay_prints_what_would_have_been_sent_and_when(tmp_path: Path) -> None:
    start = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    daily = [
        "Russian shelling hits Kharkiv suburbs",
        "Artillery fire reported near Bakhmut by Kyiv",
        "Drone strike damages power line in Sumy, Ukraine says",
        "Russia shells Kherson market",
        "Missile strike on Dnipro warehouse, Ukrainian officials say",
        "Russian artillery pounds Avdiivka again",
        "Ukraine reports Russian air raid on Zaporizhzhia",
        "Rocket fire lands near Mykolaiv port",
        "Shelling of Nikopol leaves two injured",
        "Russian drones strike Odesa grain terminal",
        "Overnight bombardment of Kramatorsk",
        "Russian air strikes on Chernihiv villages",
        "Mortar fire near Vuhledar, army says",
        "Russian missile hits Kryvyi Rih apartment block",
    ]
    spike = [
        "Russia launches massive missile barrage across Ukraine",
        "Kyiv under heavy Russian drone attack overnight",
        "Russian shelling kills civilians in Kharkiv centre",
        "Lviv hit by Russian cruise missiles for first time in weeks",
        "Russian air strikes pound Dnipro industrial zone",
        "Rocket attack on Odesa port damages ships",
        "Zaporizhzhia plant area shelled, Ukraine says",
        "Russian artillery bombardment of Sumy intensifies",
        "Chernihiv power station struck by Russian missiles",
        "Mykolaiv shipyard hit in Russian rocket strike",
        "Russian glide bombs fall on Kramatorsk homes",
        "Kherson ferry crossing shelled from left bank",
    ]
    lines = [  # a strike report a day about Ukraine for 14 days, then twelve in one day
        {"id": f"d{d}", "title": title, "lang": "en",
         "published_at": (start + timedelta(days=d)).isoformat()}
        for d, title in enumerate(daily)
    ] + [
        {"id": f"s{n}", "title": title, "lang": "en",
         "published_at": (start + timedelta(days=14, minutes=20 * n)).isoformat()}
        for n, title in enumerate(spike)
    ]  # fmt: skip
    stream = tmp_path / "stream.jsonl"
    stream.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "replay", "--watchlists", "watchlists/",
         str(stream)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    out = [json.loads(line) for line in result.stdout.splitlines()]
    alerts = [o for o in out if o["kind"] == "alert" and o["event"] == "shelling_or_strike"]
    assert len(alerts) >= 18, "the strike reports alert"
    assert sum(any(x.startswith("RU:") for x in a["actors"]) for a in alerts) >= 12
    escalations = [o for o in out if o["kind"] == "escalation"]
    assert [(e["event"], e["day"]) for e in escalations if e["country"] == "UA"] == [
        ("shelling_or_strike", "2026-10-15")
    ]
    assert [o["at"] for o in out] == sorted(o["at"] for o in out), "in the order sent"
