"""When an alert should wait and be folded into a digest instead of being sent on its own.

Pure: the caller passes the time and what it knows about the destination. Three reasons to hold
a non-critical alert, the latest wins:

- the chat asked for a digest (`/digest 15m|1h|daily`): held until the next boundary of that
  interval (daily digests go out at 08:00 local time);
- its watchlist is over its ceiling for this destination (N alerts in the last hour went out one
  by one): held until the end of the current hour, so a flood becomes one digest, not silence;
- quiet hours (local time): held until they end.

Critical alerts are never held. Nothing is dropped: a held alert is in the outbox with its due
time, and goes out in the digest even after a restart.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo

from detect.model import Alert

DAILY_AT = time(8, 0)
#: The digest intervals a chat can choose (`/digest`), in seconds; `off` sends one by one.
DIGESTS: Mapping[str, float | None] = {"off": None, "15m": 900.0, "1h": 3600.0, "daily": 86400.0}


@dataclass(frozen=True)
class QuietHours:
    """A local-time span, which may wrap midnight (22:00-07:00)."""

    start: time
    end: time

    def until(self, local: datetime) -> datetime | None:
        """When the quiet hours around `local` end, or None if `local` is not in them."""
        t = local.time().replace(tzinfo=None)
        today_end = local.replace(
            hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0
        )
        if self.start <= self.end:
            return today_end if self.start <= t < self.end else None
        if t >= self.start:
            return today_end + timedelta(days=1)
        return today_end if t < self.end else None


@dataclass(frozen=True)
class HoldPolicy:
    tz: tzinfo = UTC
    quiet: QuietHours | None = None
    ceilings: Mapping[str, int] = field(default_factory=dict)  # watchlist → alerts per window
    window: float = 3600.0

    def due_at(
        self, alert: Alert, *, digest: float | None, sent_alone: int, now: float
    ) -> float | None:
        """Epoch time to send `alert` in a digest, or None to send it now on its own.

        `digest` is the destination's digest interval in seconds (None: off); `sent_alone` how
        many alerts of this watchlist it got one by one in the last `window` seconds.
        """
        if alert.severity == "critical":
            return None
        reasons: list[float] = []
        if digest:
            reasons.append(self._next_digest(digest, now))
        ceiling = self.ceilings.get(alert.watchlist)
        if ceiling is not None and sent_alone >= ceiling:
            reasons.append((now // self.window + 1) * self.window)
        if self.quiet is not None:
            end = self.quiet.until(datetime.fromtimestamp(now, self.tz))
            if end is not None:
                reasons.append(end.timestamp())
        return max(reasons) if reasons else None

    def _next_digest(self, interval: float, now: float) -> float:
        if interval < 86400:
            return (now // interval + 1) * interval
        local = datetime.fromtimestamp(now, self.tz)
        at = local.replace(hour=DAILY_AT.hour, minute=DAILY_AT.minute, second=0, microsecond=0)
        return (at if at > local else at + timedelta(days=1)).timestamp()
