"""The consume → process → produce → commit loop shared by detect and notify.

Offsets are committed per partition only after a record's output is acknowledged. A record that
cannot be decoded or processed goes to the dead-letter topic with the error, and the loop moves
on: a poison message never stops a partition. An output the broker does not acknowledge ends
the loop with the error (counted): nothing past it was committed, so a restart redelivers it.
"""

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import BaseModel, Field, ValidationError

from services.kafka import KafkaLink, ensure_topics
from services.metrics import ConsumeMetrics, KafkaMetrics
from services.offsets import BrokerProbe, OffsetReader

log = logging.getLogger("mediawatch.consume")


class PoisonMessage(Exception):
    """This record can never be processed (bad JSON, wrong schema)."""


class DeadLetter(BaseModel):
    """What `{prefix}.deadletter` carries: the failed record and why it failed."""

    schema_version: Literal[1] = 1
    service: str = Field(description="Service that gave up on the record.")
    topic: str
    partition: int
    offset: int
    key: str | None = Field(description="Record key, UTF-8 decoded with replacement.")
    value: str = Field(description="Record value, UTF-8 decoded with replacement.")
    error: str = Field(description="Why it failed, one line.")
    failed_at: datetime


M = TypeVar("M", bound=BaseModel)


def decode(model: type[M], value: bytes | None) -> M:
    """The `model` message in a record value, or `PoisonMessage` naming every problem."""
    if not value:
        raise PoisonMessage("empty record value")
    try:
        return model.model_validate_json(value)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:5]
        ]
        raise PoisonMessage(f"not an {model.__name__}: {'; '.join(problems)}") from exc


#: Handles one record: True when done, False when shutdown interrupted it (do not commit it).
Handler = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[bool]]


class Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """Whether the consumer holds its share of the group: joined, and not mid-rebalance."""

    def __init__(self) -> None:
        self.joined = False

    async def on_partitions_revoked(self, revoked: object) -> None:
        self.joined = False

    async def on_partitions_assigned(self, assigned: object) -> None:
        self.joined = True

    def problems(self) -> list[str]:
        return [] if self.joined else ["consumer not assigned to its group yet"]


class ConsumeLoop:
    def __init__(
        self,
        *,
        service: str,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        deadletter_topic: str,
        metrics: ConsumeMetrics,
        kafka: KafkaMetrics,
    ) -> None:
        self._service = service
        self._consumer = consumer
        self._producer = producer
        self._deadletter_topic = deadletter_topic
        self._deadletters = metrics.deadletters
        self._processed = metrics.processed
        self._kafka = kafka
        #: What this loop committed last, per partition of its topic.
        self.committed: dict[int, int] = {}

    async def run(
        self, handle: Handler, flush: Callable[[], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        """Consume until `stop` is set; the batch in hand is finished and committed first."""
        while not stop.is_set():
            batches = await self._consumer.getmany(timeout_ms=300)
            for tp, records in batches.items():
                done = await self._handle_records(records, handle, stop)
                try:
                    await flush()  # outputs acknowledged before the offset moves past them
                except KafkaError:
                    self._kafka.produce_errors.inc()
                    raise
                if done is not None:
                    try:
                        await self._consumer.commit({tp: done.offset + 1})
                    except CommitFailedError:  # the group rebalanced meanwhile: not ours now
                        log.warning(
                            "commit refused after a rebalance: the records are redelivered",
                            extra={"topic": tp.topic, "partition": tp.partition},
                        )
                        continue
                    self.committed[tp.partition] = done.offset + 1
                    self._processed.inc(_count_upto(records, done))
                if stop.is_set():
                    break

    async def _handle_records(
        self, records: list[ConsumerRecord[bytes, bytes]], handle: Handler, stop: asyncio.Event
    ) -> ConsumerRecord[bytes, bytes] | None:
        done = None
        for record in records:
            try:
                if not await handle(record):
                    break
            except PoisonMessage as exc:
                await self._dead_letter(record, str(exc))
            except asyncio.CancelledError:
                raise
            except KafkaError:  # the broker's trouble, not the record's: stop, redeliver later
                self._kafka.produce_errors.inc()
                raise
            except Exception as exc:  # loop boundary: one bad record must not stop the partition
                log.exception("failed to process record", extra=_where(record))
                await self._dead_letter(
                    record,
                    f"{type(exc).__name__}: {exc} "
                    f"({traceback.format_exc(limit=1).splitlines()[-1]})",
                )
            done = record
        return done

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: str) -> None:
        letter = DeadLetter(
            service=self._service,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode("utf-8", "replace") if record.key is not None else None,
            value=(record.value or b"").decode("utf-8", "replace"),
            error=error.replace("\n", " ")[:2000],
            failed_at=datetime.now(UTC),
        )
        try:
            await self._producer.send_and_wait(
                self._deadletter_topic, letter.model_dump_json().encode(), key=record.key
            )
        except KafkaError:
            self._kafka.produce_errors.inc()
            raise
        self._deadletters.inc()
        log.warning("dead-lettered record: %s", letter.error, extra=_where(record))


class BrokerLostLog(RuntimeError):
    """The broker came back without records this consumer had committed (a new, empty broker):
    its position is stale, so the service stops and is restarted to read the new log."""


def check_log_kept(loop: ConsumeLoop, end_offsets: dict[int, int]) -> None:
    """Raise `BrokerLostLog` if a partition now ends before what `loop` committed there (a
    healthy broker's log only ever grows at the end). Partitions the broker did not report on
    (metadata not refreshed yet) are not judged."""
    behind = {p: c for p, c in loop.committed.items() if p in end_offsets and end_offsets[p] < c}
    if behind:
        raise BrokerLostLog(
            f"the broker's log ends ({end_offsets}) before offsets this consumer committed "
            f"({behind}): "
            "it lost its data; restarting to read the new log from its start"
        )


def consumer_probe(
    loop: ConsumeLoop,
    link: KafkaLink,
    reader: OffsetReader,
    kafka: KafkaMetrics,
    topic: str,
    group: str,
) -> BrokerProbe:
    """The broker probe of a consuming service: it recreates our topics on a broker that has
    none (a new, empty one) and stops the service when the broker lost records it had
    committed, so that its supervisor restarts it on the new log."""

    async def after_probe(ends: dict[int, int]) -> None:
        if not ends:
            await ensure_topics(link)
        check_log_kept(loop, ends)

    return BrokerProbe(reader, kafka, topic, group=group, after=after_probe)


def _where(record: ConsumerRecord[bytes, bytes]) -> dict[str, object]:
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


def _count_upto(
    records: list[ConsumerRecord[bytes, bytes]], last: ConsumerRecord[bytes, bytes]
) -> int:
    return next(i for i, r in enumerate(records, 1) if r is last)
