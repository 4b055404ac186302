"""The sender loop: drain the outbox within every rate limit, each message exactly once.

`Dispatcher.enqueue` writes an alert into the outbox for its destinations (durably: the caller
may then commit its Kafka offset) and `Dispatcher.run` sends what is owed:

- one message in flight per destination, in (priority, arrival) order: critical alerts first;
- paced per destination (Telegram: 1/s in a private chat, 20/min in a group or channel) and per
  bot (30/s) without waiting to be told; when several chats are ready for the bot's next slot,
  the most urgent message wins it, then the chat with the longest backlog (so a burst ends as
  soon as the limits allow);
- a later alert on a story this chat already has a message for edits that message ("also
  reported by …") instead of sending another, where the destination can edit (Telegram);
- a 429 blocks that destination for exactly `retry_after`; 5xx and timeouts for a jittered,
  growing backoff that resets on success; a 403 (`ChatGone`) fails everything owed to the chat
  and reports it so the subscription can be deactivated; other refusals fail that message.

Nothing is dropped: a message leaves the queue only as `sent` or `failed` in the outbox.
"""

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiogram.utils.backoff import Backoff, BackoffConfig

from detect.model import Alert
from notify.errors import ChatGone, PermanentFailure, RetryLater
from notify.outbox import Entry, Outbox
from notify.ratelimit import Pace
from notify.senders import Sender, StoryEditor

log = logging.getLogger("mediawatch.notify")

DEFAULT_BACKOFF = BackoffConfig(min_delay=0.5, max_delay=60.0, factor=2.0, jitter=0.1)


@dataclass
class Channel:
    """Where a destination key leads: its sender, its own pace and the pace it shares (bot)."""

    sender: Sender
    pace: Pace | None = None
    shared: Pace | None = None


@dataclass
class DispatchEvents:
    """Hooks the service layer uses to count what happened (metrics stay out of the domain)."""

    sent: Callable[[str], None] = lambda key: None
    edited: Callable[[str], None] = lambda key: None
    duplicate: Callable[[str], None] = lambda key: None
    retry: Callable[[str], None] = lambda key: None
    throttled: Callable[[str], None] = lambda key: None
    failed: Callable[[str], None] = lambda key: None
    gone: Callable[[str], None] = lambda key: None


@dataclass(order=True)
class _Queued:
    order: tuple[int, int]
    entry: Entry = field(compare=False)


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        channels: Callable[[str], Channel | None],
        *,
        backoff: BackoffConfig = DEFAULT_BACKOFF,
        events: DispatchEvents | None = None,
        clock: Callable[[], float] = time.monotonic,
        drain_timeout: float = 10.0,
    ) -> None:
        self._outbox = outbox
        self._resolve = channels
        self._backoff_config = backoff
        self._events = events or DispatchEvents()
        self._clock = clock
        self._drain_timeout = drain_timeout
        self._channels: dict[str, Channel | None] = {}
        self._queues: dict[str, list[_Queued]] = {}
        self._blocked: dict[str, float] = {}
        self._backoffs: dict[str, Backoff] = {}
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._loaded = False

    # -- what callers see -------------------------------------------------------------------

    def enqueue(self, alert: Alert, destinations: Iterable[str]) -> int:
        """Owe `alert` to `destinations` (durable on return); how many were new."""
        wanted = list(destinations)
        new = self._outbox.enqueue(alert, wanted)
        for _ in range(len(wanted) - len(new)):
            self._events.duplicate("outbox")
        if self._loaded:
            for entry in new:
                self._push(entry)
            self._wake.set()
        return len(new)

    @property
    def pending(self) -> int:
        """Messages owed and not in flight."""
        return sum(len(q) for q in self._queues.values())

    @property
    def idle(self) -> bool:
        """Running, with nothing owed and nothing in flight."""
        return self._loaded and not self._queues and not self._in_flight

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop`; then let in-flight sends finish (bounded) and return."""
        self._load()
        stop_watch = asyncio.create_task(stop.wait())
        stop_watch.add_done_callback(lambda _: self._wake.set())
        try:
            while not stop.is_set():
                self._wake.clear()
                now = self._clock()
                choice, wake_at = self._next(now)
                if choice is None:
                    await self._sleep(None if wake_at is None else wake_at - now)
                    continue
                key, channel = choice
                queued = heapq.heappop(self._queues[key])
                if not self._queues[key]:
                    del self._queues[key]
                if channel.pace is not None:
                    channel.pace.take(now)
                if channel.shared is not None:
                    channel.shared.take(now)
                self._in_flight[key] = asyncio.create_task(self._send(queued.entry, channel))
        finally:
            stop_watch.cancel()
            await self._finish_in_flight()

    # -- scheduling -------------------------------------------------------------------------

    def _load(self) -> None:
        if self._loaded:
            return
        for entry in self._outbox.pending():
            self._push(entry)
        self._loaded = True

    def _push(self, entry: Entry) -> None:
        if self._channel(entry.destination) is None:
            detail = "destination is no longer configured"
            self._outbox.mark_failed(entry.seq, detail)
            self._events.failed(entry.destination)
            log.error("dropping a message: %s", detail, extra={"destination": entry.destination})
            return
        heapq.heappush(self._queues.setdefault(entry.destination, []), _Queued(entry.order, entry))

    def _channel(self, key: str) -> Channel | None:
        if key not in self._channels:
            self._channels[key] = self._resolve(key)
        return self._channels[key]

    def _next(self, now: float) -> tuple[tuple[str, Channel] | None, float | None]:
        """The destination whose head message goes now, else when to look again (None: idle)."""
        best: tuple[str, Channel] | None = None
        best_order: tuple[int, float, int] | None = None
        wake_at: float | None = None
        for key, queue in self._queues.items():
            if key in self._in_flight:
                continue
            channel = self._channel(key)
            assert channel is not None  # _push keeps unresolvable keys out
            ready_at = self._blocked.get(key, float("-inf"))
            if channel.pace is not None:
                ready_at = max(ready_at, channel.pace.ready_at())
            if channel.shared is not None:
                ready_at = max(ready_at, channel.shared.ready_at())
            if ready_at > now:
                wake_at = ready_at if wake_at is None else min(wake_at, ready_at)
                continue
            # Most urgent first; among equals, the destination with the longest backlog (in
            # its own pace's time), since it is the one that finishes last: that keeps the
            # whole burst as short as the limits allow. Then arrival order.
            backlog = len(queue) * (channel.pace.interval if channel.pace is not None else 0.0)
            order = (queue[0].order[0], -backlog, queue[0].order[1])
            if best_order is None or order < best_order:
                best, best_order = (key, channel), order
        return best, wake_at

    async def _sleep(self, delay: float | None) -> None:
        if delay is None:
            await self._wake.wait()
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, delay)):
                await self._wake.wait()

    # -- sending ----------------------------------------------------------------------------

    async def _send(self, entry: Entry, channel: Channel) -> None:
        key = entry.destination
        context = {"destination": key, "seq": entry.seq}
        try:
            alert = self._outbox.alert(entry.seq)
            context["alert_id"] = alert.id
            message_id = await self._deliver(key, channel.sender, alert)
        except RetryLater as exc:
            if exc.retry_after is not None:
                delay = exc.retry_after
                self._events.throttled(key)
            else:
                delay = max(0.0, next(self._backoff(key)))
            self._retry_later(entry, delay, exc.reason, context)
        except ChatGone as exc:
            self._outbox.mark_failed(entry.seq, exc.reason)
            dropped = self._outbox.fail_destination(key, exc.reason)
            self._queues.pop(key, None)
            for _ in range(1 + dropped):
                self._events.failed(key)
            self._events.gone(key)
            log.error("chat gone, %d owed messages failed: %s", dropped, exc.reason, extra=context)
        except PermanentFailure as exc:
            self._outbox.mark_failed(entry.seq, exc.reason)
            self._events.failed(key)
            log.error("send refused for good: %s", exc.reason, extra=context)
        except Exception as exc:  # loop boundary: an unexpected error must not lose the message
            log.exception("send crashed; will retry", extra=context)
            self._retry_later(entry, max(0.0, next(self._backoff(key))), repr(exc), context)
        else:
            self._outbox.mark_sent(entry.seq, message_id)
            self._backoff(key).reset()
            self._events.sent(key)
        finally:
            self._in_flight.pop(key, None)
            self._wake.set()

    async def _deliver(self, key: str, sender: Sender, alert: Alert) -> str | None:
        """Edit the story's message if this chat has one, else send a new message."""
        if isinstance(sender, StoryEditor):
            prior = self._outbox.story_message(key, alert.story_id)
            if prior is not None:
                story = [*self._outbox.story_alerts(key, alert.story_id), alert]
                if await sender.edit(story, prior):
                    self._events.edited(key)
                    return prior
                return await sender.send_story(story)  # the old message is gone: tell it anew
        return await sender.send(alert)

    def _retry_later(
        self, entry: Entry, delay: float, reason: str, context: dict[str, object]
    ) -> None:
        self._blocked[entry.destination] = self._clock() + delay
        self._outbox.mark_attempt(entry.seq, reason)
        self._events.retry(entry.destination)
        heapq.heappush(self._queues.setdefault(entry.destination, []), _Queued(entry.order, entry))
        log.warning("send failed, retrying in %.2fs: %s", delay, reason, extra=context)

    def _backoff(self, key: str) -> Backoff:
        if key not in self._backoffs:
            self._backoffs[key] = Backoff(self._backoff_config)
        return self._backoffs[key]

    async def _finish_in_flight(self) -> None:
        tasks = list(self._in_flight.values())
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=self._drain_timeout)
        for task in late:  # still pending in the outbox: sent again after a restart
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
