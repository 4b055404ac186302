"""Poll many feeds: one dispatcher over a heap of due times feeding a bounded pool of workers.

`run_pool` keeps every feed in a `FeedHeap`, so 10,000 feeds cost 10,000 heap entries rather
than 10,000 tasks, and hands due feeds to `PoolSettings.concurrency` workers, with per-host
concurrency and politeness. Every decision (when next, which shard) is `ingest.schedule`. A
feed is never dropped: whatever a poll does, even an unexpected error, reschedules the feed.
"""

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ingest.poller import Feed, FeedPoller, PollOutcome
from ingest.schedule import FeedActivity, FeedHeap, HostPacer, SchedulePolicy, next_delay
from ingest.state import IngestState

log = logging.getLogger("mediawatch.ingest")


@dataclass(frozen=True)
class PoolSettings:
    """How hard the pool polls (from `ingest.*` config)."""

    concurrency: int = 50
    per_host_concurrency: int = 2
    per_host_delay_s: float = 0.25
    policy: SchedulePolicy = field(default_factory=SchedulePolicy)


def activity_of(state: IngestState, feed_url: str, outcome: PollOutcome) -> FeedActivity:
    day, week, observed = state.activity(feed_url)
    return FeedActivity(
        error_streak=outcome.error_streak,
        retry_after_s=outcome.retry_after_s,
        max_age_s=outcome.max_age_s,
        ttl_s=outcome.ttl_s,
        new_last_day=day,
        new_last_week=week,
        observed_s=observed,
    )


async def run_pool(
    feeds: Sequence[Feed],
    poller: FeedPoller,
    settings: PoolSettings,
    stop: asyncio.Event,
    *,
    poll_lag: Callable[[float], None] = lambda seconds: None,
    on_polled: Callable[[Feed, PollOutcome], None] | None = None,
    rng: random.Random | None = None,
    start_now: bool = False,
) -> None:
    """Poll `feeds` until `stop` is set: a heap of due times, `settings.concurrency` workers.

    A feed whose host is busy (per-host limit) or not yet polite to hit again goes back on the
    heap for the host's next free slot rather than holding a worker. `poll_lag` hears how late
    each poll started after its feed fell due (saturation). `start_now` polls every feed at once
    instead of resuming the stored schedule (benchmarks).
    """
    loop = asyncio.get_running_loop()
    rng = rng or random.Random()
    policy = settings.policy
    by_url = {feed.url: feed for feed in feeds}
    heap = FeedHeap()
    now_mono, now_wall = loop.time(), time.time()
    stored = {} if start_now else poller.state.next_due()
    for feed in feeds:  # a restart keeps the schedule (but never waits beyond the max interval)
        wait = min(max(0.0, stored.get(feed.url, now_wall) - now_wall), policy.max_interval_s)
        heap.schedule(feed.url, now_mono + wait)
    queue: asyncio.Queue[tuple[str, float]] = asyncio.Queue(maxsize=settings.concurrency)
    wake = asyncio.Event()
    pacer = HostPacer(settings.per_host_delay_s)
    busy: dict[str, int] = {}

    reserved: dict[str, float] = {}  # feeds holding a booked slot on their host

    def requeue(url: str, delay: float) -> None:
        heap.schedule(url, loop.time() + delay)
        wake.set()

    def reschedule(url: str, delay: float) -> None:
        requeue(url, delay)
        poller.state.set_next_due(url, time.time() + delay)

    async def dispatch() -> None:
        while not stop.is_set():
            due = heap.next_due()
            now = loop.time()
            if due is None or due > now:
                wake.clear()
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
                timeout = None if due is None else due - now
                try:
                    await asyncio.wait(waiters, timeout=timeout, return_when="FIRST_COMPLETED")
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                continue
            for url in heap.pop_due(now, limit=settings.concurrency):
                await queue.put((url, now))  # blocks while every worker is busy: backpressure

    async def handle(url: str, due: float) -> None:
        feed = by_url[url]
        host = urlsplit(url).hostname or url
        now = loop.time()
        if busy.get(host, 0) >= settings.per_host_concurrency:
            requeue(url, settings.per_host_delay_s)  # host at its limit: try again shortly
            return
        if reserved.pop(url, None) is None:
            start = pacer.reserve(host, now)
            if start > now:  # too soon after the last request there: come back on our slot
                reserved[url] = start
                requeue(url, start - now)
                return
        poll_lag(max(0.0, now - due))
        busy[host] = busy.get(host, 0) + 1
        try:
            outcome = await poller.poll_once(feed)
        finally:
            busy[host] -= 1
        if outcome.retry_in_s is not None:
            delay = outcome.retry_in_s
        else:
            activity = activity_of(poller.state, url, outcome)
            delay = next_delay(feed.interval, activity, policy, rng=rng)
        reschedule(url, delay)
        if on_polled is not None:
            on_polled(feed, outcome)

    def after_crash(url: str, exc: Exception) -> None:
        """An unexpected error: count it as a failure of the feed and back off as for one."""
        poller.events.fetched("error")
        streak = 1
        with contextlib.suppress(sqlite3.Error):  # shown by `feeds status` if it can be
            streak = poller.state.record_failure(url, f"internal error: {type(exc).__name__}")
        delay = next_delay(by_url[url].interval, FeedActivity(error_streak=streak), policy, rng=rng)
        requeue(url, delay)
        with contextlib.suppress(sqlite3.Error):
            poller.state.set_next_due(url, time.time() + delay)

    async def work() -> None:
        while True:
            url, due = await queue.get()
            try:
                await handle(url, due)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop boundary: log, count, keep feed and worker
                log.exception("unexpected error polling feed", extra={"feed_url": url})
                after_crash(url, exc)

    workers = [asyncio.create_task(work()) for _ in range(settings.concurrency)]
    try:
        await dispatch()
    finally:
        for task in workers:  # safe: articles are marked seen only once Kafka has them
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
