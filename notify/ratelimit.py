"""Pacing that keeps a sender under a platform's rate limits without being told, and backoff.

Telegram allows a bot about 30 messages a second overall, 1 a second in a private chat and 20 a
minute in a group or channel; a burst above any of them earns a 429. `Pace` spaces events at
least `1/rate` apart (a generic cell-rate algorithm with a burst of one), so a sliding window of
any length never holds more than its share plus one. It is pure: the caller passes the clock.

aiolimiter was considered: its leaky bucket admits a burst of `max_rate` at once (twice the rate
in a one-second window), it has no notion of priority, and it cannot say *when* it will next be
free, which a single scheduler choosing among fifty chats needs. A few lines of arithmetic do.
"""

import random
from dataclasses import dataclass


@dataclass
class Pace:
    """At most one event per `interval` seconds.

    `catch_up` lets a late event keep the schedule (the next one is due `interval` after the
    slot it used, not after the moment it actually went), so timer lateness does not slow a fast
    pace down; it may then bring two events closer than `interval`, never more than one extra in
    any window. Use it for the bot-wide pace, not for per-chat pacing.
    """

    interval: float
    catch_up: bool = False
    _due: float = float("-inf")

    @classmethod
    def per_second(cls, rate: float, *, catch_up: bool = False) -> "Pace":
        if rate <= 0:
            raise ValueError("a rate must be positive")
        return cls(1.0 / rate, catch_up)

    def ready_at(self) -> float:
        """The earliest time the next event may happen."""
        return self._due

    def ready(self, now: float) -> bool:
        return now >= self._due

    def take(self, now: float) -> None:
        """Record an event at `now` (which should be at or after `ready_at()`)."""
        if self.catch_up and now - self._due < self.interval:
            self._due = max(self._due, now - self.interval) + self.interval
        else:
            self._due = now + self.interval


@dataclass(frozen=True)
class BackoffConfig:
    """Jittered exponential backoff: `min_delay`, times `factor` per failure, up to `max_delay`,
    each delay moved by up to ± `jitter` of itself (so failed senders do not retry in step)."""

    min_delay: float = 0.5
    max_delay: float = 60.0
    factor: float = 2.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.min_delay <= self.max_delay:
            raise ValueError("need 0 < min_delay <= max_delay")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("need factor >= 1 and 0 <= jitter < 1")


class Backoff:
    """The delays after consecutive failures of one destination; `reset()` after a success.

    (aiogram has one too, but importing aiogram costs seconds a notify without Telegram should
    not pay at every start.)
    """

    def __init__(self, config: BackoffConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self._rng = rng or random.Random()
        self._failures = 0

    def __iter__(self) -> "Backoff":
        return self

    def __next__(self) -> float:
        c = self.config
        delay = min(c.max_delay, c.min_delay * c.factor ** min(self._failures, 64))
        self._failures += 1
        return delay * self._rng.uniform(1 - c.jitter, 1 + c.jitter)

    def reset(self) -> None:
        self._failures = 0
