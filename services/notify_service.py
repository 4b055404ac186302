"""The notify process: alerts from `{prefix}.alerts` into the outbox, the outbox to destinations.

Consuming and sending are decoupled: a record's offset is committed once its alert is in the
SQLite outbox (durable), and the dispatcher drains the outbox within the rate limits. A kill -9
anywhere loses nothing: what was committed is in the outbox, what was not is redelivered and
deduplicated by the outbox's unique key.

A composition root: routing and holds are `notify.routing`, sending `notify.dispatch`, Telegram
`notify.telegram` and the bot `notify.bot` (both imported only when Telegram is configured:
aiogram takes seconds to import). Its jobs (consuming, sending, answering people, probing the
broker) run as one group: a dead sender or bot stops the service instead of hiding behind a
green `/healthz`.
"""

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry

from detect.actors import shipped_gazetteer
from detect.model import Alert
from notify.desk import StoryDesk
from notify.dispatch import Dispatcher
from notify.outbox import Outbox, open_db
from notify.routing import Channels, GoneHandler, Holds, TelegramFactory, destinations, follow_moves
from notify.subscriptions import Subscriptions
from services.config import LoadedConfig, load_watchlists, watchlist_paths
from services.consume import Assignment, ConsumeLoop, consumer_probe, decode
from services.kafka import KafkaLink
from services.lifecycle import Jobs, started
from services.metrics import ConsumeMetrics, KafkaMetrics, NotifyMetrics
from services.offsets import BrokerProbe, OffsetReader

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger("mediawatch.notify")


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
        self._metrics = NotifyMetrics.create(registry)
        self._consume = ConsumeMetrics.create(registry, "notify")
        self._kafka = KafkaMetrics.create(registry, [link.groups.notify])
        self._console = console or sys.stdout
        self._assignment = Assignment()
        self._jobs: Jobs | None = None
        self._probe: BrokerProbe | None = None

    def problems(self) -> list[str]:
        """Why the service cannot do its job now (empty: it can)."""
        if self._jobs is None or self._probe is None:
            return ["starting"]
        return self._jobs.problems() + self._probe.problems() + self._assignment.problems()

    async def run(self, stop: asyncio.Event) -> None:
        notify = self._loaded.config.notify
        topics, group = self._link.topics, self._link.groups.notify
        routes = notify.routes()
        db = open_db(self._loaded.storage_dir / "notify.sqlite")
        bot: Bot | None = None
        try:
            subscriptions = Subscriptions(db)
            for chat in notify.telegram.chats:
                subscriptions.seed(chat.id, chat.watchlists)
            outbox = Outbox(db)
            desk = StoryDesk.open(db, linking=notify.link_stories)
            telegram: TelegramFactory | None = None
            if notify.telegram.enabled:
                bot, telegram = self._telegram(subscriptions)
            dispatcher = Dispatcher(
                outbox,
                Channels(routes, self._console, telegram),
                backoff=notify.backoff(),
                events=self._metrics.events(
                    GoneHandler(subscriptions), follow_moves(subscriptions)
                ),
                hold=Holds(notify.hold_policy(), subscriptions, outbox),
                retention=notify.outbox_retention,
            )
            self._metrics.pending.set_function(lambda: dispatcher.pending)

            async def handle(record: ConsumerRecord[bytes, bytes]) -> bool:
                # one story across languages, counted per country; escalations noticed
                received = decode(Alert, record.value)
                alert, notices = desk.admit(received)
                if alert.story_id != received.story_id:
                    self._metrics.stories_linked.inc()
                dispatcher.enqueue(alert, destinations(routes, subscriptions, alert))
                for notice in notices:
                    dispatcher.enqueue(notice, destinations(routes, subscriptions, notice))
                    self._metrics.escalations.inc()
                self._metrics.alerts.inc()
                self._metrics.latency.observe(
                    max(0.0, (datetime.now(UTC) - alert.ingested_at).total_seconds())
                )
                return True

            async with (
                started(self._link.producer()) as producer,  # for dead letters
                started(self._link.consumer(topics.alerts, group, self._assignment)) as consumer,
                started(OffsetReader(self._link.bootstrap)) as reader,
            ):
                loop = ConsumeLoop(
                    service="notify",
                    consumer=consumer,
                    producer=producer,
                    deadletter_topic=topics.deadletter,
                    metrics=self._consume,
                    kafka=self._kafka,
                )

                probe = self._probe = consumer_probe(
                    loop, self._link, reader, self._kafka, topics.alerts, group
                )
                jobs: dict[str, Callable[[], Awaitable[None]]] = {
                    "consume alerts": lambda: loop.run(handle, _nothing_to_flush, stop),
                    "send messages": lambda: dispatcher.run(stop),
                    "probe broker": lambda: probe.run(stop),
                }
                if bot is not None and notify.telegram.bot.enabled:
                    answering = bot
                    jobs["answer people"] = lambda: self._answer(
                        answering, subscriptions, outbox, desk, stop
                    )
                jobs["forget old stories"] = lambda: _forget_daily(desk, stop)
                self._jobs = Jobs(stop)
                await self._jobs.run(jobs)
        finally:
            self._jobs = None
            if bot is not None:
                await bot.session.close()
            db.close()

    def _telegram(self, subscriptions: Subscriptions) -> "tuple[Bot, TelegramFactory]":
        from notify.telegram import RequestTimer, SlowAnswers, TelegramSenders, make_bot

        telegram = self._loaded.config.notify.telegram
        assert telegram.token is not None
        bot = make_bot(
            telegram.token.get_secret_value(), telegram.api_base, telegram.request_timeout
        )
        bot.session.middleware(RequestTimer(self._metrics.telegram_request))
        timeouts = SlowAnswers(bot.session)
        options = self._loaded.config.notify.routes().options
        return bot, TelegramSenders(bot, timeouts, options, subscriptions)

    async def _answer(
        self,
        bot: "Bot",
        subscriptions: Subscriptions,
        outbox: Outbox,
        desk: StoryDesk,
        stop: asyncio.Event,
    ) -> None:
        """Answer people: long polling, or a webhook when configured."""
        from notify.bot import BotHandlers, Policy, WatchlistInfo, poll, serve_webhook

        config = self._loaded.config.notify.telegram.bot
        paths = watchlist_paths(self._loaded.config.watchlists, self._loaded.base_dir)
        catalogue = {
            w.id: WatchlistInfo(w.id, w.title, w.description) for w in load_watchlists(paths)
        }
        gazetteer = shipped_gazetteer()

        def country_name(code: str) -> str | None:
            entity = gazetteer.entities.get(code)
            return entity.name if entity else None

        handlers = BotHandlers(
            subscriptions,
            catalogue,
            Policy(config.who_may_subscribe, frozenset(config.allowlist)),
            owed=outbox.owed,
            country_name=country_name,
            trend=lambda event, country: trend_chart(desk, event, country, country_name),
        )
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


def trend_chart(
    desk: StoryDesk, event: str, country: str | None, name: Callable[[str], str | None]
) -> tuple[bytes, str] | None:
    """`/trend`'s answer: the chart of the event's stories of the last days, and a caption."""
    from notify.charts import trend_png

    series = desk.series(event, country, datetime.now(UTC).date())
    if not any(count for _, count in series):
        return None
    where = f"{name(country) or country} · {country}" if country else "all countries"
    caption = f"{event} · {where}: {sum(c for _, c in series)} stories in {len(series)} days"
    return trend_png(series, f"{event} · {where}"), caption


async def _forget_daily(desk: StoryDesk, stop: asyncio.Event) -> None:
    """Old stories and counts out of the desk's tables, once a day."""
    while not stop.is_set():
        desk.forget(datetime.now(UTC))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 86400)


async def _nothing_to_flush() -> None:
    """The outbox write in `handle` is durable (synced) before it returns."""
