"""Digests and throttling: held alerts fold into one message later; nothing is dropped."""

import asyncio
import time
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

from aiogram import Bot

from detect.model import Alert
from notify.digest import HoldPolicy, QuietHours
from notify.dispatch import Dispatcher
from notify.outbox import Outbox, open_db
from notify.routing import Holds
from notify.subscriptions import Subscriptions
from services.config import NotifyConfig
from tests.fakes.telegram import FakeTelegram
from tests.test_notify import FAST, bot, drain, make_alert, telegram_channels

__all__ = ["bot"]  # the fixture, imported for pytest

RIYADH = ZoneInfo("Asia/Riyadh")


def at(text: str, tz: ZoneInfo = RIYADH) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def test_digest_intervals_hold_until_their_next_boundary() -> None:
    policy = HoldPolicy(tz=RIYADH)
    now = at("2026-03-01 10:07")
    alert = make_alert()
    assert policy.due_at(alert, digest=None, sent_alone=0, now=now) is None
    assert policy.due_at(alert, digest=900, sent_alone=0, now=now) == at("2026-03-01 10:15")
    assert policy.due_at(alert, digest=3600, sent_alone=0, now=now) == at("2026-03-01 11:00")
    assert policy.due_at(alert, digest=86400, sent_alone=0, now=now) == at("2026-03-02 08:00")
    early = at("2026-03-01 06:00")
    assert policy.due_at(alert, digest=86400, sent_alone=0, now=early) == at("2026-03-01 08:00")


def test_critical_alerts_are_never_held() -> None:
    policy = HoldPolicy(
        tz=RIYADH, quiet=QuietHours(*_times("22:00", "07:00")), ceilings={"conflict": 1}
    )
    critical = make_alert(severity="critical")
    assert policy.due_at(critical, digest=900, sent_alone=99, now=at("2026-03-01 23:00")) is None


def test_a_watchlist_over_its_ceiling_folds_into_the_hourly_digest() -> None:
    policy = HoldPolicy(tz=UTC, ceilings={"conflict": 3})
    now = at("2026-03-01 10:20", UTC)
    alert = make_alert()
    assert policy.due_at(alert, digest=None, sent_alone=2, now=now) is None
    assert policy.due_at(alert, digest=None, sent_alone=3, now=now) == at("2026-03-01 11:00", UTC)
    other = make_alert().model_copy(update={"watchlist": "sport"})
    assert policy.due_at(other, digest=None, sent_alone=50, now=now) is None


def test_quiet_hours_wrap_midnight_and_the_latest_reason_wins() -> None:
    quiet = QuietHours(*_times("22:00", "07:00"))
    policy = HoldPolicy(tz=RIYADH, quiet=quiet)
    alert = make_alert()
    assert policy.due_at(alert, digest=None, sent_alone=0, now=at("2026-03-01 21:59")) is None
    assert policy.due_at(alert, digest=None, sent_alone=0, now=at("2026-03-01 23:30")) == at(
        "2026-03-02 07:00"
    )
    assert policy.due_at(alert, digest=None, sent_alone=0, now=at("2026-03-02 03:00")) == at(
        "2026-03-02 07:00"
    )
    assert policy.due_at(alert, digest=None, sent_alone=0, now=at("2026-03-02 07:00")) is None
    # a daily digest at 08:00 is later than the end of quiet hours: it wins
    assert policy.due_at(alert, digest=86400, sent_alone=0, now=at("2026-03-02 03:00")) == at(
        "2026-03-02 08:00"
    )


def _times(start: str, end: str) -> tuple[clock, clock]:
    return clock.fromisoformat(start), clock.fromisoformat(end)


async def test_held_alerts_go_out_as_one_digest_and_critical_ones_at_once(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot
) -> None:
    due = time.time() + 0.6
    outbox = Outbox(open_db(tmp_path / "notify.sqlite"))

    def hold(alert: Alert, destination: str, now: float) -> float | None:
        return None if alert.severity == "critical" else due

    dispatcher = Dispatcher(outbox, telegram_channels(bot), backoff=FAST, hold=hold)
    for n in range(5):
        dispatcher.enqueue(make_alert(f"routine {n}", n=n), ["telegram:31"])
    dispatcher.enqueue(make_alert("urgent", n=9, severity="critical"), ["telegram:31"])
    await drain(dispatcher)
    first, digest = telegram.messages
    assert "urgent" in first.text and first.at < due
    assert digest.at >= due
    assert digest.text.startswith("<b>Digest: 5 alerts</b>")
    assert all(f"routine {n}" in digest.text for n in range(5))
    assert outbox.count("sent") == 6 and outbox.count("pending") == 0
    # a later alert on a story that went out in the digest gets its own message, not an edit
    dispatcher_after = Dispatcher(outbox, telegram_channels(bot), backoff=FAST)
    dispatcher_after.enqueue(make_alert("routine 0", n=0, article="other"), ["telegram:31"])
    await drain(dispatcher_after)
    assert len(telegram.messages) == 3 and not telegram.edits


async def test_a_digest_held_across_a_restart_is_sent_once(
    tmp_path: Path, telegram: FakeTelegram, bot: Bot
) -> None:
    due = time.time() + 0.5
    outbox = Outbox(open_db(tmp_path / "notify.sqlite"))
    first = Dispatcher(outbox, telegram_channels(bot), backoff=FAST, hold=lambda a, d, n: due)
    for n in range(3):
        first.enqueue(make_alert(n=n), ["telegram:32"])
    stop = asyncio.Event()
    stop.set()
    await first.run(stop)  # stopped before the digest was due
    assert not telegram.messages and outbox.count("pending") == 3
    restarted = Dispatcher(Outbox(open_db(tmp_path / "notify.sqlite")), telegram_channels(bot))
    await drain(restarted)
    assert len(telegram.messages) == 1 and "Digest: 3 alerts" in telegram.messages[0].text
    assert telegram.messages[0].at >= due


async def test_the_services_hold_rules_use_the_chats_digest_and_the_ceilings(
    tmp_path: Path,
) -> None:
    db = open_db(tmp_path / "notify.sqlite")
    subscriptions, outbox = Subscriptions(db), Outbox(db)
    notify = NotifyConfig.model_validate({"ceilings": {"conflict": 2}})
    holds = Holds(notify.hold_policy(), subscriptions, outbox)
    now = time.time()
    for n in range(4):
        outbox.enqueue(
            make_alert(n=n),
            ["telegram:40"],
            {"telegram:40": holds(make_alert(n=n), "telegram:40", now)},
        )
    rows = db.execute("SELECT due_at FROM outbox ORDER BY seq").fetchall()
    assert [r[0] is None for r in rows] == [True, True, False, False], "two alone, then folded"
    assert rows[2][0] == (now // 3600 + 1) * 3600
    subscriptions.set_digest(41, "15m")
    assert holds(make_alert(), "telegram:41", now) == (now // 900 + 1) * 900
    assert holds(make_alert(), "slack:desk", now) is None, "only Telegram chats are held"
