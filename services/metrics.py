"""Every metric the services export, in one place: names, help, labels, buckets.

A registry per service process (`service_registry`, never the global one) with the process
collector (`process_*`: CPU, memory, file descriptors, start time). Labelled counters are created
for every label value they can have, so they show as 0 before their first event (a rate over a
counter that does not exist yet is no rate at all). No label ever holds a feed URL or a chat id.

The domain packages report through hooks (`ingest.poller.PollEvents`,
`notify.dispatch.DispatchEvents`); the classes here turn those into Prometheus samples.
"""

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from detect.model import Alert
from ingest.health import FRESH_WITHIN, HEALTHS, HealthSummary
from ingest.poller import FETCH_RESULTS, PollEvents
from ingest.state import UNHEALTHY_STREAK
from notify.dispatch import DispatchEvents

#: Seconds from an article entering the pipeline to a stage (ingest → detect, → notify).
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
#: Seconds from a feed's publication time to delivery: polling intervals make it minutes.
PUBLICATION_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400)
#: Seconds one Bot API call takes.
REQUEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
#: Destination kinds, the only label notify's counters carry.
CHANNELS = ("console", "telegram", "slack")


def service_registry() -> CollectorRegistry:
    """A fresh registry with `process_*` and `python_info`."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


@dataclass
class KafkaMetrics:
    """What every service says about its broker."""

    up: Gauge
    connection_errors: Counter
    produce_errors: Counter
    lag: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry, groups: Sequence[str] = ()) -> "KafkaMetrics":
        metrics = cls(
            up=Gauge(
                "mediawatch_kafka_up",
                "1 when the broker answered the last probe (every 2 s), else 0.",
                registry=registry,
            ),
            connection_errors=Counter(
                "mediawatch_kafka_connection_errors",
                "Broker probes that failed (unreachable, or no answer in time).",
                registry=registry,
            ),
            produce_errors=Counter(
                "mediawatch_kafka_produce_errors",
                "Records the broker did not acknowledge (each retried or reported).",
                registry=registry,
            ),
            lag=Gauge(
                "mediawatch_kafka_consumer_lag_messages",
                "Records on the group's topic not yet committed by it (end offset - committed).",
                ["group"],
                registry=registry,
            ),
        )
        for group in groups:
            metrics.lag.labels(group)
        return metrics


@dataclass
class IngestMetrics:
    fetches: Counter
    fetch_errors: Counter
    parse_errors: Counter
    published: Counter
    truncated: Counter
    replayed: Counter
    feeds: Gauge
    poll_lag: Histogram
    fulltext_failures: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "IngestMetrics":
        metrics = cls(
            fetches=Counter(
                "mediawatch_ingest_fetches",
                "Feed fetches by outcome (ok, not_modified, unchanged, error, parse_error).",
                ["result"],
                registry=registry,
            ),
            fetch_errors=Counter(
                "mediawatch_ingest_fetch_errors", "Feed fetches that failed.", registry=registry
            ),
            parse_errors=Counter(
                "mediawatch_ingest_parse_errors",
                "Feed bodies that did not parse.",
                registry=registry,
            ),
            published=Counter(
                "mediawatch_ingest_articles_published",
                "New articles acknowledged by Kafka.",
                registry=registry,
            ),
            truncated=Counter(
                "mediawatch_ingest_articles_truncated",
                "Articles cut to ingest.max_article_bytes before publishing.",
                registry=registry,
            ),
            replayed=Counter(
                "mediawatch_ingest_articles_replayed",
                "Journalled articles published again because the broker had lost them.",
                registry=registry,
            ),
            feeds=Gauge(
                "mediawatch_ingest_feeds",
                "Feeds this replica polls (its shard).",
                registry=registry,
            ),
            poll_lag=Histogram(
                "mediawatch_ingest_poll_lag_seconds",
                "How late a poll started after its feed fell due (saturation shows here).",
                buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900),
                registry=registry,
            ),
            fulltext_failures=Counter(
                "mediawatch_ingest_fulltext_failures",
                "Article pages that could not be fetched for their full text.",
                registry=registry,
            ),
        )
        for result in FETCH_RESULTS:
            metrics.fetches.labels(result)
        return metrics

    def events(self) -> PollEvents:
        def fetched(result: str) -> None:
            self.fetches.labels(result).inc()
            if result == "error":
                self.fetch_errors.inc()
            elif result == "parse_error":
                self.parse_errors.inc()

        return PollEvents(
            fetched=fetched,
            published=self.published.inc,
            truncated=self.truncated.inc,
            fulltext_failed=self.fulltext_failures.inc,
        )


class FeedHealthCollector(Collector):
    """Gauges summing up the feeds' health, computed from the stored state at each scrape."""

    def __init__(self, summary: Callable[[float], HealthSummary], journal: Callable[[], int]):
        self._summary = summary
        self._journal = journal

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return list(self._families(None, None))

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return list(self._families(self._summary(time.time()), self._journal()))

    def _families(
        self, s: HealthSummary | None, journal: int | None
    ) -> Iterator[GaugeMetricFamily]:
        by_health = GaugeMetricFamily(
            "mediawatch_ingest_feeds_by_health",
            "Feeds by health: ok, pending (never polled), failing, unhealthy.",
            labels=["health"],
        )
        fresh = GaugeMetricFamily(
            "mediawatch_ingest_feeds_fresh",
            "Feeds whose last good poll is within the window (5m, 1h, 6h, 24h).",
            labels=["within"],
        )
        if s is not None:
            for health in HEALTHS:
                by_health.add_metric([health], s.by_health[health])
            for window in FRESH_WITHIN:
                fresh.add_metric([window], s.fresh_within[window])
        yield by_health
        yield fresh
        gauges: list[tuple[str, str, float | None]] = [
            (
                "mediawatch_ingest_feeds_unhealthy",
                f"Feeds failing {UNHEALTHY_STREAK} or more polls in a row, or for a day.",
                None if s is None else s.by_health["unhealthy"],
            ),
            (
                "mediawatch_ingest_oldest_success_age_seconds",
                "Seconds since the least recent last good poll of a feed (0: none yet).",
                None if s is None else s.oldest_success_age_s,
            ),
            (
                "mediawatch_ingest_max_error_streak",
                "The longest run of failed polls among the feeds.",
                None if s is None else s.max_error_streak,
            ),
            (
                "mediawatch_ingest_next_retry_timestamp_seconds",
                "When the soonest failing feed is polled again (Unix time; 0: none failing).",
                None if s is None else s.next_retry_at or 0.0,
            ),
            (
                "mediawatch_ingest_journal_articles",
                "Published articles not yet known to be in notify's outbox (embedded broker).",
                None if journal is None else journal,
            ),
        ]
        for name, doc, value in gauges:
            family = GaugeMetricFamily(name, doc)
            if value is not None:
                family.add_metric([], float(value))
            yield family


@dataclass
class DetectMetrics:
    articles: Counter
    alerts: Counter
    latency: Histogram
    rules: Gauge
    reloads: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry, events: Iterable[str]) -> "DetectMetrics":
        metrics = cls(
            rules=Gauge("mediawatch_detect_rules", "Rules loaded.", registry=registry),
            reloads=Counter(
                "mediawatch_detect_watchlist_reloads",
                "Watchlist reloads by result (ok, error: the previous rules were kept).",
                ["result"],
                registry=registry,
            ),
            articles=Counter(
                "mediawatch_detect_articles_processed",
                "Articles matched against the watchlists.",
                registry=registry,
            ),
            alerts=Counter(
                "mediawatch_detect_alerts",
                "Alerts produced, by event type.",
                ["event"],
                registry=registry,
            ),
            latency=Histogram(
                "mediawatch_detect_pipeline_latency_seconds",
                "Time from ingest to alert production.",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
        )
        for result in ("ok", "error"):
            metrics.reloads.labels(result)
        for event in {*events, "none"}:
            metrics.alerts.labels(event)
        return metrics


@dataclass
class NotifyMetrics:
    alerts: Counter
    escalations: Counter
    stories_linked: Counter
    sent: Counter
    edited: Counter
    duplicates: Counter
    retries: Counter
    throttled: Counter
    ambiguous: Counter
    failures: Counter
    chats_deactivated: Counter
    pending: Gauge
    latency: Histogram
    since_publication: Histogram
    telegram_requests: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "NotifyMetrics":
        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, ["channel"], registry=registry)

        metrics = cls(
            alerts=Counter(
                "mediawatch_notify_alerts_processed",
                "Alerts written to the outbox (or found there already).",
                registry=registry,
            ),
            escalations=Counter(
                "mediawatch_notify_escalations",
                "Escalation notices made (a day's stories of an event about a country spiked).",
                registry=registry,
            ),
            stories_linked=Counter(
                "mediawatch_notify_stories_linked",
                "Alerts that joined an earlier alert's story (another outlet or language).",
                registry=registry,
            ),
            sent=counter("mediawatch_notify_messages_sent", "Messages acknowledged."),
            edited=counter(
                "mediawatch_notify_messages_edited",
                "Story messages edited to add another outlet or event (instead of a new one).",
            ),
            duplicates=counter(
                "mediawatch_notify_duplicates_skipped", "Redelivered alerts not queued again."
            ),
            retries=counter("mediawatch_notify_send_retries", "Transient send failures."),
            throttled=counter(
                "mediawatch_notify_throttled", "429 answers (retried after retry_after)."
            ),
            ambiguous=counter(
                "mediawatch_notify_ambiguous_sends",
                "Sends that timed out and may have been delivered (retried: maybe shown twice).",
            ),
            failures=counter("mediawatch_notify_send_failures", "Messages refused for good."),
            chats_deactivated=Counter(
                "mediawatch_notify_chats_deactivated",
                "Chats whose subscription was deactivated after a 403.",
                registry=registry,
            ),
            pending=Gauge(
                "mediawatch_notify_outbox_pending",
                "Messages owed and not yet sent.",
                registry=registry,
            ),
            latency=Histogram(
                "mediawatch_notify_pipeline_latency_seconds",
                "Time from ingest to the alert being queued for delivery.",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            since_publication=Histogram(
                "mediawatch_notify_publication_to_delivery_seconds",
                "Time from the feed's publication time of the article to its alert's delivery.",
                ["channel"],
                buckets=PUBLICATION_BUCKETS,
                registry=registry,
            ),
            telegram_requests=Histogram(
                "mediawatch_notify_telegram_request_duration_seconds",
                "Time one Bot API call took, answered or not, by method.",
                ["method"],
                buckets=REQUEST_BUCKETS,
                registry=registry,
            ),
        )
        per_channel = (
            metrics.sent,
            metrics.edited,
            metrics.retries,
            metrics.throttled,
            metrics.ambiguous,
            metrics.failures,
            metrics.since_publication,
        )
        for channel in CHANNELS:
            for family in per_channel:
                family.labels(channel)
        metrics.duplicates.labels("outbox")
        for method in ("sendMessage", "editMessageText"):
            metrics.telegram_requests.labels(method)
        return metrics

    def events(
        self, on_gone: Callable[[str], bool], on_moved: Callable[[str, str], None]
    ) -> DispatchEvents:
        def channel(key: str) -> str:  # bounded label: never the chat id or webhook name
            return key.split(":", 1)[0]

        def gone(key: str) -> None:
            if on_gone(key):
                self.chats_deactivated.inc()

        def delivered(key: str, alerts: list[Alert]) -> None:
            now = time.time()
            for alert in alerts:
                published = alert.article.published_at
                if published is not None:
                    age = max(0.0, now - published.timestamp())
                    self.since_publication.labels(channel(key)).observe(age)

        return DispatchEvents(
            sent=lambda key: self.sent.labels(channel(key)).inc(),
            edited=lambda key: self.edited.labels(channel(key)).inc(),
            duplicate=lambda key: self.duplicates.labels(channel(key)).inc(),
            retry=lambda key: self.retries.labels(channel(key)).inc(),
            throttled=lambda key: self.throttled.labels(channel(key)).inc(),
            ambiguous=lambda key: self.ambiguous.labels(channel(key)).inc(),
            failed=lambda key: self.failures.labels(channel(key)).inc(),
            gone=gone,
            moved=on_moved,
            delivered=delivered,
        )

    def telegram_request(self, method: str, seconds: float) -> None:
        self.telegram_requests.labels(method).observe(seconds)


@dataclass
class ConsumeMetrics:
    deadletters: Counter
    processed: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry, service: str) -> "ConsumeMetrics":
        deadletters = Counter(
            "mediawatch_deadletter_messages",
            "Records sent to the dead-letter topic.",
            ["service"],
            registry=registry,
        )
        processed = Counter(
            "mediawatch_consumed_messages",
            "Records consumed and committed.",
            ["service"],
            registry=registry,
        )
        return cls(deadletters.labels(service), processed.labels(service))
