"""What the broker says about progress: end offsets, a group's committed offsets, its lag.

A group's committed offsets are read the way a member reads them: with a consumer of that group
id that never subscribes (so never joins or disturbs the group) and asks `committed()`. aiokafka's
admin client cannot be used for that on the embedded broker: Tansu answers its OffsetFetch in a
form the admin client fails to decode, and the connection is dropped. End offsets are checked
with a fetch of each partition's last batch, whose high-water mark is the true end: Tansu 0.6
answers ListOffsets with the offset after the *first* record of the last batch, so a batch of
five records would look like four records of lag that can never be consumed (or, the other way,
like a consumer ahead of the log).

`BrokerProbe` is the job every service runs: every `interval_s` it asks for the end offsets of
its topic (is the broker there?) and, for a consumer service, its group's lag. It feeds
`mediawatch_kafka_up`, `..._connection_errors_total`, `..._consumer_lag_messages` and the
service's `/healthz`, and hands the end offsets to the service's `after` hook, which repairs
what a broker that lost its data needs (topics, a stale position).
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
        self._tail = asyncio.Lock()  # one tail fetch at a time: it reassigns `_plain`

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
        async with self._tail, asyncio.timeout(PROBE_TIMEOUT_S):
            listed = {
                tp: int(offset) for tp, offset in (await self._plain.end_offsets(tps)).items()
            }
            tails = [tp for tp, offset in listed.items() if offset > 0]
            if tails:  # read the last batch: its high-water mark is the end
                self._plain.assign(tails)
                for tp in tails:
                    self._plain.seek(tp, listed[tp] - 1)
                try:
                    await self._plain.getmany(*tails, timeout_ms=int(PROBE_TIMEOUT_S * 1000))
                    highs = {tp: self._plain.highwater(tp) or 0 for tp in tails}
                finally:
                    self._plain.unsubscribe()
                listed = {tp: max(offset, highs.get(tp, 0)) for tp, offset in listed.items()}
        return {tp.partition: offset for tp, offset in listed.items()}

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
        return lag_of(await self.end_offsets(topic), await self.committed(group, topic))


def lag_of(ends: dict[int, int], committed: dict[int, int]) -> int:
    """Records between each partition's committed offset and its end."""
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
        after: Callable[[dict[int, int]], Awaitable[None]] | None = None,
        interval_s: float = 2.0,
    ) -> None:
        self._reader = reader
        self._metrics = metrics
        self._topic = topic
        self._group = group
        self._after = after
        self._interval_s = interval_s
        self._down_since: float | None = None
        self._checked = False

    async def check(self) -> bool:
        """One probe; True if the broker answered."""
        try:
            ends = await self._reader.end_offsets(self._topic)
            if self._group is not None:
                committed = await self._reader.committed(self._group, self._topic)
                self._metrics.lag.labels(self._group).set(lag_of(ends, committed))
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
        if self._after is not None:
            await self._after(ends)
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
