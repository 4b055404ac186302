"""The notify process: alerts from `{prefix}.alerts` into the outbox, the outbox to destinations.

Consuming and sending are decoupled: a record's offset is committed once its alert is in the
SQLite outbox (durable), and the dispatcher drains the outbox within the rate limits. A kill -9
anywhere loses nothing: what was committed is in the outbox, what was not is redelivered and
deduplicated by the outbox's unique key.
"""

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.utils.backoff import BackoffConfig
from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from detect.model import Alert
from notify.bot import DIGESTS, BotHandlers, Policy, WatchlistInfo, poll, serve_webhook
from notify.digest import HoldPolicy, QuietHours
from notify.dispatch import Channel, Dispatcher, DispatchEvents
from notify.outbox import Outbox, open_db
from notify.ratelimit import Pace
from notify.render import RenderOptions
from notify.senders import ConsoleSender, SlackSender, TelegramSender
from notify.subscriptions import Subscriptions
from services.config import LoadedConfig, NotifyConfig, load_watchlists, watchlist_paths
from services.consume import ConsumeLoop, decode
from services.detect_service import LATENCY_BUCKETS
from services.kafka import KafkaLink

log = logging.getLogger("mediawatch.notify")


@dataclass
class NotifyMetrics:
    alerts: Counter
    sent: Counter
    edited: Counter
    duplicates: Counter
    retries: Counter
    throttled: Counter
    failures: Counter
    chats_deactivated: Counter
    pending: Gauge
    latency: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "NotifyMetrics":
        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, ["channel"], registry=registry)

        return cls(
            alerts=Counter(
                "mediawatch_notify_alerts_processed",
                "Alerts written to the outbox (or found there already).",
                registry=registry,
            ),
            sent=counter("mediawatch_notify_messages_sent", "Messages acknowledged."),
            edited=counter(
                "mediawatch_notify_messages_edited",
                "Story messages edited to add another outlet or event (instead of a new one).",
            ),
            duplicates=counter(
                "mediawatch_notify_duplicates_skipped", "Redelivered alerts not queued again."
            ),
            retries=counter("mediawatch_notify_send_retries", "Transient send failures."),
            throttled=counter(
                "mediawatch_notify_throttled", "429 answers (retried after retry_after)."
            ),
            failures=counter("mediawatch_notify_send_failures", "Messages refused for good."),
            chats_deactivated=Counter(
                "mediawatch_notify_chats_deactivated",
                "Chats whose subscription was deactivated after a 403.",
                registry=registry,
            ),
            pending=Gauge(
                "mediawatch_notify_outbox_pending",
                "Messages owed and not yet sent.",
                registry=registry,
            ),
            latency=Histogram(
                "mediawatch_notify_pipeline_latency_seconds",
                "Time from ingest to the alert being queued for delivery.",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
        )

    def events(
        self, on_gone: "GoneHandler", on_moved: Callable[[str, str], None]
    ) -> DispatchEvents:
        def channel(key: str) -> str:  # bounded label: never the chat id or webhook name
            return key.split(":", 1)[0]

        def gone(key: str) -> None:
            if on_gone(key):
                self.chats_deactivated.inc()

        return DispatchEvents(
            sent=lambda key: self.sent.labels(channel(key)).inc(),
            edited=lambda key: self.edited.labels(channel(key)).inc(),
            duplicate=lambda key: self.duplicates.labels(channel(key)).inc(),
            retry=lambda key: self.retries.labels(channel(key)).inc(),
            throttled=lambda key: self.throttled.labels(channel(key)).inc(),
            failed=lambda key: self.failures.labels(channel(key)).inc(),
            gone=gone,
            moved=on_moved,
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


class Channels:
    """Destination key → sender and paces, built from the config (one bot, one shared pace)."""

    def __init__(
        self,
        notify: NotifyConfig,
        bot: Bot | None,
        console: TextIO,
        subscriptions: Subscriptions | None = None,
    ) -> None:
        self._notify = notify
        self._bot = bot
        self._console = console
        self._subscriptions = subscriptions
        self._options = RenderOptions(tz=ZoneInfo(notify.timezone))
        limits = notify.telegram.limits
        self._bot_pace = Pace.per_second(limits.bot, catch_up=True)
        self._slack = {t.name: t for t in notify.slack}

    def __call__(self, key: str) -> Channel | None:
        kind, _, name = key.partition(":")
        limits = self._notify.telegram.limits
        if kind == "telegram" and self._bot is not None:
            chat: int | str = int(name) if name.lstrip("-").isdigit() else name
            group = isinstance(chat, str) or chat < 0  # @channel, or a negative group/channel id
            rate = limits.group if group else limits.private_chat
            subs = self._subscriptions
            telegram = TelegramSender(
                self._bot,
                chat,
                muted=(lambda: subs.muted_until(chat) is not None) if subs else lambda: False,
                options=self._options,
            )
            return Channel(telegram, Pace.per_second(rate), self._bot_pace)
        if kind == "slack" and name in self._slack:
            target = self._slack[name]
            slack = SlackSender(
                target.name, target.webhook_url.get_secret_value(), options=self._options
            )
            return Channel(slack, Pace.per_second(self._notify.slack_rate))
        if key == "console" and self._notify.console:
            jsonl = self._notify.console_format == "jsonl"
            return Channel(ConsoleSender(self._console, jsonl=jsonl, options=self._options))
        return None


class Holds:
    """Whether an alert to a destination waits for a digest (Telegram chats only)."""

    def __init__(self, notify: NotifyConfig, subscriptions: Subscriptions, outbox: Outbox) -> None:
        quiet = notify.quiet_hours
        self._policy = HoldPolicy(
            tz=ZoneInfo(notify.timezone),
            quiet=QuietHours(quiet.start, quiet.end) if quiet else None,
            ceilings=dict(notify.ceilings),
        )
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


def destinations(notify: NotifyConfig, subscriptions: Subscriptions, alert: Alert) -> list[str]:
    """Every destination key `alert` is owed to."""
    keys = ["console"] if notify.console else []
    if notify.telegram.enabled:
        keys += [f"telegram:{chat}" for chat in subscriptions.chats_for(alert.watchlist)]
    keys += [
        f"slack:{t.name}"
        for t in notify.slack
        if not t.watchlists or alert.watchlist in t.watchlists
    ]
    return keys


def make_bot(notify: NotifyConfig) -> Bot | None:
    telegram = notify.telegram
    if not telegram.enabled or telegram.token is None:
        return None
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(telegram.api_base), timeout=telegram.request_timeout
    )
    return Bot(token=telegram.token.get_secret_value(), session=session)


class NotifyService:
    def __init__(
        self,
        loaded: LoadedConfig,
        link: KafkaLink,
        registry: CollectorRegistry,
        *,
        console: TextIO | None = None,
    ) -> None:
        self._loaded = loaded
        self._link = link
        self._registry = registry
        self._metrics = NotifyMetrics.create(registry)
        self._console = console or sys.stdout
        self.ready = False

    def _catalogue(self) -> dict[str, WatchlistInfo]:
        """The watchlists subscribers can choose from: their ids, titles and descriptions."""
        paths = watchlist_paths(self._loaded.config.watchlists, self._loaded.base_dir)
        return {w.id: WatchlistInfo(w.id, w.title, w.description) for w in load_watchlists(paths)}

    async def _answer(self, bot: Bot, handlers: BotHandlers, stop: asyncio.Event) -> None:
        """Answer people: long polling, or a webhook when configured."""
        config = self._loaded.config.notify.telegram.bot
        if config.mode == "webhook" and config.webhook is not None:
            hook = config.webhook
            await serve_webhook(
                bot,
                handlers.router(),
                stop,
                url=hook.url,
                secret=hook.secret.get_secret_value(),
                host=hook.listen_host,
                port=hook.listen_port,
                path=hook.path,
            )
        else:
            await poll(bot, handlers.router(), stop, polling_timeout=config.polling_timeout)

    async def run(self, stop: asyncio.Event) -> None:
        notify = self._loaded.config.notify
        topics = self._link.topics
        db = open_db(self._loaded.storage_dir / "notify.sqlite")
        subscriptions = Subscriptions(db)
        for chat in notify.telegram.chats:
            subscriptions.seed(chat.id, chat.watchlists)
        bot = make_bot(notify)
        outbox = Outbox(db)
        retry = notify.retry
        dispatcher = Dispatcher(
            outbox,
            Channels(notify, bot, self._console, subscriptions),
            backoff=BackoffConfig(
                min_delay=retry.min_delay, max_delay=retry.max_delay, factor=2.0, jitter=0.1
            ),
            events=self._metrics.events(GoneHandler(subscriptions), follow_moves(subscriptions)),
            hold=Holds(notify, subscriptions, outbox),
            retention=notify.outbox_retention,
        )
        self._metrics.pending.set_function(lambda: dispatcher.pending)
        producer = self._link.producer()  # for dead letters
        consumer = self._link.consumer(topics.alerts, f"{self._link.config.topic_prefix}.notify")
        sending = asyncio.create_task(dispatcher.run(stop))
        answering = None
        if bot is not None and notify.telegram.bot.enabled:
            handlers = BotHandlers(
                subscriptions,
                self._catalogue(),
                Policy(
                    notify.telegram.bot.who_may_subscribe,
                    frozenset(notify.telegram.bot.allowlist),
                ),
                owed=outbox.owed,
            )
            answering = asyncio.create_task(self._answer(bot, handlers, stop))
        try:
            await producer.start()
            await consumer.start()
            try:
                loop = ConsumeLoop(
                    service="notify",
                    consumer=consumer,
                    producer=producer,
                    deadletter_topic=topics.deadletter,
                    registry=self._registry,
                )
                self.ready = True

                async def handle(record: ConsumerRecord[bytes, bytes]) -> bool:
                    alert = decode(Alert, record.value)
                    dispatcher.enqueue(alert, destinations(notify, subscriptions, alert))
                    self._metrics.alerts.inc()
                    self._metrics.latency.observe(
                        max(0.0, (datetime.now(UTC) - alert.ingested_at).total_seconds())
                    )
                    return True

                await loop.run(handle, _nothing_to_flush, stop)
            finally:
                self.ready = False
                await consumer.stop()
        finally:
            stop.set()  # a failed consumer also stops the sender
            with contextlib.suppress(asyncio.CancelledError):
                await sending
                if answering is not None:
                    await answering
            await producer.stop()
            if bot is not None:
                await bot.session.close()
            db.close()


async def _nothing_to_flush() -> None:
    """The outbox write in `handle` is durable (synced) before it returns."""
