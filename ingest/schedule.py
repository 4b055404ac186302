"""When to poll each feed: pure decisions, no clocks read and no I/O (times are passed in).

- `next_delay` weighs everything we know about one feed: its fixed interval or its adaptive one
  (how often it publishes), what the server asked (`Retry-After`, `Cache-Control: max-age`, RSS
  `<ttl>`), and its error streak (exponential backoff with jitter, up to a ceiling; never dropped).
- `adaptive_interval` is the entry-frequency schedule. Miniflux divides a week by the number of
  entries *published* in it: a feed that posts in bursts (breaking news) is then polled at its
  weekly average, late on the burst, and feed-supplied dates (often wrong) drive it. Here the rate
  is the number of articles we ourselves saw appear, over the busier of the last day and the last
  week, and only over time we actually watched the feed (the first poll's backlog is not a burst);
  we poll twice per expected new article so one is seen on average a quarter interval after it
  appears, within the configured bounds.
- `FeedHeap` is the due-time priority queue that lets one dispatcher serve 10,000 feeds.
- `shard_of` spreads feeds over ingest replicas by a stable hash of their host, so per-host
  politeness holds across replicas too.
"""

import hashlib
import heapq
import random
from dataclasses import dataclass
from urllib.parse import urlsplit

DAY_S = 86400.0
WEEK_S = 7 * DAY_S
#: Watch a feed this long before trusting its rate (until then: the default interval).
MIN_OBSERVED_S = 3600.0
#: Jitter applied to every delay, so feeds configured alike do not poll in lock-step.
JITTER = 0.1


@dataclass(frozen=True)
class SchedulePolicy:
    """Bounds of the schedule, from `ingest.*` config."""

    default_interval_s: float = 300.0
    min_interval_s: float = 60.0
    max_interval_s: float = 3600.0
    max_backoff_s: float = 3600.0
    adaptive: bool = True


@dataclass(frozen=True)
class FeedActivity:
    """What one feed did lately, as the scheduler needs it."""

    error_streak: int = 0
    #: Seconds the server asked us to wait (`Retry-After` on 429/503).
    retry_after_s: float | None = None
    #: Seconds the server said its answer stays fresh (`Cache-Control: max-age`).
    max_age_s: float | None = None
    #: Seconds from the feed's own RSS `<ttl>`.
    ttl_s: float | None = None
    #: New articles first seen in the last day and the last week.
    new_last_day: int = 0
    new_last_week: int = 0
    #: How long we have been watching the feed (since its first successful poll).
    observed_s: float = 0.0


def adaptive_interval(activity: FeedActivity, policy: SchedulePolicy) -> float:
    """Seconds between polls from the feed's observed publication rate, within the bounds."""
    if activity.observed_s < MIN_OBSERVED_S:
        return _clamp(policy.default_interval_s, policy)
    day_span = min(DAY_S, activity.observed_s)
    week_span = min(WEEK_S, activity.observed_s)
    rate = max(activity.new_last_day / day_span, activity.new_last_week / week_span)
    if rate <= 0:
        return policy.max_interval_s
    return _clamp(1.0 / (2.0 * rate), policy)


def base_interval(
    fixed_interval_s: float | None, activity: FeedActivity, policy: SchedulePolicy
) -> float:
    """The healthy feed's interval: fixed when configured, else adaptive (or the default)."""
    if fixed_interval_s is not None:
        interval = fixed_interval_s
    elif policy.adaptive:
        interval = adaptive_interval(activity, policy)
    else:
        interval = policy.default_interval_s
    hints = [h for h in (activity.max_age_s, activity.ttl_s) if h is not None]
    if hints:  # the server says nothing new before then: honour it, within the bounds
        interval = max(interval, min(max(hints), policy.max_interval_s))
    return interval


def next_delay(
    fixed_interval_s: float | None,
    activity: FeedActivity,
    policy: SchedulePolicy,
    *,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next poll of one feed, jittered by ±10 %.

    Healthy: `base_interval`. Failing: the interval doubled per consecutive failure up to
    `max_backoff_s` (never below the interval), and never sooner than a `Retry-After` (itself
    capped at the ceiling: a server cannot park a feed for a year).
    """
    rng = rng or random.Random()
    interval = base_interval(fixed_interval_s, activity, policy)
    if activity.error_streak == 0:
        delay = interval
    else:
        ceiling = max(policy.max_backoff_s, interval)
        delay = min(interval * 2**activity.error_streak, ceiling)
        if activity.retry_after_s is not None:
            delay = max(delay, min(activity.retry_after_s, ceiling))
    return delay * rng.uniform(1 - JITTER, 1 + JITTER)


def _clamp(seconds: float, policy: SchedulePolicy) -> float:
    return min(max(seconds, policy.min_interval_s), policy.max_interval_s)


class FeedHeap:
    """Feeds by next due time (monotonic seconds): O(log n) to schedule, to pop the next due.

    A feed scheduled again replaces its earlier entry (the stale one is skipped when popped).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._due: dict[str, float] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, key: str, due: float) -> None:
        self._due[key] = due
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, key))

    def remove(self, key: str) -> None:
        self._due.pop(key, None)

    def next_due(self) -> float | None:
        """When the earliest feed is due, or None when nothing is scheduled."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float, limit: int | None = None) -> list[str]:
        """Feeds due at `now` (earliest first, at most `limit`), removed from the heap."""
        out: list[str] = []
        while limit is None or len(out) < limit:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                break
            _, _, key = heapq.heappop(self._heap)
            del self._due[key]
            out.append(key)
        return out

    def _drop_stale(self) -> None:
        while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)


@dataclass(frozen=True)
class Shard:
    """Replica `index` of `count` (0-based, like StatefulSet ordinals)."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """`"i/n"` with 0 <= i < n; raises ValueError otherwise."""
        try:
            index_text, count_text = text.split("/")
            index, count = int(index_text), int(count_text)
        except ValueError:
            raise ValueError(f"{text!r} is not a shard: write i/n, e.g. 0/3") from None
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"shard {text!r}: need 0 <= i < n")
        return cls(index, count)

    def owns(self, feed_url: str) -> bool:
        return shard_of(feed_url, self.count) == self.index


def shard_of(feed_url: str, count: int) -> int:
    """The replica (of `count`) that polls `feed_url`: a stable hash of its host."""
    host = (urlsplit(feed_url).hostname or feed_url).lower()
    digest = hashlib.sha256(host.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


class HostPacer:
    """Politeness: when the next request to a host may start, `delay_s` after the previous one.

    Pure bookkeeping over times passed in; the service sleeps until the returned time.
    """

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self._next_free: dict[str, float] = {}

    def next_free(self, host: str, now: float) -> float:
        """When the host's next slot starts (`now` if it is free now)."""
        return max(now, self._next_free.get(host, now))

    def reserve(self, host: str, now: float) -> float:
        """Book the host's next slot: the time this request may start (`now` or later)."""
        start = self.next_free(host, now)
        self._next_free[host] = start + self.delay_s
        if len(self._next_free) > 100_000:  # forget hosts whose slots have passed
            self._next_free = {h: t for h, t in self._next_free.items() if t > now}
        return start
