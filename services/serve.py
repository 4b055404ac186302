"""Run one service in this process: metrics/health server, signals, bounded shutdown."""

import asyncio
import contextlib
import logging
from typing import Literal, Protocol

from prometheus_client import CollectorRegistry, generate_latest

from services.config import LoadedConfig, WatchlistFiles
from services.kafka import KafkaLink, ensure_topics
from services.lifecycle import started
from services.metrics import service_registry
from services.runtime import MetricsServer, install_signal_handlers, run_with_grace
from services.status import Samples, flatten, report_status

ServiceName = Literal["ingest", "detect", "notify"]


class Service(Protocol):
    def problems(self) -> list[str]:
        """Why the service cannot do its job now (empty: it can): /healthz."""

    async def run(self, stop: asyncio.Event) -> None: ...


def build_service(
    name: ServiceName, loaded: LoadedConfig, link: KafkaLink, registry: CollectorRegistry
) -> Service:
    """The service object; config problems (e.g. bad watchlists) raise before anything starts.

    Each service's module is imported only when it runs (notify's brings aiogram, slow to load).
    """
    if name == "ingest":
        from services.ingest_service import IngestService

        return IngestService(loaded, link, registry)
    if name == "detect":
        from services.detect_service import DetectService

        return DetectService(
            WatchlistFiles.of(loaded),
            link,
            registry,
            reload_interval_s=loaded.config.detect.reload_interval,
        )
    from services.notify_service import NotifyService

    return NotifyService(loaded, link, registry)


async def serve(
    name: ServiceName,
    loaded: LoadedConfig,
    bootstrap: str,
    metrics_port: int | None = None,
    *,
    status_interval_s: float = 0.0,
) -> None:
    """Run service `name` until SIGINT/SIGTERM, then shut down within the grace period."""
    log = logging.getLogger(f"mediawatch.{name}")
    link = KafkaLink(bootstrap, loaded.config.kafka)
    registry = service_registry()
    service = build_service(name, loaded, link, registry)
    stop = asyncio.Event()
    install_signal_handlers(stop)
    metrics = loaded.config.metrics
    port, setting = (
        (metrics.port, f"metrics.port in {loaded.doc.path}")
        if metrics_port is None
        else (metrics_port, "--metrics-port")
    )

    def problems() -> list[str]:
        return ["stopping"] if stop.is_set() else service.problems()

    async def own_samples() -> Samples:
        return flatten(generate_latest(registry).decode())

    async with started(
        MetricsServer(registry, metrics.host, port, problems, setting=setting)
    ) as server:
        log.info(
            "service starting",
            extra={"service": name, "bootstrap": bootstrap, "metrics_port": server.port},
        )
        try:
            await ensure_topics(link)

            async def main() -> None:
                status = asyncio.create_task(report_status(own_samples, status_interval_s, stop))
                try:
                    await service.run(stop)
                finally:
                    status.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await status

            await run_with_grace(main(), stop)
        finally:
            log.info("service stopped", extra={"service": name})
