"""Where an alert goes, through what, and when: destinations, channels, holds.

- `destinations`: every destination key an alert is owed to (the console, each subscribed
  Telegram chat, each Slack target whose watchlists include it).
- `Channels`: destination key → sender and paces (one pace per chat, one shared by the bot).
- `Holds`: whether an alert to a Telegram chat waits for a digest (`notify.digest`).
- `GoneHandler`, `follow_moves`: what a 403 or a group's upgrade does to the subscriptions.

Built from `Routes`, the notify settings as plain values, so that tests and benchmarks wire real
senders without the service layer. Telegram senders come from a factory (`notify.telegram`), so
nothing here imports aiogram.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from detect.model import Alert
from notify.digest import DIGESTS, HoldPolicy
from notify.dispatch import Channel
from notify.outbox import Outbox
from notify.ratelimit import Pace
from notify.render import RenderOptions
from notify.senders import ConsoleSender, Sender, SlackSender
from notify.subscriptions import Subscriptions

#: Makes the sender for one Telegram chat (numeric id or @channel).
TelegramFactory = Callable[[int | str], Sender]


@dataclass(frozen=True)
class SlackRoute:
    name: str
    webhook_url: str
    watchlists: tuple[str, ...] = ()  # empty: all


@dataclass(frozen=True)
class Routes:
    """Where alerts may go and how fast (per second), from `notify.*` config."""

    console: bool = True
    console_jsonl: bool = False
    telegram: bool = False
    slack: tuple[SlackRoute, ...] = ()
    bot_rate: float = 30.0
    private_chat_rate: float = 1.0
    group_rate: float = 20 / 60
    slack_rate: float = 1.0
    options: RenderOptions = field(default_factory=RenderOptions)


def destinations(routes: Routes, subscriptions: Subscriptions, alert: Alert) -> list[str]:
    """Every destination key `alert` is owed to."""
    keys = ["console"] if routes.console else []
    if routes.telegram:
        parties = frozenset(a.id for a in alert.actors if a.role != "mentioned")
        keys += [f"telegram:{chat}" for chat in subscriptions.chats_for(alert.watchlist, parties)]
    keys += [
        f"slack:{t.name}"
        for t in routes.slack
        if not t.watchlists or alert.watchlist in t.watchlists
    ]
    return keys


class Channels:
    """Destination key → sender and paces (one bot, one shared pace); None if not configured."""

    def __init__(
        self, routes: Routes, console: TextIO, telegram: TelegramFactory | None = None
    ) -> None:
        self._routes = routes
        self._console = console
        self._telegram = telegram
        self._bot_pace = Pace.per_second(routes.bot_rate, catch_up=True)
        self._slack = {t.name: t for t in routes.slack}

    def __call__(self, key: str) -> Channel | None:
        kind, _, name = key.partition(":")
        routes = self._routes
        if kind == "telegram" and self._telegram is not None:
            chat: int | str = int(name) if name.lstrip("-").isdigit() else name
            group = isinstance(chat, str) or chat < 0  # @channel, or a negative group/channel id
            rate = routes.group_rate if group else routes.private_chat_rate
            return Channel(self._telegram(chat), Pace.per_second(rate), self._bot_pace)
        if kind == "slack" and name in self._slack:
            target = self._slack[name]
            slack = SlackSender(target.name, target.webhook_url, options=routes.options)
            return Channel(slack, Pace.per_second(routes.slack_rate))
        if key == "console" and routes.console:
            sender = ConsoleSender(
                self._console, jsonl=routes.console_jsonl, options=routes.options
            )
            return Channel(sender)
        return None


class Holds:
    """Whether an alert to a destination waits for a digest (Telegram chats only)."""

    def __init__(self, policy: HoldPolicy, subscriptions: Subscriptions, outbox: Outbox) -> None:
        self._policy = policy
        self._subscriptions = subscriptions
        self._outbox = outbox

    def __call__(self, alert: Alert, destination: str, now: float) -> float | None:
        kind, _, chat = destination.partition(":")
        if kind != "telegram":
            return None
        return self._policy.due_at(
            alert,
            digest=DIGESTS.get(self._subscriptions.digest(chat)),
            sent_alone=self._outbox.sent_alone_since(
                destination, alert.watchlist, now - self._policy.window
            ),
            now=now,
        )


class GoneHandler:
    """A 403 from a chat: deactivate its subscriptions. True if it was active."""

    def __init__(self, subscriptions: Subscriptions) -> None:
        self._subscriptions = subscriptions

    def __call__(self, key: str) -> bool:
        kind, _, chat_id = key.partition(":")
        return kind == "telegram" and self._subscriptions.deactivate(chat_id, "forbidden (403)")


def follow_moves(subscriptions: Subscriptions) -> Callable[[str, str], None]:
    """A chat got a new id (group → supergroup): its subscriptions follow it."""

    def moved(old: str, new: str) -> None:
        subscriptions.move(old.partition(":")[2], new.partition(":")[2])

    return moved
