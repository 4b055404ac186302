"""Pacing that keeps a sender under a platform's rate limits without being told.

Telegram allows a bot about 30 messages a second overall, 1 a second in a private chat and 20 a
minute in a group or channel; a burst above any of them earns a 429. `Pace` spaces events at
least `1/rate` apart (a generic cell-rate algorithm with a burst of one), so a sliding window of
any length never holds more than its share plus one. It is pure: the caller passes the clock.

aiolimiter was considered: its leaky bucket admits a burst of `max_rate` at once (twice the rate
in a one-second window), it has no notion of priority, and it cannot say *when* it will next be
free, which a single scheduler choosing among fifty chats needs. A few lines of arithmetic do.
"""

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
