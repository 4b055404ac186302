"""`mediawatch run` and `demo`: the three services as child processes.

Each service keeps its own process (as in production). The supervisor starts them, tells when
they are ready (`/healthz`), forwards shutdown one child at a time, bounds it in time, and says
what to do when one dies: `RestartPolicy` restarts it after a growing pause and gives up (the
pipeline stops) only when it keeps crashing. A child that exits with code 2 was refused its
configuration (a port in use, a bad file): restarting cannot help.
"""

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

from services.runtime import SHUTDOWN_GRACE_S, die_with_parent

log = logging.getLogger("mediawatch.run")

SERVICES = ("ingest", "detect", "notify")
#: A child's exit code saying "my configuration is refused": never restarted.
EXIT_CONFIG = 2


@dataclass(frozen=True)
class RestartPolicy:
    """When to restart a crashed child: after `first_pause_s`, doubling to `max_pause_s`; a
    child that ran `stable_s` counts as healthy again; `max_crashes` quick crashes in a row and
    the pipeline stops."""

    first_pause_s: float = 0.5
    max_pause_s: float = 15.0
    stable_s: float = 60.0
    max_crashes: int = 5

    def pause(self, crashes: int) -> float:
        """Seconds to wait before restart number `crashes` (1 for the first crash)."""
        return min(self.max_pause_s, self.first_pause_s * 2.0 ** min(crashes - 1, 16))

    def crashes_after(self, crashes: int, lived_s: float) -> int:
        """The run of quick crashes after one more crash of a child that lived `lived_s`."""
        return 1 if lived_s >= self.stable_s else crashes + 1

    def gives_up(self, crashes: int) -> bool:
        return crashes > self.max_crashes


@dataclass
class Supervisor:
    """Starts `mediawatch <service>` children against one bootstrap and one config file."""

    config_path: Path
    bootstrap: str
    metrics_ports: Mapping[str, int]
    log_level: str = "info"
    log_format: str = "json"
    stdout: int | IO[bytes] | None = None
    children: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)

    def command(self, service: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "services.cli",
            "--log-level",
            self.log_level,
            "--log-format",
            self.log_format,
            service,
            "--config",
            str(self.config_path),
            "--bootstrap",
            self.bootstrap,
            "--metrics-port",
            str(self.metrics_ports[service]),
            "--status-interval",
            "0",  # the supervisor reports for all three
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
            start_new_session=True,  # a Ctrl-C reaches the supervisor only: it stops them in order
            preexec_fn=die_with_parent,
        )
        self.started_at[service] = time.monotonic()
        log.info(
            "started %s", service, extra={"service": service, "pid": self.children[service].pid}
        )

    def lived(self, service: str) -> float:
        return time.monotonic() - self.started_at.get(service, time.monotonic())

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

    async def stop_one(self, service: str, grace_s: float = SHUTDOWN_GRACE_S + 5) -> int:
        """SIGTERM one child, wait up to `grace_s`, SIGKILL it if it lingers; its exit code."""
        process = self.children[service]
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), grace_s)
        except TimeoutError:
            log.error("%s did not stop in %.0fs, killing it", service, grace_s)
            process.kill()
            return await process.wait()

    async def stop(self, grace_s: float = SHUTDOWN_GRACE_S + 5) -> dict[str, int]:
        """SIGTERM every child at once, wait up to `grace_s`, SIGKILL stragglers; exit codes."""
        names = list(self.children)
        codes = await asyncio.gather(*(self.stop_one(name, grace_s) for name in names))
        return dict(zip(names, codes, strict=True))

    async def problems(self, session: aiohttp.ClientSession, service: str) -> list[str] | None:
        """What a child's `/healthz` says is wrong (empty: ready); None if it does not answer."""
        url = f"http://127.0.0.1:{self.metrics_ports[service]}/healthz"
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                body = json.loads(await response.text())
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        return list(body.get("problems", [])) if response.status != 200 else []


async def scrape(session: aiohttp.ClientSession, port: int) -> str:
    """A child's /metrics, as Prometheus text."""
    async with session.get(
        f"http://127.0.0.1:{port}/metrics", timeout=aiohttp.ClientTimeout(total=2)
    ) as response:
        return await response.text()
