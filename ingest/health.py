"""How this replica's feeds are doing, summed up in a few numbers (no per-feed label values).

`summarize` turns the stored `FeedStatus` rows into what a dashboard, an alert rule or a status
line can show for 10,000 feeds at once: how many are ok, pending, failing or unhealthy, how many
succeeded within each freshness window, the oldest last success, the longest error streak and
when the next failing feed is retried.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ingest.state import FeedStatus

HEALTHS = ("ok", "pending", "failing", "unhealthy")
#: Freshness windows, in seconds, by the label a metric shows them with.
FRESH_WITHIN = {"5m": 300.0, "1h": 3600.0, "6h": 21600.0, "24h": 86400.0}


@dataclass(frozen=True)
class HealthSummary:
    feeds: int
    by_health: Mapping[str, int]
    #: Feeds whose last good poll is within each window of `FRESH_WITHIN`.
    fresh_within: Mapping[str, int]
    #: Seconds since the least recent last good poll among feeds that had one (0: none).
    oldest_success_age_s: float
    max_error_streak: int
    #: When the soonest failing feed is polled again (epoch seconds), or None.
    next_retry_at: float | None


def summarize(
    feed_urls: Iterable[str], statuses: Mapping[str, FeedStatus], now: float
) -> HealthSummary:
    """The summary of `feed_urls` (a feed without a stored status is pending)."""
    by_health = dict.fromkeys(HEALTHS, 0)
    fresh = dict.fromkeys(FRESH_WITHIN, 0)
    oldest = 0.0
    streak = 0
    retry: float | None = None
    count = 0
    for url in feed_urls:
        count += 1
        status = statuses.get(url)
        if status is None:
            by_health["pending"] += 1
            continue
        health = status.health(now)
        by_health[health] += 1
        streak = max(streak, status.error_streak)
        if status.last_ok is not None:
            age = max(0.0, now - status.last_ok)
            oldest = max(oldest, age)
            for label, window in FRESH_WITHIN.items():
                fresh[label] += age <= window
        if health in ("failing", "unhealthy") and status.next_due is not None:
            retry = status.next_due if retry is None else min(retry, status.next_due)
    return HealthSummary(count, by_health, fresh, oldest, streak, retry)
