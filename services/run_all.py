"""`mediawatch run`: the broker (when embedded) and the three services, kept running.

- Start-up says what it waits for: the broker, then each service until its `/healthz` is green.
- A child that dies is restarted after a pause (`RestartPolicy`), and the pipeline stops only
  when one keeps crashing, or refuses its configuration (exit code 2).
- An embedded broker that dies is restarted (empty, on a new port) together with the services:
  an old client would keep a stale position. Ingest then republishes from its journal what the
  old broker took with it, and alert ids plus the outbox make that replay harmless.
- Shutdown (Ctrl-C, SIGTERM) drains in order: ingest stops first; detect stops once it has
  committed every article (or `drain_timeout` passed), notify once it has every alert in its
  outbox, and sends what is ready before it goes. A second Ctrl-C skips the waiting.
- Every `status_interval` a status line says what the pipeline did (from the children's
  metrics).
"""

import asyncio
import contextlib
import errno
import logging
import signal
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiokafka.errors import KafkaError

from services.broker import EmbeddedBroker, free_port
from services.config import LoadedConfig
from services.errors import PortInUseError
from services.kafka import KafkaLink, ensure_topics
from services.offsets import OffsetReader
from services.status import flatten, report_status
from services.supervisor import EXIT_CONFIG, SERVICES, RestartPolicy, Supervisor, scrape

log = logging.getLogger("mediawatch.run")

#: How long to wait, after stopping ingest, for detect and notify to catch up.
DRAIN_TIMEOUT_S = 30.0
#: How often the status line is logged.
STATUS_INTERVAL_S = 60.0
#: Children of a dead broker cannot do anything useful: they get this long to stop.
BROKER_LOSS_GRACE_S = 5.0


def metrics_ports(loaded: LoadedConfig) -> dict[str, int]:
    """`metrics.port`, +1, +2 (checked free now, so a clash is one clear line), or free ports
    picked here when it is 0 (the supervisor must know them to ask the children's health)."""
    metrics = loaded.config.metrics
    if not metrics.port:
        return {s: free_port() for s in SERVICES}
    ports = {s: metrics.port + i for i, s in enumerate(SERVICES)}
    for i, (service, port) in enumerate(ports.items()):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((metrics.host, port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                plus = f" + {i}" if i else ""
                where = f"metrics.port{plus} in {loaded.doc.path}, for {service}"
                raise PortInUseError(port, where) from None
    return ports


@contextlib.asynccontextmanager
async def embedded_broker(loaded: LoadedConfig) -> AsyncIterator[EmbeddedBroker | None]:
    """An embedded broker for as long as the context lasts, or None with an external Kafka."""
    if not loaded.config.kafka.embedded:
        yield None
        return
    loaded.storage_dir.mkdir(parents=True, exist_ok=True)
    log.info("starting the embedded broker")
    started = time.monotonic()
    async with EmbeddedBroker(log_path=loaded.storage_dir / "broker.log") as broker:
        log.info(
            "embedded broker (in memory) ready on %s in %.1fs",
            broker.bootstrap,
            time.monotonic() - started,
            extra={"pid": broker.pid},
        )
        yield broker


class Pipeline:
    """The running children (and broker), and what happens when one of them goes."""

    def __init__(
        self,
        loaded: LoadedConfig,
        broker: EmbeddedBroker | None,
        supervisor: Supervisor,
        *,
        policy: RestartPolicy,
        drain_timeout_s: float,
    ) -> None:
        self._loaded = loaded
        self._broker = broker
        self._supervisor = supervisor
        self._policy = policy
        self._drain_timeout_s = drain_timeout_s
        self._crashes = dict.fromkeys(SERVICES, 0)

    @property
    def link(self) -> KafkaLink:
        return KafkaLink(self._supervisor.bootstrap, self._loaded.config.kafka)

    async def run(self, stop: asyncio.Event, hurry: asyncio.Event) -> int:
        """Until `stop`: keep everything running; then drain. The exit code."""
        await ensure_topics(self.link)
        await self._start_children(stop)
        code = await self._watch(stop)
        if code == 0:  # asked to stop (not giving up): drain in order
            await self._drain(hurry)
        return code

    async def _start_children(self, stop: asyncio.Event) -> None:
        started = time.monotonic()
        log.info("starting %s; waiting until each is ready", ", ".join(SERVICES))
        await self._supervisor.start()
        waiting = set(SERVICES)
        last_said = started
        async with aiohttp.ClientSession() as session:
            while waiting and not stop.is_set():
                for service in sorted(waiting):
                    if self._supervisor.children[service].returncode is not None:
                        waiting.discard(service)  # the watch loop deals with it
                        continue
                    problems = await self._supervisor.problems(session, service)
                    if problems == []:
                        waiting.discard(service)
                        log.info("%s ready in %.1fs", service, time.monotonic() - started)
                    elif time.monotonic() - last_said > 5:
                        last_said = time.monotonic()
                        log.info(
                            "still waiting for %s: %s",
                            service,
                            "; ".join(problems or ["starting up"]),
                        )
                if waiting:
                    await asyncio.sleep(0.2)
        ports = self._supervisor.metrics_ports
        log.info(
            "pipeline ready in %.1fs; metrics and health on ports %s",
            time.monotonic() - started,
            ", ".join(f"{ports[s]} ({s})" for s in SERVICES),
        )

    async def _watch(self, stop: asyncio.Event) -> int:
        """Restart what dies until `stop`; a non-zero code when giving up instead."""
        while not stop.is_set():
            stopping = asyncio.ensure_future(stop.wait())
            child = asyncio.ensure_future(self._supervisor.wait_any())
            waits: list[asyncio.Future[Any]] = [stopping, child]
            if self._broker is not None:
                waits.append(asyncio.ensure_future(self._broker.exited()))
            try:
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
            if stopping in done:
                break
            if child in done:
                service, code = await child
                if code == EXIT_CONFIG:
                    log.error("%s refused its configuration (see above): stopping", service)
                    return EXIT_CONFIG
                if not await self._restart(service, code, stop):
                    return 1
            else:
                await self._broker_lost(stop)
        return 0

    async def _restart(self, service: str, code: int, stop: asyncio.Event) -> bool:
        policy = self._policy
        crashes = policy.crashes_after(self._crashes[service], self._supervisor.lived(service))
        self._crashes[service] = crashes
        how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        if policy.gives_up(crashes):
            log.error("%s %s, %d times in a row: stopping the pipeline", service, how, crashes)
            return False
        pause = policy.pause(crashes)
        log.warning(
            "%s %s; restarting it in %.1fs (crash %d of at most %d in a row)",
            service,
            how,
            pause,
            crashes,
            policy.max_crashes,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        if not stop.is_set():
            await self._supervisor.start_one(service)
        return True

    async def _broker_lost(self, stop: asyncio.Event) -> None:
        assert self._broker is not None
        code = await self._broker.exited()
        log.error(
            "the embedded broker died (code %d) and its data with it: restarting it and the "
            "services (ingest replays what was not through)",
            code,
        )
        await self._supervisor.stop(grace_s=BROKER_LOSS_GRACE_S)
        await self._broker.restart()
        self._supervisor.bootstrap = self._broker.bootstrap
        log.info("embedded broker restarted on %s", self._broker.bootstrap)
        await ensure_topics(self.link)
        await self._start_children(stop)

    async def _drain(self, hurry: asyncio.Event) -> None:
        """Stop ingest, let detect and notify catch up (bounded), then stop them."""
        supervisor, link = self._supervisor, self.link
        if not supervisor.children:
            return
        log.info("stopping: ingest first, then detect and notify once they have caught up")
        deadline = time.monotonic() + self._drain_timeout_s
        await supervisor.stop_one("ingest")
        async with contextlib.AsyncExitStack() as stack:
            reader = OffsetReader(link.bootstrap)
            stack.push_async_callback(reader.stop)
            await reader.start()
            for service, group, topic, what in (
                ("detect", link.groups.detect, link.topics.articles, "articles"),
                ("notify", link.groups.notify, link.topics.alerts, "alerts"),
            ):
                if supervisor.children[service].returncode is None:
                    await self._catch_up(reader, service, group, topic, what, deadline, hurry)
                await supervisor.stop_one(service)

    async def _catch_up(
        self,
        reader: OffsetReader,
        service: str,
        group: str,
        topic: str,
        what: str,
        deadline: float,
        hurry: asyncio.Event,
    ) -> None:
        said = time.monotonic()
        lag = -1
        while not hurry.is_set():
            with contextlib.suppress(KafkaError, OSError, TimeoutError):
                lag = await reader.lag(group, topic)
            if lag == 0:
                return
            now = time.monotonic()
            if now >= deadline:
                break
            if now - said > 3:
                said = now
                log.info(
                    "waiting for %s to finish %d %s (Ctrl-C again: stop now)", service, lag, what
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hurry.wait(), 0.2)
        embedded = self._broker is not None
        log.warning(
            "%s stopped with %s %s not yet done: %s",
            service,
            "some" if lag < 0 else str(lag),
            what,
            "ingest's journal replays them at the next start"
            if embedded
            else "they stay in Kafka for the next start",
        )


def install_shutdown_signals(stop: asyncio.Event, hurry: asyncio.Event) -> None:
    """The first SIGINT/SIGTERM sets `stop` (drain), the second `hurry` (skip the waiting)."""
    loop = asyncio.get_running_loop()

    def signalled() -> None:
        (hurry if stop.is_set() else stop).set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signalled)


async def run_all(
    loaded: LoadedConfig,
    log_level: str,
    log_format: str,
    *,
    status_interval_s: float = STATUS_INTERVAL_S,
    drain_timeout_s: float = DRAIN_TIMEOUT_S,
    policy: RestartPolicy | None = None,
) -> int:
    stop, hurry = asyncio.Event(), asyncio.Event()
    install_shutdown_signals(stop, hurry)
    ports = metrics_ports(loaded)
    async with embedded_broker(loaded) as broker:
        bootstrap = broker.bootstrap if broker else loaded.config.kafka.bootstrap
        supervisor = Supervisor(loaded.doc.path.resolve(), bootstrap, ports, log_level, log_format)
        pipeline = Pipeline(
            loaded,
            broker,
            supervisor,
            policy=policy or RestartPolicy(),
            drain_timeout_s=drain_timeout_s,
        )

        async def samples() -> dict[str, float]:
            async with aiohttp.ClientSession() as session:
                texts = []
                for port in ports.values():
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        texts.append(await scrape(session, port))
            return flatten(*texts)

        status = asyncio.create_task(report_status(samples, status_interval_s, stop))
        try:
            code = await pipeline.run(stop, hurry)
        finally:
            status.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await status
            codes = await supervisor.stop()  # whatever is left (after a give-up)
    bad = {s: c for s, c in codes.items() if c not in (0, -signal.SIGTERM)}
    log.info("stopped", extra={"exit_codes": codes})
    return code or (1 if bad else 0)
