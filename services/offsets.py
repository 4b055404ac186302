"""What the broker says about progress: end offsets, a group's committed offsets, its lag.

A group's committed offsets are read the way a member reads them: with a consumer of that group
id that never subscribes (so never joins or disturbs the group) and asks `committed()`. aiokafka's
admin client cannot be used for that on the embedded broker: Tansu answers its OffsetFetch in a
form the admin client fails to decode, and the connection is dropped.

`BrokerProbe` is the job every service runs: every `interval_s` it asks for the end offsets of
its topic (is the broker there?) and, for a consumer service, its group's lag. It feeds
`mediawatch_kafka_up`, `..._connection_errors_total`, `..._consumer_lag_messages` and the
service's `/healthz`; when the broker comes back after a loss it makes sure our topics exist.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.metrics import KafkaMetrics

log = logging.getLogger("mediawatch.kafka")

#: How long one question to the broker may take before it counts as unreachable.
PROBE_TIMEOUT_S = 5.0


class OffsetReader:
    """End offsets of topics and committed offsets of groups, over a few idle consumers."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._plain = self._consumer(None)
        self._groups: dict[str, AIOKafkaConsumer] = {}

    def _consumer(self, group: str | None) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=group,
            enable_auto_commit=False,
            request_timeout_ms=int(PROBE_TIMEOUT_S * 1000),
        )

    async def start(self) -> None:
        await self._plain.start()

    async def stop(self) -> None:
        for consumer in [self._plain, *self._groups.values()]:
            with contextlib.suppress(KafkaError, OSError):
                await consumer.stop()
        self._groups.clear()

    async def partitions(self, topic: str) -> list[int]:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await self._plain.topics()  # refreshes the metadata
        return sorted(self._plain.partitions_for_topic(topic) or ())

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """Per partition, the offset the next record will get."""
        tps = [TopicPartition(topic, p) for p in await self.partitions(topic)]
        if not tps:
            return {}
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            ends = await self._plain.end_offsets(tps)
        return {tp.partition: int(offset) for tp, offset in ends.items()}

    async def committed(self, group: str, topic: str) -> dict[int, int]:
        """Per partition, the offset `group` committed (0 where it committed nothing)."""
        consumer = self._groups.get(group)
        if consumer is None:
            consumer = self._groups[group] = self._consumer(group)
            await consumer.start()
        out = {}
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            for partition in await self.partitions(topic):
                offset = await consumer.committed(TopicPartition(topic, partition))
                out[partition] = offset or 0
        return out

    async def lag(self, group: str, topic: str) -> int:
        """Records on `topic` that `group` has not committed yet."""
        ends = await self.end_offsets(topic)
        committed = await self.committed(group, topic)
        return sum(max(0, end - committed.get(p, 0)) for p, end in ends.items())


class BrokerProbe:
    """Asks the broker every `interval_s` whether it is there, and how far behind a group is."""

    def __init__(
        self,
        reader: OffsetReader,
        metrics: KafkaMetrics,
        topic: str,
        *,
        group: str | None = None,
        on_back: Callable[[], Awaitable[None]] | None = None,
        interval_s: float = 2.0,
    ) -> None:
        self._reader = reader
        self._metrics = metrics
        self._topic = topic
        self._group = group
        self._on_back = on_back
        self._interval_s = interval_s
        self._down_since: float | None = None
        self._checked = False

    async def check(self) -> bool:
        """One probe; True if the broker answered."""
        try:
            if self._group is not None:
                lag = await self._reader.lag(self._group, self._topic)
                self._metrics.lag.labels(self._group).set(lag)
            else:
                await self._reader.end_offsets(self._topic)
        except (KafkaError, OSError, TimeoutError) as exc:
            self._metrics.up.set(0)
            self._metrics.connection_errors.inc()
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("broker not answering: %s", exc or type(exc).__name__)
            self._checked = True
            return False
        was_down, self._down_since = self._down_since, None
        self._metrics.up.set(1)
        self._checked = True
        if was_down is not None:
            log.info("broker answering again after %.0fs", time.monotonic() - was_down)
            if self._on_back is not None:
                await self._on_back()
        return True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval_s)

    def problems(self) -> list[str]:
        if not self._checked:
            return ["broker not probed yet"]
        if self._down_since is not None:
            return [f"broker unreachable for {time.monotonic() - self._down_since:.0f}s"]
        return []
