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
- a 429 blocks that destination for exactly `retry_after`; 5xx and connection errors for a
  jittered, growing backoff that resets on success; a timeout (`MaybeSent`: the message may have
  been delivered) for at least as long as the request had, so a slow success lands before the
  retry, and is counted as an ambiguous send; a 403 (`ChatGone`) fails everything owed to the
  chat and reports it so the subscription can be deactivated; a group upgraded to a supergroup
  (`ChatMoved`) takes everything owed to it along; other refusals fail that message.

Nothing is dropped: a message leaves the queue only as `sent` or `failed` in the outbox. When
asked to stop, the loop still sends what is queued and ready within `drain_timeout` (held
digests stay held; what is in flight finishes, bounded too): what is left stays pending in the
outbox for the next start.
"""

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from detect.model import Alert
from notify.errors import ChatGone, ChatMoved, MaybeSent, PermanentFailure, RetryLater
from notify.outbox import Entry, Outbox
from notify.ratelimit import Backoff, BackoffConfig, Pace
from notify.senders import DigestSender, Sender, StoryEditor

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
    moved: Callable[[str, str], None] = lambda old, new: None
    #: A send timed out and may have been delivered (it is retried: perhaps a duplicate).
    ambiguous: Callable[[str], None] = lambda key: None
    #: These alerts reached the destination (one message, or one digest of them).
    delivered: Callable[[str, list[Alert]], None] = lambda key, alerts: None


#: Most alerts in one digest message (each line is short, so this stays far under 4,096).
DIGEST_SIZE = 10


@dataclass(order=True)
class _Queued:
    """What goes out as one message: an alert, or several folded into a digest."""

    order: tuple[int, int]
    entries: list[Entry] = field(compare=False)
    digest: bool = field(default=False, compare=False)


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        channels: Callable[[str], Channel | None],
        *,
        backoff: BackoffConfig = DEFAULT_BACKOFF,
        events: DispatchEvents | None = None,
        clock: Callable[[], float] = time.monotonic,
        drain_timeout: float = 5.0,
        hold: Callable[[Alert, str, float], float | None] | None = None,
        wall: Callable[[], float] = time.time,
        retention: float | None = None,
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
        self._hold = hold  # (alert, destination, now) → digest due time, or None: send now
        self._wall = wall
        self._held: dict[str, list[Entry]] = {}
        self._retention = retention  # forget sent/failed messages this many seconds old
        self._next_prune = 0.0
        self._unreachable: set[str] = set()

    # -- what callers see -------------------------------------------------------------------

    def enqueue(self, alert: Alert, destinations: Iterable[str]) -> int:
        """Owe `alert` to `destinations` (durable on return); how many were new."""
        wanted = list(destinations)
        holds = None
        if self._hold is not None:
            now = self._wall()
            holds = {d: self._hold(alert, d, now) for d in wanted if self._digests(d)}
        new = self._outbox.enqueue(alert, wanted, holds)
        for _ in range(len(wanted) - len(new)):
            self._events.duplicate("outbox")
        if self._loaded:
            for entry in new:
                self._push(entry)
            self._wake.set()
        return len(new)

    @property
    def pending(self) -> int:
        """Alerts owed and not in flight (queued or held for a digest)."""
        queued = sum(len(q.entries) for queue in self._queues.values() for q in queue)
        return queued + sum(len(h) for h in self._held.values())

    @property
    def idle(self) -> bool:
        """Running, with nothing owed, held or in flight."""
        return self._loaded and not self._queues and not self._in_flight and not self._held

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop`; then send what is ready within `drain_timeout`, let in-flight
        sends finish (bounded) and return."""
        self._load()
        stop_watch = asyncio.create_task(stop.wait())
        stop_watch.add_done_callback(lambda _: self._wake.set())
        deadline: float | None = None
        try:
            while True:
                self._wake.clear()
                now = self._clock()
                if stop.is_set() and deadline is None:
                    deadline = now + self._drain_timeout
                if deadline is None and self._retention is not None and now >= self._next_prune:
                    pruned = self._outbox.prune(self._wall() - self._retention)
                    self._next_prune = now + 3600.0
                    if pruned:
                        log.info("outbox pruned: %d old messages forgotten", pruned)
                choice, wake_at = self._next(now, digests=deadline is None)
                if deadline is not None and now >= deadline:
                    break
                if choice is None:
                    if (
                        deadline is not None
                        and not self._in_flight
                        and (wake_at is None or wake_at >= deadline)
                    ):
                        break  # stopping, and nothing more can go before the deadline
                    until = deadline if wake_at is None else wake_at
                    if deadline is not None and until is not None:
                        until = min(until, deadline)
                    await self._sleep(None if until is None else until - now)
                    continue
                key, channel = choice
                queued = heapq.heappop(self._queues[key])
                if not self._queues[key]:
                    del self._queues[key]
                if channel.pace is not None:
                    channel.pace.take(now)
                if channel.shared is not None:
                    channel.shared.take(now)
                self._in_flight[key] = asyncio.create_task(self._send(queued, key, channel))
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
            # e.g. a Slack target or the Telegram token removed from the config: the message
            # stays pending in the outbox (not dropped) until the destination comes back
            if entry.destination not in self._unreachable:
                self._unreachable.add(entry.destination)
                log.error(
                    "messages owed to a destination that is not configured stay pending",
                    extra={"destination": entry.destination},
                )
            return
        if entry.due_at is not None:
            self._held.setdefault(entry.destination, []).append(entry)
            return
        self._queue(_Queued(entry.order, [entry]))

    def _queue(self, item: _Queued) -> None:
        heapq.heappush(self._queues.setdefault(item.entries[0].destination, []), item)

    def _digests(self, key: str) -> bool:
        channel = self._channel(key)
        return channel is not None and isinstance(channel.sender, DigestSender)

    def _release_due(self, now: float) -> float | None:
        """Queue the digests that are due; when the next one will be (wall clock)."""
        next_due: float | None = None
        for key in list(self._held):
            held = self._held[key]
            due = sorted(
                (e for e in held if e.due_at is not None and e.due_at <= now), key=lambda e: e.seq
            )
            rest = [e for e in held if e not in due]
            for i in range(0, len(due), DIGEST_SIZE):
                chunk = due[i : i + DIGEST_SIZE]
                self._queue(_Queued((chunk[0].priority, chunk[0].seq), chunk, digest=True))
            if rest:
                self._held[key] = rest
                soonest = min(e.due_at or now for e in rest)
                next_due = soonest if next_due is None else min(next_due, soonest)
            else:
                del self._held[key]
        return next_due

    def _channel(self, key: str) -> Channel | None:
        if key not in self._channels:
            self._channels[key] = self._resolve(key)
        return self._channels[key]

    def _next(
        self, now: float, *, digests: bool = True
    ) -> tuple[tuple[str, Channel] | None, float | None]:
        """The destination whose head message goes now, else when to look again (None: idle).

        `digests=False` (stopping) leaves held messages held, for the next start."""
        best: tuple[str, Channel] | None = None
        best_order: tuple[int, float, int] | None = None
        wake_at: float | None = None
        if self._held and digests:
            wall = self._wall()
            next_due = self._release_due(wall)
            if next_due is not None:
                wake_at = now + (next_due - wall)
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

    async def _send(self, item: _Queued, key: str, channel: Channel) -> None:
        context: dict[str, object] = {"destination": key, "seq": item.entries[0].seq}
        try:
            alerts = [self._outbox.alert(e.seq) for e in item.entries]
            context["alert_id"] = alerts[0].id
            if item.digest and isinstance(channel.sender, DigestSender):
                message_id = await channel.sender.send_digest(alerts)
            else:
                message_id = await self._deliver(key, channel.sender, alerts[0])
        except MaybeSent as exc:
            self._events.ambiguous(key)
            delay = max(exc.retry_after or 0.0, next(self._backoff(key)))
            self._retry_later(item, delay, exc.reason, context)
        except RetryLater as exc:
            if exc.retry_after is not None:
                delay = exc.retry_after
                self._events.throttled(key)
            else:
                delay = max(0.0, next(self._backoff(key)))
            self._retry_later(item, delay, exc.reason, context)
        except ChatGone as exc:
            for entry in item.entries:
                self._outbox.mark_failed(entry.seq, exc.reason)
            dropped = self._outbox.fail_destination(key, exc.reason)
            self._queues.pop(key, None)
            self._held.pop(key, None)
            for _ in range(len(item.entries) + dropped):
                self._events.failed(key)
            self._events.gone(key)
            log.error("chat gone, %d owed messages failed: %s", dropped, exc.reason, extra=context)
        except ChatMoved as exc:
            new_key = exc.new_destination
            self._queues.pop(key, None)
            self._held.pop(key, None)
            self._queues.pop(new_key, None)
            self._held.pop(new_key, None)
            for entry in self._outbox.move_destination(key, new_key):
                self._push(entry)
            self._events.moved(key, new_key)
            log.warning("chat moved to %s; owed messages follow it", new_key, extra=context)
        except PermanentFailure as exc:
            for entry in item.entries:
                self._outbox.mark_failed(entry.seq, exc.reason)
                self._events.failed(key)
            log.error("send refused for good: %s", exc.reason, extra=context)
        except Exception as exc:  # loop boundary: an unexpected error must not lose the message
            log.exception("send crashed; will retry", extra=context)
            self._retry_later(item, max(0.0, next(self._backoff(key))), repr(exc), context)
        else:
            for entry in item.entries:
                self._outbox.mark_sent(entry.seq, message_id, story=not item.digest)
            self._backoff(key).reset()
            self._events.sent(key)
            self._events.delivered(key, alerts)
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
        self, item: _Queued, delay: float, reason: str, context: dict[str, object]
    ) -> None:
        key = item.entries[0].destination
        self._blocked[key] = self._clock() + delay
        for entry in item.entries:
            self._outbox.mark_attempt(entry.seq, reason)
        self._events.retry(key)
        self._queue(item)
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
