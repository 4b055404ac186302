"""`mediawatch run`: broker (when embedded) and the three services, until Ctrl-C or SIGTERM."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from services.broker import EmbeddedBroker
from services.config import LoadedConfig
from services.kafka import KafkaLink, ensure_topics
from services.runtime import install_signal_handlers
from services.supervisor import SERVICES, Supervisor

log = logging.getLogger("mediawatch.run")


@contextlib.asynccontextmanager
async def kafka_bootstrap(loaded: LoadedConfig) -> AsyncIterator[str]:
    """The configured bootstrap, or an embedded broker's for as long as the context lasts."""
    if not loaded.config.kafka.embedded:
        yield loaded.config.kafka.bootstrap
        return
    loaded.storage_dir.mkdir(parents=True, exist_ok=True)
    async with EmbeddedBroker(log_path=loaded.storage_dir / "broker.log") as broker:
        log.info("embedded broker (in memory) on %s", broker.bootstrap)
        yield broker.bootstrap


async def run_all(loaded: LoadedConfig, log_level: str) -> int:
    stop = asyncio.Event()
    install_signal_handlers(stop)
    base = loaded.config.metrics.port
    ports = {s: (base + i if base else 0) for i, s in enumerate(SERVICES)}
    async with kafka_bootstrap(loaded) as bootstrap:
        await ensure_topics(KafkaLink(bootstrap, loaded.config.kafka))
        supervisor = Supervisor(loaded.doc.path.resolve(), bootstrap, ports, log_level)
        await supervisor.start()
        stopper = asyncio.ensure_future(stop.wait())
        child_exit = asyncio.ensure_future(supervisor.wait_any())
        await asyncio.wait({stopper, child_exit}, return_when=asyncio.FIRST_COMPLETED)
        failed = None
        if child_exit.done():
            failed = child_exit.result()
            log.error("%s exited with code %d: stopping the pipeline", *failed)
        else:
            child_exit.cancel()
            log.info("stopping the pipeline")
        stopper.cancel()
        codes = await supervisor.stop()
    log.info("stopped", extra={"exit_codes": codes})
    return 1 if failed or any(c not in (0, -15) for c in codes.values()) else 0
