"""Lifecycles: jobs watched as one group, clients stopped whatever happens, restarts paced."""

import asyncio
import random

import pytest

from notify.ratelimit import Backoff, BackoffConfig
from services.lifecycle import JobFailed, Jobs, started
from services.supervisor import RestartPolicy


class Client:
    def __init__(self, fail_start: bool = False) -> None:
        self.fail_start = fail_start
        self.events: list[str] = []

    async def start(self) -> None:
        self.events.append("start")
        if self.fail_start:
            raise ConnectionError("refused")

    async def stop(self) -> None:
        self.events.append("stop")


async def test_a_client_is_stopped_even_when_its_start_fails() -> None:
    client = Client(fail_start=True)
    with pytest.raises(ConnectionError):
        async with started(client):
            pytest.fail("the block must not run")
    assert client.events == ["start", "stop"]
    ok = Client()
    async with started(ok) as same:
        assert same is ok
    assert ok.events == ["start", "stop"]


async def test_a_failing_job_stops_the_others_and_names_itself() -> None:
    stop = asyncio.Event()
    jobs = Jobs(stop)
    cancelled = asyncio.Event()

    async def steady() -> None:
        try:
            await stop.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def dies() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("dispatcher crashed")

    seen: list[list[str]] = []

    async def watcher() -> None:
        await asyncio.sleep(0)
        seen.append(jobs.problems())
        await stop.wait()

    with pytest.raises(JobFailed, match="send messages: RuntimeError: dispatcher crashed") as err:
        await jobs.run({"consume": steady, "send messages": dies, "watch": watcher})
    assert err.value.job == "send messages" and isinstance(err.value.__cause__, RuntimeError)
    assert cancelled.is_set(), "the other jobs were cancelled"
    assert seen == [[]], "every job was alive before the failure"
    assert jobs.problems() == [
        f"job {n} is not running" for n in ("consume", "send messages", "watch")
    ]


async def test_a_job_that_returns_while_the_service_runs_is_a_failure() -> None:
    stop = asyncio.Event()

    async def quits() -> None:
        return

    with pytest.raises(JobFailed, match="ended while the service was running"):
        await Jobs(stop).run({"answer people": quits, "consume": stop.wait})


async def test_jobs_that_return_after_stop_end_the_group_quietly() -> None:
    stop = asyncio.Event()
    stop.set()
    await Jobs(stop).run({"consume": stop.wait, "send": stop.wait})


def test_restarts_pause_longer_each_quick_crash_and_give_up_after_five() -> None:
    policy = RestartPolicy(first_pause_s=0.5, max_pause_s=15, stable_s=60, max_crashes=5)
    crashes, pauses = 0, []
    for _ in range(5):
        crashes = policy.crashes_after(crashes, lived_s=3)
        pauses.append(policy.pause(crashes))
        assert not policy.gives_up(crashes)
    assert pauses == [0.5, 1, 2, 4, 8]
    assert policy.gives_up(policy.crashes_after(crashes, lived_s=3))
    assert policy.crashes_after(crashes, lived_s=61) == 1, "a child that ran a minute is healthy"
    assert policy.pause(20) == 15


def test_backoff_doubles_with_jitter_up_to_its_ceiling_and_resets() -> None:
    backoff = Backoff(BackoffConfig(min_delay=1, max_delay=10, factor=2, jitter=0.1),
                      random.Random(3))  # fmt: skip
    delays = [next(backoff) for _ in range(6)]
    for delay, nominal in zip(delays, [1, 2, 4, 8, 10, 10], strict=True):
        assert nominal * 0.9 <= delay <= nominal * 1.1
    backoff.reset()
    assert 0.9 <= next(backoff) <= 1.1
    for _ in range(2000):  # never overflows, however long a destination stays down
        next(backoff)
    with pytest.raises(ValueError):
        BackoffConfig(min_delay=2, max_delay=1)
