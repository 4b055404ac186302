"""`mediawatch run` and `demo`: the three services as child processes, plus the broker.

Each service keeps its own process (as in production); the supervisor forwards shutdown, bounds
it in time, and stops everything if one child dies, so a crash is never silent.
"""

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from services.runtime import SHUTDOWN_GRACE_S

log = logging.getLogger("mediawatch.supervisor")

SERVICES = ("ingest", "detect", "notify")


@dataclass
class Supervisor:
    """Starts `mediawatch <service>` children against one bootstrap and one config file."""

    config_path: Path
    bootstrap: str
    metrics_ports: Mapping[str, int]
    log_level: str = "info"
    stdout: int | IO[bytes] | None = None
    children: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    def command(self, service: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "services.cli",
            "--log-level",
            self.log_level,
            service,
            "--config",
            str(self.config_path),
            "--bootstrap",
            self.bootstrap,
            "--metrics-port",
            str(self.metrics_ports[service]),
        ]

    async def start(self, services: tuple[str, ...] = SERVICES) -> None:
        for service in services:
            await self.start_one(service)

    async def start_one(self, service: str) -> None:
        self.children[service] = await asyncio.create_subprocess_exec(
            *self.command(service),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self.stdout,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.info("started %s", service, extra={"pid": self.children[service].pid})

    async def wait_any(self) -> tuple[str, int]:
        """Wait until one child exits; returns its name and exit code."""
        waits = {asyncio.ensure_future(p.wait()): name for name, p in self.children.items()}
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        first = next(iter(done))
        return waits[first], first.result()

    async def stop(self, grace_s: float = SHUTDOWN_GRACE_S + 5) -> dict[str, int]:
        """SIGTERM every child, wait up to `grace_s`, SIGKILL stragglers; returns exit codes."""
        for process in self.children.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in self.children.items():
            try:
                codes[name] = await asyncio.wait_for(process.wait(), grace_s)
            except TimeoutError:
                log.error("%s did not stop in %.0fs, killing it", name, grace_s)
                process.kill()
                codes[name] = await process.wait()
        return codes


async def scrape(session: aiohttp.ClientSession, port: int) -> dict[str, float]:
    """Sample values of a child's /metrics, summed over labels, keyed by sample name."""
    async with session.get(
        f"http://127.0.0.1:{port}/metrics", timeout=aiohttp.ClientTimeout(total=2)
    ) as response:
        text = await response.text()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values
