"""Route an alert to its destinations and send it to each exactly once.

Transient failures are retried (after the server's `retry_after` when it gives one, else with
jittered exponential backoff) until they succeed or the service is asked to stop; permanent ones
are recorded and counted. Nothing is marked done before its destination acknowledged it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiogram.utils.backoff import Backoff, BackoffConfig

from detect.model import Alert
from notify.delivery_log import DeliveryLog
from notify.errors import PermanentFailure, RetryLater
from notify.senders import Sender

log = logging.getLogger("mediawatch.notify")

DEFAULT_BACKOFF = BackoffConfig(min_delay=0.5, max_delay=60.0, factor=2.0, jitter=0.1)


@dataclass(frozen=True)
class Destination:
    """A sender and the watchlists it subscribes to (empty: all of them)."""

    sender: Sender
    watchlists: frozenset[str] = field(default_factory=frozenset)

    def wants(self, alert: Alert) -> bool:
        return not self.watchlists or alert.watchlist in self.watchlists


@dataclass
class DispatchEvents:
    """Hooks the service layer uses to count what happened (metrics stay out of the domain)."""

    sent: Callable[[str], None] = lambda key: None
    duplicate: Callable[[str], None] = lambda key: None
    retry: Callable[[str], None] = lambda key: None
    failed: Callable[[str], None] = lambda key: None


class Dispatcher:
    def __init__(
        self,
        destinations: Sequence[Destination],
        delivery_log: DeliveryLog,
        *,
        backoff: BackoffConfig = DEFAULT_BACKOFF,
        events: DispatchEvents | None = None,
    ) -> None:
        self._destinations = list(destinations)
        self._log = delivery_log
        self._backoff = backoff
        self._events = events or DispatchEvents()

    async def deliver(self, alert: Alert, stop: asyncio.Event) -> bool:
        """Send `alert` everywhere it belongs. False if `stop` interrupted a retry (not done)."""
        for destination in self._destinations:
            if not destination.wants(alert):
                continue
            key = destination.sender.key
            if self._log.done(alert.id, key):
                self._events.duplicate(key)
                continue
            if not await self._send_until_done(destination.sender, alert, stop):
                return False
        return True

    async def _send_until_done(self, sender: Sender, alert: Alert, stop: asyncio.Event) -> bool:
        backoff = Backoff(self._backoff)
        context = {"alert_id": alert.id, "destination": sender.key, "watchlist": alert.watchlist}
        while True:
            try:
                await sender.send(alert)
            except RetryLater as exc:
                delay = exc.retry_after if exc.retry_after is not None else max(0.0, next(backoff))
                self._events.retry(sender.key)
                log.warning("send failed, retrying in %.1fs: %s", delay, exc.reason, extra=context)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return False
                continue
            except PermanentFailure as exc:
                self._log.record(alert.id, sender.key, "failed", exc.reason)
                self._events.failed(sender.key)
                log.error("send refused for good: %s", exc.reason, extra=context)
                return True
            self._log.record(alert.id, sender.key, "sent")
            self._events.sent(sender.key)
            return True
