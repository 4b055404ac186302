"""The mediawatch Grafana dashboard, built with grafana-foundation-sdk (`mediawatch.json`).

    .venv/bin/python deploy/grafana/dashboard.py > deploy/grafana/mediawatch.json

The JSON is committed (Grafana provisions it from docker-compose.yml); the test suite rebuilds it
and fails when the committed file differs, parses every query and checks that every metric it
names is one the services export. Rows: throughput, latency, lag and outbox, feed health,
errors, processes. Queries sum over replicas and keep only bounded labels.
"""

import sys

from grafana_foundation_sdk.builders import dashboard, prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos

DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
WIDTH, HEIGHT = 8, 8  # three panels to a row of 24

#: row title → panels: (title, unit, [(PromQL, legend)])
ROWS: list[tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]] = [
    (
        "Throughput",
        [
            (
                "Articles published and matched",
                "ops",
                [
                    ("sum(rate(mediawatch_ingest_articles_published_total[5m]))", "published"),
                    ("sum(rate(mediawatch_detect_articles_processed_total[5m]))", "matched"),
                    ("sum(rate(mediawatch_ingest_articles_replayed_total[5m]))", "replayed"),
                ],
            ),
            (
                "Alerts by event",
                "ops",
                [("sum by (event) (rate(mediawatch_detect_alerts_total[5m]))", "{{event}}")],
            ),
            (
                "Messages by destination",
                "ops",
                [
                    (
                        "sum by (channel) (rate(mediawatch_notify_messages_sent_total[5m]))",
                        "sent {{channel}}",
                    ),
                    (
                        "sum by (channel) (rate(mediawatch_notify_messages_edited_total[5m]))",
                        "edited {{channel}}",
                    ),
                ],
            ),
        ],
    ),
    (
        "Latency",
        [
            (
                "Ingest to alert, ingest to outbox (p95)",
                "s",
                [
                    (
                        "histogram_quantile(0.95, sum by (le) "
                        "(rate(mediawatch_detect_pipeline_latency_seconds_bucket[5m])))",
                        "to alert",
                    ),
                    (
                        "histogram_quantile(0.95, sum by (le) "
                        "(rate(mediawatch_notify_pipeline_latency_seconds_bucket[5m])))",
                        "to outbox",
                    ),
                ],
            ),
            (
                "Publication to delivery (p50, p95)",
                "s",
                [
                    (
                        f"histogram_quantile({q}, sum by (le, channel) "
                        "(rate(mediawatch_notify_publication_to_delivery_seconds_bucket[15m])))",
                        f"p{round(q * 100)} {{{{channel}}}}",
                    )
                    for q in (0.5, 0.95)
                ],
            ),
            (
                "Telegram call duration (p95)",
                "s",
                [
                    (
                        "histogram_quantile(0.95, sum by (le, method) "
                        "(rate(mediawatch_notify_telegram_request_duration_seconds_bucket[5m])))",
                        "{{method}}",
                    )
                ],
            ),
        ],
    ),
    (
        "Lag and outbox",
        [
            (
                "Consumer lag",
                "short",
                [("max by (group) (mediawatch_kafka_consumer_lag_messages)", "{{group}}")],
            ),
            (
                "Owed: outbox and journal",
                "short",
                [
                    ("sum(mediawatch_notify_outbox_pending)", "outbox pending"),
                    ("sum(mediawatch_ingest_journal_articles)", "journal (not yet through)"),
                ],
            ),
            (
                "Broker reachable",
                "short",
                [("min by (service) (mediawatch_kafka_up)", "{{service}}")],
            ),
        ],
    ),
    (
        "Feed health",
        [
            (
                "Feeds by health",
                "short",
                [("sum by (health) (mediawatch_ingest_feeds_by_health)", "{{health}}")],
            ),
            (
                "Feeds polled successfully within",
                "short",
                [("sum by (within) (mediawatch_ingest_feeds_fresh)", "{{within}}")],
            ),
            (
                "Oldest last success, poll lag (p95)",
                "s",
                [
                    ("max(mediawatch_ingest_oldest_success_age_seconds)", "oldest last success"),
                    (
                        "histogram_quantile(0.95, sum by (le) "
                        "(rate(mediawatch_ingest_poll_lag_seconds_bucket[5m])))",
                        "poll lag",
                    ),
                ],
            ),
        ],
    ),
    (
        "Errors",
        [
            (
                "Feed fetches failing",
                "ops",
                [
                    (
                        "sum by (result) (rate(mediawatch_ingest_fetches_total"
                        '{result=~"error|parse_error"}[5m]))',
                        "{{result}}",
                    ),
                    ("sum(rate(mediawatch_ingest_articles_truncated_total[5m]))", "cut to fit"),
                ],
            ),
            (
                "Broker errors and dead letters",
                "ops",
                [
                    (
                        "sum by (service) (rate(mediawatch_kafka_produce_errors_total[5m]))",
                        "produce {{service}}",
                    ),
                    (
                        "sum by (service) (rate(mediawatch_kafka_connection_errors_total[5m]))",
                        "connection {{service}}",
                    ),
                    (
                        "sum by (service) (rate(mediawatch_deadletter_messages_total[5m]))",
                        "dead letters {{service}}",
                    ),
                ],
            ),
            (
                "Sends not straight through",
                "ops",
                [
                    (
                        f"sum by (channel) (rate(mediawatch_notify_{name}_total[5m]))",
                        f"{label} {{{{channel}}}}",
                    )
                    for name, label in (
                        ("send_retries", "retried"),
                        ("throttled", "429"),
                        ("ambiguous_sends", "timed out, maybe sent"),
                        ("send_failures", "failed"),
                    )
                ],
            ),
        ],
    ),
    (
        "Processes",
        [
            (
                "CPU",
                "percentunit",
                [("sum by (service) (rate(process_cpu_seconds_total[5m]))", "{{service}}")],
            ),
            (
                "Resident memory",
                "bytes",
                [("sum by (service) (process_resident_memory_bytes)", "{{service}}")],
            ),
            ("Up", "short", [('up{job="mediawatch"}', "{{service}}")]),
        ],
    ),
]


def build() -> dashboard.Dashboard:
    board = (
        dashboard.Dashboard("mediawatch")
        .uid("mediawatch")
        .description("Feeds to alerts: throughput, latency, lag, outbox, feed health, errors.")
        .tags(["mediawatch"])
        .refresh("30s")
        .time("now-6h", "now")
    )
    panel_id, y = 1, 0
    for title, panels in ROWS:
        board = board.with_row(
            dashboard.Row(title).id(panel_id).grid_pos(GridPos(h=1, w=24, x=0, y=y))
        )
        panel_id, y = panel_id + 1, y + 1
        for column, (name, unit, queries) in enumerate(panels):
            panel = (
                timeseries.Panel()
                .id(panel_id)
                .title(name)
                .unit(unit)
                .datasource(DATASOURCE)
                .grid_pos(GridPos(h=HEIGHT, w=WIDTH, x=column * WIDTH, y=y))
            )
            for ref, (expr, legend) in enumerate(queries):
                panel = panel.with_target(
                    prometheus.Dataquery()
                    .expr(expr)
                    .legend_format(legend)
                    .ref_id(chr(ord("A") + ref))
                    .datasource(DATASOURCE)
                )
            board = board.with_panel(panel)
            panel_id += 1
        y += HEIGHT
    return board


def render() -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(build().build()) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
