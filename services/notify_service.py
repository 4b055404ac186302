"""The notify process: deliver every alert from `{prefix}.alerts` to its destinations once."""

import asyncio
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry, Counter, Histogram

from detect.model import Alert
from notify.delivery_log import DeliveryLog
from notify.dispatch import Destination, Dispatcher, DispatchEvents
from notify.senders import ConsoleSender, SlackSender, TelegramSender
from services.config import LoadedConfig
from services.consume import ConsumeLoop, decode
from services.detect_service import LATENCY_BUCKETS
from services.kafka import KafkaLink

log = logging.getLogger("mediawatch.notify")


@dataclass
class NotifyMetrics:
    alerts: Counter
    sent: Counter
    duplicates: Counter
    retries: Counter
    failures: Counter
    latency: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "NotifyMetrics":
        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, ["channel"], registry=registry)

        return cls(
            alerts=Counter(
                "mediawatch_notify_alerts_processed",
                "Alerts handled (sent, already sent, or refused).",
                registry=registry,
            ),
            sent=counter("mediawatch_notify_messages_sent", "Messages acknowledged."),
            duplicates=counter(
                "mediawatch_notify_duplicates_skipped", "Redelivered alerts not sent again."
            ),
            retries=counter("mediawatch_notify_send_retries", "Transient send failures."),
            failures=counter("mediawatch_notify_send_failures", "Sends refused for good."),
            latency=Histogram(
                "mediawatch_notify_pipeline_latency_seconds",
                "Time from ingest to delivery.",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
        )

    def events(self) -> DispatchEvents:
        def channel(key: str) -> str:  # bounded label: never the chat id or webhook name
            return key.split(":", 1)[0]

        return DispatchEvents(
            sent=lambda key: self.sent.labels(channel(key)).inc(),
            duplicate=lambda key: self.duplicates.labels(channel(key)).inc(),
            retry=lambda key: self.retries.labels(channel(key)).inc(),
            failed=lambda key: self.failures.labels(channel(key)).inc(),
        )


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

    def _destinations(self, bot: Bot | None) -> list[Destination]:
        notify = self._loaded.config.notify
        destinations = []
        if notify.console:
            destinations.append(
                Destination(ConsoleSender(self._console, jsonl=notify.console_format == "jsonl"))
            )
        if bot is not None:
            destinations += [
                Destination(TelegramSender(bot, chat.id), frozenset(chat.watchlists))
                for chat in notify.telegram.chats
            ]
        destinations += [
            Destination(
                SlackSender(t.name, t.webhook_url.get_secret_value()), frozenset(t.watchlists)
            )
            for t in notify.slack
        ]
        return destinations

    def _bot(self) -> Bot | None:
        telegram = self._loaded.config.notify.telegram
        if not telegram.enabled or telegram.token is None:
            return None
        session = AiohttpSession(api=TelegramAPIServer.from_base(telegram.api_base))
        return Bot(token=telegram.token.get_secret_value(), session=session)

    async def run(self, stop: asyncio.Event) -> None:
        topics = self._link.topics
        delivery_log = DeliveryLog(self._loaded.storage_dir / "notify.sqlite")
        bot = self._bot()
        dispatcher = Dispatcher(
            self._destinations(bot), delivery_log, events=self._metrics.events()
        )
        producer = self._link.producer()  # for dead letters
        consumer = self._link.consumer(topics.alerts, f"{self._link.config.topic_prefix}.notify")
        await producer.start()
        try:
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
                    if not await dispatcher.deliver(alert, stop):
                        return False
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
            await producer.stop()
            if bot is not None:
                await bot.session.close()
            delivery_log.close()


async def _nothing_to_flush() -> None:
    """Notify's outputs are acknowledged one by one inside `deliver`."""
