"""What operators watch: the services' real /metrics and /healthz, the alert rules, the dashboard.

One module-wide run of the three services (real processes, their own broker, a real feed) is
scraped; every PromQL expression of `deploy/alerts.yml` and of the Grafana dashboard is parsed
(promql-parser) and may name only metrics that scrape holds. Then the broker is killed and every
`/healthz` must say so, while every `/livez` stays green (no reason to restart a pod).
"""

import asyncio
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import promql_parser
import pytest
import yaml

from ingest.model import Article
from services.broker import EmbeddedBroker, free_port
from services.config import KafkaConfig
from services.feed_server import FeedServer, ServedFeed
from services.kafka import KafkaLink, ensure_topics
from services.status import flatten
from services.supervisor import SERVICES, Supervisor, scrape
from tests.helpers import REPO, eventually, read_topic, write_config

DEPLOY = REPO / "deploy"
#: Made by Prometheus itself, not by a service.
PROMETHEUS_OWN = {"up"}
ITEM = (
    "<item><title>Army says rebels violated the ceasefire near the border</title>"
    "<link>https://news.example/1</link><description>Witnesses described shelling through "
    "the night and the government accused the rebels.</description></item>"
)


@dataclass
class Observed:
    samples: dict[str, dict[str, float]]  # service → flattened scrape
    article_lang: str | None
    ready: dict[str, list[str] | None]
    after_broker_loss: dict[str, list[str] | None]
    live_after_broker_loss: dict[str, int]  # service → /livez status

    @property
    def names(self) -> set[str]:
        return {k.split("{")[0] for s in self.samples.values() for k in s}


async def observe(tmp_path: Path) -> Observed:
    feeds = FeedServer()
    await feeds.start()
    feeds.feeds["plain.xml"] = ServedFeed(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{ITEM}'
        "</channel></rss>".encode()
    )  # no language declared anywhere: ingest must guess it
    broker = EmbeddedBroker()
    await broker.start()
    try:
        config = write_config(
            tmp_path,
            "obs",
            feeds=[{"url": feeds.url("plain.xml"), "interval": "1s"}],
            ingest={"stories": False},
        )
        await ensure_topics(KafkaLink(broker.bootstrap, KafkaConfig(topic_prefix="obs")))
        ports = {s: free_port() for s in SERVICES}
        supervisor = Supervisor(config, broker.bootstrap, ports, "warning")
        await supervisor.start()
        try:
            async with aiohttp.ClientSession() as session:

                async def all_ready() -> bool:
                    answers = [await supervisor.problems(session, s) for s in SERVICES]
                    return all(a == [] for a in answers)

                await eventually(all_ready, what="the three services to be ready")
                ready = {s: await supervisor.problems(session, s) for s in SERVICES}
                (value,) = await read_topic(broker.bootstrap, "obs.articles", at_least=1)

                async def matched() -> bool:
                    detect = flatten(await scrape(session, ports["detect"]))
                    return detect.get("mediawatch_detect_articles_processed_total", 0) >= 1

                await eventually(matched, what="detect to match the article")
                samples = {s: flatten(await scrape(session, ports[s])) for s in SERVICES}
                await broker.stop()  # the broker dies: every /healthz must turn red

                async def all_red() -> bool:
                    answers = [await supervisor.problems(session, s) for s in SERVICES]
                    return all(a and any("broker" in p for p in a) for a in answers)

                await eventually(all_red, timeout=20, what="every /healthz to name the broker")
                lost = {s: await supervisor.problems(session, s) for s in SERVICES}
                live = {}
                for s in SERVICES:
                    async with session.get(f"http://127.0.0.1:{ports[s]}/livez") as answer:
                        live[s] = answer.status
        finally:
            await supervisor.stop(grace_s=10)
    finally:
        await broker.stop()
        await feeds.stop()
    return Observed(samples, Article.model_validate_json(value).lang, ready, lost, live)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Observed:
    return asyncio.run(observe(tmp_path_factory.mktemp("observed")))


def test_every_service_exports_its_metrics_at_zero_before_any_event(observed: Observed) -> None:
    ingest, detect, notify = (observed.samples[s] for s in SERVICES)
    assert ingest["mediawatch_ingest_fetches_total{result=parse_error}"] == 0
    assert ingest["mediawatch_ingest_articles_truncated_total"] == 0
    assert ingest["mediawatch_ingest_feeds_by_health{health=ok}"] == 1
    assert detect["mediawatch_detect_watchlist_reloads_total{result=error}"] == 0
    assert detect["mediawatch_detect_alerts_total{event=relations_cut}"] == 0
    assert notify["mediawatch_notify_messages_sent_total{channel=slack}"] == 0
    assert notify["mediawatch_notify_ambiguous_sends_total{channel=telegram}"] == 0
    assert "mediawatch_notify_telegram_request_duration_seconds_count" in notify
    for service, samples in observed.samples.items():
        assert samples["mediawatch_kafka_up"] == 1, service
        assert samples["process_resident_memory_bytes"] > 0, service
        assert "mediawatch_kafka_produce_errors_total" in samples, service
    assert "mediawatch_kafka_consumer_lag_messages{group=obs.detect}" in detect
    assert "mediawatch_kafka_consumer_lag_messages{group=obs.notify}" in notify


def test_a_feed_without_a_language_gets_one_guessed(observed: Observed) -> None:
    assert observed.article_lang == "en"


def test_healthz_is_green_when_ready_and_names_the_broker_once_it_is_lost(
    observed: Observed,
) -> None:
    assert observed.ready == {service: [] for service in SERVICES}
    for service, problems in observed.after_broker_loss.items():
        assert problems and any(p.startswith("broker unreachable") for p in problems), service
    assert observed.live_after_broker_loss == {service: 200 for service in SERVICES}


def metric_names(expr: str) -> set[str]:
    """Every metric an expression selects (parsing it: a syntax error fails here)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return names


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((DEPLOY / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_alert_rules_parse_and_name_only_exported_metrics(observed: Observed) -> None:
    rules = alert_rules()
    assert len(rules) >= 10
    for rule in rules:
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= observed.names | PROMETHEUS_OWN, (rule["alert"], names - observed.names)


def test_the_rules_watch_the_broker_lag_outbox_feeds_and_delivery() -> None:
    named = set().union(*(metric_names(r["expr"]) for r in alert_rules()))
    for metric in (
        "mediawatch_kafka_up",
        "mediawatch_kafka_consumer_lag_messages",
        "mediawatch_notify_outbox_pending",
        "mediawatch_ingest_feeds_unhealthy",
        "mediawatch_notify_ambiguous_sends_total",
        "mediawatch_notify_publication_to_delivery_seconds_bucket",
    ):
        assert metric in named, metric


def test_a_misspelt_metric_or_a_broken_query_is_caught() -> None:
    with pytest.raises(ValueError):
        metric_names("sum(rate(mediawatch_ingest_fetch_errors_total[5m])")
    assert metric_names('sum(rate(mediawatch_nope_total{a="b"}[5m])) > 0') == {
        "mediawatch_nope_total"
    }


def dashboard_module() -> Any:
    spec = importlib.util.spec_from_file_location("dashboard", DEPLOY / "grafana" / "dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_dashboard_is_what_its_generator_builds() -> None:
    committed = (DEPLOY / "grafana" / "mediawatch.json").read_text(encoding="utf-8")
    assert dashboard_module().render() == committed, "run deploy/grafana/dashboard.py again"


def test_the_dashboard_covers_what_operators_watch_and_its_queries_are_real(
    observed: Observed,
) -> None:
    board = json.loads((DEPLOY / "grafana" / "mediawatch.json").read_text(encoding="utf-8"))
    assert board["uid"] == "mediawatch" and board["refresh"]
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == ["Throughput", "Latency", "Lag and outbox", "Feed health", "Errors", "Processes"]
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for panel in panels:
        assert panel["targets"] and panel["datasource"]["uid"] == "prometheus", panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names <= observed.names | PROMETHEUS_OWN, (panel["title"], names)
    boxes = [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in board["panels"]]
    assert len(set(boxes)) == len(boxes), "no two panels on the same spot"


def test_grafana_in_compose_gets_the_dashboard_and_the_datasource_it_names() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./deploy/grafana/mediawatch.json"].startswith("/var/lib/grafana/dashboards/")
    assert "prometheus" in grafana["depends_on"]
    provisioning = DEPLOY / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["uid"] == "prometheus" and source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "mediawatch.yml").read_text())[
        "providers"
    ]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
