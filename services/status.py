"""The status line: what the pipeline is doing, in one line a person can read, every so often.

    status: feeds 18 ok, 2 failing (next retry in 3m10s) · 240 articles · 12 alerts · 9 sent,
    0 pending · lag detect 0, notify 0

Built from the services' own metrics (`flatten` reads Prometheus text), so it says what an
operator's dashboard would: `mediawatch run` scrapes its three children, a service run alone
reads its own registry. A part whose metrics are absent is left out.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger("mediawatch.status")

#: Sample name (summed over labels) or `name{label=value}` (one labelled series) → value.
Samples = dict[str, float]


def flatten(*texts: str) -> Samples:
    """The samples of Prometheus exposition texts, summed per name and kept per single label."""
    samples: Samples = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[sample.name] = samples.get(sample.name, 0.0) + sample.value
                if len(sample.labels) == 1:
                    ((label, value),) = sample.labels.items()
                    key = f"{sample.name}{{{label}={value}}}"
                    samples[key] = samples.get(key, 0.0) + sample.value
    return samples


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def status_line(samples: Mapping[str, float], now: float) -> str:
    """`feeds … · articles · alerts · messages · lag`, from whatever `samples` hold."""

    def get(name: str) -> float | None:
        return samples.get(name)

    parts = []
    if get("mediawatch_ingest_feeds") is not None:
        health = "mediawatch_ingest_feeds_by_health{health=%s}"
        counts = {h: int(samples.get(health % h, 0)) for h in ("ok", "pending", "failing")}
        counts["unhealthy"] = int(samples.get(health % "unhealthy", 0))
        feeds = ", ".join(f"{n} {h}" for h, n in counts.items() if n or h == "ok")
        retry_at = get("mediawatch_ingest_next_retry_timestamp_seconds")
        if retry_at:
            feeds += f" (next retry in {_duration(retry_at - now)})"
        parts.append(f"feeds {feeds}")
        parts.append(
            f"{int(samples.get('mediawatch_ingest_articles_published_total', 0))} articles"
        )
    if get("mediawatch_detect_alerts_total") is not None:
        parts.append(f"{int(samples['mediawatch_detect_alerts_total'])} alerts")
    if get("mediawatch_notify_messages_sent_total") is not None:
        sent = int(samples["mediawatch_notify_messages_sent_total"])
        pending = int(samples.get("mediawatch_notify_outbox_pending", 0))
        parts.append(f"{sent} sent, {pending} pending")
    lags = [
        f"{group.rsplit('.', 1)[-1]} {int(value)}"
        for key, value in sorted(samples.items())
        if key.startswith("mediawatch_kafka_consumer_lag_messages{group=")
        for group in [key.split("=", 1)[1].rstrip("}")]
    ]
    if lags:
        parts.append("lag " + ", ".join(lags))
    return "status: " + (" · ".join(parts) or "no metrics yet")


async def report_status(
    read: Callable[[], Awaitable[Samples]], interval_s: float, stop: asyncio.Event
) -> None:
    """Log `status_line(read())` every `interval_s` until `stop` (never when it is 0)."""
    while interval_s > 0 and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
        if stop.is_set():
            return
        log.info(status_line(await read(), time.time()))
    await stop.wait()
