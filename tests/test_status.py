"""What a person running mediawatch reads: the status line and the log lines."""

import io
import json
import logging
import time

import pytest
from prometheus_client import generate_latest

from ingest.health import summarize
from ingest.state import FeedStatus
from services.metrics import FeedHealthCollector, IngestMetrics, KafkaMetrics, service_registry
from services.runtime import JsonFormatter, RepeatFilter, TextFormatter
from services.status import flatten, status_line

NOW = 1_800_000_000.0


def ingest_samples() -> dict[str, float]:
    registry = service_registry()
    metrics = IngestMetrics.create(registry)
    metrics.feeds.set(3)
    metrics.published.inc(240)
    statuses = {
        "a": FeedStatus("a", 0, NOW - 60, None, None, NOW - 60, NOW + 200),
        "b": FeedStatus("b", 2, NOW - 4000, "HTTP 503", NOW - 300, NOW - 30, NOW + 190),
    }
    registry.register(
        FeedHealthCollector(lambda now: summarize(["a", "b", "c"], statuses, NOW), lambda: 4)
    )
    KafkaMetrics.create(registry)
    return flatten(generate_latest(registry).decode())


def test_the_status_line_sums_up_feeds_articles_alerts_messages_and_lag() -> None:
    samples = ingest_samples()
    samples.update(
        {
            "mediawatch_detect_alerts_total": 12,
            "mediawatch_notify_messages_sent_total": 9,
            "mediawatch_notify_outbox_pending": 1,
            "mediawatch_kafka_consumer_lag_messages{group=mw.detect}": 0,
            "mediawatch_kafka_consumer_lag_messages{group=mw.notify}": 3,
        }
    )
    assert status_line(samples, NOW) == (
        "status: feeds 1 ok, 1 pending, 1 failing (next retry in 3m10s) · 240 articles · "
        "12 alerts · 9 sent, 1 pending · lag detect 0, notify 3"
    )


def test_the_feed_health_gauges_are_bounded_and_complete() -> None:
    samples = ingest_samples()
    assert samples["mediawatch_ingest_feeds_by_health{health=ok}"] == 1
    assert samples["mediawatch_ingest_feeds_by_health{health=unhealthy}"] == 0
    assert samples["mediawatch_ingest_feeds_fresh{within=5m}"] == 1
    assert samples["mediawatch_ingest_feeds_fresh{within=24h}"] == 2
    assert samples["mediawatch_ingest_oldest_success_age_seconds"] == 4000
    assert samples["mediawatch_ingest_max_error_streak"] == 2
    assert samples["mediawatch_ingest_next_retry_timestamp_seconds"] == NOW + 190
    assert samples["mediawatch_ingest_journal_articles"] == 4
    assert samples["mediawatch_ingest_fetches_total{result=parse_error}"] == 0  # at zero
    assert "process_resident_memory_bytes" in samples and "process_cpu_seconds_total" in samples


def test_a_service_alone_shows_its_own_part_only() -> None:
    assert status_line({"mediawatch_detect_alerts_total": 2}, NOW) == "status: 2 alerts"
    assert status_line({}, NOW) == "status: no metrics yet"


def record(msg: str, level: int = logging.WARNING, **extra: object) -> logging.LogRecord:
    r = logging.makeLogRecord({"name": "mediawatch.ingest", "levelno": level, "msg": msg,
                               "levelname": logging.getLevelName(level), **extra})  # fmt: skip
    return r


def test_text_logs_read_as_lines_with_their_keys_and_json_logs_parse() -> None:
    line = TextFormatter().format(record("feed poll failed", feed_url="https://x.example/rss"))
    assert (
        line.split(" ", 1)[1] == "WARN  ingest   feed poll failed  feed_url=https://x.example/rss"
    )
    entry = json.loads(JsonFormatter().format(record("polled feed", logging.INFO, articles=3)))
    assert (entry["level"], entry["logger"], entry["msg"], entry["articles"]) == (
        "info", "mediawatch.ingest", "polled feed", 3
    )  # fmt: skip


def test_a_warning_repeated_word_for_word_is_shown_once_per_window_with_its_count() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RepeatFilter(window_s=0.2))
    logger = logging.getLogger("test.repeats")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        for _ in range(50):  # a client retrying an unreachable broker
            logger.error("Unable connect to node with id %d", 111)
        logger.error("another message")
        logger.info("info is never held")
        logger.info("info is never held")
        time.sleep(0.25)
        logger.error("Unable connect to node with id %d", 111)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        "Unable connect to node with id 111",
        "another message",
        "info is never held",
        "info is never held",
        "Unable connect to node with id 111 (repeated 49 more times in 0.2s)",
    ]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_setup_logging_honours_an_explicit_format(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.runtime import setup_logging

    setup_logging("info", fmt)  # type: ignore[arg-type]
    logging.getLogger("mediawatch.run").info("hello")
    err = capsys.readouterr().err.strip()
    assert (
        (err.startswith("{") and json.loads(err)["msg"] == "hello")
        if fmt == "json"
        else err.endswith("run      hello")
    )
