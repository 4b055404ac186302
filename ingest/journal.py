"""The publication journal: what ingest published, kept until it is known to be through.

The embedded broker keeps nothing across a restart, and ingest marks an article seen as soon as
the broker acknowledged it, so an article still in a topic when the broker died would be lost
for good. Ingest therefore journals every article it publishes (in its SQLite state, in the
same transaction as the seen mark) with the partition and offset the broker gave it, and:

- marks it *through* once it is known to be in notify's outbox (durable): `Checkpoint` below;
- at start, republishes every article not through whose offset lies beyond the end of its
  partition (`lost`): the log that held it is gone. On a broker that kept its log (a restarted
  ingest, a real Kafka) nothing is beyond the end and nothing is replayed.

A replay is harmless: detect is stateless, an alert id hashes watchlist, rule and story, and the
outbox is unique per (alert, article, destination), so a replayed article's alerts are
recognised and not sent again.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    """Where the broker put a record."""

    partition: int
    offset: int


@dataclass(frozen=True)
class JournalEntry:
    """An article published and not yet known to be through."""

    article_id: str
    position: Position
    payload: bytes


def lost(entries: Iterable[JournalEntry], end_offsets: Mapping[int, int]) -> list[JournalEntry]:
    """Entries whose record lies at or beyond its partition's end: the log was lost."""
    return [e for e in entries if e.position.offset >= end_offsets.get(e.position.partition, 0)]


@dataclass(frozen=True)
class Checkpoint:
    """Two offsets read one after the other, to learn which articles are through.

    First `detect_committed` (per articles partition): articles below it were matched and their
    alerts acknowledged by the broker before detect committed. Then `alerts_end` (per alerts
    partition): those alerts all lie below it. Once notify's committed offsets reach
    `alerts_end` on every alerts partition, every such alert is in the outbox, so every article
    below `detect_committed` is through.
    """

    detect_committed: Mapping[int, int]
    alerts_end: Mapping[int, int]

    def through(self, notify_committed: Mapping[int, int]) -> Mapping[int, int] | None:
        """Per articles partition, the offset below which all is through; None: not yet."""
        if all(notify_committed.get(p, 0) >= end for p, end in self.alerts_end.items()):
            return self.detect_committed
        return None
