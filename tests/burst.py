"""The burst scenario shared by the burst test and `bench/notify_burst.py`.

1,000 alerts to 50 chats (private and groups, one of which has blocked the bot) are queued at
once and drained through the production wiring (`Channels`, `Dispatcher`, a real aiogram `Bot`)
into the fake Bot API server, with Telegram's limits compressed `speedup` times and faults
injected at random (seeded). Everything is judged from what the fake server recorded.
"""

import asyncio
import itertools
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detect.model import Alert, ArticleRef, Match
from notify.dispatch import Dispatcher
from notify.outbox import Outbox, open_db
from notify.ratelimit import BackoffConfig
from notify.routing import Channels
from notify.telegram import SlowAnswers, TelegramSenders, make_bot
from services.config import NotifyConfig
from tests.fakes.telegram import Attempt, Chaos, FakeTelegram

PUBLISHED = {"bot": 30.0, "private_chat": 1.0, "group": 20 / 60}  # messages per second


@dataclass
class BurstReport:
    messages: int  # owed: alerts x their chat
    chats: int
    delivered: int
    failed_forbidden: int  # owed to the chat that blocked the bot: failed, accounted for
    drops: int  # owed to a live chat and never delivered
    duplicates: int
    attempts: int
    faults: dict[str, int]
    duration_s: float  # first attempt to last delivery, at the server
    theoretical_s: float  # the least time the (compressed) limits allow for these attempts
    ratio: float  # duration / theoretical
    delivered_per_s: float
    bot_limit_per_s: float
    max_chat_rate_ratio: float  # worst chat: its fastest gap, as a multiple of its allowed rate
    max_bot_window: int  # most attempts the bot made in any window of one (compressed) second
    bot_window_limit: int  # what Telegram allows in that window
    speedup: float

    def json(self) -> dict[str, Any]:
        return asdict(self)


def chat_ids(private: int, groups: int) -> list[int]:
    return [1000 + i for i in range(private)] + [-1000 - i for i in range(groups)]


def chat_of(n: int, private: int, groups: int) -> int:
    """Every tenth alert goes to a group, the rest spread over the private chats."""
    if n % 10 == 0:
        return -1000 - (n // 10) % groups
    return 1000 + (n - n // 10 - 1) % private


def burst_alert(n: int, severity: str = "high") -> Alert:
    now = datetime.now(UTC)
    return Alert(
        id=f"burst-{n:04d}",
        watchlist="conflict",
        rule="ceasefire-violation",
        event="ceasefire_violation",
        severity=severity,  # type: ignore[arg-type]
        article=ArticleRef(
            id=f"a{n}", url=f"https://news.example/{n}", title=f"burst {n:04d}", source="wire"
        ),
        matches=[Match(text="burst", field="title", start=0, end=5)],
        story_id=f"a{n}",
        detected_at=now,
        ingested_at=now,
    )


async def run_burst(
    state_dir: Path,
    *,
    alerts: int = 1000,
    private: int = 40,
    groups: int = 10,
    speedup: float = 5.0,
    seed: int = 4,
    p_429: float = 0.01,
    p_5xx: float = 0.02,
    p_timeout: float = 0.005,
    client_timeout: float = 0.3,
    forbidden: int = 1,
    chaos_share: float = 0.6,
    pace_factor: float = 1.0,
) -> BurstReport:
    """Run the burst; the dispatcher paces at `pace_factor` x the limits it is judged by.

    Faults hit only the first `chaos_share` of the calls, so the end of the burst shows how
    closely the sender follows the limits rather than how late the last fault happened.
    """
    limits = {k: v * speedup for k, v in PUBLISHED.items()}
    chaos = Chaos(
        seed,
        p_429=p_429,
        p_5xx=p_5xx,
        p_timeout=p_timeout,
        hang_s=1.0,
        first=round(alerts * chaos_share),
    )
    telegram = FakeTelegram(
        chaos=chaos,
        forbidden={str(c) for c in chat_ids(private, groups)[:forbidden]},
    )
    await telegram.start()
    notify = NotifyConfig.model_validate(
        {
            "console": False,
            "telegram": {
                "token": telegram.token,
                "api_base": telegram.base_url,
                "request_timeout": client_timeout,
                "limits": {k: f"{v * pace_factor}/s" for k, v in limits.items()},
            },
        }
    )
    bot = make_bot(telegram.token, telegram.base_url, client_timeout)
    senders = TelegramSenders(bot, SlowAnswers(bot.session))
    db = open_db(state_dir / "notify.sqlite")
    try:
        dispatcher = Dispatcher(
            Outbox(db),
            Channels(notify.routes(), console=None, telegram=senders),  # type: ignore[arg-type]
            backoff=BackoffConfig(min_delay=0.02, max_delay=0.5, factor=2.0, jitter=0.1),
        )
        owed: dict[str, set[int]] = defaultdict(set)
        for n in range(alerts):
            chat = chat_of(n, private, groups)
            dispatcher.enqueue(burst_alert(n), [f"telegram:{chat}"])
            owed[str(chat)].add(n)
        stop = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stop))
        while not dispatcher.idle:  # noqa: ASYNC110 (a property, not an event)
            await asyncio.sleep(0.02)
        stop.set()
        await running
    finally:
        await bot.session.close()
        db.close()
        await telegram.stop()
    return _judge(telegram, owed, limits, speedup, client_timeout, private + groups)


def _judge(
    telegram: FakeTelegram,
    owed: dict[str, set[int]],
    limits: dict[str, float],
    speedup: float,
    client_timeout: float,
    chats: int,
) -> BurstReport:
    got = Counter(
        (m.chat_id, int(re.sub(r"<[^>]+>", "", m.text).split("burst ")[1][:4]))
        for m in telegram.messages
    )
    duplicates = sum(c - 1 for c in got.values())
    live = {(chat, n) for chat, ns in owed.items() if chat not in telegram.forbidden for n in ns}
    drops = len(live - set(got))
    failed = sum(len(owed[c]) for c in telegram.forbidden)
    attempts = sorted(telegram.attempts, key=lambda a: a.at)
    by_chat: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        by_chat[a.chat_id].append(a)

    def interval(chat: str) -> float:
        return 1 / (limits["group"] if chat.startswith("-") else limits["private_chat"])

    # The least time the limits allow for these attempts: the bot's pace over all of them;
    # each chat's chain, every gap at least the chat's interval, the retry_after it was told or
    # the client timeout a hung request used up; and, since a fault cannot be answered before
    # it happens, for each fault: when it happened, plus its wait, plus the chat's pace over
    # the attempts it still had to make.
    t0 = attempts[0].at
    bounds = [(len(attempts) - 1) / limits["bot"]]
    worst_gap_ratio = 0.0
    for chat, tries in by_chat.items():
        chain = 0.0
        for i, (before, after) in enumerate(itertools.pairwise(tries)):
            need = interval(chat)
            if before.status == 429 and before.retry_after:
                need = max(need, float(before.retry_after))
            if before.status == 504:
                need = max(need, client_timeout)
            chain += need
            if before.status != 200:
                left = len(tries) - i - 2  # attempts after `after`
                bounds.append(before.at - t0 + need + left * interval(chat))
            worst_gap_ratio = max(worst_gap_ratio, interval(chat) / max(after.at - before.at, 1e-9))
        bounds.append(chain)
    theoretical = max(bounds)
    delivered_at = [a.at for a in attempts if a.status == 200]
    duration = max(delivered_at) - t0
    window = 1.0 / speedup  # one real second, compressed
    times = [a.at for a in attempts]
    most, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] < t - window:
            lo += 1
        most = max(most, hi - lo + 1)
    return BurstReport(
        messages=sum(len(v) for v in owed.values()),
        chats=chats,
        delivered=len(got),
        failed_forbidden=failed,
        drops=drops,
        duplicates=duplicates,
        attempts=len(attempts),
        faults=dict(Counter(str(a.status) for a in attempts if a.status != 200)),
        duration_s=round(duration, 3),
        theoretical_s=round(theoretical, 3),
        ratio=round(duration / theoretical, 3),
        delivered_per_s=round(len(delivered_at) / duration, 1),
        bot_limit_per_s=limits["bot"],
        max_chat_rate_ratio=round(worst_gap_ratio, 3),
        max_bot_window=most,
        bot_window_limit=round(PUBLISHED["bot"]),
        speedup=speedup,
    )
