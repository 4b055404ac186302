"""When to poll a feed next: its interval, stretched exponentially (with jitter) by failures."""

import random

#: A failing feed is retried at most this far apart; it is never dropped.
MAX_BACKOFF_S = 3600.0


def next_delay(interval_s: float, error_streak: int, *, rng: random.Random | None = None) -> float:
    """Seconds until the next poll: the interval, doubled per consecutive failure, ±10 % jitter."""
    rng = rng or random.Random()
    base = interval_s if error_streak == 0 else min(interval_s * 2**error_streak, MAX_BACKOFF_S)
    base = max(base, interval_s)
    return base * rng.uniform(0.9, 1.1)
