"""How a service runs: clients started inside try/finally, concurrent jobs watched as one group.

- `started(client)`: `async with started(producer):` calls `start()` inside the try whose
  finally calls `stop()`, so a start that fails half-way still closes what it opened (the fix
  aiokafka made to its own clients). Every client here has an idempotent `stop()`.
- `Jobs`: a service's concurrent jobs (consume loop, sender, bot, watchers, probes) run in one
  `asyncio.TaskGroup`. A job that raises, or returns while the service is not stopping, ends the
  group: the other jobs are cancelled and `JobFailed` is raised, so the process exits non-zero
  (and is restarted by its supervisor) instead of living on with a dead part and a green
  `/healthz`. `Jobs.problems()` names the jobs not running, for `/healthz`.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Protocol, TypeVar

log = logging.getLogger("mediawatch")


class Startable(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


@contextlib.asynccontextmanager
async def started(client: S) -> AsyncIterator[S]:
    """`client` started for the block, and stopped after it whatever happened (even in start)."""
    try:
        await client.start()
        yield client
    finally:
        await client.stop()


class JobFailed(RuntimeError):
    """A job of the service raised, or returned before the service was asked to stop."""

    def __init__(self, job: str, reason: str) -> None:
        super().__init__(f"{job}: {reason}")
        self.job = job


Job = Callable[[], Awaitable[None]]


class Jobs:
    """The service's jobs, run together until `stop` is set or one of them fails."""

    def __init__(self, stop: asyncio.Event) -> None:
        self._stop = stop
        self._expected: list[str] = []
        self._running: set[str] = set()

    async def run(self, jobs: Mapping[str, Job]) -> None:
        """Run every job; return once all returned after `stop`; raise `JobFailed` otherwise."""
        self._expected = list(jobs)
        try:
            async with asyncio.TaskGroup() as group:
                for name, job in jobs.items():
                    group.create_task(self._watched(name, job), name=name)
        except* JobFailed as failed:  # the first failure; the others were cancelled after it
            first = failed.exceptions[0]
            raise first from first.__cause__

    async def _watched(self, name: str, job: Job) -> None:
        self._running.add(name)
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("job %s failed, stopping the service", name, exc_info=exc)
            raise JobFailed(name, f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._running.discard(name)
        if not self._stop.is_set():
            log.error("job %s ended on its own, stopping the service", name)
            raise JobFailed(name, "ended while the service was running")

    def problems(self) -> list[str]:
        """The jobs that should run and do not (empty before `run` and when all are alive)."""
        return [
            f"job {name} is not running" for name in self._expected if name not in self._running
        ]
