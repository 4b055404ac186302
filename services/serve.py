"""Run one service in this process: metrics/health server, signals, bounded shutdown."""

import asyncio
import logging
from typing import Literal, Protocol

from prometheus_client import CollectorRegistry

from services.config import LoadedConfig, WatchlistFiles
from services.detect_service import DetectService
from services.ingest_service import IngestService
from services.kafka import KafkaLink, ensure_topics
from services.notify_service import NotifyService
from services.runtime import MetricsServer, install_signal_handlers, run_with_grace

ServiceName = Literal["ingest", "detect", "notify"]
log = logging.getLogger("mediawatch")


class Service(Protocol):
    ready: bool

    async def run(self, stop: asyncio.Event) -> None: ...


def build_service(
    name: ServiceName, loaded: LoadedConfig, link: KafkaLink, registry: CollectorRegistry
) -> Service:
    """The service object; config problems (e.g. bad watchlists) raise before anything starts."""
    if name == "ingest":
        return IngestService(loaded, link, registry)
    if name == "detect":
        return DetectService(
            WatchlistFiles.of(loaded),
            link,
            registry,
            reload_interval_s=loaded.config.detect.reload_interval,
        )
    return NotifyService(loaded, link, registry)


async def serve(
    name: ServiceName, loaded: LoadedConfig, bootstrap: str, metrics_port: int | None = None
) -> None:
    """Run service `name` until SIGINT/SIGTERM, then shut down within the grace period."""
    link = KafkaLink(bootstrap, loaded.config.kafka)
    registry = CollectorRegistry()
    service = build_service(name, loaded, link, registry)
    stop = asyncio.Event()
    install_signal_handlers(stop)
    metrics = loaded.config.metrics
    server = MetricsServer(
        registry,
        metrics.host,
        metrics.port if metrics_port is None else metrics_port,
        lambda: service.ready and not stop.is_set(),
    )
    await server.start()
    log.info(
        "service starting",
        extra={"service": name, "bootstrap": bootstrap, "metrics_port": server.port},
    )
    try:
        await ensure_topics(link)
        await run_with_grace(service.run(stop), stop)
    finally:
        await server.stop()
        log.info("service stopped", extra={"service": name})
